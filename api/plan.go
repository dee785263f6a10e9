package api

import (
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/store"
)

const day = 24 * time.Hour

// plannedBlock is one committed block a query reads.
type plannedBlock struct {
	res   store.Resolution
	entry store.IndexEntry
}

// queryPlan is what a query reads, and what of its window nothing covers.
type queryPlan struct {
	blocks  []plannedBlock
	missing []allocation.Window
	// dailyOnly are whole days inside the window the query could not read
	// as one block (its step or accumulation splits them) whose hours are
	// missing, though their 1d block is committed: the data exists at a
	// coarser resolution only (hourly retention is shorter).
	dailyOnly []allocation.Window
}

// planBlocks chooses the blocks that cover w (whole hours): the 1d block of
// every whole UTC day inside w that daysUsable allows and the index holds, and
// 1h blocks for everything else (the partial days at the edges, and days whose
// 1d block is missing). Hours no block covers are returned as missing, merged
// into runs. It is a pure function of its arguments.
func planBlocks(w allocation.Window, daily, hourly []store.IndexEntry, dayUsable func(allocation.Window) bool) queryPlan {
	days := byStart(daily)
	hours := byStart(hourly)
	var p queryPlan
	for ds := w.Start.Truncate(day); ds.Before(w.End); ds = ds.Add(day) {
		d := allocation.Window{Start: ds, End: ds.Add(day)}
		inside := !d.Start.Before(w.Start) && !d.End.After(w.End)
		de, hasDay := days[ds.Unix()]
		hasDay = hasDay && de.End == d.End.Unix()
		if inside && hasDay && dayUsable(d) {
			p.blocks = append(p.blocks, plannedBlock{res: store.Daily, entry: de})
			continue
		}
		hoursMissing := false
		for h := maxTime(ds, w.Start); h.Before(d.End) && h.Before(w.End); h = h.Add(time.Hour) {
			if e, ok := hours[h.Unix()]; ok && e.End == h.Add(time.Hour).Unix() {
				p.blocks = append(p.blocks, plannedBlock{res: store.Hourly, entry: e})
				continue
			}
			hoursMissing = true
			p.addMissing(allocation.Window{Start: h, End: h.Add(time.Hour)})
		}
		if inside && hasDay && hoursMissing {
			p.dailyOnly = append(p.dailyOnly, d)
		}
	}
	return p
}

// addMissing records a missing window, extending the last run when adjacent.
func (p *queryPlan) addMissing(w allocation.Window) {
	if n := len(p.missing); n > 0 && p.missing[n-1].End.Equal(w.Start) {
		p.missing[n-1].End = w.End
		return
	}
	p.missing = append(p.missing, w)
}

func byStart(entries []store.IndexEntry) map[int64]store.IndexEntry {
	m := make(map[int64]store.IndexEntry, len(entries))
	for _, e := range entries {
		m[e.Start] = e
	}
	return m
}

// dayUsableFor says which whole days a query may read as one 1d block: not
// when it accumulates by hour, and not when a step boundary falls inside the
// day (a day block cannot be split).
func dayUsableFor(w allocation.Window, step time.Duration, acc allocation.Accumulation) func(allocation.Window) bool {
	return func(d allocation.Window) bool {
		switch {
		case acc == allocation.AccumulateHour:
			return false
		case acc != allocation.AccumulateNone || step <= 0:
			return true
		}
		// The last step boundary before the day's end must not be inside it.
		k := (d.End.Sub(w.Start) - 1) / step
		b := w.Start.Add(k * step)
		return !b.After(d.Start)
	}
}

// hourWindow widens w to whole hours; the answer says when it did.
func hourWindow(w allocation.Window) allocation.Window {
	start := w.Start.Truncate(time.Hour)
	end := w.End.Truncate(time.Hour)
	if end.Before(w.End) {
		end = end.Add(time.Hour)
	}
	return allocation.Window{Start: start, End: end}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
