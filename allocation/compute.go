package allocation

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/costfed/costfed/asset"
)

// Price sources recorded in Allocation.PriceSource.
const (
	PriceSourceMetrics = "metrics"
	PriceSourceConfig  = "config"
)

// NodePrices are fallback prices in dollars: per core-hour, GiB-hour of RAM,
// GPU-hour and GiB-hour of persistent volume, with the CPU and RAM prices of
// spot nodes.
type NodePrices struct {
	CPUCoreHour     float64
	RAMGiBHour      float64
	GPUHour         float64
	PVGiBHour       float64
	SpotCPUCoreHour float64
	SpotRAMGiBHour  float64
}

// PriceTable holds the prices used for nodes and volumes without the cost
// exporter's price metrics: per instance type, else Default.
// ClusterManagementHour is a cluster's management fee per hour (EKS, GKE and
// AKS charge per cluster-hour); zero means no management asset.
type PriceTable struct {
	Default               NodePrices
	InstanceTypes         map[string]NodePrices
	ClusterManagementHour float64
}

// For returns the prices of an instance type.
func (t PriceTable) For(instanceType string) NodePrices {
	if p, ok := t.InstanceTypes[instanceType]; ok {
		return p
	}
	return t.Default
}

// Compute turns a window's query results into allocations: one row per
// container that ran in w ("<cluster>/<node>/<namespace>/<pod>/<container>";
// incarnations of a pod recreated under the same name add up), one idle row
// per node with capacity metrics ("<cluster>/<node>/__idle__") and
// unmounted rows for volume and load-balancer cost no running pod carries:
// a namespace's claims while unmounted in
// "<cluster>/__unmounted__/<namespace>/<namespace>-unmounted-pvcs/__unmounted__",
// volumes without a claim and load balancers selecting no running pod in
// "<cluster>/__unmounted__/__unmounted__/__unmounted__/__unmounted__", as
// in OpenCost. Rows are sorted by
// name, names are unique, times are whole milliseconds. Warnings report what
// was mitigated (allocations above a node's capacity, nodes without
// capacity). It fails on an empty window or a step that is not whole
// milliseconds. It is pure: no I/O, no clock.
//
// The model. The results hold every raw sample of the window, one per scrape
// (see Queries). A pod's incarnations (uids) run from their exact start
// (kube_pod_start_time; else half a step before their first running sample)
// to their exact completion (kube_pod_completion_time, for pods that complete
// such as job pods), else half a step after their last running sample, or
// past the window's end when the sample at the end saw them running; an
// incarnation ends no later than the next one starts. Containers inherit their pod's life. Each sample
// of a series stands for the time from it to the next sample of the same
// incarnation, and an incarnation's first sample also for the time before
// it, so every instant of a life is charged exactly once, at the value
// scraped for it. CPU and RAM allocation is the integral of
// container_cpu_allocation / container_memory_allocation_bytes when
// exported, else of max(request, usage) with usage from the counter's
// increase between scrapes (or the working set); GPU hours from
// container_gpu_allocation, else requests. Costs integrate allocation ×
// price over time with the node's price series (the price in force at each
// instant, so a price change mid-window is charged by time), or the price
// table for nodes without price metrics (PriceSource "config"). Idle per
// node and resource is capacity × price over the node's life minus its
// containers' cost, clamped at zero. Claims are charged over time to the
// pods mounting them (pod_pvc_allocation), evenly among the pods mounted at
// once and then among each pod's containers; load balancers likewise to the
// running pods their service selects; network bytes per pod are split
// evenly among its containers.
//
// Caveats: the end of a pod that is deleted rather than completed is known
// only to within one step (nothing records the instant), so each such pod
// that ends inside a window is off by up to half a step, unbiased; a
// completed pod's end is exact when kube-state-metrics still reports the pod
// at the next scrape; usage from a counter undercounts the part of a cell before
// a container restart, and the last cell of a life takes the previous
// cell's rate; a container keeps one node per window (the node of its
// exporter, else kube-state-metrics, else cAdvisor series); GPU usage
// (DCGM) is not read.
func Compute(w Window, results QueryResults, prices PriceTable) ([]Allocation, []string, error) {
	r, err := ComputeWindow(w, results, prices)
	return r.Allocations, r.Warnings, err
}

// Result is what ComputeWindow computes from one window's query results.
type Result struct {
	// Allocations are Compute's rows.
	Allocations []Allocation
	// Assets are the window's assets, sorted by Key (see computeAssets).
	Assets []asset.Asset
	// Warnings report what was mitigated.
	Warnings []string
}

