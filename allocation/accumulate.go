package allocation

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Accumulation says how sets of consecutive windows are summed (the API's
// accumulate parameter).
type Accumulation uint8

// Accumulations. Periods are calendar periods in UTC; weeks start on Sunday, as
// in OpenCost.
const (
	AccumulateNone  Accumulation = iota // every set on its own
	AccumulateAll                       // everything into one set
	AccumulateHour                      // per hour, from sets of an hour or less
	AccumulateDay                       // per day, from 1h (or 1d) sets
	AccumulateWeek                      // per week, from 1d sets
	AccumulateMonth                     // per month, from 1d sets
)

var accumulationNames = [...]string{
	AccumulateNone:  "none",
	AccumulateAll:   "all",
	AccumulateHour:  "hour",
	AccumulateDay:   "day",
	AccumulateWeek:  "week",
	AccumulateMonth: "month",
}

func (a Accumulation) String() string {
	if int(a) < len(accumulationNames) {
		return accumulationNames[a]
	}
	return fmt.Sprintf("Accumulation(%d)", uint8(a))
}

// ParseAccumulation accepts "", "false" and "none" (AccumulateNone), "true" and
// "all", "hour", "day", "week", "month"; case is ignored.
func ParseAccumulation(s string) (Accumulation, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "", "false":
		return AccumulateNone, nil
	case "true":
		return AccumulateAll, nil
	default:
		for a, name := range accumulationNames {
			if v == name {
				return Accumulation(a), nil
			}
		}
	}
	return AccumulateNone, fmt.Errorf("accumulate %q: want all, hour, day, week, month or none", s)
}

// period is the calendar period of a containing t.
func (a Accumulation) period(t time.Time) Window {
	t = t.UTC()
	y, m, d := t.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	switch a {
	case AccumulateHour:
		h := t.Truncate(time.Hour)
		return Window{Start: h, End: h.Add(time.Hour)}
	case AccumulateDay:
		return Window{Start: day, End: day.AddDate(0, 0, 1)}
	case AccumulateWeek:
		sunday := day.AddDate(0, 0, -int(day.Weekday()))
		return Window{Start: sunday, End: sunday.AddDate(0, 0, 7)}
	case AccumulateMonth:
		first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return Window{Start: first, End: first.AddDate(0, 1, 0)}
	}
	return Window{}
}

// Accumulate sums sets of consecutive windows into one set per period. Rows with
// one name are summed by the summing rules (see summer): across a gap between
// windows a row's averages are diluted, and average × minutes stays exact. Each
// answer's window is the union of its inputs' windows (not the whole calendar
// period), its rows sorted by name.
//
// Sets must not overlap (that would count a window twice), and for hour, day,
// week and month each set must lie within one period: a 1d set cannot be
// accumulated by hour.
func Accumulate(sets []Set, by Accumulation) ([]Set, error) {
	if by > AccumulateMonth {
		return nil, fmt.Errorf("accumulate: unknown accumulation %v", by)
	}
	sorted, err := sortedSets(sets)
	if err != nil {
		return nil, err
	}
	switch {
	case len(sorted) == 0:
		return nil, nil
	case by == AccumulateNone:
		for i := range sorted {
			sorted[i] = sorted[i].Clone()
		}
		return sorted, nil
	case by == AccumulateAll:
		return []Set{mergeSets(sorted, Window{})}, nil
	}
	var out []Set
	for start := 0; start < len(sorted); {
		p := by.period(sorted[start].Window.Start)
		end := start
		for end < len(sorted) && sorted[end].Window.Start.Before(p.End) {
			if w := sorted[end].Window; w.End.After(p.End) {
				return nil, fmt.Errorf("accumulate by %s: set %s crosses the %s boundary at %s", by, w, by, p.End.Format(time.RFC3339))
			}
			end++
		}
		out = append(out, mergeSets(sorted[start:end], Window{}))
		start = end
	}
	return out, nil
}

// sortedSets returns the sets ordered by start, checking each window and that no
// two overlap. The caller's slice is not reordered.
func sortedSets(sets []Set) ([]Set, error) {
	sorted := slices.Clone(sets)
	for _, s := range sorted {
		if !s.Window.End.After(s.Window.Start) {
			return nil, fmt.Errorf("accumulate: set window %s: end is not after start", s.Window)
		}
	}
	slices.SortStableFunc(sorted, func(a, b Set) int { return a.Window.Start.Compare(b.Window.Start) })
	for i := 1; i < len(sorted); i++ {
		if prev, cur := sorted[i-1].Window, sorted[i].Window; cur.Start.Before(prev.End) {
			return nil, fmt.Errorf("accumulate: set windows %s and %s overlap", prev, cur)
		}
	}
	return sorted, nil
}

