package allocation

import (
	"math"
	"strings"
	"time"
)

// nodeState is one node: its prices, capacity and life, and what its
// containers were allocated.
type nodeState struct {
	key                          nodeKey
	cpuPrice, ramPrice, gpuPrice stepCurve
	source                       string
	providerID, instanceType     string
	spot                         bool
	capCPU, capRAM, capGPU       []Sample
	life                         lifeSpans
	used                         bool

	lists [6][][]Sample // price and capacity series before merging

	allocCPUCost, allocRAMCost, allocGPUCost float64
	allocCPUHours, allocRAMHours, allocGPU   float64

	// Capacity cost and hours over the node's life (resCPU, resGPU,
	// resRAM), set by nodeCapacities.
	capCost, capHours resources
}

const (
	nCPUPrice = iota
	nRAMPrice
	nGPUPrice
	nCapCPU
	nCapRAM
	nCapGPU
)

func (c *computation) nodeKeyOf(ls map[string]string) nodeKey {
	n := ls["node"]
	if n == "" {
		n = ls["instance"]
	}
	return nodeKey{c.cluster(ls), n}
}

// nodeEntry returns the node, creating it when new; a node created after
// buildNodes gets fallback prices.
func (c *computation) nodeEntry(k nodeKey) *nodeState {
	nd := c.nodes[k]
	if nd == nil {
		nd = &nodeState{key: k}
		c.nodes[k] = nd
		c.nodeOrder = append(c.nodeOrder, nd)
	}
	return nd
}

// node returns a node with its prices set.
func (c *computation) node(k nodeKey) *nodeState {
	nd := c.nodeEntry(k)
	if nd.source == "" {
		c.finishNode(nd)
	}
	return nd
}

// buildNodes reads prices, capacities and labels of every node.
func (c *computation) buildNodes() {
	c.readMetadata()
	for _, m := range []struct {
		metric string
		field  int
	}{{mCPUPrice, nCPUPrice}, {mRAMPrice, nRAMPrice}, {mGPUPrice, nGPUPrice}, {mCapacityCPUv1, nCapCPU}, {mCapacityRAMv1, nCapRAM}, {mGPUCount, nCapGPU}} {
		for _, s := range c.series(m.metric) {
			nd := c.nodeEntry(c.nodeKeyOf(s.Labels))
			nd.lists[m.field] = append(nd.lists[m.field], s.Samples)
			if v := s.Labels["provider_id"]; v != "" {
				nd.providerID = v
			}
			if v := s.Labels["instance_type"]; v != "" {
				nd.instanceType = v
			}
		}
	}
	// Capacity from kube-state-metrics v2 replaces the v1 names and the GPU count.
	v2 := map[nodeKey]map[int]bool{}
	for _, s := range c.series(mCapacity) {
		f := -1
		switch s.Labels["resource"] {
		case "cpu":
			f = nCapCPU
		case "memory":
			f = nCapRAM
		case "nvidia_com_gpu", "nvidia.com/gpu":
			f = nCapGPU
		}
		if f < 0 {
			continue
		}
		k := c.nodeKeyOf(s.Labels)
		nd := c.nodeEntry(k)
		if v2[k] == nil {
			v2[k] = map[int]bool{}
		}
		if !v2[k][f] {
			nd.lists[f], v2[k][f] = nil, true
		}
		nd.lists[f] = append(nd.lists[f], s.Samples)
	}
	for _, s := range c.series(mSpot) {
		if n := len(s.Samples); n > 0 && s.Samples[n-1].V == 1 {
			c.nodeEntry(c.nodeKeyOf(s.Labels)).spot = true
		}
	}
	for k, ls := range c.meta.nodeLabels {
		nd := c.nodeEntry(k)
		if nd.instanceType == "" {
			nd.instanceType = firstLabel(ls, "node_kubernetes_io_instance_type", "beta_kubernetes_io_instance_type")
		}
		if isSpotNode(ls) {
			nd.spot = true
		}
	}
	for _, nd := range c.nodeOrder {
		c.finishNode(nd)
	}
}

