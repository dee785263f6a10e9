package sim

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// windows indexes the ground-truth windows: every hour of [start, end) and
// every whole UTC day inside it.
type windows struct {
	start, end int64
	nH         int
	day0       int64 // start of the first whole day
	nD         int
}

func (f *Fleet) windows() windows {
	w := windows{start: f.start, end: f.end, nH: int((f.end - f.start) / 3600)}
	w.day0 = -floorDiv(-f.start, 86400) * 86400
	if f.end > w.day0 {
		w.nD = int((f.end - w.day0) / 86400)
	}
	return w
}

func (w windows) hour(t int64) int { return int((t - w.start) / 3600) }

// day returns the whole day holding t, or -1.
func (w windows) day(t int64) int {
	if t < w.day0 || t >= w.day0+int64(w.nD)*86400 {
		return -1
	}
	return int((t - w.day0) / 86400)
}

func (w windows) bounds(res string, i int) (int64, int64) {
	if res == Hourly {
		s := w.start + int64(i)*3600
		return s, s + 3600
	}
	s := w.day0 + int64(i)*86400
	return s, s + 86400
}

func (w windows) window(res string, i int) Window {
	s, e := w.bounds(res, i)
	return Window{Resolution: res, WindowStart: time.Unix(s, 0).UTC(), WindowEnd: time.Unix(e, 0).UTC()}
}

// splitHours cuts [a, b) at hour boundaries and calls fn for each piece with
// its hour and day (-1 when not in a whole day).
func (w windows) splitHours(a, b int64, fn func(h, d int, x, y int64)) {
	for x := a; x < b; {
		h := w.hour(x)
		y := min(b, w.start+int64(h+1)*3600)
		fn(h, w.day(x), x, y)
		x = y
	}
}

// acc accumulates one container over one window; quantities are integrals
// over time in unit-seconds.
type acc struct {
	first, last                       int64
	seconds                           int64
	cpuReq, cpuUse, cpuAlloc, cpuCost float64
	ramReq, ramUse, ramAlloc, ramCost float64
	gpuSec, gpuCost                   float64
	pvs                               []pvAcc
	rx, tx                            float64
	lbCost                            float64
}

type pvAcc struct {
	pvc           int
	byteSec, cost float64
}

func (a *acc) addTime(x, y int64) {
	if a.seconds == 0 || x < a.first {
		a.first = x
	}
	if y > a.last {
		a.last = y
	}
	a.seconds += y - x
}

func (a *acc) addPV(pvc int, byteSec, cost float64) {
	for i := range a.pvs {
		if a.pvs[i].pvc == pvc {
			a.pvs[i].byteSec += byteSec
			a.pvs[i].cost += cost
			return
		}
	}
	a.pvs = append(a.pvs, pvAcc{pvc, byteSec, cost})
}

// series of accumulators, one per window, with the indexes touched.
type accs struct {
	w       []acc
	touched []int
}

func (s *accs) at(i int) *acc {
	if s.w[i].seconds == 0 && s.w[i].lbCost == 0 && !contains(s.touched, i) {
		s.touched = append(s.touched, i)
	}
	return &s.w[i]
}

func contains(xs []int, x int) bool {
	for i := len(xs) - 1; i >= 0; i-- {
		if xs[i] == x {
			return true
		}
	}
	return false
}

func (s *accs) reset() {
	for _, i := range s.touched {
		s.w[i] = acc{pvs: s.w[i].pvs[:0]}
	}
	s.touched = s.touched[:0]
}

// costs are allocated or capacity costs by resource.
type costs struct{ cpu, ram, gpu float64 }

// clusterAcc sums a cluster's window.
type clusterAcc struct {
	alloc          costs
	containerCost  float64
	rx, tx         float64
	unmountedPV    float64
	unmountedLB    float64
	pvCost, lbCost float64
	nodeCap        costs
}

// truther computes one cluster's ground truth.
type truther struct {
	f    *Fleet
	w    windows
	c    *cluster
	emit func(TruthRecord) error

	// per container slot of the current pod group, per resolution
	hours, days []accs
	// per node, per window: allocated costs
	nodeH, nodeD [][]costs
	// per PVC, per window: seconds some running pod mounted it
	mountH, mountD [][]int64
	// per service: the number of running pods its selector matches
	lines              []timeline
	clusterH, clusterD []clusterAcc
}

// Truth computes the fleet's ground truth and passes each record to fn, in
// a fixed order: per cluster, the container records of each pod (hourly,
// then daily), then the nodes', the disks', load balancers' and unmounted,
// and the cluster's records.
// The records passed are reused: fn must copy what it keeps.
func (f *Fleet) Truth(ctx context.Context, fn func(TruthRecord) error) error {
	w := f.windows()
	for _, c := range f.clusters {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := newTruther(f, w, c, fn)
		if err := t.run(ctx); err != nil {
			return fmt.Errorf("ground truth of %s: %w", c.id, err)
		}
	}
	return nil
}

