package sim

import (
	"sort"
	"time"
)

// timeline is the number of running pods a service selects: n[i] over
// [ts[i], ts[i+1]), from the range start to its end.
type timeline struct {
	ts []int64
	n  []int
}

func selects(s *service, p *pod) bool {
	if p.namespace != s.namespace {
		return false
	}
	for _, l := range p.labels {
		if l == s.selector {
			return true
		}
	}
	return false
}

func (t *truther) timeline(s *service) timeline {
	type event struct {
		t int64
		d int
	}
	var evs []event
	for _, p := range t.c.pods {
		lo, hi := max(p.start, t.f.start), min(p.end, t.f.end)
		if lo < hi && selects(s, p) {
			evs = append(evs, event{lo, 1}, event{hi, -1})
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].t < evs[j].t })
	tl := timeline{ts: []int64{t.f.start}, n: []int{0}}
	cur := 0
	for i := 0; i < len(evs); {
		at := evs[i].t
		for ; i < len(evs) && evs[i].t == at; i++ {
			cur += evs[i].d
		}
		if last := len(tl.ts) - 1; tl.ts[last] == at {
			tl.n[last] = cur
		} else {
			tl.ts = append(tl.ts, at)
			tl.n = append(tl.n, cur)
		}
	}
	tl.ts = append(tl.ts, t.f.end)
	return tl
}

// segments calls fn for each piece of [a, b) with a constant count.
func (tl *timeline) segments(a, b int64, fn func(x, y int64, n int)) {
	i := sort.Search(len(tl.n), func(i int) bool { return tl.ts[i+1] > a })
	for ; i < len(tl.n) && tl.ts[i] < b; i++ {
		x, y := max(a, tl.ts[i]), min(b, tl.ts[i+1])
		if x < y {
			fn(x, y, tl.n[i])
		}
	}
}

// podLB charges a pod its share of every load balancer selecting it: at
// each instant the price is split evenly among the running pods the
// selector matches, and a pod's share evenly among its containers.
func (t *truther) podLB(p *pod, slots []int, lo, hi int64) {
	for si := range t.c.services {
		s := &t.c.services[si]
		if !selects(s, p) {
			continue
		}
		perContainer := s.price / float64(len(p.containers))
		t.lines[si].segments(lo, hi, func(x, y int64, n int) {
			t.w.splitHours(x, y, func(h, d int, a, b int64) {
				share := perContainer * float64(b-a) / 3600 / float64(n)
				for _, slot := range slots {
					t.hours[slot].at(h).lbCost += share
					if d >= 0 {
						t.days[slot].at(d).lbCost += share
					}
				}
			})
		})
	}
}

var resolutions = []string{Hourly, Daily}

func (t *truther) count(res string) int {
	if res == Hourly {
		return t.w.nH
	}
	return t.w.nD
}

func (t *truther) clusterAcc(res string, i int) *clusterAcc {
	if res == Hourly {
		return &t.clusterH[i]
	}
	return &t.clusterD[i]
}

