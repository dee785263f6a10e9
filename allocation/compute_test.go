package allocation_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
)

const gib = 1 << 30

func TestQueriesAreAFixedSmallSet(t *testing.T) {
	for _, d := range []time.Duration{time.Hour, 24 * time.Hour} {
		w, err := allocation.NewWindow(fixtureStart, fixtureStart.Add(d))
		require.NoError(t, err)
		qs := allocation.Queries(w, allocation.QueryOptions{})
		require.LessOrEqual(t, len(qs), 25)
		names := map[string]bool{}
		for _, q := range qs {
			require.False(t, names[q.Name], "duplicate query %s", q.Name)
			names[q.Name] = true
			require.Equal(t, w.End, q.End)
			if q.Range {
				require.Equal(t, w.Start, q.Start)
				require.Equal(t, time.Minute, q.Step)
				require.Contains(t, q.Expr, "[59999ms]", "closed ranges read one step minus a millisecond")
			}
		}
	}
}

func TestQueriesOptions(t *testing.T) {
	w, err := allocation.NewWindow(fixtureStart, fixtureStart.Add(time.Hour))
	require.NoError(t, err)
	qs := allocation.Queries(w, allocation.QueryOptions{LeftOpen: true, Cluster: "a", ClusterLabel: "cluster", RecordingRules: true, Step: 30 * time.Second})
	var usage allocation.Query
	for _, q := range qs {
		if q.Range {
			require.Contains(t, q.Expr, "[30000ms]")
		}
		require.NotContains(t, q.Expr, "cluster_id")
		require.Contains(t, q.Expr, `cluster="a"`)
		if q.Name == "cpu_usage" {
			usage = q
		}
	}
	require.Contains(t, usage.Expr, "kubecost_container_cpu_usage_irate")
	require.Contains(t, usage.Fallback, "container_cpu_usage_seconds_total")
}

func TestComputeRecreatedPodIsOneRow(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 4, 16*gib, constant(0.04), 0.005)
	base := podSpec{ns: "db", pod: "pg-0", container: "pg", node: "n1", cpuReq: 1, memReq: gib, cpuAlloc: 1, memAlloc: gib,
		owner: [2]string{"StatefulSet", "pg"}}
	a, b := base, base
	a.uid, a.start, a.end = "u1", f.at(-10*time.Minute), f.at(20*time.Minute+50*time.Second)
	b.uid, b.start, b.end = "u2", f.at(20*time.Minute+55*time.Second), f.at(2*time.Hour)
	f.pod(a)
	f.pod(b)
	rows, warnings, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	require.Empty(t, warnings)
	got := byName(rows)
	r, ok := got["c1/n1/db/pg-0/pg"]
	require.True(t, ok, "rows: %v", names(rows))
	// u1 ends half a step after its last sample (20:30 instead of 20:50),
	// u2 starts exactly at 20:55: 60 min − 25 s.
	wantHours := (time.Hour - 25*time.Second).Hours()
	require.InDelta(t, wantHours, r.CPUCoreHours, 1e-9)
	require.InDelta(t, wantHours*0.04, r.CPUCost, 1e-9)
	require.InDelta(t, wantHours*0.005, r.RAMCost, 1e-9)
	require.Equal(t, "statefulset", r.Properties.ControllerKind)
	require.Equal(t, f.w.Start, r.Start)
	require.Equal(t, f.w.End, r.End)
	// As in OpenCost, minutes are the span from the first start to the last
	// end (issue 13 point 8); the hours above count the running time only.
	require.Equal(t, 60.0, r.Minutes())
	require.Equal(t, allocation.PriceSourceMetrics, r.PriceSource)
}

func TestComputeShortPodBetweenSteps(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 4, 16*gib, constant(0.04), 0.005)
	// Runs 10:00:50–10:01:20: one sample, at 10:01.
	f.pod(podSpec{ns: "b", pod: "j", uid: "u", container: "c", node: "n1", start: f.at(50 * time.Second), end: f.at(80 * time.Second),
		cpuReq: 2, cpuAlloc: 2, memAlloc: gib, owner: [2]string{"Job", "j"}})
	rows, _, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	r := byName(rows)["c1/n1/b/j/c"]
	require.Equal(t, f.w.Start.Add(50*time.Second), r.Start, "exact start from kube_pod_start_time")
	require.Equal(t, f.w.Start.Add(90*time.Second), r.End, "half a step after the last sample")
	require.InDelta(t, 2*40.0/3600, r.CPUCoreHours, 1e-12)
	require.Equal(t, "job", r.Properties.ControllerKind)
}

