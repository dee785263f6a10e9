package etl

import (
	"context"
	"fmt"
	"math"

	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/prom"
)

// DefaultFetchConcurrency bounds the queries of one window in flight.
const DefaultFetchConcurrency = 5

// Fetch runs a window's query set against src, at most concurrency queries at
// a time (DefaultFetchConcurrency when <= 0), asking a query's Fallback when
// its Expr returns no series, and files the answers for allocation.Compute.
// It sums the samples processed the store reports. The first failure cancels
// the queries still running and is returned, naming the query.
func Fetch(ctx context.Context, src prom.Source, opts allocation.QueryOptions, queries []allocation.Query, concurrency int) (allocation.QueryResults, error) {
	if concurrency <= 0 {
		concurrency = DefaultFetchConcurrency
	}
	type answer struct {
		series  []allocation.Series
		res     []prom.Result
		queries int
	}
	answers := make([]answer, len(queries))
	// The first failure cancels the queries still running and is returned.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i, q := range queries {
		g.Go(func() error {
			a := &answers[i]
			var err error
			a.series, a.res, a.queries, err = fetchOne(gctx, src, q)
			if err != nil {
				return fmt.Errorf("fetch query %s: %w", q.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return allocation.QueryResults{}, err
	}
	out := allocation.NewQueryResults(opts)
	for i, a := range answers {
		out.Add(queries[i], a.series)
		out.Queries += a.queries
		for _, r := range a.res {
			out.SamplesProcessed += r.SamplesProcessed
			out.Warnings = append(out.Warnings, r.Warnings...)
		}
	}
	return out, nil
}

// fetchOne runs q, then its fallback when q returned no series.
func fetchOne(ctx context.Context, src prom.Source, q allocation.Query) ([]allocation.Series, []prom.Result, int, error) {
	res, err := runQuery(ctx, src, q, q.Expr)
	if err != nil {
		return nil, nil, 1, err
	}
	series, err := toSeries(res.Value)
	if err != nil {
		return nil, nil, 1, err
	}
	if len(series) > 0 || q.Fallback == "" {
		return series, []prom.Result{res}, 1, nil
	}
	res2, err := runQuery(ctx, src, q, q.Fallback)
	if err != nil {
		return nil, nil, 2, fmt.Errorf("fallback: %w", err)
	}
	series, err = toSeries(res2.Value)
	return series, []prom.Result{res, res2}, 2, err
}

func runQuery(ctx context.Context, src prom.Source, q allocation.Query, expr string) (prom.Result, error) {
	if q.Range {
		return src.QueryRange(ctx, expr, q.Start, q.End, q.Step)
	}
	return src.Query(ctx, expr, q.End)
}

// toSeries converts a vector or matrix answer.
func toSeries(v model.Value) ([]allocation.Series, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case model.Matrix:
		out := make([]allocation.Series, 0, len(v))
		for _, ss := range v {
			s := allocation.Series{Labels: labelMap(ss.Metric), Samples: make([]allocation.Sample, 0, len(ss.Values))}
			for _, p := range ss.Values {
				s.Samples = append(s.Samples, allocation.Sample{T: int64(p.Timestamp), V: finiteValue(float64(p.Value))})
			}
			out = append(out, s)
		}
		return out, nil
	case model.Vector:
		out := make([]allocation.Series, 0, len(v))
		for _, smp := range v {
			out = append(out, allocation.Series{
				Labels:  labelMap(smp.Metric),
				Samples: []allocation.Sample{{T: int64(smp.Timestamp), V: finiteValue(float64(smp.Value))}},
			})
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unexpected answer of type %s", v.Type())
	}
}

func labelMap(m model.Metric) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

// finiteValue maps NaN and ±Inf to 0, as OpenCost does.
func finiteValue(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// ComputeFromSource builds window w's query set, fetches it from src and
// computes its allocations. It returns the results' bookkeeping (queries,
// samples processed, warnings) with Metrics cleared.
func ComputeFromSource(ctx context.Context, src prom.Source, w allocation.Window, opts allocation.QueryOptions, prices allocation.PriceTable, concurrency int) ([]allocation.Allocation, allocation.QueryResults, []string, error) {
	r, res, err := ComputeWindowFromSource(ctx, src, w, opts, prices, concurrency)
	return r.Allocations, res, r.Warnings, err
}

// ComputeWindowFromSource is ComputeFromSource returning the window's
// assets too (allocation.ComputeWindow), from the same queries; the
// result's warnings include the store's.
func ComputeWindowFromSource(ctx context.Context, src prom.Source, w allocation.Window, opts allocation.QueryOptions, prices allocation.PriceTable, concurrency int) (allocation.Result, allocation.QueryResults, error) {
	res, err := Fetch(ctx, src, opts, allocation.Queries(w, opts), concurrency)
	if err != nil {
		return allocation.Result{}, allocation.QueryResults{}, fmt.Errorf("compute window %s: %w", w, err)
	}
	r, err := allocation.ComputeWindow(w, res, prices)
	res.Metrics = nil
	if err != nil {
		return allocation.Result{Warnings: r.Warnings}, res, fmt.Errorf("compute window %s: %w", w, err)
	}
	r.Warnings = append(append([]string(nil), res.Warnings...), r.Warnings...)
	return r, res, nil
}
