package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/store"
)

func entries(res store.Resolution, w allocation.Window, skip ...time.Time) []store.IndexEntry {
	var out []store.IndexEntry
	for s := w.Start; s.Before(w.End); s = s.Add(res.Duration()) {
		skipped := false
		for _, k := range skip {
			skipped = skipped || k.Equal(s)
		}
		if !skipped {
			out = append(out, store.IndexEntry{Start: s.Unix(), End: s.Add(res.Duration()).Unix(), SHA256: s.String()})
		}
	}
	return out
}

func TestAnswerPlanUsesDaysAndEdgeHours(t *testing.T) {
	// Hours 18:00 of day0 to 06:00 of day0+3; days 1 and 2 whole; day 2's 1d
	// block is missing (its hours are there), day0+3 02:00 is missing.
	w := win(day0.Add(18*time.Hour), 2*day+12*time.Hour)
	daily := entries(store.Daily, win(day0, 4*day), day0.Add(2*day))
	hourly := entries(store.Hourly, win(day0, 4*day), day0.Add(3*day+2*time.Hour))
	p := planBlocks(w, daily, hourly, dayUsableFor(w, 0, allocation.AccumulateNone))

	count := map[store.Resolution]int{}
	for _, b := range p.blocks {
		count[b.res]++
		require.True(t, !b.entry.Window().Start.Before(w.Start) && !b.entry.Window().End.After(w.End), "block %s outside window", b.entry.Window())
	}
	require.Equal(t, 1, count[store.Daily], "day 1 as one block")
	require.Equal(t, 6+24+5, count[store.Hourly], "edges and the day without its 1d block")
	require.Equal(t, []allocation.Window{win(day0.Add(3*day+2*time.Hour), time.Hour)}, p.missing)
}

func TestAnswerPlanStepsSplitDays(t *testing.T) {
	w := win(day0, 2*day)
	daily := entries(store.Daily, w)
	hourly := entries(store.Hourly, w)
	for _, tc := range []struct {
		step  time.Duration
		acc   allocation.Accumulation
		daily int
	}{
		{0, allocation.AccumulateNone, 2},
		{day, allocation.AccumulateNone, 2},
		{2 * day, allocation.AccumulateNone, 2},
		{6 * time.Hour, allocation.AccumulateNone, 0},
		{36 * time.Hour, allocation.AccumulateNone, 1}, // the boundary splits day 2 only
		{0, allocation.AccumulateHour, 0},
		{0, allocation.AccumulateWeek, 2},
	} {
		p := planBlocks(w, daily, hourly, dayUsableFor(w, tc.step, tc.acc))
		n := 0
		for _, b := range p.blocks {
			if b.res == store.Daily {
				n++
			}
		}
		require.Equal(t, tc.daily, n, "step %s accumulate %s", tc.step, tc.acc)
		require.Empty(t, p.missing)
	}
}

func namespaceQuery(w allocation.Window) Query {
	return Query{Window: w, Options: allocation.AggregateOptions{
		By:   allocation.AggregateBy{{Property: allocation.PropertyNamespace}},
		Idle: allocation.IdleOptions{Include: true},
	}}
}

func TestAnswerFederatedTotalsEqualInputs(t *testing.T) {
	f := newFleet(t)
	eng, err := NewEngine(f.st, EngineOptions{CacheBytes: 64 << 20})
	require.NoError(t, err)
	w := win(day0, day+fixtureHours*time.Hour)
	ans, err := eng.Answer(context.Background(), namespaceQuery(w))
	require.NoError(t, err)
	require.Len(t, ans.Sets, 1)
	require.Equal(t, w, ans.Sets[0].Window)
	require.Empty(t, ans.Warnings)
	require.InDelta(t, f.inputCost, ans.Sets[0].TotalCost(), 1e-9*f.inputCost)
	_, ok := ans.Sets[0].Get("ns-3")
	require.True(t, ok)
	_, ok = ans.Sets[0].Get(allocation.IdleSuffix)
	require.True(t, ok)

	// One cluster's own blocks answer the same as its part of the combined
	// store.
	own, err := NewEngine(f.st, EngineOptions{Cluster: "east"})
	require.NoError(t, err)
	eastOnly, err := own.Answer(context.Background(), namespaceQuery(w))
	require.NoError(t, err)
	q := namespaceQuery(w)
	q.Options.Filter, err = allocation.ParseFilter(`cluster:"east"`)
	require.NoError(t, err)
	filtered, err := eng.Answer(context.Background(), q)
	require.NoError(t, err)
	require.Equal(t, eastOnly.Sets[0].Len(), filtered.Sets[0].Len())
	require.InDelta(t, eastOnly.Sets[0].TotalCost(), filtered.Sets[0].TotalCost(), 1e-9*f.inputCost)
}