func TestComputeCompletedPodEndsAtItsCompletionTime(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 4, 16*gib, constant(0.04), 0.005)
	job := func(pod, uid string, start, end time.Duration) {
		f.pod(podSpec{ns: "b", pod: pod, uid: uid, container: "c", node: "n1", start: f.at(start), end: f.at(end),
			cpuReq: 2, cpuAlloc: 2, memAlloc: gib, owner: [2]string{"Job", pod}})
		// kube-state-metrics reports the completed pod for a few more
		// scrapes: running 0, its completion time.
		tail := f.grid(f.at(end), f.at(end+3*time.Minute))
		f.add("kube_pod_container_status_running", map[string]string{"namespace": "b", "pod": pod, "uid": uid, "container": "c"},
			tail, constant(0))
		f.add("kube_pod_completion_time", map[string]string{"namespace": "b", "pod": pod, "uid": uid},
			tail, constant(float64(f.at(end))/1000))
	}
	// Runs 10:00:50–10:03:05 (samples 10:01–10:03): ends at 10:03:05, not
	// half a step after 10:03.
	job("j1", "u1", 50*time.Second, 3*time.Minute+5*time.Second)
	// Completes at 10:59:59: its completion is first reported at the
	// window's end.
	job("j2", "u2", 40*time.Minute, time.Hour-time.Second)
	// Completes after the window: running at its end, no completion in it.
	job("j3", "u3", 50*time.Minute, time.Hour+90*time.Second)
	// A completion time not after the start is ignored (half a step after
	// the last sample instead).
	f.pod(podSpec{ns: "b", pod: "j4", uid: "u4", container: "c", node: "n1", start: f.at(10 * time.Minute), end: f.at(12*time.Minute + 10*time.Second),
		cpuReq: 2, cpuAlloc: 2, memAlloc: gib, owner: [2]string{"Job", "j4"}})
	f.add("kube_pod_completion_time", map[string]string{"namespace": "b", "pod": "j4", "uid": "u4"},
		[]int64{f.at(13 * time.Minute)}, constant(float64(f.at(5*time.Minute))/1000))
	// Another incarnation's completion time does not end this one.
	f.pod(podSpec{ns: "b", pod: "j5", uid: "u5", container: "c", node: "n1", start: f.at(20 * time.Minute), end: f.at(22*time.Minute + 10*time.Second),
		cpuReq: 2, cpuAlloc: 2, memAlloc: gib, owner: [2]string{"Job", "j5"}})
	f.add("kube_pod_completion_time", map[string]string{"namespace": "b", "pod": "j5", "uid": "other"},
		[]int64{f.at(23 * time.Minute)}, constant(float64(f.at(21*time.Minute))/1000))
	rows, warnings, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	require.Empty(t, warnings)
	got := byName(rows)
	for _, c := range []struct {
		pod        string
		start, end time.Duration
	}{
		{"j1", 50 * time.Second, 3*time.Minute + 5*time.Second},
		{"j2", 40 * time.Minute, time.Hour - time.Second},
		{"j3", 50 * time.Minute, time.Hour},
		{"j4", 10 * time.Minute, 12*time.Minute + 30*time.Second},
		{"j5", 20 * time.Minute, 22*time.Minute + 30*time.Second},
	} {
		r, ok := got["c1/n1/b/"+c.pod+"/c"]
		require.True(t, ok, "rows: %v", names(rows))
		require.Equal(t, f.w.Start.Add(c.start), r.Start, c.pod)
		require.Equal(t, f.w.Start.Add(c.end), r.End, c.pod)
		require.InDelta(t, 2*(c.end-c.start).Hours(), r.CPUCoreHours, 1e-12, c.pod)
		require.InDelta(t, 2*(c.end-c.start).Hours()*0.04, r.CPUCost, 1e-12, c.pod)
	}
}

func TestQueriesReadCompletionTimesOverTheWindow(t *testing.T) {
	w, err := allocation.NewWindow(fixtureStart, fixtureStart.Add(24*time.Hour))
	require.NoError(t, err)
	for _, q := range allocation.Queries(w, allocation.QueryOptions{}) {
		if strings.Contains(q.Expr, "kube_pod_completion_time") {
			require.Equal(t, "metadata", q.Name)
			require.False(t, q.Range)
			require.Contains(t, q.Expr, `last_over_time(kube_pod_completion_time{}[86460000ms])`, "the window and the step before it")
			return
		}
	}
	t.Fatal("no query reads kube_pod_completion_time")
}