// ComputeWindow computes a window's allocations (see Compute) and its
// assets in one pass over the same query results: one node asset per node
// with capacity metrics, one disk per persistent volume, one load balancer
// per service with a load-balancer price, and per cluster a network asset
// (its egress cost, where priced) and a management asset (when the price
// table has a cluster management fee). A node asset's CPU, RAM and GPU cost
// is the capacity integral its idle row is computed from, so node cost =
// allocated cost + idle per node and resource (see package asset).
func ComputeWindow(w Window, results QueryResults, prices PriceTable) (Result, error) {
	if !w.End.After(w.Start) {
		return Result{}, fmt.Errorf("compute allocations: window %s is empty", w)
	}
	if results.Options.Step%time.Millisecond != 0 || results.Options.Step < 0 {
		return Result{}, fmt.Errorf("compute allocations: step %v is not whole milliseconds", results.Options.Step)
	}
	c := newComputation(w, &results, prices)
	c.buildPods()
	c.buildContainers()
	c.buildNodes()
	c.computeContainers()
	c.computeVolumes()
	c.computeLoadBalancers()
	c.computeNetwork()
	rows := c.rows()
	assets := c.computeAssets(rows)
	rows = append(rows, c.idleRows()...)
	rows = append(rows, c.unmountedRows()...)
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	for i := 1; i < len(rows); i++ {
		if rows[i].Name == rows[i-1].Name {
			return Result{Warnings: c.warnings}, fmt.Errorf("compute allocations: duplicate row %q", rows[i].Name)
		}
	}
	for i := range rows {
		if err := checkFinite(&rows[i]); err != nil {
			return Result{Warnings: c.warnings}, fmt.Errorf("compute allocations: %w", err)
		}
	}
	for i := range assets {
		if err := checkAssetFinite(&assets[i]); err != nil {
			return Result{Warnings: c.warnings}, fmt.Errorf("compute assets: %w", err)
		}
	}
	return Result{Allocations: rows, Assets: assets, Warnings: c.warnings}, nil
}

// checkFinite rejects NaN or infinite quantities, which a row must never
// carry (they would poison every sum over it).
func checkFinite(a *Allocation) error {
	vals := []float64{a.CPUCoreHours, a.CPUCost, a.RAMByteHours, a.RAMCost, a.GPUHours, a.GPUCost,
		a.CPUCoreRequestAverage, a.CPUCoreUsageAverage, a.RAMBytesRequestAverage, a.RAMBytesUsageAverage,
		a.NetworkCost, a.LoadBalancerCost, a.NetworkReceiveBytes, a.NetworkTransferBytes}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("row " + a.Name + " has a non-finite quantity")
		}
	}
	return nil
}

type podKey struct{ cluster, namespace, pod string }

type ctrKey struct {
	podKey
	container string
}

type nodeKey struct{ cluster, node string }

// computation holds the state of one Compute call.
type computation struct {
	w        Window
	ws, we   int64 // window bounds, ms
	step     int64 // ms
	r        *QueryResults
	prices   PriceTable
	warnings []string

	pods       map[podKey]*podState
	podOrder   []*podState
	containers map[ctrKey]*ctrState
	ctrOrder   []*ctrState
	nodes      map[nodeKey]*nodeState
	nodeOrder  []*nodeState
	meta       metadata
	unmounted  map[podKey]*Allocation // keyed by cluster and namespace ("" for volumes without claims)
	volumes    []*volumeState         // every volume, in the order first seen
	lbs        []*lbState             // every load balancer, sorted
}

func newComputation(w Window, r *QueryResults, prices PriceTable) *computation {
	return &computation{
		w: w, ws: millis(w.Start), we: millis(w.End), step: r.stepMillis(), r: r, prices: prices,
		pods: map[podKey]*podState{}, containers: map[ctrKey]*ctrState{}, nodes: map[nodeKey]*nodeState{},
		unmounted: map[podKey]*Allocation{},
	}
}

