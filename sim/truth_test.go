package sim

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// oneDay is a fleet over exactly one UTC day: 24 hourly windows and one
// daily window.
func oneDay(t testing.TB) *Fleet {
	cfg := tinyConfig(24)
	cfg.NodesPerCluster = 5
	cfg.Clusters = 2
	return newFleet(t, cfg)
}

type containerKey struct{ cluster, node, namespace, pod, container string }

func keyOf(r *ContainerTruth) containerKey {
	return containerKey{r.Cluster, r.Node, r.Namespace, r.Pod, r.Container}
}

// TestSimTruthHourlySumsToDaily checks that the 24 hourly records of each
// container add up to its daily record.
func TestSimTruthHourlySumsToDaily(t *testing.T) {
	f := oneDay(t)
	tr := collectTruth(t, f)
	hourly := map[containerKey]*ContainerTruth{}
	daily := map[containerKey]*ContainerTruth{}
	for i := range tr.Containers {
		r := &tr.Containers[i]
		if r.Resolution == Daily {
			require.Nil(t, daily[keyOf(r)], "one daily record per container")
			daily[keyOf(r)] = r
			continue
		}
		sum := hourly[keyOf(r)]
		if sum == nil {
			c := *r
			c.PVs = nil
			hourly[keyOf(r)] = &c
			continue
		}
		sum.RunningSeconds += r.RunningSeconds
		sum.CPUCoreHours += r.CPUCoreHours
		sum.CPUCost += r.CPUCost
		sum.RAMByteHours += r.RAMByteHours
		sum.RAMCost += r.RAMCost
		sum.GPUHours += r.GPUHours
		sum.GPUCost += r.GPUCost
		sum.PVByteHours += r.PVByteHours
		sum.PVCost += r.PVCost
		sum.NetworkReceiveBytes += r.NetworkReceiveBytes
		sum.LoadBalancerCost += r.LoadBalancerCost
		sum.TotalCost += r.TotalCost
		if r.Start.Before(sum.Start) {
			sum.Start = r.Start
		}
		if r.End.After(sum.End) {
			sum.End = r.End
		}
	}
	require.Equal(t, len(daily), len(hourly))
	require.Greater(t, len(daily), 40)
	for k, d := range daily {
		h := hourly[k]
		require.NotNil(t, h, k)
		require.Equal(t, d.RunningSeconds, h.RunningSeconds, k)
		require.Equal(t, d.Start, h.Start, k)
		require.Equal(t, d.End, h.End, k)
		for _, pair := range [][2]float64{
			{d.CPUCoreHours, h.CPUCoreHours}, {d.CPUCost, h.CPUCost}, {d.RAMByteHours, h.RAMByteHours},
			{d.RAMCost, h.RAMCost}, {d.GPUHours, h.GPUHours}, {d.GPUCost, h.GPUCost},
			{d.PVByteHours, h.PVByteHours}, {d.PVCost, h.PVCost}, {d.NetworkReceiveBytes, h.NetworkReceiveBytes},
			{d.LoadBalancerCost, h.LoadBalancerCost}, {d.TotalCost, h.TotalCost},
		} {
			requireClose(t, pair[0], pair[1], k)
		}
	}
}

// TestSimTruthBalances checks node and cluster identities: idle is never
// negative, node cost covers allocations, and the cluster's total equals
// containers + idle + unmounted, in every window.
func TestSimTruthBalances(t *testing.T) {
	f := oneDay(t)
	tr := collectTruth(t, f)
	require.Len(t, tr.Clusters, 2*25)
	require.Len(t, tr.Nodes, 10*25)
	for _, n := range tr.Nodes {
		require.GreaterOrEqual(t, n.IdleCPUCost, 0.0, n.Node)
		require.GreaterOrEqual(t, n.IdleRAMCost, 0.0, n.Node)
		require.GreaterOrEqual(t, n.IdleGPUCost, -1e-12, n.Node)
		require.Positive(t, n.AllocatedCPUCost, "daemonsets run on every node")
		require.Less(t, n.AllocatedCPUCost+n.AllocatedRAMCost+n.AllocatedGPUCost, n.TotalCost+1e-12)
	}
	type winKey struct {
		cluster string
		w       Window
	}
	containers := map[winKey]float64{}
	unmounted := map[winKey]float64{}
	for _, c := range tr.Containers {
		containers[winKey{c.Cluster, c.Window}] += c.TotalCost
	}
	for _, u := range tr.Unmounted {
		unmounted[winKey{u.Cluster, u.Window}] += u.Cost
	}
	for _, c := range tr.Clusters {
		k := winKey{c.Cluster, c.Window}
		requireClose(t, c.ContainerCost, containers[k])
		requireClose(t, c.UnmountedPVCost+c.UnmountedLoadBalancerCost, unmounted[k])
		requireClose(t, c.TotalCost, c.ContainerCost+c.IdleCost+c.UnmountedPVCost+c.UnmountedLoadBalancerCost)
		require.Positive(t, c.UnmountedPVCost, "the unmounted PVC and the claimless PV")
		require.Positive(t, c.UnmountedLoadBalancerCost, "legacy-lb selects nothing")
		require.GreaterOrEqual(t, c.IdleCost, 0.0)
	}
}