func TestComputePriceChangeIsChargedByTime(t *testing.T) {
	f := newFixture(time.Hour)
	change := f.at(30 * time.Minute)
	f.node("n1", 4, 16*gib, func(t int64) float64 {
		if t >= change {
			return 0.05
		}
		return 0.04
	}, 0.005)
	// Runs over the second half only: pays the new price, not the window average.
	f.pod(podSpec{ns: "a", pod: "p", uid: "u", container: "c", node: "n1", start: f.at(30 * time.Minute), end: f.at(2 * time.Hour),
		cpuReq: 1, cpuAlloc: 1, memAlloc: gib})
	rows, _, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	got := byName(rows)
	require.InDelta(t, 0.5*0.05, got["c1/n1/a/p/c"].CPUCost, 1e-12)
	idle := got["c1/n1/__idle__"]
	require.InDelta(t, 4*(0.5*0.04+0.5*0.05)-0.5*0.05, idle.CPUCost, 1e-12)
}

func TestComputeIdleNeverNegative(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 1, 16*gib, constant(0.04), 0.005)
	f.pod(podSpec{ns: "a", pod: "p", uid: "u", container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour),
		cpuReq: 3, cpuAlloc: 3, memAlloc: gib})
	rows, warnings, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	idle := byName(rows)["c1/n1/__idle__"]
	require.Zero(t, idle.CPUCost)
	require.Greater(t, idle.RAMCost, 0.0)
	require.Len(t, warnings, 1)
	require.Contains(t, warnings[0], "CPU allocations exceed capacity by $0.080000")
}

func TestComputeFallbackPrices(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 4, 16*gib, nil, 0) // no price metrics
	f.add("kube_node_labels", map[string]string{"node": "n1", "label_node_kubernetes_io_instance_type": "m5.xlarge",
		"label_eks_amazonaws_com_capacity_type": "SPOT"}, []int64{ms(f.w.End)}, constant(1))
	f.pod(podSpec{ns: "a", pod: "p", uid: "u", container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour),
		cpuReq: 1, cpuAlloc: 1, memAlloc: gib})
	prices := allocation.PriceTable{
		Default:       allocation.NodePrices{CPUCoreHour: 1, RAMGiBHour: 1},
		InstanceTypes: map[string]allocation.NodePrices{"m5.xlarge": {CPUCoreHour: 0.03, RAMGiBHour: 0.004, SpotCPUCoreHour: 0.01, SpotRAMGiBHour: 0.002}},
	}
	rows, _, err := f.compute(prices)
	require.NoError(t, err)
	r := byName(rows)["c1/n1/a/p/c"]
	require.Equal(t, allocation.PriceSourceConfig, r.PriceSource)
	require.InDelta(t, 0.01, r.CPUCost, 1e-12)
	require.InDelta(t, 0.002, r.RAMCost, 1e-12)
}

func TestComputeAllocationFromRequestsAndUsage(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 4, 16*gib, constant(0.04), 0.005)
	f.pod(podSpec{ns: "a", pod: "p", uid: "u", container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour),
		cpuReq: 0.5, memReq: gib})
	all := f.grid(f.at(0), f.at(time.Hour)+1)
	el := map[string]string{"namespace": "a", "pod": "p", "container": "c", "node": "n1"}
	// Usage 1 core for the first half hour, 0.25 after; working set 2 GiB.
	f.add("container_cpu_usage_seconds_total", el, all, func(t int64) float64 {
		s := float64(t-f.at(0)) / 1000
		if s <= 1800 {
			return 1000 + s
		}
		return 1000 + 1800 + 0.25*(s-1800)
	})
	f.add("container_memory_working_set_bytes", el, all, constant(2*gib))
	rows, _, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	r := byName(rows)["c1/n1/a/p/c"]
	require.InDelta(t, 0.5*1+0.5*0.5, r.CPUCoreHours, 1e-9, "max(request, usage)")
	require.InDelta(t, 0.625, r.CPUCoreUsageAverage, 1e-9)
	require.InDelta(t, 1.0, r.CPUCoreUsageMax, 1e-9)
	require.InDelta(t, 2.0*gib, r.RAMByteHours, 1)
	require.InDelta(t, 0.5, r.CPUCoreRequestAverage, 1e-12)
}

