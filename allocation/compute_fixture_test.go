package allocation_test

import (
	"time"

	"github.com/costfed/costfed/allocation"
)

// fixture builds query results by hand: a window on a 60 s grid, nodes and
// pods whose series hold one sample per scrape.
type fixture struct {
	w      allocation.Window
	step   int64 // ms
	series []allocation.Series
}

var fixtureStart = time.Date(2024, 1, 7, 10, 0, 0, 0, time.UTC)

func newFixture(d time.Duration) *fixture {
	w, err := allocation.NewWindow(fixtureStart, fixtureStart.Add(d))
	if err != nil {
		panic(err) // a test bug
	}
	return &fixture{w: w, step: 60_000}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// at returns the window start plus d.
func (f *fixture) at(d time.Duration) int64 { return ms(f.w.Start.Add(d)) }

// grid returns the scrape times in [from, to) clipped to [start, end].
func (f *fixture) grid(from, to int64) []int64 {
	var out []int64
	first := (from + f.step - 1) / f.step * f.step
	for t := first; t < to && t <= ms(f.w.End); t += f.step {
		if t >= ms(f.w.Start) {
			out = append(out, t)
		}
	}
	return out
}

func (f *fixture) add(metric string, labels map[string]string, times []int64, val func(t int64) float64) {
	s := allocation.Series{Metric: metric, Labels: map[string]string{"cluster_id": "c1"}}
	for k, v := range labels {
		s.Labels[k] = v
	}
	for _, t := range times {
		s.Samples = append(s.Samples, allocation.Sample{T: t, V: val(t)})
	}
	f.series = append(f.series, s)
}

func constant(v float64) func(int64) float64 { return func(int64) float64 { return v } }

// node adds a node with capacity and prices over the whole window; price
// gives the CPU price at each scrape.
func (f *fixture) node(name string, cores, memBytes float64, cpuPrice func(int64) float64, ramPrice float64) {
	all := f.grid(ms(f.w.Start), ms(f.w.End)+1)
	ls := map[string]string{"node": name, "instance": name, "instance_type": "m5.xlarge", "provider_id": "aws:///" + name}
	if cpuPrice != nil {
		f.add("node_cpu_hourly_cost", ls, all, cpuPrice)
		f.add("node_ram_hourly_cost", ls, all, constant(ramPrice))
		f.add("node_gpu_hourly_cost", ls, all, constant(0))
	}
	f.add("kube_node_status_capacity", map[string]string{"node": name, "resource": "cpu", "unit": "core"}, all, constant(cores))
	f.add("kube_node_status_capacity", map[string]string{"node": name, "resource": "memory", "unit": "byte"}, all, constant(memBytes))
}

// podSpec is one incarnation of a one-container pod.
type podSpec struct {
	ns, pod, uid, container, node string
	start, end                    int64 // running over [start, end)
	cpuReq, memReq                float64
	cpuAlloc, memAlloc            float64 // 0: series not exported
	owner                         [2]string
	labels                        map[string]string
}

func (f *fixture) pod(p podSpec) {
	times := f.grid(p.start, p.end)
	kl := map[string]string{"namespace": p.ns, "pod": p.pod, "uid": p.uid}
	cl := map[string]string{"namespace": p.ns, "pod": p.pod, "uid": p.uid, "container": p.container}
	f.add("kube_pod_container_status_running", cl, times, constant(1))
	f.add("kube_pod_start_time", kl, []int64{ms(f.w.End)}, constant(float64(p.start)/1000))
	rl := map[string]string{"namespace": p.ns, "pod": p.pod, "uid": p.uid, "container": p.container, "node": p.node}
	if p.cpuReq > 0 {
		f.add("kube_pod_container_resource_requests", with(rl, "resource", "cpu", "unit", "core"), times, constant(p.cpuReq))
	}
	if p.memReq > 0 {
		f.add("kube_pod_container_resource_requests", with(rl, "resource", "memory", "unit", "byte"), times, constant(p.memReq))
	}
	el := map[string]string{"namespace": p.ns, "pod": p.pod, "container": p.container, "node": p.node, "instance": p.node}
	if p.cpuAlloc > 0 {
		f.add("container_cpu_allocation", el, times, constant(p.cpuAlloc))
	}
	if p.memAlloc > 0 {
		f.add("container_memory_allocation_bytes", el, times, constant(p.memAlloc))
	}
	if p.owner[0] != "" {
		f.add("kube_pod_owner", with(kl, "owner_kind", p.owner[0], "owner_name", p.owner[1], "owner_is_controller", "true"),
			[]int64{ms(f.w.End)}, constant(1))
	}
	if p.labels != nil {
		ls := map[string]string{}
		for k, v := range kl {
			ls[k] = v
		}
		for k, v := range p.labels {
			ls["label_"+k] = v
		}
		f.add("kube_pod_labels", ls, []int64{ms(f.w.End)}, constant(1))
	}
}

func with(base map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (f *fixture) results() allocation.QueryResults {
	r := allocation.NewQueryResults(allocation.QueryOptions{Step: time.Minute, LeftOpen: true})
	r.Add(allocation.Query{Name: "fixture"}, f.series)
	return r
}

func (f *fixture) compute(prices allocation.PriceTable) ([]allocation.Allocation, []string, error) {
	return allocation.Compute(f.w, f.results(), prices)
}

func byName(rows []allocation.Allocation) map[string]allocation.Allocation {
	out := make(map[string]allocation.Allocation, len(rows))
	for _, r := range rows {
		out[r.Name] = r
	}
	return out
}
