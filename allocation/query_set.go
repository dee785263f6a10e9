package allocation

import (
	"fmt"
	"strings"
	"time"
)

// QueryOptions shape the query set of a window.
type QueryOptions struct {
	// Step must be the scrape interval: range queries return one point per
	// step, each holding the raw sample scraped in the step before it (a
	// longer step would skip samples). Default 1m.
	Step time.Duration
	// ClusterLabel is the label naming the cluster (default "cluster_id").
	ClusterLabel string
	// Cluster, when set, is added as ClusterLabel="<Cluster>" to every
	// selector (a shared workspace), and names the cluster of series that
	// carry no cluster label.
	Cluster string
	// LeftOpen says the store excludes a sample sitting exactly at the start
	// of a range window (Prometheus 3; see prom.ProbeRangeSemantics). The
	// builder sizes its range selectors so that every raw sample falls in
	// exactly one step either way.
	LeftOpen bool
	// RecordingRules asks for the recording-rule series of the AMP guide
	// (kubecost_container_cpu_usage_irate, kubecost_container_memory_working_set_bytes)
	// first, falling back to the raw series when they are absent.
	RecordingRules bool
}

// DefaultStep is the default scrape interval.
const DefaultStep = time.Minute

// DefaultClusterLabel is the default cluster label.
const DefaultClusterLabel = "cluster_id"

// withDefaults fills unset options.
func (o QueryOptions) withDefaults() QueryOptions {
	if o.Step <= 0 {
		o.Step = DefaultStep
	}
	if o.ClusterLabel == "" {
		o.ClusterLabel = DefaultClusterLabel
	}
	return o
}

// Query is one PromQL query of a window's query set.
type Query struct {
	// Name identifies the query in logs and errors.
	Name string
	// Expr is the PromQL expression.
	Expr string
	// Fallback, when set, is asked instead when Expr returns no series.
	Fallback string
	// Range says Expr is a range query over [Start, End] at Step; otherwise it
	// is an instant query at End.
	Range bool
	Start time.Time
	End   time.Time
	Step  time.Duration
}

// MetricLabel is the label every query of the set tags its series with: the
// name of the metric they come from (PromQL functions drop __name__, and one
// query reads several metrics).
const MetricLabel = "costfed_metric"

// Metric names read by Compute.
const (
	mRunning        = "kube_pod_container_status_running"
	mStartTime      = "kube_pod_start_time"
	mCompletionTime = "kube_pod_completion_time"
	mRequests       = "kube_pod_container_resource_requests"
	mCPUAlloc       = "container_cpu_allocation"
	mRAMAlloc       = "container_memory_allocation_bytes"
	mGPUAlloc       = "container_gpu_allocation"
	mCPUUsage       = "container_cpu_usage_seconds_total"
	mCPUUsageRule   = "kubecost_container_cpu_usage_irate"
	mRAMUsage       = "container_memory_working_set_bytes"
	mRAMUsageRule   = "kubecost_container_memory_working_set_bytes"
	mCPUPrice       = "node_cpu_hourly_cost"
	mRAMPrice       = "node_ram_hourly_cost"
	mGPUPrice       = "node_gpu_hourly_cost"
	mGPUCount       = "node_gpu_count"
	mSpot           = "kubecost_node_is_spot"
	mCapacity       = "kube_node_status_capacity"
	mCapacityCPUv1  = "kube_node_status_capacity_cpu_cores"
	mCapacityRAMv1  = "kube_node_status_capacity_memory_bytes"
	mNodeLabels     = "kube_node_labels"
	mPodLabels      = "kube_pod_labels"
	mPodAnnotations = "kube_pod_annotations"
	mNSLabels       = "kube_namespace_labels"
	mNSAnnotations  = "kube_namespace_annotations"
	mPodOwner       = "kube_pod_owner"
	mRSOwner        = "kube_replicaset_owner"
	mJobOwner       = "kube_job_owner"
	mPVCInfo        = "kube_persistentvolumeclaim_info"
	mPVInfo         = "kube_persistentvolume_info"
	mNodeCreated    = "kube_node_created"
	mPVCBytes       = "kube_persistentvolumeclaim_resource_requests_storage_bytes"
	mPVBytes        = "kube_persistentvolume_capacity_bytes"
	mPVPrice        = "pv_hourly_cost"
	mPodPVC         = "pod_pvc_allocation"
	mPVCUsed        = "kubelet_volume_stats_used_bytes"
	mLBCost         = "kubecost_load_balancer_cost"
	mSvcSelector    = "service_selector_labels"
	mNetRx          = "container_network_receive_bytes_total"
	mNetTx          = "container_network_transmit_bytes_total"
	mEgressBytes    = "kubecost_pod_network_egress_bytes_total"
	mZoneEgress     = "kubecost_network_zone_egress_cost"
	mRegionEgress   = "kubecost_network_region_egress_cost"
	mInternetEgress = "kubecost_network_internet_egress_cost"
)

