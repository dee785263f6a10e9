package accuracy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
)

// The classic OpenCost method (reference/domain.md §2–3), reimplemented from
// its description for measurement only: instant queries at the window's end,
// running time from the first to the last point of a 5-minute subquery,
// core-hours = max(average allocation, average request) × hours, prices
// averaged over the window, idle = capacity × average price × node hours −
// allocations. It prices CPU, RAM and GPU; the comparison is on those.
const classicRes = 5 * time.Minute

func classicAll(t *testing.T, src prom.Source, tr *truth, iv time.Duration, sem prom.RangeSemantics) *report {
	t.Helper()
	var comp []computed
	for _, sw := range tr.windows() {
		rows, q, err := classicWindow(context.Background(), src, sw, sem)
		require.NoError(t, err)
		comp = append(comp, computed{win: sw, rows: rows, queries: q.queries, samples: q.samples})
	}
	return compare(tr, comp, iv, true)
}

type classicQuerier struct {
	ctx     context.Context
	src     prom.Source
	at      time.Time
	err     error
	queries int
	samples int64
}

func (q *classicQuerier) vector(expr string) model.Vector {
	if q.err != nil {
		return nil
	}
	res, err := q.src.Query(q.ctx, expr, q.at)
	if err != nil {
		q.err = fmt.Errorf("%s: %w", expr, err)
		return nil
	}
	q.queries++
	q.samples += res.SamplesProcessed
	v, _ := res.Value.(model.Vector)
	return v
}

func (q *classicQuerier) matrix(expr string) model.Matrix {
	if q.err != nil {
		return nil
	}
	res, err := q.src.Query(q.ctx, expr, q.at)
	if err != nil {
		q.err = fmt.Errorf("%s: %w", expr, err)
		return nil
	}
	q.queries++
	q.samples += res.SamplesProcessed
	m, _ := res.Value.(model.Matrix)
	return m
}

type span struct{ s, e time.Time }

// activity returns first-to-last spans of a subquery, keyed by keyOf.
func activity(m model.Matrix, w sim.Window, keyOf func(model.Metric) string) map[string]span {
	out := map[string]span{}
	for _, ss := range m {
		if len(ss.Values) == 0 {
			continue
		}
		s := ss.Values[0].Timestamp.Time().UTC()
		e := ss.Values[len(ss.Values)-1].Timestamp.Time().UTC()
		if len(ss.Values) == 1 {
			s, e = s.Add(-classicRes/2), e.Add(classicRes/2)
		}
		if s.Before(w.WindowStart) {
			s = w.WindowStart
		}
		if e.After(w.WindowEnd) {
			e = w.WindowEnd
		}
		out[keyOf(ss.Metric)] = span{s, e}
	}
	return out
}