func (c *computation) warnf(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

// cluster returns a series' cluster.
func (c *computation) cluster(ls map[string]string) string {
	if v := ls[c.r.Options.ClusterLabel]; v != "" {
		return v
	}
	return c.r.Options.Cluster
}

func (c *computation) series(metric string) []Series { return c.r.Metrics[metric] }

// podState is one pod name and its incarnations.
type podState struct {
	key        podKey
	uids       map[string]*uidState
	life       lifeSpans
	containers []*ctrState
	node       string
	// Properties filled from metadata.
	labels      map[string]string
	annotations map[string]string
	ctrlKind    string
	ctrl        string
	services    []string
	resolved    bool
	// The labels and annotations rows show (node's, then namespace's, then
	// the pod's own, the pod winning), for the node merged last.
	shownNode        string
	shownLabels      map[string]string
	shownAnnotations map[string]string
}

// uidState is one incarnation as kube-state-metrics saw it.
type uidState struct {
	running  []int64 // scrape times with running != 0
	start    int64
	hasStart bool
	end      int64 // completion time, when it completed
	hasEnd   bool
}

func (c *computation) pod(k podKey) *podState {
	p := c.pods[k]
	if p == nil {
		p = &podState{key: k, uids: map[string]*uidState{}}
		c.pods[k] = p
		c.podOrder = append(c.podOrder, p)
	}
	return p
}

func (c *computation) podKeyOf(ls map[string]string) podKey {
	pod := ls["pod"]
	if pod == "" {
		pod = ls["pod_name"]
	}
	return podKey{c.cluster(ls), ls["namespace"], pod}
}

// buildPods finds every pod's incarnations and their lives from
// kube_pod_container_status_running, kube_pod_start_time and
// kube_pod_completion_time.
func (c *computation) buildPods() {
	for _, s := range c.series(mRunning) {
		p := c.pod(c.podKeyOf(s.Labels))
		u := p.uid(s.Labels["uid"])
		for _, x := range s.Samples {
			if x.V != 0 {
				u.running = append(u.running, x.T)
			}
		}
	}
	for _, s := range c.series(mStartTime) {
		p := c.pods[c.podKeyOf(s.Labels)]
		if p == nil || len(s.Samples) == 0 {
			continue
		}
		u := p.uid(s.Labels["uid"])
		u.start = int64(math.Round(s.Samples[len(s.Samples)-1].V * 1000))
		u.hasStart = true
	}
	for _, s := range c.series(mCompletionTime) {
		p := c.pods[c.podKeyOf(s.Labels)]
		if p == nil || len(s.Samples) == 0 {
			continue
		}
		u := p.uid(s.Labels["uid"])
		u.end = int64(math.Round(s.Samples[len(s.Samples)-1].V * 1000))
		u.hasEnd = true
	}
	for _, p := range c.podOrder {
		p.life = c.podLife(p)
	}
}

func (p *podState) uid(id string) *uidState {
	u := p.uids[id]
	if u == nil {
		u = &uidState{}
		p.uids[id] = u
	}
	return u
}

// podLife turns a pod's incarnations into its life in the window. An
// incarnation runs from its exact start (or half a step before its first
// running sample, or the window's start) to its completion time clamped to
// the window (ignored unless after the start), else half a step after its
// last running sample, or past the window's end when a sample at the end
// saw it running; it ends no later than the next incarnation starts.
func (c *computation) podLife(p *podState) lifeSpans {
	var spans lifeSpans
	for _, u := range p.uids {
		if len(u.running) == 0 {
			continue
		}
		sort.Slice(u.running, func(i, j int) bool { return u.running[i] < u.running[j] })
		t1, tn := u.running[0], u.running[len(u.running)-1]
		sp := runSpan(t1, tn, c.ws, c.we, c.step)
		if u.hasStart && u.start <= t1 {
			sp.s, sp.start, sp.hasStart = max(u.start, c.ws), u.start, true
		}
		if u.hasEnd && u.end > sp.s {
			sp.e, sp.open = min(u.end, c.we), u.end > c.we && sp.open
		}
		spans = append(spans, sp)
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].s < spans[j].s })
	out := spans[:0]
	for i := range spans {
		sp := spans[i]
		if i+1 < len(spans) && sp.e > spans[i+1].s {
			sp.e, sp.open = spans[i+1].s, false
		}
		if sp.e > sp.s {
			out = append(out, sp)
		}
	}
	return out
}

// fallbackPodLife gives pods that kube-state-metrics did not report a life
// from the samples of their containers' series.
func (c *computation) fallbackPodLife(p *podState) {
	if len(p.life) > 0 {
		return
	}
	var lists [][]Sample
	for _, ct := range p.containers {
		lists = append(lists, ct.cpuAlloc, ct.ramAlloc, ct.cpuUsage, ct.ramUsage)
	}
	p.life = sampleLife(mergeSamples(lists), c.ws, c.we, c.step)
}

// rows returns the container rows.
func (c *computation) rows() []Allocation {
	out := make([]Allocation, 0, len(c.ctrOrder))
	for _, ct := range c.ctrOrder {
		if ct.row.Name == "" {
			continue
		}
		out = append(out, ct.row)
	}
	return out
}

func joinName(parts ...string) string { return strings.Join(parts, "/") }