// TestSimTruthRunningTime checks running seconds against the pods' exact
// lives, including short jobs and recreated pods.
func TestSimTruthRunningTime(t *testing.T) {
	f := oneDay(t)
	tr := collectTruth(t, f)
	got := map[containerKey]int64{}
	for i := range tr.Containers {
		r := &tr.Containers[i]
		if r.Resolution == Daily {
			got[keyOf(r)] = r.RunningSeconds
		}
	}
	for _, c := range f.clusters {
		want := map[containerKey]int64{}
		for _, p := range c.pods {
			secs := min(p.end, f.end) - max(p.start, f.start)
			if secs <= 0 {
				continue
			}
			for _, ct := range p.containers {
				want[containerKey{c.id, c.nodes[p.node].name, p.namespace, p.name, ct.name}] += secs
			}
		}
		for k, w := range want {
			require.Equal(t, w, got[k], k)
		}
	}
}

// TestSimTruthExactFromSamples recomputes, from the emitted OpenMetrics
// samples alone (plus each pod's exact start and stop), the core-hours,
// byte-hours, costs and running time of several kinds of containers and
// compares them with the truth to float rounding, using the model of
// doc.go.
func TestSimTruthExactFromSamples(t *testing.T) {
	f := newFleet(t, tinyConfig(24))
	series := someFamilies(t, f, "container_cpu_allocation", "container_memory_allocation_bytes",
		"container_cpu_usage_seconds", "node_cpu_hourly_cost", "node_ram_hourly_cost")
	tr := collectTruth(t, f)
	c := f.clusters[0]

	picked := map[string]bool{}
	var targets [][]*pod // incarnations of one pod name
	add := func(why string, ps []*pod) {
		if !picked[why] && len(ps) > 0 {
			picked[why] = true
			targets = append(targets, ps)
		}
	}
	byName := map[string][]*pod{}
	for _, p := range c.pods {
		byName[p.namespace+"/"+p.name] = append(byName[p.namespace+"/"+p.name], p)
	}
	for _, ps := range byName {
		p := ps[0]
		switch {
		case len(ps) > 1:
			add("recreated", ps)
		case p.controllerKind == "cronjob" && p.start > f.start && p.end < f.end:
			add("short job", ps)
		case p.controllerKind == "deployment" && p.end < f.end && p.start < f.start:
			add("rolled out", ps)
		case len(p.containers[0].restarts) > 0:
			add("restarted", ps)
		case c.nodes[p.node].changeCell < math.MaxInt64:
			add("price change", ps)
		case p.containers[0].cpuReq == 0:
			add("no cpu request", ps)
		case p.containers[0].gpus > 0:
			add("gpu", ps)
		}
	}
	require.Len(t, targets, 7, "picked %v", picked)

	for _, ps := range targets {
		p := ps[0]
		nd := c.nodes[p.node]
		nodeSel := map[string]string{"node": nd.name}
		cpuPrice := priceAt(t, series, "node_cpu_hourly_cost", nodeSel)
		ramPrice := priceAt(t, series, "node_ram_hourly_cost", nodeSel)
		for _, ct := range p.containers {
			sel := map[string]string{"namespace": p.namespace, "pod": p.name, "container": ct.name}
			cpu := one(t, series, "container_cpu_allocation", sel)
			mem := one(t, series, "container_memory_allocation_bytes", sel)
			var secs int64
			var coreHours, cpuCost, ramByteHours, ramCost float64
			for _, inc := range ps {
				lo, hi := max(inc.start, f.start), min(inc.end, f.end)
				secs += hi - lo
				coreHours += integrate(cpu, inc.start, inc.end, lo, hi, 60, nil) / 3600
				cpuCost += integrate(cpu, inc.start, inc.end, lo, hi, 60, cpuPrice) / 3600
				ramByteHours += integrate(mem, inc.start, inc.end, lo, hi, 60, nil) / 3600
				ramCost += integrate(mem, inc.start, inc.end, lo, hi, 60, ramPrice) / 3600 / gib
			}
			row := dailyRow(t, tr, p, ct.name)
			require.Equal(t, secs, row.RunningSeconds, p.name)
			requireClose(t, row.CPUCoreHours, coreHours, p.name)
			requireClose(t, row.CPUCost, cpuCost, p.name)
			requireClose(t, row.RAMByteHours, ramByteHours, p.name)
			requireClose(t, row.RAMCost, ramCost, p.name)
			checkCounter(t, series, ps, ct.name)
		}
	}
}

