package prom

import (
	"context"
	"time"

	"github.com/prometheus/common/model"
)

// Result is the answer to one query.
type Result struct {
	// Value is a model.Vector for instant queries and a model.Matrix for
	// range queries (or a model.Scalar/String when the expression is one).
	Value model.Value
	// Warnings are the store's warnings, passed through.
	Warnings []string
	// SamplesProcessed is the store's stats.samples.totalQueryableSamples
	// when it reports query stats (Prometheus, AMP with stats=all), else 0.
	// AMP bills by it.
	SamplesProcessed int64
}

// Source answers PromQL. Implementations: the HTTP client (Prometheus, AMP,
// Thanos, Mimir, VictoriaMetrics) and the in-process local TSDB.
type Source interface {
	// Query evaluates an instant query at ts.
	Query(ctx context.Context, query string, ts time.Time) (Result, error)
	// QueryRange evaluates a range query over [start, end] at step.
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Result, error)
}
