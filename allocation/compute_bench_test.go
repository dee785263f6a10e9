package allocation_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/costfed/costfed/allocation"
)

// benchResults prepares the query results of a one-hour window of pods
// two-container pods on nodes nodes at a 60 s step: every container series
// Compute reads (running, requests, allocations, usage counter, working
// set), node prices and capacities, pod labels and owners, network counters.
func benchResults(pods, nodes int) (allocation.Window, allocation.QueryResults) {
	f := newFixture(time.Hour)
	for n := 0; n < nodes; n++ {
		f.node(fmt.Sprintf("node-%03d", n), 64, 256*gib, constant(0.04), 0.005)
	}
	end := []int64{ms(f.w.End)}
	for i := 0; i < pods; i++ {
		node := fmt.Sprintf("node-%03d", i%nodes)
		pod := fmt.Sprintf("app-%d-abcde", i)
		ns := fmt.Sprintf("ns-%d", i%20)
		start, stop := f.at(-time.Hour), f.at(2*time.Hour)
		if i%10 == 0 { // some short pods
			start, stop = f.at(time.Duration(i%50)*time.Minute+17*time.Second), f.at(time.Duration(i%50+5)*time.Minute)
		}
		times := f.grid(start, stop)
		kl := map[string]string{"namespace": ns, "pod": pod, "uid": pod}
		f.add("kube_pod_start_time", kl, end, constant(float64(start)/1000))
		f.add("kube_pod_owner", with(kl, "owner_kind", "ReplicaSet", "owner_name", "app-rs", "owner_is_controller", "true"), end, constant(1))
		f.add("kube_pod_labels", with(kl, "label_app", pod, "label_team", "t"), end, constant(1))
		net := map[string]string{"namespace": ns, "pod": pod, "interface": "eth0", "node": node}
		f.add("container_network_receive_bytes_total", net, times, func(t int64) float64 { return float64(t-start) * 10 })
		f.add("container_network_transmit_bytes_total", net, times, func(t int64) float64 { return float64(t-start) * 5 })
		for _, c := range []string{"app", "sidecar"} {
			cl := with(kl, "container", c)
			f.add("kube_pod_container_status_running", cl, times, constant(1))
			rl := with(cl, "node", node)
			f.add("kube_pod_container_resource_requests", with(rl, "resource", "cpu", "unit", "core"), times, constant(0.25))
			f.add("kube_pod_container_resource_requests", with(rl, "resource", "memory", "unit", "byte"), times, constant(gib))
			el := map[string]string{"namespace": ns, "pod": pod, "container": c, "node": node, "instance": node}
			f.add("container_cpu_allocation", el, times, func(t int64) float64 { return 0.25 + float64(t%7)/100 })
			f.add("container_memory_allocation_bytes", el, times, constant(1.2*gib))
			f.add("container_cpu_usage_seconds_total", el, times, func(t int64) float64 { return float64(t-start) / 3000 })
			f.add("container_memory_working_set_bytes", el, times, constant(1.2*gib))
		}
	}
	return f.w, f.results()
}

// BenchmarkCompute computes a one-hour window of 10,000 containers (5,000
// two-container pods on 100 nodes) from prepared query results.
func BenchmarkCompute(b *testing.B) {
	w, res := benchResults(5000, 100)
	rows, _, err := allocation.Compute(w, res, allocation.PriceTable{})
	if err != nil {
		b.Fatal(err)
	}
	n := len(rows)
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for i := 0; i < b.N; i++ {
		if _, _, err := allocation.Compute(w, res, allocation.PriceTable{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/row")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N)/float64(n), "allocs/row")
	b.ReportMetric(float64(n), "rows")
}