func TestAnswerStepsAndAccumulate(t *testing.T) {
	f := newFleet(t)
	eng, err := NewEngine(f.st, EngineOptions{})
	require.NoError(t, err)
	w := win(day0, day+fixtureHours*time.Hour)

	// day0 is kept only as a 1d block: 6h steps cannot split it, and an
	// empty answer would hide data that exists (issue 13 point 5).
	q := namespaceQuery(w)
	q.Step = 6 * time.Hour
	_, err = eng.Answer(context.Background(), q)
	var pe *ParamError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "step", pe.Param)
	require.Contains(t, pe.Error(), spanOf(win(day0, day)))
	require.Contains(t, pe.Error(), "step=1d")
	q.Step, q.Accumulate = 0, allocation.AccumulateHour
	_, err = eng.Answer(context.Background(), q)
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "accumulate", pe.Param)

	// Where the hours exist, 6h steps answer; a 1d step reads day0's block.
	q = namespaceQuery(win(day0.Add(day), fixtureHours*time.Hour))
	q.Step = 6 * time.Hour
	ans, err := eng.Answer(context.Background(), q)
	require.NoError(t, err)
	require.Len(t, ans.Sets, 1)
	q = namespaceQuery(w)
	q.Step = day
	ans, err = eng.Answer(context.Background(), q)
	require.NoError(t, err)
	require.Len(t, ans.Sets, 2)
	var sum float64
	for i, s := range ans.Sets {
		require.Equal(t, day0.Add(time.Duration(i)*day), s.Window.Start)
		sum += s.TotalCost()
	}
	require.InDelta(t, f.inputCost, sum, 1e-9*f.inputCost)

	q = namespaceQuery(w)
	q.Accumulate = allocation.AccumulateDay
	ans, err = eng.Answer(context.Background(), q)
	require.NoError(t, err)
	require.Len(t, ans.Sets, 2)
	require.InDelta(t, f.inputCost, ans.Sets[0].TotalCost()+ans.Sets[1].TotalCost(), 1e-9*f.inputCost)
}

func TestAnswerWarnsMissingRoundedAndStale(t *testing.T) {
	f := newFleet(t)
	eng, err := NewEngine(f.st, EngineOptions{StaleClusters: func(context.Context) ([]string, error) { return []string{"west"}, nil }})
	require.NoError(t, err)
	w := allocation.Window{Start: day0.Add(day + 30*time.Minute), End: day0.Add(day + 9*time.Hour)}
	ans, err := eng.Answer(context.Background(), namespaceQuery(w))
	require.NoError(t, err)
	require.Len(t, ans.Warnings, 3, "%q", ans.Warnings)
	require.Contains(t, ans.Warnings[0], "widened to whole hours")
	require.Contains(t, ans.Warnings[1], "no data for "+spanOf(win(day0.Add(day+fixtureHours*time.Hour), 3*time.Hour)))
	require.Contains(t, ans.Warnings[2], "stale clusters")
	require.Contains(t, ans.Warnings[2], "west")
	require.Equal(t, win(day0.Add(day), 9*time.Hour), ans.Sets[0].Window)
}