func TestComputeControllers(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 64, 256*gib, constant(0.04), 0.005)
	long := func(pod string, owner [2]string) podSpec {
		return podSpec{ns: "a", pod: pod, uid: pod, container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour),
			cpuReq: 1, cpuAlloc: 1, memAlloc: gib, owner: owner, labels: map[string]string{"app": pod}}
	}
	f.pod(long("web-abc-1", [2]string{"ReplicaSet", "web-abc"}))
	f.pod(long("bare-1", [2]string{"ReplicaSet", "bare"}))
	f.pod(long("roll-1", [2]string{"ReplicaSet", "roll-x"}))
	f.pod(long("cron-1", [2]string{"Job", "cron-28000"}))
	f.pod(long("ds-1", [2]string{"DaemonSet", "ds"}))
	end := []int64{ms(f.w.End)}
	f.add("kube_replicaset_owner", map[string]string{"namespace": "a", "replicaset": "web-abc", "owner_kind": "Deployment", "owner_name": "web"}, end, constant(1))
	f.add("kube_replicaset_owner", map[string]string{"namespace": "a", "replicaset": "bare", "owner_kind": "<none>", "owner_name": "<none>"}, end, constant(1))
	f.add("kube_replicaset_owner", map[string]string{"namespace": "a", "replicaset": "roll-x", "owner_kind": "Rollout", "owner_name": "roll"}, end, constant(1))
	f.add("kube_job_owner", map[string]string{"namespace": "a", "job_name": "cron-28000", "owner_kind": "CronJob", "owner_name": "cron"}, end, constant(1))
	f.add("service_selector_labels", map[string]string{"namespace": "a", "service": "web-svc", "label_app": "web-abc-1"}, end, constant(1))
	rows, _, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	got := byName(rows)
	for pod, want := range map[string]string{
		"web-abc-1": "deployment:web", "bare-1": "replicaset:bare", "roll-1": "rollout:roll", "cron-1": "cronjob:cron", "ds-1": "daemonset:ds",
	} {
		p := got["c1/n1/a/"+pod+"/c"].Properties
		require.Equal(t, want, p.ControllerKind+":"+p.Controller, pod)
	}
	require.Equal(t, []string{"web-svc"}, got["c1/n1/a/web-abc-1/c"].Properties.Services)
	require.Equal(t, "aws:///n1", got["c1/n1/a/web-abc-1/c"].Properties.ProviderID)
}

func TestComputeLoadBalancerAndVolumes(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 64, 256*gib, constant(0.04), 0.005)
	f.pod(podSpec{ns: "a", pod: "web-1", uid: "u1", container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(30 * time.Minute),
		cpuReq: 1, cpuAlloc: 1, memAlloc: gib, labels: map[string]string{"app": "web"}})
	all := f.grid(f.at(0), f.at(time.Hour)+1)
	f.add("kubecost_load_balancer_cost", map[string]string{"namespace": "a", "service_name": "web", "ingress_ip": "10.0.0.1"}, all, constant(0.025))
	f.add("service_selector_labels", map[string]string{"namespace": "a", "service": "web", "label_app": "web"}, []int64{ms(f.w.End)}, constant(1))
	f.add("kube_persistentvolumeclaim_info", map[string]string{"namespace": "a", "persistentvolumeclaim": "data", "volumename": "pv1"}, []int64{ms(f.w.End)}, constant(1))
	f.add("kube_persistentvolumeclaim_resource_requests_storage_bytes", map[string]string{"namespace": "a", "persistentvolumeclaim": "data"}, all, constant(10*gib))
	f.add("pv_hourly_cost", map[string]string{"persistentvolume": "pv1", "volumename": "pv1"}, all, constant(0.0001))
	f.add("pod_pvc_allocation", map[string]string{"namespace": "a", "pod": "web-1", "persistentvolumeclaim": "data", "persistentvolume": "pv1"},
		f.grid(f.at(0), f.at(30*time.Minute)), constant(10*gib))
	f.add("pv_hourly_cost", map[string]string{"persistentvolume": "pv2", "volumename": "pv2"}, all, constant(0.0002))
	f.add("kube_persistentvolume_capacity_bytes", map[string]string{"persistentvolume": "pv2"}, all, constant(5*gib))
	rows, _, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	got := byName(rows)
	web := got["c1/n1/a/web-1/c"]
	// web-1's last sample is at 10:29: it ends at 10:29:30.
	on := 29.5 / 60
	require.InDelta(t, on*0.025, web.LoadBalancerCost, 1e-12)
	require.Len(t, web.LoadBalancers, 1)
	require.True(t, web.LoadBalancers[0].Private)
	require.Equal(t, "c1/a/web", web.LoadBalancers[0].Key, "OpenCost's key names the cluster")
	require.Equal(t, "a/web", web.LoadBalancers[0].Service)
	require.InDelta(t, 10*0.0001*on, web.PVCost(), 1e-12)
	require.Equal(t, "cluster=c1:name=pv1", web.PVs[0].Key)
	// As in OpenCost: the claim's unmounted time goes to its namespace's
	// "<namespace>-unmounted-pvcs" pod; the unclaimed volume and the load
	// balancer's time without pods go to the cluster's __unmounted__ pod.
	ns := got["c1/__unmounted__/a/a-unmounted-pvcs/__unmounted__"]
	require.True(t, ns.IsUnmounted())
	require.Equal(t, allocation.Properties{Cluster: "c1", Namespace: "a", Pod: "a-unmounted-pvcs", Container: "__unmounted__"}, ns.Properties)
	require.Zero(t, ns.LoadBalancerCost)
	require.InDelta(t, 10*0.0001*(1-on), ns.PVCost(), 1e-12)
	orphan := got["c1/__unmounted__/__unmounted__/__unmounted__/__unmounted__"]
	require.InDelta(t, 5*0.0002, orphan.PVCost(), 1e-12)
	require.InDelta(t, (1-on)*0.025, orphan.LoadBalancerCost, 1e-12)
	require.Len(t, orphan.LoadBalancers, 1)
	require.Equal(t, "a/web", orphan.LoadBalancers[0].Service)
}

