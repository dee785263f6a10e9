package allocation

import (
	"errors"
	"math"
	"sort"
	"time"

	"github.com/costfed/costfed/asset"
)

// computeAssets returns the window's assets, sorted by key, from the state
// the allocation pass built; rows are the container rows (for network
// egress). It sets the nodes' capacities, which idleRows then uses.
func (c *computation) computeAssets(rows []Allocation) []asset.Asset {
	c.nodeCapacities()
	var out []asset.Asset
	clusterLife := map[string]lifeSpans{}
	for _, nd := range c.nodeOrder {
		if nd.key.node == "" || len(nd.life) == 0 {
			continue
		}
		out = append(out, c.nodeAsset(nd))
		clusterLife[nd.key.cluster] = unionLife(clusterLife[nd.key.cluster], nd.life)
	}
	for _, v := range c.volumes {
		if a, ok := c.diskAsset(v); ok {
			out = append(out, a)
		}
	}
	for _, lb := range c.lbs {
		if len(lb.life) == 0 {
			continue
		}
		out = append(out, c.lbAsset(lb))
	}
	out = append(out, c.networkAssets(rows)...)
	if fee := c.prices.ClusterManagementHour; fee > 0 {
		for cluster, life := range clusterLife {
			out = append(out, c.managementAsset(cluster, life, fee))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

func (c *computation) assetWindow() asset.Window {
	return asset.Window{Start: c.w.Start, End: c.w.End}
}

// base is an asset of kind k over life.
func (c *computation) base(k asset.Kind, cluster, name string, life lifeSpans) asset.Asset {
	s, e := life.bounds()
	return asset.Asset{
		Kind:       k,
		Properties: asset.Properties{Cluster: cluster, Name: name},
		Window:     c.assetWindow(),
		Start:      time.UnixMilli(s).UTC(), End: time.UnixMilli(e).UTC(),
		Hours:       float64(life.millis()) / msPerHour,
		PriceSource: PriceSourceMetrics,
	}
}

func (c *computation) nodeAsset(nd *nodeState) asset.Asset {
	a := c.base(asset.KindNode, nd.key.cluster, nd.key.node, nd.life)
	a.Properties.ProviderID = nd.providerID
	a.Labels = copyLabels(c.meta.nodeLabels[nd.key])
	a.PriceSource = nd.source
	a.NodeType = nd.instanceType
	a.Preemptible = nd.spot
	a.CPUCoreHours = nd.capHours[resCPU]
	a.RAMByteHours = nd.capHours[resRAM]
	a.GPUHours = nd.capHours[resGPU]
	a.CPUCost = nd.capCost[resCPU]
	a.RAMCost = nd.capCost[resRAM]
	a.GPUCost = nd.capCost[resGPU]
	a.CPUCostAllocated = nd.allocCPUCost
	a.RAMCostAllocated = nd.allocRAMCost
	a.GPUCostAllocated = nd.allocGPUCost
	return a
}

// diskAsset is a volume's capacity (else its claim's requested bytes) at
// its price over its life; a volume seen only through a claim (no volume
// series) has no life and no asset.
func (c *computation) diskAsset(v *volumeState) (asset.Asset, bool) {
	if len(v.life) == 0 || v.key.name == "" {
		return asset.Asset{}, false
	}
	bytes := &v.capacity
	if bytes.empty() && v.claimBytes != nil {
		bytes = v.claimBytes
	}
	if bytes.empty() {
		return asset.Asset{}, false
	}
	a := c.base(asset.KindDisk, v.key.cluster, v.key.name, v.life)
	a.Properties.ProviderID = v.providerID
	a.PriceSource = v.source
	a.VolumeName = v.key.name
	a.ClaimName, a.ClaimNamespace = v.claim.name, v.claim.namespace
	a.StorageClass = c.meta.pvClass[v.key]
	a.Local = c.meta.pvLocal[v.key]
	if a.StorageClass == "" && v.claimed {
		a.StorageClass = c.meta.pvcClass[v.claim]
	}
	for _, sp := range v.life {
		hb := 0
		a.ByteHours += bytes.integral(sp.s, sp.e, &hb)
		a.Cost += productIntegral(bytes, &v.price, sp.s, sp.e) / gibibyte
	}
	a.ByteHoursUsed, a.ByteUsageMax = c.diskUsage(v, a.Hours)
	return a, true
}

// diskUsage is a disk's usage over the window from kubelet's reports, which
// exist only while a pod mounts the claim: the reports' time-weighted
// average (each report standing for its step, as every gauge here) times
// the disk's hours, as OpenCost carries measured usage over the disk's
// life, and the largest report. Both are nil without reports.
func (c *computation) diskUsage(v *volumeState, hours float64) (byteHours, peak *float64) {
	if len(v.used) == 0 {
		return nil, nil
	}
	reported := sampleLife(v.used, c.ws, c.we, c.step)
	ms := reported.millis()
	if ms <= 0 {
		return nil, nil
	}
	avg := reported.integral(v.used) / (float64(ms) / msPerHour)
	top := v.used[0].V
	for _, s := range v.used[1:] {
		top = max(top, s.V)
	}
	bh := avg * hours
	return &bh, &top
}

func (c *computation) lbAsset(lb *lbState) asset.Asset {
	a := c.base(asset.KindLoadBalancer, lb.key.cluster, lb.key.namespace+"/"+lb.key.name, lb.life)
	a.IP = lb.ip
	a.Private = isPrivateIP(lb.ip)
	hp := 0
	for _, sp := range lb.life {
		a.Cost += lb.price.integral(sp.s, sp.e, &hp)
	}
	return a
}

// networkAssets are one asset per cluster whose containers were charged
// egress cost: the sum of their network cost, over the span of those rows.
func (c *computation) networkAssets(rows []Allocation) []asset.Asset {
	type acc struct {
		cost       float64
		start, end time.Time
	}
	sums := map[string]*acc{}
	for i := range rows {
		r := &rows[i]
		if r.NetworkCost == 0 {
			continue
		}
		s := sums[r.Properties.Cluster]
		if s == nil {
			s = &acc{start: r.Start, end: r.End}
			sums[r.Properties.Cluster] = s
		}
		s.cost += r.NetworkCost
		if r.Start.Before(s.start) {
			s.start = r.Start
		}
		if r.End.After(s.end) {
			s.end = r.End
		}
	}
	out := make([]asset.Asset, 0, len(sums))
	for cluster, s := range sums {
		a := c.base(asset.KindNetwork, cluster, "", lifeSpans{{s: millis(s.start), e: millis(s.end)}})
		a.Cost = s.cost
		out = append(out, a)
	}
	return out
}

// managementAsset is a cluster's management fee over the time any of its
// nodes existed in the window.
func (c *computation) managementAsset(cluster string, life lifeSpans, fee float64) asset.Asset {
	a := c.base(asset.KindClusterManagement, cluster, "", life)
	a.PriceSource = PriceSourceConfig
	a.Cost = fee * a.Hours
	return a
}

// unionLife merges two lives into one.
func unionLife(a, b lifeSpans) lifeSpans {
	all := make(lifeSpans, 0, len(a)+len(b))
	all = append(all, a...)
	all = append(all, b...)
	sort.Slice(all, func(i, j int) bool { return all[i].s < all[j].s })
	var out lifeSpans
	for _, sp := range all {
		if n := len(out); n > 0 && sp.s <= out[n-1].e {
			out[n-1].e = max(out[n-1].e, sp.e)
			continue
		}
		out = append(out, lifeSpan{s: sp.s, e: sp.e, start: sp.s})
	}
	return out
}

func copyLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// checkAssetFinite rejects NaN or infinite quantities.
func checkAssetFinite(a *asset.Asset) error {
	for _, v := range []float64{a.Hours, a.CPUCoreHours, a.RAMByteHours, a.GPUHours, a.CPUCost, a.RAMCost, a.GPUCost,
		a.CPUCostAllocated, a.RAMCostAllocated, a.GPUCostAllocated, a.ByteHours, a.Cost} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("asset " + a.Key() + " has a non-finite quantity")
		}
	}
	return nil
}