// nodes emits each node's capacity cost, allocated cost and idle.
func (t *truther) nodes() error {
	for ni, nd := range t.c.nodes {
		for _, res := range resolutions {
			for i := 0; i < t.count(res); i++ {
				row := t.nodeRow(ni, nd, res, i)
				if row == nil {
					continue // the node did not exist in the window
				}
				ca := t.clusterAcc(res, i)
				ca.nodeCap.cpu += row.CPUCost
				ca.nodeCap.ram += row.RAMCost
				ca.nodeCap.gpu += row.GPUCost
				ca.alloc.cpu += row.AllocatedCPUCost
				ca.alloc.ram += row.AllocatedRAMCost
				ca.alloc.gpu += row.AllocatedGPUCost
				if err := t.emit(row); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// nodeRow is a node's record of a window, nil when it did not exist then.
// Each piece of its life is charged the prices of its scrape cell.
func (t *truther) nodeRow(ni int, nd *node, res string, i int) *NodeTruth {
	s, e := t.w.bounds(res, i)
	s = max(s, nd.joined)
	if s >= e {
		return nil
	}
	g := t.f.grid
	var capCost costs
	for k := g.cell(s); k*g.iv < e; k++ {
		cpuP, ramP, gpuP := nd.prices(k)
		hours := float64(min((k+1)*g.iv, e)-max(k*g.iv, s)) / 3600
		capCost.cpu += nd.cores * cpuP * hours
		capCost.ram += nd.memBytes / gib * ramP * hours
		capCost.gpu += float64(nd.gpus) * gpuP * hours
	}
	alloc := t.nodeH[ni][i]
	if res == Daily {
		alloc = t.nodeD[ni][i]
	}
	row := &NodeTruth{
		Kind: KindNode, Window: t.w.window(res, i), Cluster: t.c.id, Node: nd.name,
		InstanceType: nd.instanceType, ProviderID: nd.providerID, Spot: nd.spot,
		Start: time.Unix(s, 0).UTC(), End: time.Unix(e, 0).UTC(), RunningSeconds: e - s, CPUCores: nd.cores, RAMBytes: nd.memBytes, GPUCount: float64(nd.gpus),
		CPUCost: capCost.cpu, RAMCost: capCost.ram, GPUCost: capCost.gpu,
		AllocatedCPUCost: alloc.cpu, AllocatedRAMCost: alloc.ram, AllocatedGPUCost: alloc.gpu,
		IdleCPUCost: capCost.cpu - alloc.cpu, IdleRAMCost: capCost.ram - alloc.ram, IdleGPUCost: capCost.gpu - alloc.gpu,
	}
	row.TotalCost = row.CPUCost + row.RAMCost + row.GPUCost
	row.IdleCost = row.IdleCPUCost + row.IdleRAMCost + row.IdleGPUCost
	return row
}

// unmounted emits the cost of volumes no running pod mounts and of load
// balancers selecting no running pod, and sums every volume's and load
// balancer's cost into the cluster's.
func (t *truther) unmounted() error {
	for _, res := range resolutions {
		for i := 0; i < t.count(res); i++ {
			if err := t.unmountedWindow(res, i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *truther) unmountedWindow(res string, i int) error {
	s, e := t.w.bounds(res, i)
	ca := t.clusterAcc(res, i)
	win := t.w.window(res, i)
	for vi, v := range t.c.pvs {
		ca.pvCost += v.bytes / gib * v.price * float64(e-s) / 3600
		disk := &DiskTruth{Kind: KindDisk, Window: win, Cluster: t.c.id, PersistentVolume: v.name,
			ProviderID: v.providerID, StorageClass: v.storageClass, Bytes: v.bytes,
			ByteHours: v.bytes * float64(e-s) / 3600, Cost: v.bytes / gib * v.price * float64(e-s) / 3600}
		if v.claim >= 0 {
			disk.ClaimNamespace, disk.ClaimName = t.c.pvcs[v.claim].namespace, t.c.pvcs[v.claim].name
		}
		if err := t.emit(disk); err != nil {
			return err
		}
		secs, ns, claim := e-s, "", ""
		if v.claim >= 0 {
			mounted := t.mountH[v.claim][i]
			if res == Daily {
				mounted = t.mountD[v.claim][i]
			}
			secs -= mounted
			ns, claim = t.c.pvcs[v.claim].namespace, t.c.pvcs[v.claim].name
		}
		if secs <= 0 {
			continue
		}
		bytes := v.bytes
		if v.claim >= 0 {
			bytes = t.c.pvcs[v.claim].bytes
		}
		cost := bytes / gib * v.price * float64(secs) / 3600
		ca.unmountedPV += cost
		row := &UnmountedTruth{Kind: KindUnmounted, Window: win, Cluster: t.c.id, Type: UnmountedPV,
			Namespace: ns, Name: claim, PersistentVolume: t.c.pvs[vi].name, Seconds: secs,
			ByteHours: bytes * float64(secs) / 3600, Cost: cost}
		if err := t.emit(row); err != nil {
			return err
		}
	}
	for si := range t.c.services {
		svc := &t.c.services[si]
		ca.lbCost += svc.price * float64(e-s) / 3600
		lb := &LoadBalancerTruth{Kind: KindLB, Window: win, Cluster: t.c.id, Namespace: svc.namespace,
			Service: svc.name, IP: svc.ingressIP, Cost: svc.price * float64(e-s) / 3600}
		if err := t.emit(lb); err != nil {
			return err
		}
		var secs int64
		t.lines[si].segments(s, e, func(x, y int64, n int) {
			if n == 0 {
				secs += y - x
			}
		})
		if secs == 0 {
			continue
		}
		cost := svc.price * float64(secs) / 3600
		ca.unmountedLB += cost
		row := &UnmountedTruth{Kind: KindUnmounted, Window: win, Cluster: t.c.id, Type: UnmountedLoadBalancer,
			Namespace: svc.namespace, Name: svc.name, Seconds: secs, Cost: cost}
		if err := t.emit(row); err != nil {
			return err
		}
	}
	return nil
}

// clusters emits the cluster sums.
func (t *truther) clusters() error {
	for _, res := range resolutions {
		for i := 0; i < t.count(res); i++ {
			ca := t.clusterAcc(res, i)
			row := &ClusterTruth{
				Kind: KindCluster, Window: t.w.window(res, i), Cluster: t.c.id,
				NodeCPUCost: ca.nodeCap.cpu, NodeRAMCost: ca.nodeCap.ram, NodeGPUCost: ca.nodeCap.gpu,
				AllocatedCPUCost: ca.alloc.cpu, AllocatedRAMCost: ca.alloc.ram, AllocatedGPUCost: ca.alloc.gpu,
				IdleCPUCost: ca.nodeCap.cpu - ca.alloc.cpu, IdleRAMCost: ca.nodeCap.ram - ca.alloc.ram,
				IdleGPUCost: ca.nodeCap.gpu - ca.alloc.gpu,
				PVCost:      ca.pvCost, UnmountedPVCost: ca.unmountedPV,
				LoadBalancerCost: ca.lbCost, UnmountedLoadBalancerCost: ca.unmountedLB,
				NetworkReceiveBytes: ca.rx, NetworkTransmitBytes: ca.tx,
				ContainerCost: ca.containerCost,
			}
			row.NodeCost = row.NodeCPUCost + row.NodeRAMCost + row.NodeGPUCost
			row.IdleCost = row.IdleCPUCost + row.IdleRAMCost + row.IdleGPUCost
			row.TotalCost = row.NodeCost + row.PVCost + row.LoadBalancerCost
			if err := t.emit(row); err != nil {
				return err
			}
		}
	}
	return nil
}