func firstLabel(ls map[string]string, names ...string) string {
	for _, n := range names {
		if v := ls[n]; v != "" {
			return v
		}
	}
	return ""
}

// isSpotNode recognises the spot labels of EKS, Karpenter, GKE and AKS.
func isSpotNode(ls map[string]string) bool {
	return strings.EqualFold(ls["eks_amazonaws_com_capacity_type"], "spot") ||
		ls["karpenter_sh_capacity_type"] == "spot" ||
		ls["cloud_google_com_gke_spot"] == "true" ||
		ls["cloud_google_com_gke_preemptible"] == "true" ||
		ls["kubernetes_azure_com_scalesetpriority"] == "spot"
}

// finishNode merges the node's series, sets its prices (the exporter's, or
// the price table's for resources it has no price for) and its life.
func (c *computation) finishNode(nd *nodeState) {
	merged := [6][]Sample{}
	for i := range nd.lists {
		merged[i] = mergeSamples(nd.lists[i])
	}
	nd.lists = [6][][]Sample{}
	nd.capCPU, nd.capRAM, nd.capGPU = merged[nCapCPU], merged[nCapRAM], merged[nCapGPU]
	table := c.prices.For(nd.instanceType)
	cpuP, ramP := table.CPUCoreHour, table.RAMGiBHour
	if nd.spot {
		cpuP, ramP = table.SpotCPUCoreHour, table.SpotRAMGiBHour
	}
	nd.source = PriceSourceConfig
	if validPrices(merged[nCPUPrice]) {
		nd.source = PriceSourceMetrics
		nd.cpuPrice = newStepCurve(cleanPrices(merged[nCPUPrice]))
	} else {
		nd.cpuPrice = constCurve(c.ws, cpuP)
	}
	if validPrices(merged[nRAMPrice]) {
		nd.ramPrice = newStepCurve(cleanPrices(merged[nRAMPrice]))
	} else {
		nd.ramPrice = constCurve(c.ws, ramP)
	}
	if len(merged[nGPUPrice]) > 0 {
		nd.gpuPrice = newStepCurve(cleanPrices(merged[nGPUPrice]))
	} else {
		nd.gpuPrice = constCurve(c.ws, table.GPUHour)
	}
	// The node's life comes from its capacity series: without capacity
	// there is nothing to compute idle from.
	life := nd.capCPU
	if len(life) == 0 {
		life = nd.capRAM
	}
	nd.life = sampleLife(life, c.ws, c.we, c.step)
	// kube_node_created gives the exact start of a node that joined in the
	// window (within the step before its first sample).
	if t, ok := c.meta.nodeCreated[nd.key]; ok && len(nd.life) > 0 && len(life) > 0 {
		if first := &nd.life[0]; t > first.s-c.step && t <= life[0].T && t < first.e {
			first.s = max(t, c.ws)
			first.start = first.s
		}
	}
}

// validPrices: a price series with some positive, finite value.
func validPrices(ss []Sample) bool {
	for _, s := range ss {
		if s.V > 0 && !math.IsInf(s.V, 0) {
			return true
		}
	}
	return false
}

// cleanPrices replaces NaN and infinite prices by 0, in a copy when there
// are any (the caller's samples are not modified).
func cleanPrices(ss []Sample) []Sample {
	var out []Sample
	for i := range ss {
		if math.IsNaN(ss[i].V) || math.IsInf(ss[i].V, 0) {
			if out == nil {
				out = append([]Sample(nil), ss...)
			}
			out[i].V = 0
		}
	}
	if out == nil {
		return ss
	}
	return out
}

