package federator

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/costfed/costfed/store"
)

type metrics struct {
	passes          *prometheus.CounterVec
	lastSuccess     prometheus.Gauge
	passDuration    prometheus.Histogram
	merged          *prometheus.CounterVec
	expired         *prometheus.CounterVec
	quarantined     prometheus.Gauge
	damagedBlocks   prometheus.Gauge
	clusters        prometheus.Gauge
	stale           prometheus.Gauge
	duplicateIDs    prometheus.Gauge
	unreadableIndex prometheus.Gauge
	damaged         prometheus.Gauge
	halted          prometheus.Gauge
}

// newMetrics registers the federator's metrics on reg; a nil reg gives
// unregistered metrics that are still safe to update.
func newMetrics(reg prometheus.Registerer, resolutions []store.Resolution) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		passes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_federator_passes_total", Help: "Federation passes by result (success, error, halted).",
		}, []string{"result"}),
		lastSuccess: f.NewGauge(prometheus.GaugeOpts{
			Name: "costfed_federator_last_successful_pass_timestamp_seconds", Help: "Unix time of the last pass that finished without errors.",
		}),
		passDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "costfed_federator_pass_duration_seconds", Help: "Duration of federation passes.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		merged: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_federator_windows_merged_total", Help: "Combined windows written, by resolution.",
		}, []string{"resolution"}),
		expired: f.NewCounterVec(prometheus.CounterOpts{
			Name: "costfed_federator_windows_expired_total", Help: "Combined windows dropped by retention, by resolution.",
		}, []string{"resolution"}),
		quarantined: f.NewGauge(prometheus.GaugeOpts{
			Name: "costfed_federator_quarantined_blocks", Help: "Input blocks the last pass could not read and set aside.",
		}),
		damagedBlocks: f.NewGauge(prometheus.GaugeOpts{
			Name: "costfed_federator_damaged_combined_blocks", Help: "Combined blocks the last pass found missing, truncated or changed and merged again.",
		}),
		clusters: f.NewGauge(prometheus.GaugeOpts{
			Name: "costfed_federator_clusters", Help: "Clusters federated by the last pass.",
		}),
		stale: f.NewGauge(prometheus.GaugeOpts{
			Name: "costfed_federator_stale_clusters", Help: "Clusters whose newest block is older than stale_after.",
		}),
		duplicateIDs: f.NewGauge(prometheus.GaugeOpts{
			Name: "costfed_federator_duplicate_cluster_ids", Help: "Cluster ids written by interleaving producer instances.",
		}),
		unreadableIndex: f.NewGauge(prometheus.GaugeOpts{
			Name: "costfed_federator_unreadable_cluster_indexes", Help: "Clusters whose index the last pass could not read.",
		}),
		damaged: f.NewGauge(prometheus.GaugeOpts{
			Name: "costfed_federator_damaged_clusters", Help: "Clusters whose prefix holds blocks but whose index is missing or unreadable (the report's clusters[].damaged says why): their combined rows are kept, windows without them are incomplete.",
		}),
		halted: f.NewGauge(prometheus.GaugeOpts{
			Name: "costfed_federator_halted", Help: "1 while the federator is halted (an unknown index version, a merge that would erase data, or an expiry over retention.max_expire_share): passes are skipped until it is restarted; the log line \"federator halted\" gives the reason.",
		}),
	}
	for _, r := range []string{"success", "error", "halted"} {
		m.passes.WithLabelValues(r)
	}
	for _, res := range resolutions {
		m.merged.WithLabelValues(string(res))
		m.expired.WithLabelValues(string(res))
	}
	return m
}

func (m *metrics) observe(rep Report, err error) {
	m.passDuration.Observe(rep.Duration.Seconds())
	switch {
	case rep.Halted != "":
		m.passes.WithLabelValues("halted").Inc()
		m.halted.Set(1)
	case err != nil:
		m.passes.WithLabelValues("error").Inc()
	default:
		m.passes.WithLabelValues("success").Inc()
		m.lastSuccess.Set(float64(rep.Started.Add(rep.Duration).Unix()))
	}
	for res, n := range rep.Merged {
		m.merged.WithLabelValues(string(res)).Add(float64(n))
	}
	for res, n := range rep.Expired {
		m.expired.WithLabelValues(string(res)).Add(float64(n))
	}
	m.quarantined.Set(float64(len(rep.Quarantined)))
	m.damagedBlocks.Set(float64(len(rep.DamagedCombined)))
	m.clusters.Set(float64(len(rep.Clusters)))
	var stale, dup, unreadable, damaged int
	for _, c := range rep.Clusters {
		if c.Stale {
			stale++
		}
		if len(c.DuplicateProducers) > 0 {
			dup++
		}
		if c.IndexError != "" {
			unreadable++
		}
		if len(c.Damaged) > 0 {
			damaged++
		}
	}
	m.stale.Set(float64(stale))
	m.duplicateIDs.Set(float64(dup))
	m.unreadableIndex.Set(float64(unreadable))
	m.damaged.Set(float64(damaged))
}

// skipped counts a pass skipped because the federator is halted.
func (m *metrics) skipped() {
	m.passes.WithLabelValues("halted").Inc()
	m.halted.Set(1)
}