func TestAnswerCacheHits(t *testing.T) {
	f := newFleet(t)
	src := &countingSource{Source: f.st}
	reg := prometheus.NewRegistry()
	eng, err := NewEngine(src, EngineOptions{CacheBytes: 64 << 20, Registerer: reg})
	require.NoError(t, err)
	q := namespaceQuery(win(day0, day+fixtureHours*time.Hour))
	first, err := eng.Answer(context.Background(), q)
	require.NoError(t, err)
	reads := src.reads.Load()
	require.Equal(t, int64(1+fixtureHours), reads)

	second, err := eng.Answer(context.Background(), q)
	require.NoError(t, err)
	require.Equal(t, reads, src.reads.Load(), "second answer reads no block")
	require.Equal(t, first, second)
	require.Equal(t, float64(reads), testutil.ToFloat64(eng.metrics.hits))
	require.Equal(t, float64(reads), testutil.ToFloat64(eng.metrics.misses))

	// A cache too small for any block reads every time, correctly.
	tiny, err := NewEngine(src, EngineOptions{CacheBytes: 10})
	require.NoError(t, err)
	third, err := tiny.Answer(context.Background(), q)
	require.NoError(t, err)
	require.Equal(t, 2*reads, src.reads.Load())
	require.Equal(t, first, third)
}

func TestAnswerCacheBound(t *testing.T) {
	c := newBlockCache(3 * approxRowBytes * 3)
	rows := make([]allocation.Allocation, 2) // 3 units each with the +1
	load := func(context.Context) ([]allocation.Allocation, error) { return rows, nil }
	for i := range 5 {
		_, hit, err := c.get(context.Background(), fmt.Sprint(i), load)
		require.NoError(t, err)
		require.False(t, hit)
	}
	b, n := c.stats()
	require.Equal(t, 3, n)
	require.LessOrEqual(t, b, int64(9*approxRowBytes))
	_, hit, _ := c.get(context.Background(), "4", load)
	require.True(t, hit)
	_, hit, _ = c.get(context.Background(), "0", load)
	require.False(t, hit, "least recently used went first")
}

func TestAnswerConcurrent(t *testing.T) {
	f := newFleet(t)
	src := &countingSource{Source: f.st}
	eng, err := NewEngine(src, EngineOptions{CacheBytes: 64 << 20})
	require.NoError(t, err)
	q := namespaceQuery(win(day0, day+fixtureHours*time.Hour))
	want, err := NewEngine(f.st, EngineOptions{})
	require.NoError(t, err)
	wantAns, err := want.Answer(context.Background(), q)
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			ans, err := eng.Answer(context.Background(), q)
			if err == nil && ans.Sets[0].TotalCost() != wantAns.Sets[0].TotalCost() {
				err = errors.New("concurrent answer differs")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(1+fixtureHours), src.reads.Load(), "concurrent loads of one block are joined")
}

func TestAnswerUnreadableBlockIsAWarning(t *testing.T) {
	f := newFleet(t)
	src := &countingSource{Source: f.st, fail: &store.BlockError{Key: "k", Reason: store.ErrHashMismatch}}
	eng, err := NewEngine(src, EngineOptions{})
	require.NoError(t, err)
	ans, err := eng.Answer(context.Background(), namespaceQuery(win(day0, day)))
	require.NoError(t, err)
	require.Empty(t, ans.Sets[0].Allocations)
	require.Contains(t, ans.Warnings[0], "could not be read")

	src.fail = errors.New("bucket down")
	_, err = eng.Answer(context.Background(), namespaceQuery(win(day0, day)))
	require.ErrorContains(t, err, "bucket down")
}

func TestAnswerBadQuery(t *testing.T) {
	f := newFleet(t)
	eng, err := NewEngine(f.st, EngineOptions{})
	require.NoError(t, err)
	q := namespaceQuery(win(day0, day))
	q.Step = 90 * time.Minute
	_, err = eng.Answer(context.Background(), q)
	var pe *ParamError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "step", pe.Param)
	_, err = NewEngine(f.st, EngineOptions{Cluster: "../x"})
	require.Error(t, err)
}