func TestComputeRejectsEmptyWindow(t *testing.T) {
	_, _, err := allocation.Compute(allocation.Window{Start: fixtureStart, End: fixtureStart}, allocation.NewQueryResults(allocation.QueryOptions{}), allocation.PriceTable{})
	require.Error(t, err)
}

func TestComputeMapsNonFinitePricesToZero(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 4, 16*gib, func(t int64) float64 {
		if t == f.at(10*time.Minute) {
			return math.NaN()
		}
		return 0.04
	}, 0.005)
	f.pod(podSpec{ns: "a", pod: "p", uid: "u", container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour), cpuAlloc: 1, memAlloc: gib})
	rows, _, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	require.InDelta(t, 0.04*59/60, byName(rows)["c1/n1/a/p/c"].CPUCost, 1e-12)
}

func names(rows []allocation.Allocation) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r.Name + " ")
	}
	return b.String()
}

func TestComputeNodeWithoutCapacityHasNoIdle(t *testing.T) {
	f := newFixture(time.Hour)
	all := f.grid(f.at(0), f.at(time.Hour)+1)
	f.add("node_cpu_hourly_cost", map[string]string{"node": "n1"}, all, constant(0.04))
	f.pod(podSpec{ns: "a", pod: "p", uid: "u", container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour), cpuAlloc: 1, memAlloc: gib})
	rows, warnings, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.InDelta(t, 0.04, rows[0].CPUCost, 1e-12)
	require.Equal(t, []string{"node c1/n1: no capacity metrics, no idle row"}, warnings)
}

func TestComputeUnlabelledSeriesTakeTheConfiguredCluster(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 4, 16*gib, constant(0.04), 0.005)
	f.pod(podSpec{ns: "a", pod: "p", uid: "u", container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour), cpuAlloc: 1, memAlloc: gib})
	for i := range f.series {
		delete(f.series[i].Labels, "cluster_id")
	}
	r := allocation.NewQueryResults(allocation.QueryOptions{Cluster: "mine"})
	r.Add(allocation.Query{Name: "fixture"}, f.series)
	rows, _, err := allocation.Compute(f.w, r, allocation.PriceTable{})
	require.NoError(t, err)
	require.Contains(t, byName(rows), "mine/n1/a/p/c")
	require.Contains(t, byName(rows), "mine/n1/__idle__")
}