func newTruther(f *Fleet, w windows, c *cluster, fn func(TruthRecord) error) *truther {
	t := &truther{f: f, w: w, c: c, emit: fn}
	t.nodeH, t.nodeD = grid2[costs](len(c.nodes), w.nH), grid2[costs](len(c.nodes), w.nD)
	t.mountH, t.mountD = grid2[int64](len(c.pvcs), w.nH), grid2[int64](len(c.pvcs), w.nD)
	t.clusterH, t.clusterD = make([]clusterAcc, w.nH), make([]clusterAcc, w.nD)
	for i := range c.services {
		t.lines = append(t.lines, t.timeline(&c.services[i]))
	}
	return t
}

func grid2[T any](n, m int) [][]T {
	out := make([][]T, n)
	for i := range out {
		out[i] = make([]T, m)
	}
	return out
}

func (t *truther) run(ctx context.Context) error {
	pods := t.c.pods
	for i := 0; i < len(pods); {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		j := i + 1
		for j < len(pods) && pods[j].namespace == pods[i].namespace && pods[j].name == pods[i].name && pods[j].node == pods[i].node {
			j++
		}
		if err := t.group(pods[i:j]); err != nil {
			return err
		}
		i = j
	}
	if err := t.nodes(); err != nil {
		return err
	}
	if err := t.unmounted(); err != nil {
		return err
	}
	return t.clusters()
}

// group accumulates the incarnations of one pod name on one node and emits
// one record per container and window.
func (t *truther) group(ps []*pod) error {
	var names []string
	for _, p := range ps {
		slots := make([]int, len(p.containers))
		for ci, ct := range p.containers {
			slots[ci] = indexOf(&names, ct.name)
		}
		t.ensureSlots(len(names))
		t.pod(p, slots)
	}
	for s, name := range names {
		if err := t.emitContainer(ps[0], name, Hourly, &t.hours[s]); err != nil {
			return err
		}
		if err := t.emitContainer(ps[0], name, Daily, &t.days[s]); err != nil {
			return err
		}
	}
	return nil
}

func indexOf(names *[]string, name string) int {
	for i, n := range *names {
		if n == name {
			return i
		}
	}
	*names = append(*names, name)
	return len(*names) - 1
}

func (t *truther) ensureSlots(n int) {
	for len(t.hours) < n {
		t.hours = append(t.hours, accs{w: make([]acc, t.w.nH)})
		t.days = append(t.days, accs{w: make([]acc, t.w.nD)})
	}
}

// pod adds one incarnation's running time, piece by piece: each piece lies
// in one scrape cell, takes the values of that cell's scrape (or of the
// first scrape for the leading piece before it) and the prices of the cell
// it lies in.
func (t *truther) pod(p *pod, slots []int) {
	lo, hi := max(p.start, t.f.start), min(p.end, t.f.end)
	if lo >= hi {
		return
	}
	g := t.f.grid
	nd := t.c.nodes[p.node]
	first := g.firstAt(p.start)
	share := 1 / float64(len(p.containers))
	for x := lo; x < hi; {
		k := g.cell(x)
		y := min((k+1)*g.iv, hi)
		vk := max(k, first)
		h, d := t.w.hour(x), t.w.day(x)
		dur := float64(y - x)
		cpuP, ramP, gpuP := nd.prices(k)
		rx, tx := p.rx.rate(vk)*dur*share, p.tx.rate(vk)*dur*share
		for ci := range p.containers {
			ct := &p.containers[ci]
			u, m := ct.cpu.rate(vk), ct.mem.at(vk)
			pc := piece{x: x, y: y, dur: dur, cpuReq: ct.cpuReq, cpuUse: u, memReq: ct.memReq, memUse: m,
				gpus: ct.gpus, cpuP: cpuP, ramP: ramP, gpuP: gpuP, rx: rx, tx: tx}
			pc.add(t.hours[slots[ci]].at(h))
			if d >= 0 {
				pc.add(t.days[slots[ci]].at(d))
			}
			for _, v := range p.pvcs {
				t.addPV(slots[ci], h, d, v, dur*share)
			}
		}
		for _, v := range p.pvcs {
			t.mountH[v][h] += y - x
			if d >= 0 {
				t.mountD[v][d] += y - x
			}
		}
		x = y
	}
	t.podLB(p, slots, lo, hi)
}