// checkCounter checks that the CPU counter's increase between consecutive
// scrapes of one incarnation is usage × interval, except across a restart.
func checkCounter(t *testing.T, series map[string]*omSeries, ps []*pod, name string) {
	t.Helper()
	p := ps[0]
	s := one(t, series, "container_cpu_usage_seconds_total", map[string]string{"namespace": p.namespace, "pod": p.name, "container": name})
	for _, inc := range ps {
		ct := containerNamed(inc, name)
		for i := 1; i < len(s); i++ {
			a, b := s[i-1], s[i]
			if a.t < inc.start || b.t >= inc.end {
				continue
			}
			restarted := false
			for _, r := range ct.restarts {
				restarted = restarted || (r > a.t && r <= b.t)
			}
			if !restarted {
				requireClose(t, ct.cpu.rate(a.t/60)*60, b.v-a.v, p.name)
			}
		}
	}
}

func containerNamed(p *pod, name string) *container {
	for i := range p.containers {
		if p.containers[i].name == name {
			return &p.containers[i]
		}
	}
	return nil
}

func one(t testing.TB, series map[string]*omSeries, metric string, sel map[string]string) []omSample {
	t.Helper()
	got := find(series, metric, sel)
	require.Len(t, got, 1, "%s %v", metric, sel)
	return got[0].samples
}

// priceAt returns the price in force at a cell, from the node's samples.
func priceAt(t testing.TB, series map[string]*omSeries, metric string, sel map[string]string) func(cell int64) float64 {
	byTime := map[int64]float64{}
	for _, s := range one(t, series, metric, sel) {
		byTime[s.t] = s.v
	}
	return func(cell int64) float64 {
		v, ok := byTime[cell*60]
		require.True(t, ok, "no %s sample at %d", metric, cell*60)
		return v
	}
}

// integrate is the doc.go model: the sample at t holds over [t, t+iv)
// clipped to the life [s, e); the first sample also over [s, t); pieces
// are clipped to [lo, hi) and weighted by price(cell of the piece) if set.
func integrate(samples []omSample, s, e, lo, hi, iv int64, price func(int64) float64) float64 {
	var sum float64
	first := true
	for _, smp := range samples {
		if smp.t < s || smp.t >= e {
			continue
		}
		from := smp.t
		if first {
			from, first = s, false
		}
		a, b := max(from, lo), min(smp.t+iv, e, hi)
		for a < b { // the leading piece can span a cell boundary only at t
			cellEnd := (floorDiv(a, iv) + 1) * iv
			y := min(b, cellEnd)
			w := float64(y - a)
			if price != nil {
				w *= price(floorDiv(a, iv))
			}
			sum += smp.v * w
			a = y
		}
	}
	return sum
}

func dailyRow(t testing.TB, tr *Truth, p *pod, container string) *ContainerTruth {
	t.Helper()
	for i := range tr.Containers {
		r := &tr.Containers[i]
		if r.Resolution == Daily && r.Pod == p.name && r.Namespace == p.namespace && r.Container == container {
			return r
		}
	}
	t.Fatalf("no daily truth for %s/%s", p.name, container)
	return nil
}

func TestSimTruthRoundTrip(t *testing.T) {
	f := newFleet(t, tinyConfig(2))
	var buf bytes.Buffer
	n, err := f.WriteTruth(context.Background(), &buf)
	require.NoError(t, err)
	got, err := ReadTruth(&buf)
	require.NoError(t, err)
	want := collectTruth(t, f)
	require.Equal(t, int(n), len(got.Containers)+len(got.Nodes)+len(got.Unmounted)+len(got.Clusters)+len(got.Disks)+len(got.LoadBalancers))
	require.Equal(t, want.Clusters, got.Clusters)
	require.Equal(t, len(want.Containers), len(got.Containers))
	require.Equal(t, want.Containers[0].CPUCost, got.Containers[0].CPUCost)
	require.Equal(t, time.UTC, got.Containers[0].WindowStart.Location())
}