// chargeNode adds a container row to its node's allocated sums.
func (c *computation) chargeNodes() {
	for _, ct := range c.ctrOrder {
		a := &ct.row
		if a.Name == "" {
			continue
		}
		nd := c.nodes[nodeKey{ct.key.cluster, a.Properties.Node}]
		if nd == nil {
			continue
		}
		nd.allocCPUCost += a.CPUCost
		nd.allocRAMCost += a.RAMCost
		nd.allocGPUCost += a.GPUCost
		nd.allocCPUHours += a.CPUCoreHours
		nd.allocRAMHours += a.RAMByteHours
		nd.allocGPU += a.GPUHours
	}
}

// nodeCapacities sets every node's capacity cost and hours, the numbers
// both its asset and its idle row come from, and charges the nodes with
// their containers' allocations.
func (c *computation) nodeCapacities() {
	c.chargeNodes()
	for _, nd := range c.nodeOrder {
		if nd.key.node == "" || len(nd.life) == 0 {
			continue
		}
		nd.capCost[resCPU], nd.capHours[resCPU] = c.capacity(nd, nd.capCPU, &nd.cpuPrice, 1)
		nd.capCost[resRAM], nd.capHours[resRAM] = c.capacity(nd, nd.capRAM, &nd.ramPrice, gibibyte)
		nd.capCost[resGPU], nd.capHours[resGPU] = c.capacity(nd, nd.capGPU, &nd.gpuPrice, 1)
	}
}

// idleRows returns one idle row per node with capacity metrics: capacity ×
// price over the node's life, minus what its containers were allocated, per
// resource. Idle is never negative: an overage is clamped to zero and
// reported as a warning. nodeCapacities must have run.
func (c *computation) idleRows() []Allocation {
	var out []Allocation
	for _, nd := range c.nodeOrder {
		if nd.key.node == "" {
			continue
		}
		if len(nd.life) == 0 {
			if nd.used {
				c.warnf("node %s/%s: no capacity metrics, no idle row", nd.key.cluster, nd.key.node)
			}
			continue
		}
		s, e := nd.life.bounds()
		a := Allocation{
			Name:       joinName(nd.key.cluster, nd.key.node, IdleSuffix),
			Properties: Properties{Cluster: nd.key.cluster, Node: nd.key.node, ProviderID: nd.providerID},
			Window:     c.w, Start: time.UnixMilli(s).UTC(), End: time.UnixMilli(e).UTC(),
			PriceSource: nd.source,
		}
		a.CPUCost = c.idle(nd, "CPU", nd.capCost[resCPU], nd.allocCPUCost)
		a.RAMCost = c.idle(nd, "RAM", nd.capCost[resRAM], nd.allocRAMCost)
		a.GPUCost = c.idle(nd, "GPU", nd.capCost[resGPU], nd.allocGPUCost)
		a.CPUCoreHours = max(nd.capHours[resCPU]-nd.allocCPUHours, 0)
		a.RAMByteHours = max(nd.capHours[resRAM]-nd.allocRAMHours, 0)
		a.GPUHours = max(nd.capHours[resGPU]-nd.allocGPU, 0)
		out = append(out, a)
	}
	return out
}

// capacity is ∫ capacity × price over the node's life, and ∫ capacity.
func (c *computation) capacity(nd *nodeState, capSS []Sample, price *stepCurve, unit float64) (cost, qty float64) {
	hp := 0
	nd.life.eachPiece(capSS, func(pc piece) {
		v := capSS[pc.j].V
		qty += v * float64(pc.b-pc.a)
		cost += v / unit * price.integral(pc.a, pc.b, &hp)
	})
	return cost, qty / msPerHour
}

// idle is capacity − allocated, clamped at zero with a warning when the
// allocations exceed the capacity by more than rounding.
func (c *computation) idle(nd *nodeState, res string, capacity, allocated float64) float64 {
	d := capacity - allocated
	if d >= 0 {
		return d
	}
	if -d > 1e-9*max(capacity, 1) {
		c.warnf("node %s/%s: %s allocations exceed capacity by $%.6f (idle clamped to 0)", nd.key.cluster, nd.key.node, res, -d)
	}
	return 0
}
