package prom

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// RangeSemantics is how a store bounds the window of a range selector or
// subquery evaluated at t over a range r.
type RangeSemantics int

const (
	// RangeUnknown: not probed, or the probe's answer made no sense.
	RangeUnknown RangeSemantics = iota
	// RangeClosed: [t-r, t], a sample exactly at t-r is included
	// (Prometheus 2).
	RangeClosed
	// RangeLeftOpen: (t-r, t], a sample exactly at t-r is excluded
	// (Prometheus 3, and Cortex-family stores built on its engine).
	RangeLeftOpen
)

func (s RangeSemantics) String() string {
	switch s {
	case RangeClosed:
		return "closed"
	case RangeLeftOpen:
		return "left-open"
	default:
		return "unknown"
	}
}

// SubqueryPoints is the number of points a subquery [rng:step] yields when
// evaluated at a time that is a multiple of step (and rng a multiple of
// step, as query builders choose them): rng/step+1 on closed stores,
// rng/step on left-open ones. It is the count of raw samples of a range
// selector too, when samples sit exactly on the step grid. It returns 0 for
// RangeUnknown.
func (s RangeSemantics) SubqueryPoints(rng, step time.Duration) int64 {
	if step <= 0 || rng < 0 {
		return 0
	}
	n := int64(rng / step)
	switch s {
	case RangeClosed:
		return n + 1
	case RangeLeftOpen:
		return n
	default:
		return 0
	}
}

// The probe: count_over_time(vector(1)[60s:10s]) evaluated at a time t that
// is a multiple of 10 s. A subquery evaluates its inner expression at the
// multiples of its step (counted from the Unix epoch) inside its window, and
// vector(1) yields one sample at each, with no stored data needed. The
// multiples of 10 s in [t-60s, t] are t-60s, t-50s, …, t: 7 points on a
// store with closed ranges; a left-open store drops t-60s and counts 6.
// (At a t that is not a multiple of 10 s both count 6, which is why t is
// aligned.) Measured on Prometheus 2.42: 7 at an aligned t, 6 at t+5s.
const (
	probeQuery            = "count_over_time(vector(1)[60s:10s])"
	probeClosedPoints     = 7
	probeLeftOpenPoints   = 6
	probeDefaultAlignment = time.Minute
)

// ProbeOption changes how ProbeRangeSemantics probes.
type ProbeOption func(*probeOptions)

type probeOptions struct {
	at time.Time
}

// ProbeAt evaluates the probe at t, truncated to a whole minute. The default
// is time.Now(): stores that limit query lookback (Cortex, Mimir, AMP
// retention) may answer nothing for old times.
func ProbeAt(t time.Time) ProbeOption {
	return func(o *probeOptions) { o.at = t }
}

// ProbeRangeSemantics finds out with one cheap instant query, which touches
// no stored series, whether src treats range windows as closed or left-open,
// so that query builders can count samples exactly (see SubqueryPoints).
func ProbeRangeSemantics(ctx context.Context, src Source, opts ...ProbeOption) (RangeSemantics, error) {
	o := probeOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.at.IsZero() {
		o.at = time.Now()
	}
	at := o.at.Truncate(probeDefaultAlignment)
	res, err := src.Query(ctx, probeQuery, at)
	if err != nil {
		return RangeUnknown, fmt.Errorf("probe range semantics: %w", err)
	}
	vec, ok := res.Value.(model.Vector)
	if !ok || len(vec) != 1 {
		return RangeUnknown, fmt.Errorf("probe range semantics: %s at %s: want one sample, got %v", probeQuery, formatInstant(at), res.Value)
	}
	switch v := float64(vec[0].Value); v {
	case probeClosedPoints:
		return RangeClosed, nil
	case probeLeftOpenPoints:
		return RangeLeftOpen, nil
	default:
		return RangeUnknown, fmt.Errorf("probe range semantics: %s at %s gave %v, want %d (closed) or %d (left-open)",
			probeQuery, formatInstant(at), v, probeClosedPoints, probeLeftOpenPoints)
	}
}