// MergeSets sums sets into one, rows by name, by the summing rules (see
// Accumulate). The window is w, or the union of the sets' windows when w is
// zero. The sets are not modified and the answer shares no memory with them.
// With Decomposable options, merging the aggregates of a set's parts gives
// the aggregate of the whole set.
func MergeSets(w Window, sets ...Set) Set { return mergeSets(sets, w) }

// mergeSets sums sets into one, rows by name. The window is w, or the union of
// the sets' windows when w is zero. When w is given it is every row's window
// too, as in OpenCost, where an allocation's window is its set's (the rows'
// Start and End still say when they ran).
func mergeSets(sets []Set, w Window) Set {
	var m setMerger
	for _, s := range sets {
		m.add(s)
	}
	return m.finish(w)
}

// setMerger is mergeSets fed one set at a time: it holds the sums of the
// rows so far, not the sets.
type setMerger struct {
	keys   *keyTable
	sums   []summer
	window Window // union of the sets' windows
}

func (m *setMerger) add(s Set) {
	if m.keys == nil {
		m.keys = newKeyTable()
		m.sums = make([]summer, 0, len(s.Allocations))
	}
	m.window = unionWindow(m.window, s.Window)
	for i := range s.Allocations {
		a := &s.Allocations[i]
		k := m.keys.internString(a.Name)
		if int(k) == len(m.sums) {
			m.sums = append(m.sums, summer{})
		}
		m.sums[k].add(a)
	}
}

// finish returns the merged set (see mergeSets for w).
func (m *setMerger) finish(w Window) Set {
	given := w != (Window{})
	if !given {
		w = m.window
	}
	rows := make([]Allocation, len(m.sums))
	for k := range m.sums {
		rows[k] = m.sums[k].finish(m.keys.names[k])
		if given {
			rows[k].Window = w
		}
	}
	sortByName(rows)
	return Set{Window: w, Allocations: rows}
}

// Accumulator is AccumulateSteps or AccumulatePeriods fed one set at a time,
// in window order: it holds the running sums of the current step, not the
// sets, so its memory is the answer's however many sets go in. Fed the sets
// AccumulateSteps would sort, it answers the same, bit for bit.
type Accumulator struct {
	windows []Window
	i       int       // the step being summed
	cur     setMerger // its sums
	out     []Set
	last    Window // the last set added
}

// NewStepAccumulator accumulates w in steps of step (see AccumulateSteps).
func NewStepAccumulator(w Window, step time.Duration) (*Accumulator, error) {
	steps, err := w.Steps(step)
	if err != nil {
		return nil, err
	}
	return &Accumulator{windows: steps, out: make([]Set, 0, len(steps))}, nil
}

// NewPeriodAccumulator accumulates w by calendar period (see
// AccumulatePeriods).
func NewPeriodAccumulator(w Window, by Accumulation) (*Accumulator, error) {
	periods, err := w.Periods(by)
	if err != nil {
		return nil, err
	}
	return &Accumulator{windows: periods, out: make([]Set, 0, len(periods))}, nil
}

// Add sums s into its step. Sets must come in window order without
// overlapping; a set outside every step is ignored, one that straddles a
// step boundary is an error.
func (a *Accumulator) Add(s Set) error {
	sw := s.Window
	if !sw.End.After(sw.Start) {
		return fmt.Errorf("accumulate: set window %s: end is not after start", sw)
	}
	if a.last != (Window{}) && sw.Start.Before(a.last.End) {
		return fmt.Errorf("accumulate: set window %s comes after %s, which it overlaps or follows", sw, a.last)
	}
	a.last = sw
	for a.i < len(a.windows) && !sw.Start.Before(a.windows[a.i].End) {
		a.closeStep()
	}
	if a.i == len(a.windows) {
		return nil // after every step
	}
	st := a.windows[a.i]
	if !sw.End.After(st.Start) {
		return nil // before every step
	}
	if sw.Start.Before(st.Start) || sw.End.After(st.End) {
		return fmt.Errorf("step %s: set %s straddles a step boundary", st, sw)
	}
	a.cur.add(s)
	return nil
}