// TestSimConfigSweep builds and checks fleets over a range of intervals,
// sizes and spans: no panic, every sample in order, idle never negative.
func TestSimConfigSweep(t *testing.T) {
	for _, iv := range []time.Duration{15 * time.Second, 5 * time.Minute, time.Hour} {
		for _, nodes := range []int{1, 2, 7} {
			for _, hours := range []int{1, 3, 25} {
				cfg := tinyConfig(hours)
				cfg.ScrapeInterval, cfg.NodesPerCluster, cfg.Seed = iv, nodes, int64(nodes*hours)
				f := newFleet(t, cfg)
				var st Stats
				last := int64(-1)
				require.NoError(t, f.emit(context.Background(), orderSink{t: t, last: &last}, f.start, f.end+1, &st))
				tr := collectTruth(t, f)
				for _, n := range tr.Nodes {
					require.GreaterOrEqual(t, n.IdleCost, -1e-12, "%v %d %d", iv, nodes, hours)
				}
				require.NotEmpty(t, tr.Containers)
			}
		}
	}
}

// orderSink checks that each series' samples are on the grid and in order.
type orderSink struct {
	t    *testing.T
	last *int64
}

func (s orderSink) family(string, string, metricType) error { return nil }
func (s orderSink) series(string, []label) error {
	*s.last = -1
	return nil
}

func (s orderSink) sample(ts int64, _ float64) error {
	if ts <= *s.last {
		s.t.Fatalf("sample at %d after %d", ts, *s.last)
	}
	*s.last = ts
	return nil
}

// TestSimLateNode checks a node that joins mid-range: no series and no
// truth before it joins, kube_node_created at the exact instant, a first
// record that starts then and costs its capacity from then, no pods, and
// disk and load-balancer records that sum to the cluster's.
func TestSimLateNode(t *testing.T) {
	cfg := tinyConfig(6)
	cfg.LateNodes = 1
	f := newFleet(t, cfg)
	c := f.clusters[0]
	require.Len(t, c.nodes, 4)
	late := c.nodes[3]
	third := (f.end - f.start) / 3
	require.GreaterOrEqual(t, late.joined, f.start+third)
	require.Less(t, late.joined, f.start+2*third)
	for _, p := range c.pods {
		require.NotEqual(t, 3, p.node, "late nodes run no pods")
	}
	data, _ := openMetrics(t, f)
	for key, s := range parseOM(t, data) {
		if s.labels["node"] != late.name {
			continue
		}
		require.GreaterOrEqual(t, s.samples[0].t, late.joined, key)
		require.Less(t, s.samples[0].t, late.joined+f.grid.iv, key)
		if s.metric == "kube_node_created" {
			require.Equal(t, float64(late.joined), s.samples[0].v)
		}
	}
	tr := collectTruth(t, f)
	var hourly []NodeTruth
	for _, n := range tr.Nodes {
		if n.Node == late.name && n.Resolution == Hourly {
			hourly = append(hourly, n)
		}
	}
	joinHour := (late.joined - f.start) / 3600
	require.Len(t, hourly, 6-int(joinHour))
	first := hourly[0]
	require.Equal(t, late.joined, first.Start.Unix())
	secs := first.WindowEnd.Unix() - late.joined
	require.Equal(t, secs, first.RunningSeconds)
	cpu, ram, _ := late.prices(f.grid.cell(late.joined))
	requireClose(t, first.TotalCost, (late.cores*cpu+late.memBytes/gib*ram)*float64(secs)/3600)
	require.Zero(t, first.AllocatedCPUCost)
	requireClose(t, first.IdleCost, first.TotalCost)

	pv, lb := map[Window]float64{}, map[Window]float64{}
	for _, d := range tr.Disks {
		pv[d.Window] += d.Cost
	}
	for _, l := range tr.LoadBalancers {
		lb[l.Window] += l.Cost
	}
	for _, cl := range tr.Clusters {
		requireClose(t, cl.PVCost, pv[cl.Window])
		requireClose(t, cl.LoadBalancerCost, lb[cl.Window])
	}
}
