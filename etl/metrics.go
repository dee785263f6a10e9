package etl

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/costfed/costfed/store"
)

// Metrics are the agent's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	built       *prometheus.CounterVec
	failed      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	queries     prometheus.Counter
	samples     prometheus.Counter
	lastSuccess *prometheus.GaugeVec
	sourceUp    prometheus.Gauge
	ticksFailed *prometheus.CounterVec
}

// NewMetrics registers the agent's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		built: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_agent_blocks_built_total", Help: "Blocks built and committed, by resolution.",
		}, []string{"resolution"}),
		failed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_agent_build_errors_total", Help: "Window builds that failed, by resolution and kind (query, commit, refused_empty, canceled).",
		}, []string{"resolution", "kind"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "costfed_agent_build_duration_seconds", Help: "Time to compute and commit one window.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, []string{"resolution"}),
		queries: f.NewCounter(prometheus.CounterOpts{
			Name: "costfed_agent_queries_total", Help: "PromQL queries issued for window builds.",
		}),
		samples: f.NewCounter(prometheus.CounterOpts{
			Name: "costfed_agent_samples_processed_total", Help: "Samples the source reported processing (AMP bills by it).",
		}),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "costfed_agent_last_successful_build_timestamp_seconds", Help: "Unix time of the last committed build, by resolution.",
		}, []string{"resolution"}),
		sourceUp: f.NewGauge(prometheus.GaugeOpts{
			Name: "costfed_agent_source_up", Help: "1 when the last tick reached the Prometheus source, 0 while it is unreachable (or before the first tick).",
		}),
		ticksFailed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_agent_ticks_failed_total", Help: "Agent ticks that failed, by reason (" + strings.Join(TickFailureReasons(), ", ") + ").",
		}, []string{"reason"}),
	}
	for _, r := range TickFailureReasons() {
		m.ticksFailed.WithLabelValues(r)
	}
	for _, res := range store.Resolutions {
		m.built.WithLabelValues(string(res))
		m.lastSuccess.WithLabelValues(string(res))
		for _, k := range []string{"query", "commit", "refused_empty", "canceled"} {
			m.failed.WithLabelValues(string(res), k)
		}
	}
	return m
}

// observe records one build result; now is the builder's clock.
func (m *Metrics) observe(r Result, now time.Time) {
	if m == nil {
		return
	}
	res := string(r.Task.Resolution)
	m.duration.WithLabelValues(res).Observe(r.Duration.Seconds())
	m.queries.Add(float64(r.Computed.Queries))
	m.samples.Add(float64(r.Computed.SamplesProcessed))
	switch {
	case r.Err == nil && r.Committed:
		m.built.WithLabelValues(res).Inc()
		m.lastSuccess.WithLabelValues(res).Set(float64(now.Unix()))
	case r.Err == nil:
	case errors.Is(r.Err, store.ErrWouldEraseData):
		m.failed.WithLabelValues(res, "refused_empty").Inc()
	case errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded):
		m.failed.WithLabelValues(res, "canceled").Inc()
	default:
		m.failed.WithLabelValues(res, string(r.Stage)).Inc()
	}
}

// tickFailed counts one failed tick.
func (m *Metrics) tickFailed(reason string) {
	if m == nil {
		return
	}
	m.ticksFailed.WithLabelValues(reason).Inc()
}

// setSourceUp sets costfed_agent_source_up.
func (m *Metrics) setSourceUp(up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.sourceUp.Set(v)
}