// containerMatchers drop the pod cgroup and the pause container.
const containerMatchers = `container!="",container!="POD"`

// Queries returns the fixed query set of window w (allocations and assets
// alike): 14 queries whatever the
// number of pods (one more when a query's fallback is asked). Range queries
// over [w.Start, w.End] at the scrape step read every raw sample exactly
// once, as last_over_time over one step at each step (so a series that ends
// is not carried on by the lookback delta, and a pod shorter than a step is
// still seen at the scrape it spans); the point at w.End shows which pods run
// on past the window. One instant query at w.End reads the metadata (start
// and completion times, labels, annotations, owners, claims, selectors) with
// last_over_time over the window and the step before it, so it sees the
// completion time of every pod that completed in the window (first reported
// at the scrape at or after its end, at the latest at w.End). Several
// metrics share a query through "or", each tagged with MetricLabel. Samples processed per window are about
// the window's raw samples of the metrics read, once.
func Queries(w Window, opts QueryOptions) []Query {
	o := opts.withDefaults()
	b := queryBuilder{w: w, o: o}
	cpuUsage := b.raw(sel(mCPUUsage, containerMatchers))
	ramUsage := b.raw(sel(mRAMUsage, containerMatchers))
	var cpuRule, ramRule string
	if o.RecordingRules {
		cpuRule = b.raw(sel(mCPUUsageRule, `container_name!="",container_name!="POD"`))
		ramRule = b.raw(sel(mRAMUsageRule, `container_name!="",container_name!="POD"`))
	}
	qs := []Query{
		b.rangeQuery("running", b.raw(sel(mRunning, containerMatchers))),
		b.rangeQuery("requests", b.raw(sel(mRequests, containerMatchers+`,resource=~"cpu|memory|nvidia_com_gpu"`))),
		b.rangeQuery("cpu_allocation", b.raw(sel(mCPUAlloc, containerMatchers))),
		b.rangeQuery("memory_allocation", b.raw(sel(mRAMAlloc, containerMatchers))),
		b.rangeQuery("gpu_allocation", b.raw(sel(mGPUAlloc, containerMatchers))),
		withFallback(b.rangeQuery("cpu_usage", firstNonEmptyExpr(cpuRule, cpuUsage)), cpuRule, cpuUsage),
		withFallback(b.rangeQuery("memory_usage", firstNonEmptyExpr(ramRule, ramUsage)), ramRule, ramUsage),
		b.rangeQuery("node_prices", b.raws(mCPUPrice, mRAMPrice, mGPUPrice, mGPUCount, mSpot)),
		b.capacityQuery(),
		b.rangeQuery("volumes", b.raws(mPVPrice, mPVBytes, mPVCBytes, mPodPVC, mPVCUsed)),
		b.rangeQuery("load_balancers", b.raws(mLBCost)),
		b.rangeQuery("network", b.raws(mNetRx, mNetTx)),
		b.rangeQuery("network_egress", b.raws(mEgressBytes, mZoneEgress, mRegionEgress, mInternetEgress)),
		b.instantQuery("metadata", b.lasts(mStartTime, mCompletionTime, mPodLabels, mPodAnnotations, mNSLabels, mNSAnnotations,
			mPodOwner, mRSOwner, mJobOwner, mNodeLabels, mPVCInfo, mSvcSelector, mPVInfo, mNodeCreated)),
	}
	return qs
}

