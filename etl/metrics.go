package etl

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/costfed/costfed/store"
)

// Metrics are the agent's Prometheus metrics, of one cluster. A nil
// *Metrics records nothing. A per-cluster agent's metrics (NewMetrics) have
// no cluster label; a central agent's (FleetMetrics.ForCluster) carry
// cluster="<id>" on every one, under the same names.
type Metrics struct {
	built       *prometheus.CounterVec
	failed      *prometheus.CounterVec
	duration    prometheus.ObserverVec
	queries     prometheus.Counter
	samples     prometheus.Counter
	lastSuccess *prometheus.GaugeVec
	sourceUp    prometheus.Gauge
	ticksFailed *prometheus.CounterVec
	windows     *prometheus.GaugeVec
}

// agentVecs are the agent's metric families, with the extra labels a
// central agent adds in front of their own.
type agentVecs struct {
	built       *prometheus.CounterVec
	failed      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	queries     *prometheus.CounterVec
	samples     *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	sourceUp    *prometheus.GaugeVec
	ticksFailed *prometheus.CounterVec
	windows     *prometheus.GaugeVec
}

// Coverage states: the state label of costfed_agent_windows.
const (
	WindowsComplete = "complete"
	WindowsOpen     = "open"
	WindowsMissing  = "missing"
)

func newAgentVecs(reg prometheus.Registerer, extra ...string) agentVecs {
	f := promauto.With(reg)
	l := func(names ...string) []string { return append(slices.Clone(extra), names...) }
	return agentVecs{
		built: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_agent_blocks_built_total", Help: "Blocks built and committed, by resolution.",
		}, l("resolution")),
		failed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_agent_build_errors_total", Help: "Window builds that failed, by resolution and kind (query, commit, refused_empty, canceled).",
		}, l("resolution", "kind")),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "costfed_agent_build_duration_seconds", Help: "Time to compute and commit one window.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, l("resolution")),
		queries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_agent_queries_total", Help: "PromQL queries issued for window builds.",
		}, l()),
		samples: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_agent_samples_processed_total", Help: "Samples the source reported processing (AMP bills by it).",
		}, l()),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "costfed_agent_last_successful_build_timestamp_seconds", Help: "Unix time of the last committed build, by resolution.",
		}, l("resolution")),
		sourceUp: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "costfed_agent_source_up", Help: "1 when the last tick reached the Prometheus source, 0 while it is unreachable (or before the first tick).",
		}, l()),
		ticksFailed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_agent_ticks_failed_total", Help: "Agent ticks that failed, by reason (" + strings.Join(TickFailureReasons(), ", ") + ").",
		}, l("reason")),
		windows: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "costfed_agent_windows", Help: "Windows inside retention after the last tick that reached the source, by resolution and state (complete, open, missing).",
		}, l("resolution", "state")),
	}
}

// bind returns the metrics of the series with the extra labels set to values.
func (v agentVecs) bind(values ...string) *Metrics {
	var curry prometheus.Labels
	if len(values) > 0 {
		curry = prometheus.Labels{"cluster": values[0]}
	}
	m := &Metrics{
		built:       v.built.MustCurryWith(curry),
		failed:      v.failed.MustCurryWith(curry),
		duration:    v.duration.MustCurryWith(curry),
		queries:     v.queries.WithLabelValues(values...),
		samples:     v.samples.WithLabelValues(values...),
		lastSuccess: v.lastSuccess.MustCurryWith(curry),
		sourceUp:    v.sourceUp.WithLabelValues(values...),
		ticksFailed: v.ticksFailed.MustCurryWith(curry),
		windows:     v.windows.MustCurryWith(curry),
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

// NewMetrics registers a per-cluster agent's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return newAgentVecs(reg).bind()
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

// setCoverage sets costfed_agent_windows of one resolution.
func (m *Metrics) setCoverage(rs ResolutionStatus) {
	if m == nil {
		return
	}
	res := string(rs.Resolution)
	m.windows.WithLabelValues(res, WindowsComplete).Set(float64(rs.Complete))
	m.windows.WithLabelValues(res, WindowsOpen).Set(float64(rs.Open))
	m.windows.WithLabelValues(res, WindowsMissing).Set(float64(len(rs.Missing)))
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
