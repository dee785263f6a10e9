package sim

import (
	"context"
	"fmt"
	"sort"
)

// metricType is a family's OpenMetrics type.
type metricType int

const (
	gauge metricType = iota
	counter
)

func (t metricType) String() string {
	if t == counter {
		return "counter"
	}
	return "gauge"
}

// sink receives the samples of one emission pass, family by family and,
// inside a family, series by series with samples in time order.
type sink interface {
	// family starts a family; counters' samples are named name+"_total".
	family(name, help string, typ metricType) error
	// series starts a series; labels are sorted by name and hold no
	// __name__.
	series(metric string, labels []label) error
	// sample adds a sample at t (Unix seconds) to the current series.
	sample(t int64, v float64) error
}

// Stats count what a writer wrote.
type Stats struct {
	// Series counts series runs: a series that stops and comes back (a pod
	// recreated under the same name on the same node) counts once per run.
	Series int64
	// Samples is the number of samples written.
	Samples int64
	// Bytes is the size of the output (OpenMetrics text, or the TSDB
	// directory).
	Bytes int64
}

// emitter walks the fleet for one pass over the samples in [from, to).
type emitter struct {
	f        *Fleet
	s        sink
	from, to int64
	stats    *Stats
	c        *cluster
	metric   string // the current family's name, for gauges written by shared code
}

// emit writes every family of every cluster for samples in [from, to).
func (f *Fleet) emit(ctx context.Context, s sink, from, to int64, stats *Stats) error {
	e := &emitter{f: f, s: s, from: from, to: to, stats: stats}
	for i := range families {
		fam := &families[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.family(fam.name, fam.help, fam.typ); err != nil {
			return fmt.Errorf("write family %s: %w", fam.name, err)
		}
		e.metric = fam.name
		for _, c := range f.clusters {
			e.c = c
			if err := fam.emit(e, c); err != nil {
				return fmt.Errorf("write family %s of %s: %w", fam.name, c.id, err)
			}
		}
	}
	return nil
}

// labels returns the cluster label plus kv pairs, sorted by name.
func (e *emitter) labels(kv ...string) []label {
	ls := make([]label, 0, len(kv)/2+1)
	ls = append(ls, label{"cluster_id", e.c.id})
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, label{kv[i], kv[i+1]})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].name < ls[j].name })
	return ls
}

// withLabels returns ls plus extra, sorted.
func withLabels(ls []label, extra []label) []label {
	out := append(append(make([]label, 0, len(ls)+len(extra)), ls...), extra...)
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// always is the lifetime of objects that exist over the whole range.
func (e *emitter) always() (int64, int64) { return e.f.start, e.f.end + 1 }

// series writes one series of an object that exists over [start, end): a
// sample at every scrape k*iv with start <= k*iv < end inside the pass's
// [from, to), valued val(k).
func (e *emitter) series(metric string, ls []label, start, end int64, val func(k int64) float64) error {
	g := e.f.grid
	k0 := g.firstAt(max(start, e.from))
	k1 := g.firstAt(min(end, e.to)) - 1
	if k0 > k1 {
		return nil
	}
	if k0 == g.firstAt(max(start, e.f.start)) {
		e.stats.Series++
	}
	if err := e.s.series(metric, ls); err != nil {
		return err
	}
	for k := k0; k <= k1; k++ {
		if err := e.s.sample(k*g.iv, val(k)); err != nil {
			return err
		}
	}
	e.stats.Samples += k1 - k0 + 1
	return nil
}

func constant(v float64) func(int64) float64 { return func(int64) float64 { return v } }