// TestComputeNetworkEgressCost covers the network-costs daemonset's counters:
// a pod running the whole hour sends 2 GiB across zones, 0.5 GiB across
// regions and 1 GiB to the internet at constant rates; with the egress prices
// its network cost is 2×0.01 + 0.5×0.02 + 1×0.12, split over its containers.
func TestComputeNetworkEgressCost(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 64, 256*gib, constant(0.04), 0.005)
	for _, c := range []string{"app", "sidecar"} {
		f.pod(podSpec{ns: "a", pod: "web-1", uid: "u1", container: c, node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour), cpuReq: 1, cpuAlloc: 1, memAlloc: gib})
	}
	around := f.grid(f.at(-time.Hour), f.at(2*time.Hour))
	counter := func(gibPerHour float64) func(int64) float64 {
		return func(t int64) float64 { return gibPerHour * gib * float64(t-f.at(-time.Hour)) / 3600e3 }
	}
	egress := func(internet, sameZone, sameRegion string, gibPerHour float64) {
		f.add("kubecost_pod_network_egress_bytes_total", map[string]string{"namespace": "a", "pod_name": "web-1",
			"internet": internet, "same_zone": sameZone, "same_region": sameRegion}, around, counter(gibPerHour))
	}
	egress("false", "false", "true", 2)    // cross-zone
	egress("false", "false", "false", 0.5) // cross-region
	egress("true", "false", "false", 1)    // internet
	egress("false", "true", "true", 7)     // same zone: free
	all := f.grid(f.at(0), f.at(time.Hour)+1)
	f.add("kubecost_network_zone_egress_cost", map[string]string{}, all, constant(0.01))
	f.add("kubecost_network_region_egress_cost", map[string]string{}, all, constant(0.02))
	f.add("kubecost_network_internet_egress_cost", map[string]string{}, all, constant(0.12))
	rows, _, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	got := byName(rows)
	var total float64
	for _, c := range []string{"app", "sidecar"} {
		r := got["c1/n1/a/web-1/"+c]
		require.InDelta(t, 2*0.01/2, r.NetworkCrossZoneCost, 1e-9, c)
		require.InDelta(t, 0.5*0.02/2, r.NetworkCrossRegionCost, 1e-9, c)
		require.InDelta(t, 1*0.12/2, r.NetworkInternetCost, 1e-9, c)
		require.InDelta(t, r.NetworkCrossZoneCost+r.NetworkCrossRegionCost+r.NetworkInternetCost, r.NetworkCost, 1e-12, c)
		total += r.NetworkCost
	}
	require.InDelta(t, 2*0.01+0.5*0.02+1*0.12, total, 1e-9)
}

// TestComputeLabelsMergeNodeNamespacePod: as in OpenCost, a row's labels are
// its node's, then its namespace's, then its pod's, each overriding the one
// before (issue 13 point 3); namespaceLabels stay the namespace's own.
func TestComputeLabelsMergeNodeNamespacePod(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 4, 16*gib, constant(0.04), 0.005)
	end := []int64{ms(f.w.End)}
	f.add("kube_node_labels", map[string]string{"node": "n1", "label_zone": "a", "label_team": "node-team", "label_env": "node-env"}, end, constant(1))
	f.add("kube_namespace_labels", map[string]string{"namespace": "a", "label_team": "ns-team", "label_env": "ns-env"}, end, constant(1))
	f.add("kube_namespace_annotations", map[string]string{"namespace": "a", "annotation_owner": "ns-owner"}, end, constant(1))
	f.pod(podSpec{ns: "a", pod: "p", uid: "u", container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour),
		cpuReq: 1, cpuAlloc: 1, memAlloc: gib, labels: map[string]string{"app": "web", "env": "pod-env"}})
	f.pod(podSpec{ns: "b", pod: "q", uid: "v", container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour),
		cpuReq: 1, cpuAlloc: 1, memAlloc: gib})
	rows, _, err := f.compute(allocation.PriceTable{})
	require.NoError(t, err)
	got := byName(rows)
	p := got["c1/n1/a/p/c"].Properties
	require.Equal(t, map[string]string{"zone": "a", "team": "ns-team", "env": "pod-env", "app": "web"}, p.Labels)
	require.Equal(t, map[string]string{"owner": "ns-owner"}, p.Annotations)
	require.Equal(t, map[string]string{"team": "ns-team", "env": "ns-env"}, p.NamespaceLabels)
	q := got["c1/n1/b/q/c"].Properties
	require.Equal(t, map[string]string{"zone": "a", "team": "node-team", "env": "node-env"}, q.Labels, "a pod without labels shows its node's")
}
