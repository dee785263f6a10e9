package prom

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// evalTimesOf lists the evaluation times of the pieces, checking that each
// piece is aligned to step.
func evalTimesOf(t *testing.T, pieces []apiRequest) []time.Time {
	t.Helper()
	var out []time.Time
	for _, p := range pieces {
		require.Zero(t, p.end.Sub(p.start)%p.step, "piece end aligned")
		for ts := p.start; !ts.After(p.end); ts = ts.Add(p.step) {
			out = append(out, ts)
		}
	}
	return out
}

func TestPiecesAndHalvesCoverEveryPointOnce(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		span, step, maxRange time.Duration
	}{
		{24 * time.Hour, 5 * time.Minute, 6 * time.Hour},
		{24*time.Hour + 3*time.Minute, 5 * time.Minute, 6 * time.Hour}, // unaligned end
		{7 * 24 * time.Hour, time.Hour, 24 * time.Hour},
		{time.Hour, time.Minute, 7 * time.Minute},
		{time.Hour, time.Minute, 30 * time.Second}, // max below step: one point each
		{0, time.Minute, time.Minute},
		{10 * time.Minute, 3 * time.Minute, 0},
		{30 * 24 * time.Hour, time.Minute, 0}, // 43201 points: cut at 11000
	} {
		r := apiRequest{start: start, end: start.Add(tc.span), step: tc.step}
		want := evalTimesOf(t, []apiRequest{alignEnd(r)})
		pieces := piecesOf(r, tc.maxRange)
		require.Equal(t, want, evalTimesOf(t, pieces), "pieces of %+v", tc)
		for _, p := range pieces {
			if tc.maxRange > 0 {
				require.LessOrEqual(t, p.end.Sub(p.start), tc.maxRange)
			}
			require.LessOrEqual(t, rangePoints(p), int64(maxPointsPerQuery))
			left, right, ok := halves(p, 0)
			if rangePoints(p) < 2 {
				require.False(t, ok)
				continue
			}
			require.True(t, ok)
			require.Equal(t, evalTimesOf(t, []apiRequest{p}), evalTimesOf(t, []apiRequest{left, right}), "halves of %v..%v", p.start, p.end)
			require.InDelta(t, rangePoints(left), rangePoints(right), 1)
		}
	}
	// The floor stops halving.
	r := apiRequest{start: start, end: start.Add(time.Hour), step: time.Minute}
	_, _, ok := halves(r, time.Hour)
	require.False(t, ok)
	_, _, ok = halves(r, 59*time.Minute)
	require.True(t, ok)
}

func TestSplitOnTooLargeEqualsUnsplit(t *testing.T) {
	for _, code := range []int{http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			fake := newFakeProm(t)
			fake.maxPoints = 20
			fake.tooLargeStatus = code
			src, rec := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
			start := fakeEnd.Add(-24 * time.Hour)
			step := 5 * time.Minute
			res, err := src.QueryRange(context.Background(), "up", start, fakeEnd.Add(2*time.Minute), step)
			require.NoError(t, err)
			requireSameHTTPMatrix(t, fakeMatrix(start, fakeEnd, step), res.Value)
			require.Equal(t, []string{"fake warning"}, res.Warnings, "warnings de-duplicated")
			require.EqualValues(t, 289*2, res.SamplesProcessed, "samples summed over the pieces")
			// 289 points: 289 → 144+145 → 72+72+72+73 → 36×4+36+37… ≤ 20: 4 levels, 15 splits.
			st := src.Stats()
			require.EqualValues(t, 15, st.Splits)
			require.EqualValues(t, 31, st.Requests)
			require.Empty(t, rec.all(), "splitting is not retrying")
			require.Zero(t, st.RetriesTotal())
		})
	}
}