func (a *Accumulator) closeStep() {
	a.out = append(a.out, a.cur.finish(a.windows[a.i]))
	a.cur = setMerger{}
	a.i++
}

// Sets returns one set per step, steps without data empty. The
// Accumulator takes no more sets after.
func (a *Accumulator) Sets() []Set {
	for a.i < len(a.windows) {
		a.closeStep()
	}
	return a.out
}

// maxSteps bounds how many steps a window may be split into.
const maxSteps = 100_000

// Steps splits w into consecutive windows of length step; the last one ends at
// w.End and may be shorter.
func (w Window) Steps(step time.Duration) ([]Window, error) {
	if step <= 0 {
		return nil, fmt.Errorf("step %s: must be positive", step)
	}
	if !w.End.After(w.Start) {
		return nil, fmt.Errorf("window %s: end is not after start", w)
	}
	if n := w.Duration() / step; n >= maxSteps {
		return nil, fmt.Errorf("step %s splits window %s into more than %d steps", step, w, maxSteps)
	}
	var out []Window
	for s := w.Start; s.Before(w.End); s = s.Add(step) {
		out = append(out, Window{Start: s, End: minTime(s.Add(step), w.End)})
	}
	return out, nil
}

// AccumulateSteps answers a query with a step: one set per step of w, each the
// sum of the sets inside that step (see Accumulate for how rows are summed), with
// the step as its window and its rows'; a step without data gives an empty set.
// Sets outside w are ignored; a set that straddles a step boundary or an edge of
// w is an error.
func AccumulateSteps(sets []Set, w Window, step time.Duration) ([]Set, error) {
	steps, err := w.Steps(step)
	if err != nil {
		return nil, err
	}
	return accumulateInto(sets, steps)
}

// Periods splits w into the calendar periods of by (see Accumulate) that
// meet it, each clipped to w; AccumulateAll gives w itself.
func (w Window) Periods(by Accumulation) ([]Window, error) {
	if !w.End.After(w.Start) {
		return nil, fmt.Errorf("window %s: end is not after start", w)
	}
	switch {
	case by == AccumulateAll:
		return []Window{w}, nil
	case by == AccumulateNone || by > AccumulateMonth:
		return nil, fmt.Errorf("periods: no calendar period for accumulation %v", by)
	}
	var out []Window
	for p := by.period(w.Start); p.Start.Before(w.End); p = by.period(p.End) {
		if len(out) >= maxSteps {
			return nil, fmt.Errorf("accumulate by %s splits window %s into more than %d periods", by, w, maxSteps)
		}
		out = append(out, Window{Start: maxTime(p.Start, w.Start), End: minTime(p.End, w.End)})
	}
	return out, nil
}

// AccumulatePeriods answers a query accumulated by calendar period: one set
// per period of by that meets w (AccumulateAll: one set for w), each the sum
// of the sets inside it, with the period clipped to w as its window and its
// rows' (OpenCost reports the requested period, not the part that had data);
// a period without data gives an empty set. Sets outside w are ignored; a set
// that crosses a period boundary or an edge of w is an error.
func AccumulatePeriods(sets []Set, w Window, by Accumulation) ([]Set, error) {
	periods, err := w.Periods(by)
	if err != nil {
		return nil, err
	}
	return accumulateInto(sets, periods)
}

// accumulateInto sums sets into consecutive windows, one set per window.
func accumulateInto(sets []Set, windows []Window) ([]Set, error) {
	sorted, err := sortedSets(sets)
	if err != nil {
		return nil, err
	}
	steps := windows
	out := make([]Set, len(steps))
	next := 0
	for i, st := range steps {
		for next < len(sorted) && !sorted[next].Window.End.After(st.Start) {
			next++ // entirely before w: ignored
		}
		first := next
		for next < len(sorted) && sorted[next].Window.Start.Before(st.End) {
			if sw := sorted[next].Window; sw.Start.Before(st.Start) || sw.End.After(st.End) {
				return nil, fmt.Errorf("step %s: set %s straddles a step boundary", st, sw)
			}
			next++
		}
		out[i] = mergeSets(sorted[first:next], st)
	}
	return out, nil
}
