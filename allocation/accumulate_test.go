package allocation

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseAccumulation(t *testing.T) {
	for in, want := range map[string]Accumulation{"": AccumulateNone, "false": AccumulateNone, "none": AccumulateNone,
		"true": AccumulateAll, "all": AccumulateAll, "Hour": AccumulateHour, "day": AccumulateDay, "week": AccumulateWeek, "month": AccumulateMonth} {
		got, err := ParseAccumulation(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		if in != "" && in != "true" && in != "false" {
			require.Equal(t, want, must(ParseAccumulation(got.String())))
		}
	}
	_, err := ParseAccumulation("quarter")
	require.ErrorContains(t, err, `accumulate "quarter"`)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestAccumulationPeriods(t *testing.T) {
	tests := []struct {
		by         Accumulation
		t          string
		start, end string
	}{
		{AccumulateHour, "2024-01-07T05:30:00Z", "2024-01-07T05:00:00Z", "2024-01-07T06:00:00Z"},
		{AccumulateDay, "2024-01-07T23:59:59Z", "2024-01-07T00:00:00Z", "2024-01-08T00:00:00Z"},
		// 2024-01-07 is a Sunday: its own week; Saturday the 13th is the same week.
		{AccumulateWeek, "2024-01-07T00:00:00Z", "2024-01-07T00:00:00Z", "2024-01-14T00:00:00Z"},
		{AccumulateWeek, "2024-01-13T12:00:00Z", "2024-01-07T00:00:00Z", "2024-01-14T00:00:00Z"},
		{AccumulateWeek, "2024-03-01T00:00:00Z", "2024-02-25T00:00:00Z", "2024-03-03T00:00:00Z"},
		{AccumulateMonth, "2024-02-29T10:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
		{AccumulateMonth, "2024-12-31T00:00:00Z", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		p := tt.by.period(at(tt.t))
		require.Equal(t, at(tt.start), p.Start, "%v %s", tt.by, tt.t)
		require.Equal(t, at(tt.end), p.End, "%v %s", tt.by, tt.t)
	}
}

func TestWindowSteps(t *testing.T) {
	w := Window{Start: at("2024-01-07T00:00:00Z"), End: at("2024-01-07T05:00:00Z")}
	steps, err := w.Steps(2 * time.Hour)
	require.NoError(t, err)
	require.Equal(t, []Window{
		{Start: at("2024-01-07T00:00:00Z"), End: at("2024-01-07T02:00:00Z")},
		{Start: at("2024-01-07T02:00:00Z"), End: at("2024-01-07T04:00:00Z")},
		{Start: at("2024-01-07T04:00:00Z"), End: at("2024-01-07T05:00:00Z")},
	}, steps)
	one, err := w.Steps(24 * time.Hour)
	require.NoError(t, err)
	require.Equal(t, []Window{w}, one)

	_, err = w.Steps(0)
	require.ErrorContains(t, err, "must be positive")
	_, err = w.Steps(time.Millisecond)
	require.ErrorContains(t, err, "more than 100000 steps")
	_, err = Window{}.Steps(time.Hour)
	require.ErrorContains(t, err, "end is not after start")
}

// hourlySets makes 1h sets over 48 hours with random gaps; each hour has rows
// for some of a few containers, starting and ending inside the hour.
func hourlySets(r *rand.Rand) []Set {
	base := at("2024-01-06T00:00:00Z")
	var sets []Set
	for h := range 48 {
		if r.IntN(4) == 0 {
			continue // a missing hour
		}
		w := Window{Start: base.Add(time.Duration(h) * time.Hour), End: base.Add(time.Duration(h+1) * time.Hour)}
		s := Set{Window: w}
		for c := range 4 {
			if r.IntN(3) == 0 {
				continue
			}
			start := w.Start.Add(time.Duration(r.IntN(30)) * time.Minute)
			a := Allocation{Name: fmt.Sprintf("c1/n1/ns/p%d/c", c), Window: w, Start: start, End: w.End,
				Properties:            Properties{Cluster: "c1", Namespace: "ns", Pod: fmt.Sprintf("p%d", c)},
				CPUCoreRequestAverage: r.Float64() * 4, CPUCoreUsageAverage: r.Float64(), RAMBytesRequestAverage: r.Float64() * 1e9,
				CPUCoreUsageMax: r.Float64() * 5, CPUCost: r.Float64()}
			a.CPUCoreHours = a.CPUCoreRequestAverage * a.Hours()
			s.Allocations = append(s.Allocations, a)
		}
		sets = append(sets, s)
	}
	return sets
}

// Accumulating is associative, and average × running hours always equals the
// summed request core-hours, across every gap.
func TestAccumulateAveragesAcrossGaps(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 50 {
		sets := hourlySets(r)
		all := must(Accumulate(sets, AccumulateAll))
		days := must(Accumulate(sets, AccumulateDay))
		allOfDays := must(Accumulate(days, AccumulateAll))
		require.Len(t, all, 1)
		require.Equal(t, all[0].Window, allOfDays[0].Window)
		require.Len(t, allOfDays[0].Allocations, len(all[0].Allocations))
		for i, a := range all[0].Allocations {
			b := allOfDays[0].Allocations[i]
			require.Equal(t, a.Name, b.Name)
			require.Equal(t, a.Start, b.Start)
			require.Equal(t, a.End, b.End)
			require.InDelta(t, a.CPUCoreRequestAverage, b.CPUCoreRequestAverage, 1e-12)
			require.InDelta(t, a.RAMBytesRequestAverage, b.RAMBytesRequestAverage, 1e-3)
			require.InDelta(t, a.CPUCoreUsageMax, b.CPUCoreUsageMax, 0)
			// Here core-hours = request × hours row by row, so it must hold
			// for the sum too.
			require.InDelta(t, a.CPUCoreHours, a.CPUCoreRequestAverage*a.Hours(), 1e-9)
		}
	}
}

func TestAccumulateErrors(t *testing.T) {
	day := Set{Window: testDay}
	next := Set{Window: Window{Start: testDay.End, End: testDay.End.Add(24 * time.Hour)}}
	_, err := Accumulate([]Set{day, day}, AccumulateAll)
	require.ErrorContains(t, err, "overlap")
	_, err = Accumulate([]Set{day, next}, AccumulateHour)
	require.ErrorContains(t, err, "crosses the hour boundary at 2024-01-07T01:00:00Z")
	_, err = Accumulate([]Set{{}}, AccumulateAll)
	require.ErrorContains(t, err, "end is not after start")
	_, err = Accumulate([]Set{day}, Accumulation(42))
	require.ErrorContains(t, err, "unknown accumulation")

	got, err := Accumulate(nil, AccumulateDay)
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = Accumulate([]Set{next, day}, AccumulateNone)
	require.NoError(t, err)
	require.Equal(t, []Window{day.Window, next.Window}, []Window{got[0].Window, got[1].Window})
}

func TestAccumulateStepsIgnoresSetsOutsideTheWindow(t *testing.T) {
	sets := []Set{
		{Window: Window{Start: at("2024-01-07T00:00:00Z"), End: at("2024-01-07T01:00:00Z")},
			Allocations: []Allocation{{Name: "x", CPUCost: 1}}},
		{Window: Window{Start: at("2024-01-07T05:00:00Z"), End: at("2024-01-07T06:00:00Z")},
			Allocations: []Allocation{{Name: "x", CPUCost: 2}}},
		{Window: Window{Start: at("2024-01-07T09:00:00Z"), End: at("2024-01-07T10:00:00Z")},
			Allocations: []Allocation{{Name: "x", CPUCost: 4}}},
	}
	w := Window{Start: at("2024-01-07T04:00:00Z"), End: at("2024-01-07T08:00:00Z")}
	got, err := AccumulateSteps(sets, w, 4*time.Hour)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, w, got[0].Window)
	require.Len(t, got[0].Allocations, 1)
	require.Equal(t, 2.0, got[0].Allocations[0].CPUCost)
}

// TestAccumulatePeriodsReportsTheRequestedPeriods: sets and rows carry the
// calendar period clipped to the window, also where data covers less of it,
// and a period without data is an empty set.
func TestAccumulatePeriodsReportsTheRequestedPeriods(t *testing.T) {
	const day = 24 * time.Hour
	sat := time.Date(2024, 1, 6, 0, 0, 0, 0, time.UTC) // a Saturday
	hour := func(h int) Window {
		return Window{Start: sat.Add(time.Duration(h) * time.Hour), End: sat.Add(time.Duration(h+1) * time.Hour)}
	}
	row := func(w Window) Allocation {
		return Allocation{Name: "a", Window: w, Start: w.Start, End: w.End, CPUCost: 1}
	}
	sets := []Set{NewSet(hour(3), row(hour(3))), NewSet(hour(30), row(hour(30)))}
	w := Window{Start: sat.Add(-day), End: sat.Add(9 * day)} // Friday to Monday week after
	got, err := AccumulatePeriods(sets, w, AccumulateWeek)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, want := range []Window{
		{Start: w.Start, End: sat.Add(day)},
		{Start: sat.Add(day), End: sat.Add(8 * day)},
		{Start: sat.Add(8 * day), End: w.End},
	} {
		require.Equal(t, want, got[i].Window, "set %d", i)
		for _, a := range got[i].Allocations {
			require.Equal(t, want, a.Window, "set %d: the row's window is the period", i)
		}
	}
	require.Equal(t, hour(3).Start, got[0].Allocations[0].Start, "start stays when the row ran")
	require.Equal(t, hour(3).End, got[0].Allocations[0].End)
	require.Equal(t, hour(30), Window{Start: got[1].Allocations[0].Start, End: got[1].Allocations[0].End})
	require.Empty(t, got[2].Allocations)

	got, err = AccumulatePeriods(sets, w, AccumulateAll)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, w, got[0].Window)
	require.Equal(t, w, got[0].Allocations[0].Window)
	require.Equal(t, 2.0, got[0].Allocations[0].CPUCost)

	_, err = AccumulatePeriods([]Set{NewSet(Window{Start: sat, End: sat.Add(2 * day)})}, w, AccumulateDay)
	require.ErrorContains(t, err, "straddles")
	_, err = AccumulatePeriods(sets, w, AccumulateNone)
	require.ErrorContains(t, err, "no calendar period")
}

// TestAccumulatorStreamsWhatAccumulateAnswers: sets fed one at a time, in
// window order, give AccumulateSteps's and AccumulatePeriods's answers bit
// for bit, for windows that start, end or split inside the data; sets out of
// order or straddling a step are errors.
func TestAccumulatorStreamsWhatAccumulateAnswers(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	base := at("2024-01-06T00:00:00Z")
	for range 40 {
		sets := hourlySets(r)
		w := Window{Start: base.Add(time.Duration(r.IntN(10)) * time.Hour), End: base.Add(time.Duration(30+r.IntN(30)) * time.Hour)}
		step := time.Duration(1+r.IntN(7)) * time.Hour
		want, err := AccumulateSteps(sets, w, step)
		require.NoError(t, err)
		acc, err := NewStepAccumulator(w, step)
		require.NoError(t, err)
		for _, s := range sets {
			require.NoError(t, acc.Add(s)) // hourly sets never straddle whole-hour steps
		}
		require.Equal(t, want, acc.Sets(), "window %s step %s", w, step)

		by := []Accumulation{AccumulateAll, AccumulateDay, AccumulateHour}[r.IntN(3)]
		w = Window{Start: base, End: base.Add(48 * time.Hour)}
		want, err = AccumulatePeriods(sets, w, by)
		require.NoError(t, err)
		acc, err = NewPeriodAccumulator(w, by)
		require.NoError(t, err)
		for _, s := range sets {
			require.NoError(t, acc.Add(s))
		}
		require.Equal(t, want, acc.Sets(), "by %v", by)
	}

	day := Set{Window: testDay}
	next := Set{Window: Window{Start: testDay.End, End: testDay.End.Add(24 * time.Hour)}}
	acc, err := NewPeriodAccumulator(Window{Start: testDay.Start, End: next.Window.End}, AccumulateAll)
	require.NoError(t, err)
	require.NoError(t, acc.Add(next))
	require.ErrorContains(t, acc.Add(day), "overlaps or follows")
	acc, err = NewStepAccumulator(Window{Start: testDay.Start, End: next.Window.End}, 12*time.Hour)
	require.NoError(t, err)
	require.ErrorContains(t, acc.Add(day), "straddles a step boundary")
	require.ErrorContains(t, acc.Add(Set{}), "end is not after start")
}