func TestSplitFailsAtTheFloorWithAClearError(t *testing.T) {
	fake := newFakeProm(t)
	fake.maxPoints = 1 // even two points are too many
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL, MinSplitRange: 30 * time.Minute})
	start := fakeEnd.Add(-4 * time.Hour)
	_, err := src.QueryRange(context.Background(), `sum(rate(x[5m]))`, start, fakeEnd, 5*time.Minute)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, `range query "sum(rate(x[5m]))" over [2024-01-07T20:00:00Z, 2024-01-08T00:00:00Z] step 5m0s`)
	require.Contains(t, msg, "still too large and cannot be split further (floor 30m0s)")
	require.Contains(t, msg, "HTTP 422")
	require.Contains(t, msg, "too many samples")
	// Depth first: 49 points → 24 → 12 → 6 (25 min ≤ floor): 4 requests.
	require.Len(t, fake.requests(), 4)
	require.EqualValues(t, 1, src.Stats().Failures)
}

func TestInstantTooLargeFailsClearly(t *testing.T) {
	fake := newFakeProm(t)
	fake.script = failFirstRequests(1, answerStatus(http.StatusRequestEntityTooLarge, nil, "response larger than the max (181673024 vs 52428800)"))
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
	_, err := src.Query(context.Background(), `irate(container_cpu_usage_seconds_total[5m])`, fakeEnd)
	require.Error(t, err)
	require.Contains(t, err.Error(), `instant query "irate(container_cpu_usage_seconds_total[5m])" at 2024-01-08T00:00:00Z`)
	require.Contains(t, err.Error(), "HTTP 413")
	require.Contains(t, err.Error(), "response larger than the max")
	require.Contains(t, err.Error(), "cannot be split")
	require.Len(t, fake.requests(), 1)
}

func TestMaxQueryRangeSendsPieces(t *testing.T) {
	fake := newFakeProm(t)
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL, MaxQueryRange: time.Hour})
	start := fakeEnd.Add(-5 * time.Hour)
	step := 5 * time.Minute
	res, err := src.QueryRange(context.Background(), "up", start, fakeEnd, step)
	require.NoError(t, err)
	requireSameHTTPMatrix(t, fakeMatrix(start, fakeEnd, step), res.Value)
	reqs := fake.requests()
	require.Len(t, reqs, 5) // 61 points, 13 per piece
	for _, r := range reqs {
		s, e, _ := r.rangeParams(t)
		require.LessOrEqual(t, e.Sub(s), time.Hour)
	}
	require.Zero(t, src.Stats().Splits, "pieces are not splits")
}

func TestMergeResults(t *testing.T) {
	ts := func(m int64) model.Time { return model.Time(m * 60000) }
	a := Result{Value: model.Matrix{
		{Metric: model.Metric{"job": "b"}, Values: []model.SamplePair{{Timestamp: ts(0), Value: 1}, {Timestamp: ts(1), Value: 2}}},
		{Metric: model.Metric{"job": "only-left"}, Values: []model.SamplePair{{Timestamp: ts(1), Value: 9}}},
	}, Warnings: []string{"w1"}, SamplesProcessed: 3}
	b := Result{Value: model.Matrix{
		{Metric: model.Metric{"job": "a"}, Values: []model.SamplePair{{Timestamp: ts(3), Value: 7}}},
		{Metric: model.Metric{"job": "b"}, Values: []model.SamplePair{{Timestamp: ts(2), Value: 3}}},
	}, Warnings: []string{"w1", "w2"}, SamplesProcessed: 4}
	got, err := mergeResults(a, b)
	require.NoError(t, err)
	require.Equal(t, []string{"w1", "w2"}, got.Warnings)
	require.EqualValues(t, 7, got.SamplesProcessed)
	m := got.Value.(model.Matrix)
	require.Len(t, m, 3)
	require.Equal(t, model.LabelValue("a"), m[0].Metric["job"], "sorted by labels")
	require.Equal(t, []model.SamplePair{{Timestamp: ts(0), Value: 1}, {Timestamp: ts(1), Value: 2}, {Timestamp: ts(2), Value: 3}}, m[1].Values)
	// The inputs are not modified.
	require.Len(t, a.Value.(model.Matrix)[0].Values, 2)

	empty, err := mergeResults(Result{Value: model.Matrix{}}, Result{})
	require.NoError(t, err)
	require.Equal(t, model.Matrix{}, empty.Value)

	_, err = mergeResults(a, Result{Value: model.Vector{}})
	require.ErrorContains(t, err, "want a matrix")
}