// withFallback sets q.Fallback to fallback when primary is set (the query
// asked the primary first).
func withFallback(q Query, primary, fallback string) Query {
	if primary != "" {
		q.Fallback = fallback
	}
	return q
}

func firstNonEmptyExpr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type queryBuilder struct {
	w Window
	o QueryOptions
}

// sel is a selector of metric with extra matchers (comma-separated, may be
// empty); the cluster matcher is added by the builder.
func sel(metric, matchers string) selector { return selector{metric, matchers} }

type selector struct{ metric, matchers string }

func (b queryBuilder) selector(s selector) string {
	ms := s.matchers
	if b.o.Cluster != "" {
		c := fmt.Sprintf("%s=%q", b.o.ClusterLabel, b.o.Cluster)
		if ms == "" {
			ms = c
		} else {
			ms = ms + "," + c
		}
	}
	return s.metric + "{" + ms + "}"
}

// stepRange is the range of the per-step selectors: one step on a left-open
// store, one millisecond less on a closed one, so that a sample exactly on a
// step boundary is read at that step only.
func (b queryBuilder) stepRange() string {
	ms := b.o.Step.Milliseconds()
	if !b.o.LeftOpen {
		ms--
	}
	return fmt.Sprintf("%dms", ms)
}

// tag labels the series of expr with the metric they come from.
func tag(metric, expr string) string {
	return fmt.Sprintf(`label_replace(%s, %q, %q, "", "")`, expr, MetricLabel, metric)
}

// raw reads the raw samples of s, one per step.
func (b queryBuilder) raw(s selector) string {
	return tag(s.metric, fmt.Sprintf("last_over_time(%s[%s])", b.selector(s), b.stepRange()))
}

// raws reads several metrics, without extra matchers, in one expression.
func (b queryBuilder) raws(metrics ...string) string {
	parts := make([]string, len(metrics))
	for i, m := range metrics {
		parts[i] = b.raw(sel(m, ""))
	}
	return strings.Join(parts, " or ")
}

// lasts reads the last value of several metrics over the window (and the
// step before it) at the window's end.
func (b queryBuilder) lasts(metrics ...string) string {
	rng := fmt.Sprintf("%dms", (b.w.Duration() + b.o.Step).Milliseconds())
	parts := make([]string, len(metrics))
	for i, m := range metrics {
		parts[i] = tag(m, fmt.Sprintf("last_over_time(%s[%s])", b.selector(sel(m, "")), rng))
	}
	return strings.Join(parts, " or ")
}

// capacityQuery reads node capacity from the kube-state-metrics v2 series,
// else from the v1 names OpenCost re-emits.
func (b queryBuilder) capacityQuery() Query {
	q := b.rangeQuery("node_capacity", b.raw(sel(mCapacity, `resource=~"cpu|memory|nvidia_com_gpu"`)))
	q.Fallback = b.raws(mCapacityCPUv1, mCapacityRAMv1)
	return q
}

func (b queryBuilder) rangeQuery(name, expr string) Query {
	return Query{Name: name, Expr: expr, Range: true, Start: b.w.Start, End: b.w.End, Step: b.o.Step}
}

func (b queryBuilder) instantQuery(name, expr string) Query {
	return Query{Name: name, Expr: expr, End: b.w.End, Step: b.o.Step}
}