func classicWindow(ctx context.Context, src prom.Source, w sim.Window, sem prom.RangeSemantics) ([]allocation.Allocation, *classicQuerier, error) {
	q := &classicQuerier{ctx: ctx, src: src, at: w.WindowEnd}
	d := w.WindowEnd.Sub(w.WindowStart)
	dur := fmt.Sprintf("%ds", int64(d.Seconds()))
	sub := dur
	if sem == prom.RangeLeftOpen { // OpenCost 2025 adds one resolution on Prometheus 3
		sub = fmt.Sprintf("%ds", int64((d + classicRes).Seconds()))
	}
	const ctr = `container!="",container!="POD",node!=""`
	by := ` by (container,pod,namespace,node,cluster_id)`
	podKey := func(m model.Metric) string {
		return string(m["cluster_id"]) + "/" + string(m["namespace"]) + "/" + string(m["pod"])
	}
	nodeKey := func(m model.Metric) string { return string(m["cluster_id"]) + "/" + string(m["node"]) }
	ctrKey := func(m model.Metric) string {
		return string(m["cluster_id"]) + "/" + string(m["node"]) + "/" + string(m["namespace"]) + "/" + string(m["pod"]) + "/" + string(m["container"])
	}
	pods := activity(q.matrix(`avg(kube_pod_container_status_running{container!="",container!="POD"} != 0) by (pod,namespace,cluster_id)[`+sub+`:5m]`), w, podKey)
	nodes := activity(q.matrix(`avg(node_total_hourly_cost) by (node,cluster_id)[`+sub+`:5m]`), w, nodeKey)
	avg := func(expr string, keyOf func(model.Metric) string) map[string]float64 {
		out := map[string]float64{}
		for _, s := range q.vector(expr) {
			out[keyOf(s.Metric)] = float64(s.Value)
		}
		return out
	}
	cpuAlloc := avg(`avg(avg_over_time(container_cpu_allocation{`+ctr+`}[`+dur+`]))`+by, ctrKey)
	cpuReq := avg(`avg(avg_over_time(kube_pod_container_resource_requests{resource="cpu",unit="core",`+ctr+`}[`+dur+`]))`+by, ctrKey)
	ramAlloc := avg(`avg(avg_over_time(container_memory_allocation_bytes{`+ctr+`}[`+dur+`]))`+by, ctrKey)
	ramReq := avg(`avg(avg_over_time(kube_pod_container_resource_requests{resource="memory",unit="byte",`+ctr+`}[`+dur+`]))`+by, ctrKey)
	gpuAlloc := avg(`avg(avg_over_time(container_gpu_allocation{`+ctr+`}[`+dur+`]))`+by, ctrKey)
	cpuPrice := avg(`avg(avg_over_time(node_cpu_hourly_cost[`+dur+`])) by (node,cluster_id)`, nodeKey)
	ramPrice := avg(`avg(avg_over_time(node_ram_hourly_cost[`+dur+`])) by (node,cluster_id)`, nodeKey)
	gpuPrice := avg(`avg(avg_over_time(node_gpu_hourly_cost[`+dur+`])) by (node,cluster_id)`, nodeKey)
	capCPU := avg(`avg(avg_over_time(kube_node_status_capacity_cpu_cores[`+dur+`])) by (node,cluster_id)`, nodeKey)
	capRAM := avg(`avg(avg_over_time(kube_node_status_capacity_memory_bytes[`+dur+`])) by (node,cluster_id)`, nodeKey)
	capGPU := avg(`avg(avg_over_time(node_gpu_count[`+dur+`])) by (node,cluster_id)`, nodeKey)
	ctrs := q.vector(`avg(avg_over_time(container_cpu_allocation{` + ctr + `}[` + dur + `]))` + by)
	if q.err != nil {
		return nil, q, q.err
	}
	type nodeAlloc struct{ cpu, ram, gpu float64 }
	alloc := map[string]*nodeAlloc{}
	var rows []allocation.Allocation
	for _, s := range ctrs {
		m := s.Metric
		sp, ok := pods[podKey(m)]
		if !ok {
			continue
		}
		k, nk := ctrKey(m), nodeKey(m)
		hours := sp.e.Sub(sp.s).Hours()
		a := allocation.Allocation{
			Name: k,
			Properties: allocation.Properties{Cluster: string(m["cluster_id"]), Node: string(m["node"]),
				Namespace: string(m["namespace"]), Pod: string(m["pod"]), Container: string(m["container"])},
			Start: sp.s, End: sp.e, PriceSource: allocation.PriceSourceMetrics,
		}
		a.CPUCoreHours = max(cpuAlloc[k], cpuReq[k]) * hours
		a.RAMByteHours = max(ramAlloc[k], ramReq[k]) * hours
		a.GPUHours = gpuAlloc[k] * hours
		a.CPUCost = a.CPUCoreHours * cpuPrice[nk]
		a.RAMCost = a.RAMByteHours / (1 << 30) * ramPrice[nk]
		a.GPUCost = a.GPUHours * gpuPrice[nk]
		na := alloc[nk]
		if na == nil {
			na = &nodeAlloc{}
			alloc[nk] = na
		}
		na.cpu += a.CPUCost
		na.ram += a.RAMCost
		na.gpu += a.GPUCost
		rows = append(rows, a)
	}
	for nk, sp := range nodes {
		hours := sp.e.Sub(sp.s).Hours()
		na := alloc[nk]
		if na == nil {
			na = &nodeAlloc{}
		}
		cl, node, _ := strings.Cut(nk, "/")
		rows = append(rows, allocation.Allocation{
			Name:       nk + "/" + allocation.IdleSuffix,
			Properties: allocation.Properties{Cluster: cl, Node: node},
			Start:      sp.s, End: sp.e, PriceSource: allocation.PriceSourceMetrics,
			CPUCost: capCPU[nk]*cpuPrice[nk]*hours - na.cpu,
			RAMCost: capRAM[nk]/(1<<30)*ramPrice[nk]*hours - na.ram,
			GPUCost: capGPU[nk]*gpuPrice[nk]*hours - na.gpu,
		})
	}
	return rows, q, nil
}
