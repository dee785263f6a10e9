package prom

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPStats counts what an HTTPSource did since it was built.
type HTTPStats struct {
	// Queries is the number of Query and QueryRange calls.
	Queries int64
	// Failures is the number of calls that returned an error, the caller's
	// own cancellation or deadline excepted.
	Failures int64
	// Requests is the number of HTTP requests sent: retries, pieces and
	// split halves included.
	Requests int64
	// Retries counts retried requests by reason.
	Retries map[RetryReason]int64
	// Splits is the number of times a range was halved after a 422 or 413.
	Splits int64
	// Samples is the sum of Result.SamplesProcessed over successful calls.
	Samples int64
}

// RetriesTotal is the number of retries for any reason.
func (s HTTPStats) RetriesTotal() int64 {
	var n int64
	for _, v := range s.Retries {
		n += v
	}
	return n
}

type queryKind int

const (
	kindInstant queryKind = iota
	kindRange
)

func (k queryKind) String() string {
	if k == kindInstant {
		return "instant"
	}
	return "range"
}

// httpCounters keeps HTTPStats with atomics and mirrors them to Prometheus
// metrics when a registerer was given.
type httpCounters struct {
	queries, failures, requests, splits, samples atomic.Int64
	retries                                      map[RetryReason]*atomic.Int64 // keys fixed at construction

	m *httpMetrics // nil: no metrics
}

type httpMetrics struct {
	queries  *prometheus.CounterVec
	failures *prometheus.CounterVec
	duration *prometheus.HistogramVec
	requests prometheus.Counter
	retries  *prometheus.CounterVec
	splits   prometheus.Counter
	samples  prometheus.Counter
}

func newHTTPCounters(reg prometheus.Registerer) (*httpCounters, error) {
	c := &httpCounters{retries: map[RetryReason]*atomic.Int64{}}
	for _, r := range RetryReasons() {
		c.retries[r] = &atomic.Int64{}
	}
	if reg == nil {
		return c, nil
	}
	m, err := newHTTPMetrics(reg)
	if err != nil {
		return nil, err
	}
	c.m = m
	return c, nil
}

// newHTTPMetrics registers the metrics with reg. It uses reg.Register
// rather than promauto, so a second source on the same registerer is an
// error, not a panic.
func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_prom_queries_total",
			Help: "Queries asked of the Prometheus-compatible store, by type (instant, range).",
		}, []string{"type"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_prom_query_failures_total",
			Help: "Queries that failed after retries and splits, by type; cancellations are not counted.",
		}, []string{"type"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "costfed_prom_query_duration_seconds",
			Help:    "Time to answer a query, retries and splits included, by type.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
		}, []string{"type"}),
		requests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "costfed_prom_requests_total",
			Help: "HTTP requests sent, retries and pieces of split queries included.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_prom_retries_total",
			Help: "Requests retried, by reason (throttled, unavailable, gateway_timeout, timeout, connection).",
		}, []string{"reason"}),
		splits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "costfed_prom_query_splits_total",
			Help: "Range queries halved after a 422 (execution limits) or 413 (response too large).",
		}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "costfed_prom_samples_processed_total",
			Help: "Samples the store reports having processed (stats.samples.totalQueryableSamples); AMP bills by it.",
		}),
	}
	for _, k := range []queryKind{kindInstant, kindRange} {
		m.queries.WithLabelValues(k.String())
		m.failures.WithLabelValues(k.String())
	}
	for _, r := range RetryReasons() {
		m.retries.WithLabelValues(string(r))
	}
	for _, col := range []prometheus.Collector{m.queries, m.failures, m.duration, m.requests, m.retries, m.splits, m.samples} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("register prom client metrics: %w", err)
		}
	}
	return m, nil
}

func (c *httpCounters) request() {
	c.requests.Add(1)
	if c.m != nil {
		c.m.requests.Inc()
	}
}

func (c *httpCounters) retry(r RetryReason) {
	if n, ok := c.retries[r]; ok {
		n.Add(1)
	}
	if c.m != nil {
		c.m.retries.WithLabelValues(string(r)).Inc()
	}
}

func (c *httpCounters) split() {
	c.splits.Add(1)
	if c.m != nil {
		c.m.splits.Inc()
	}
}

// finish records one Query or QueryRange call.
func (c *httpCounters) finish(k queryKind, took time.Duration, res Result, failed bool) {
	c.queries.Add(1)
	c.samples.Add(res.SamplesProcessed)
	if failed {
		c.failures.Add(1)
	}
	if c.m == nil {
		return
	}
	c.m.queries.WithLabelValues(k.String()).Inc()
	c.m.samples.Add(float64(res.SamplesProcessed))
	c.m.duration.WithLabelValues(k.String()).Observe(took.Seconds())
	if failed {
		c.m.failures.WithLabelValues(k.String()).Inc()
	}
}

func (c *httpCounters) snapshot() HTTPStats {
	s := HTTPStats{
		Queries:  c.queries.Load(),
		Failures: c.failures.Load(),
		Requests: c.requests.Load(),
		Splits:   c.splits.Load(),
		Samples:  c.samples.Load(),
		Retries:  make(map[RetryReason]int64, len(c.retries)),
	}
	for r, n := range c.retries {
		s.Retries[r] = n.Load()
	}
	return s
}