func TestAnswerTTLCache(t *testing.T) {
	now := day0
	reads := 0
	fail := false
	c := NewTTLCache(time.Minute, func() time.Time { return now }, func(context.Context) (int, error) {
		reads++
		if fail {
			return 0, errors.New("down")
		}
		return reads, nil
	})
	v, err := c.Get(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, v)
	now = now.Add(59 * time.Second)
	v, _ = c.Get(context.Background())
	require.Equal(t, 1, v, "kept within the TTL")
	now = now.Add(time.Second)
	fail = true
	_, err = c.Get(context.Background())
	require.Error(t, err, "expired, and the fresh read failed")
	fail = false
	v, _ = c.Get(context.Background())
	require.Equal(t, 3, v)
}

// TestAnswerWindowsAreTheRequestedPeriods: every set's and row's window is
// the requested step or calendar period clipped to the query window, not the
// part that had blocks; rows' Start and End still say when they ran (issue
// 13 point 1, OpenCost's TestResponseWindowandInput).
func TestAnswerWindowsAreTheRequestedPeriods(t *testing.T) {
	f := newFleet(t)
	eng, err := NewEngine(f.st, EngineOptions{})
	require.NoError(t, err)
	dataEnd := day0.Add(day + fixtureHours*time.Hour)
	for _, tc := range []struct {
		name string
		w    allocation.Window
		acc  allocation.Accumulation
		step time.Duration
		want []allocation.Window
	}{
		// day0 is Sunday 2024-03-03: the week before ends there.
		{"week", win(day0.Add(-2*day), 4*day), allocation.AccumulateWeek, 0,
			[]allocation.Window{win(day0.Add(-2*day), 2*day), win(day0, 2*day)}},
		{"month", win(day0.Add(-4*day), 6*day), allocation.AccumulateMonth, 0,
			[]allocation.Window{win(day0.Add(-4*day), 2*day), win(day0.Add(-2*day), 4*day)}},
		{"day", win(day0, 2*day), allocation.AccumulateDay, 0,
			[]allocation.Window{win(day0, day), win(day0.Add(day), day)}},
		{"all", win(day0.Add(-day), 3*day), allocation.AccumulateAll, 0,
			[]allocation.Window{win(day0.Add(-day), 3*day)}},
		{"step", win(day0, 2*day), allocation.AccumulateNone, day,
			[]allocation.Window{win(day0, day), win(day0.Add(day), day)}},
		{"window", win(day0.Add(-day), 3*day), allocation.AccumulateNone, 0,
			[]allocation.Window{win(day0.Add(-day), 3*day)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := namespaceQuery(tc.w)
			q.Accumulate, q.Step = tc.acc, tc.step
			ans, err := eng.Answer(context.Background(), q)
			require.NoError(t, err)
			require.Len(t, ans.Sets, len(tc.want))
			var sum float64
			for i, s := range ans.Sets {
				require.Equal(t, tc.want[i], s.Window, "set %d", i)
				for _, a := range s.Allocations {
					require.Equal(t, tc.want[i], a.Window, "set %d row %s: the requested period", i, a.Name)
					require.False(t, a.Start.Before(maxTime(tc.want[i].Start, day0)), "row %s: start is when it ran", a.Name)
					require.False(t, a.End.After(minTime(tc.want[i].End, dataEnd)), "row %s: end is when it ran", a.Name)
				}
				sum += s.TotalCost()
			}
			require.InDelta(t, f.inputCost, sum, 1e-9*f.inputCost)
		})
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// indexFailSource fails ReadIndex with err.
type indexFailSource struct {
	Source
	err error
}

func (s indexFailSource) ReadIndex(context.Context, string, store.Resolution) (store.Index, error) {
	return store.Index{}, s.err
}

// TestAPIUnreadableIndexAnswersFromTheOtherResolution: garbage in one
// resolution's index is a warning naming it, not a 500 (issue 16 row 2).
func TestAPIUnreadableIndexAnswersFromTheOtherResolution(t *testing.T) {
	ctx := context.Background()
	newStore := func(t *testing.T) *store.Store {
		st := store.New(objstore.NewInMemBucket(), store.Options{})
		blocks := []store.Block{}
		for h := range 24 + fixtureHours {
			w := win(day0.Add(time.Duration(h)*time.Hour), time.Hour)
			rows := blocktest.Rows("east", w, 5, uint64(h+1))
			blocks = append(blocks, store.Block{Meta: meta(store.CombinedID, store.Hourly, w), Rows: rows})
		}
		_, err := st.Commit(ctx, blocks, store.CommitOptions{})
		require.NoError(t, err)
		_, err = st.Commit(ctx, []store.Block{{Meta: meta(store.CombinedID, store.Daily, win(day0, day)), Rows: blocktest.Rows("east", win(day0, day), 7, 99)}}, store.CommitOptions{})
		require.NoError(t, err)
		return st
	}
	garbage := func(t *testing.T, st *store.Store, res store.Resolution) string {
		key := store.IndexKey(store.CombinedID, res)
		require.NoError(t, st.Bucket().Upload(ctx, key, strings.NewReader("garbage\n")))
		_, err := st.ReadIndex(ctx, store.CombinedID, res)
		var ie *store.IndexError
		require.ErrorAs(t, err, &ie, "a decode error is typed")
		require.Equal(t, key, ie.Key)
		return key
	}
	type answer struct {
		Data     []map[string]map[string]any `json:"data"`
		Warnings []string                    `json:"warnings"`
	}
	query := func(t *testing.T, a *testAPI, w allocation.Window, extra ...string) answer {
		t.Helper()
		rec := a.get(t, "/allocation?aggregate=namespace&window="+url.QueryEscape(w.Start.Format(time.RFC3339)+","+w.End.Format(time.RFC3339))+strings.Join(extra, ""))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var ans answer
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ans))
		if len(extra) == 0 {
			require.Len(t, ans.Data, 1)
		}
		return ans
	}
	total := func(ans answer) float64 {
		var sum float64
		for _, set := range ans.Data {
			for _, a := range set {
				sum += a["totalCost"].(float64)
			}
		}
		return sum
	}

	t.Run("daily garbage", func(t *testing.T) {
		st := newStore(t)
		// Before the damage: the day's hours, read one by one (step=1h),
		// total differently from its 1d block (the fixture's rows differ).
		before := newTestAPI(t, st, nil)
		hourlyCost := total(query(t, before, win(day0, day), "&step=1h"))
		require.NotEqual(t, hourlyCost, total(query(t, before, win(day0, day))))
		key := garbage(t, st, store.Daily)
		a := newTestAPI(t, st, nil)
		ans := query(t, a, win(day0.Add(day), fixtureHours*time.Hour))
		require.NotEmpty(t, ans.Data[0])
		require.Len(t, ans.Warnings, 1, "%q", ans.Warnings)
		require.Contains(t, ans.Warnings[0], "the 1d index "+key+" could not be read (invalid character")
		require.Contains(t, ans.Warnings[0], "answering from 1h blocks only")

		ans = query(t, a, win(day0, day))
		require.Len(t, ans.Warnings, 1, "the whole day is answered from its hours: %q", ans.Warnings)
		require.InEpsilon(t, hourlyCost, total(ans), 1e-6)
	})
	t.Run("hourly garbage", func(t *testing.T) {
		st := newStore(t)
		key := garbage(t, st, store.Hourly)
		a := newTestAPI(t, st, nil)
		ans := query(t, a, win(day0, day))
		require.NotEmpty(t, ans.Data[0])
		require.Len(t, ans.Warnings, 1, "%q", ans.Warnings)
		require.Contains(t, ans.Warnings[0], "the 1h index "+key+" could not be read")
		require.Contains(t, ans.Warnings[0], "answering from 1d blocks only")

		ans = query(t, a, win(day0.Add(day), fixtureHours*time.Hour))
		require.Empty(t, ans.Data[0])
		require.Len(t, ans.Warnings, 2, "%q", ans.Warnings)
		require.Contains(t, ans.Warnings[1], "no data for "+spanOf(win(day0.Add(day), fixtureHours*time.Hour)))
	})
	t.Run("transport error", func(t *testing.T) {
		st := newStore(t)
		a := newTestAPI(t, indexFailSource{Source: st, err: errors.New("bucket down")}, nil)
		rec := a.get(t, "/allocation?window=yesterday")
		require.Equal(t, http.StatusInternalServerError, rec.Code)
	})
}