// piece is one container's values over [x, y).
type piece struct {
	x, y                     int64
	dur                      float64
	cpuReq, cpuUse           float64
	memReq, memUse           float64
	gpus                     float64
	cpuP, ramP, gpuP, rx, tx float64
}

func (pc *piece) add(a *acc) {
	a.addTime(pc.x, pc.y)
	cpuAlloc, memAlloc := max(pc.cpuReq, pc.cpuUse), max(pc.memReq, pc.memUse)
	a.cpuReq += pc.cpuReq * pc.dur
	a.cpuUse += pc.cpuUse * pc.dur
	a.cpuAlloc += cpuAlloc * pc.dur
	a.cpuCost += cpuAlloc * pc.dur / 3600 * pc.cpuP
	a.ramReq += pc.memReq * pc.dur
	a.ramUse += pc.memUse * pc.dur
	a.ramAlloc += memAlloc * pc.dur
	a.ramCost += memAlloc / gib * pc.dur / 3600 * pc.ramP
	a.gpuSec += pc.gpus * pc.dur
	a.gpuCost += pc.gpus * pc.dur / 3600 * pc.gpuP
	a.rx += pc.rx
	a.tx += pc.tx
}

// addPV charges a container its share (weight = seconds / containers) of a
// mounted claim: the claim's requested bytes at the volume's price.
func (t *truther) addPV(slot, h, d, pvcIdx int, weight float64) {
	v := t.c.pvcs[pvcIdx]
	price := t.c.pvs[v.pv].price
	byteSec := v.bytes * weight
	cost := v.bytes / gib * weight / 3600 * price
	t.hours[slot].at(h).addPV(pvcIdx, byteSec, cost)
	if d >= 0 {
		t.days[slot].at(d).addPV(pvcIdx, byteSec, cost)
	}
}

func (t *truther) emitContainer(p *pod, name, res string, s *accs) error {
	sort.Ints(s.touched)
	for _, i := range s.touched {
		a := &s.w[i]
		if a.seconds == 0 {
			continue
		}
		row := t.containerRow(p, name, t.w.window(res, i), a)
		t.charge(p.node, res, i, row)
		if err := t.emit(row); err != nil {
			return err
		}
	}
	s.reset()
	return nil
}

func (t *truther) containerRow(p *pod, name string, win Window, a *acc) *ContainerTruth {
	secs := float64(a.seconds)
	row := &ContainerTruth{
		Kind: KindContainer, Window: win,
		Cluster: t.c.id, Node: t.c.nodes[p.node].name, Namespace: p.namespace, Pod: p.name, Container: name,
		ControllerKind: p.controllerKind, Controller: p.controller,
		Start: time.Unix(a.first, 0).UTC(), End: time.Unix(a.last, 0).UTC(), RunningSeconds: a.seconds,
		CPUCoreRequestAverage: a.cpuReq / secs, CPUCoreUsageAverage: a.cpuUse / secs,
		CPUCoreHours: a.cpuAlloc / 3600, CPUCost: a.cpuCost,
		RAMByteRequestAverage: a.ramReq / secs, RAMByteUsageAverage: a.ramUse / secs,
		RAMByteHours: a.ramAlloc / 3600, RAMCost: a.ramCost,
		GPURequestAverage: a.gpuSec / secs, GPUHours: a.gpuSec / 3600, GPUCost: a.gpuCost,
		NetworkReceiveBytes: a.rx, NetworkTransmitBytes: a.tx,
		LoadBalancerCost: a.lbCost,
	}
	for _, v := range a.pvs {
		pvName := t.c.pvs[t.c.pvcs[v.pvc].pv].name
		row.PVs = append(row.PVs, PVTruth{
			Key: "cluster=" + t.c.id + ":name=" + pvName, PersistentVolumeClaim: t.c.pvcs[v.pvc].name,
			PersistentVolume: pvName, ByteHours: v.byteSec / 3600, Cost: v.cost,
		})
		row.PVByteHours += v.byteSec / 3600
		row.PVCost += v.cost
	}
	row.TotalCost = row.CPUCost + row.RAMCost + row.GPUCost + row.PVCost + row.LoadBalancerCost
	return row
}

// charge adds a container record to its node's and cluster's sums.
func (t *truther) charge(node int, res string, i int, row *ContainerTruth) {
	nc, ca := &t.nodeH[node][i], &t.clusterH[i]
	if res == Daily {
		nc, ca = &t.nodeD[node][i], &t.clusterD[i]
	}
	nc.cpu += row.CPUCost
	nc.ram += row.RAMCost
	nc.gpu += row.GPUCost
	ca.containerCost += row.TotalCost
	ca.rx += row.NetworkReceiveBytes
	ca.tx += row.NetworkTransmitBytes
}