// TestAnswerSubHourWindow: a window shorter than an hour is answered from
// one whole hour with a warning saying which (issue 13 point 9): the hour
// holding most of it, or the other hour it touches when that one has no
// block yet (the current, open hour).
func TestAnswerSubHourWindow(t *testing.T) {
	f := newFleet(t)
	eng, err := NewEngine(f.st, EngineOptions{})
	require.NoError(t, err)
	at := func(h, m int) time.Time {
		return day0.Add(day + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	for _, tc := range []struct {
		name      string
		w         allocation.Window
		want      allocation.Window
		warn      string
		noData    bool
		wantWarns int
	}{
		{"inside one hour", allocation.Window{Start: at(2, 10), End: at(2, 20)}, win(at(2, 0), time.Hour), "answered from the hour that contains it", false, 1},
		{"mostly the earlier hour", allocation.Window{Start: at(2, 52), End: at(3, 2)}, win(at(2, 0), time.Hour), "answered from the hour that holds most of it", false, 1},
		{"mostly the later hour", allocation.Window{Start: at(2, 58), End: at(3, 8)}, win(at(3, 0), time.Hour), "answered from the hour that holds most of it", false, 1},
		{"later hour has no block yet", allocation.Window{Start: at(5, 55), End: at(6, 5)}, win(at(5, 0), time.Hour), "has no block yet", false, 1},
		{"no block at all", allocation.Window{Start: at(6, 20), End: at(6, 30)}, win(at(6, 0), time.Hour), "answered from the hour that contains it", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans, err := eng.Answer(context.Background(), namespaceQuery(tc.w))
			require.NoError(t, err)
			require.Len(t, ans.Sets, 1)
			require.Equal(t, tc.want, ans.Sets[0].Window)
			require.Len(t, ans.Warnings, tc.wantWarns, "%q", ans.Warnings)
			require.Contains(t, ans.Warnings[0], "is shorter than an hour")
			require.Contains(t, ans.Warnings[0], tc.warn)
			require.Contains(t, ans.Warnings[0], spanOf(tc.want))
			if tc.noData {
				require.Empty(t, ans.Sets[0].Allocations)
				require.Contains(t, ans.Warnings[1], "no data for "+spanOf(tc.want))
				return
			}
			require.NotEmpty(t, ans.Sets[0].Allocations)
			for _, a := range ans.Sets[0].Allocations {
				require.Equal(t, tc.want, a.Window)
			}
		})
	}

	// Over HTTP, window=10m five minutes into an hour without a block yet.
	a := newTestAPI(t, f.st, func(o *HandlerOptions) { o.Now = func() time.Time { return at(6, 5) } })
	rec := a.get(t, "/allocation?window=10m&aggregate=namespace")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NotEmpty(t, sets(t, rec.Body.Bytes())[0])
	require.Contains(t, rec.Body.String(), "has no block yet")
}

// TestCacheCountsVolumes: a row carrying many volumes counts for them, so the
// byte bound holds for answers summed over namespaces with thousands of PVs.
func TestCacheCountsVolumes(t *testing.T) {
	plain := []allocation.Allocation{{Name: "a"}}
	heavy := []allocation.Allocation{{Name: "a", PVs: make([]allocation.PVAllocation, 1000)}}
	require.Equal(t, int64(2*approxRowBytes), approxBytes(plain))
	require.Equal(t, int64(2*approxRowBytes+1000*approxVolumeBytes), approxBytes(heavy))
	c := newBlockCache(100 * approxRowBytes)
	_, _, err := c.get(context.Background(), "k", func(context.Context) ([]allocation.Allocation, error) { return heavy, nil })
	require.NoError(t, err)
	_, n := c.stats()
	require.Zero(t, n, "an answer larger than the whole cache is not kept")
}
