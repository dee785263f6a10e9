package allocation

// Idle: sharing idle into the rows it belongs to, and scaling unshared idle to a
// filter. See IdleOptions and AggregateOptions for the rules.

// resource indexes the resources idle is computed for.
type resource int

const (
	resCPU resource = iota
	resGPU
	resRAM
	numResources
)

// resources holds one number per resource.
type resources [numResources]float64

func (r *resources) add(o resources) {
	for i := range r {
		r[i] += o[i]
	}
}

// resourceCosts is a row's total cost (cost + adjustment) of each resource.
func resourceCosts(a *Allocation) resources {
	return resources{resCPU: a.CPUTotalCost(), resGPU: a.GPUTotalCost(), resRAM: a.RAMTotalCost()}
}

// resourceHours is a row's core-hours, GPU-hours and byte-hours.
func resourceHours(a *Allocation) resources {
	return resources{resCPU: a.CPUCoreHours, resGPU: a.GPUHours, resRAM: a.RAMByteHours}
}

// addIdleShare adds shared idle to a row: to each resource's cost and hours, and
// to its CostIdle record.
func addIdleShare(a *Allocation, cost, hours resources) {
	a.CPUCost += cost[resCPU]
	a.CPUCostIdle += cost[resCPU]
	a.CPUCoreHours += hours[resCPU]
	a.GPUCost += cost[resGPU]
	a.GPUCostIdle += cost[resGPU]
	a.GPUHours += hours[resGPU]
	a.RAMCost += cost[resRAM]
	a.RAMCostIdle += cost[resRAM]
	a.RAMByteHours += hours[resRAM]
}

// scaleResources multiplies each resource's costs and hours by f.
func scaleResources(a *Allocation, f resources) {
	a.CPUCost *= f[resCPU]
	a.CPUCostAdjustment *= f[resCPU]
	a.CPUCostIdle *= f[resCPU]
	a.CPUCoreHours *= f[resCPU]
	a.GPUCost *= f[resGPU]
	a.GPUCostAdjustment *= f[resGPU]
	a.GPUCostIdle *= f[resGPU]
	a.GPUHours *= f[resGPU]
	a.RAMCost *= f[resRAM]
	a.RAMCostAdjustment *= f[resRAM]
	a.RAMCostIdle *= f[resRAM]
	a.RAMByteHours *= f[resRAM]
}

// idleKey is the output name of an idle row.
func (q *query) idleKey(a *Allocation) string {
	o := q.opts.Idle
	switch {
	case len(q.opts.By) == 0:
		return a.Name
	case !o.Split:
		return IdleSuffix
	case o.ByNode:
		return orUnallocated(a.Properties.Cluster) + "/" + orUnallocated(a.Properties.Node) + "/" + IdleSuffix
	}
	return orUnallocated(a.Properties.Cluster) + "/" + IdleSuffix
}

func orUnallocated(s string) string {
	if s == "" {
		return Unallocated
	}
	return s
}

// idleGroupKey names an idle group: a cluster, or a node of a cluster.
type idleGroupKey struct{ cluster, node string }

// idleGroup is the accounting of one group.
type idleGroup struct {
	receiving resources // Σ cost over rows that can receive idle: workload and shared rows
	visible   resources // Σ cost over workload rows, which the answer can show
	kept      resources // Σ cost over workload rows the filter keeps
	idleCost  resources // Σ idle rows' cost
	idleHours resources // Σ idle rows' hours
	keyRows   map[int32]int32
}

// idlePlan holds the per-group accounting idle sharing and filtering need.
type idlePlan struct {
	groups  []idleGroup
	index   map[idleGroupKey]int32
	groupOf []int32 // per row; -1 for rows in no group
}

// planIdle does the per-group accounting when idle is shared or scaled to a
// filter; when idle rows are only summed it does nothing.
func (q *query) planIdle() {
	if !q.hasIdle || (q.opts.Idle.Share == ShareNone && q.opts.Filter.IsEmpty()) {
		return
	}
	p := &idlePlan{index: make(map[idleGroupKey]int32), groupOf: make([]int32, len(q.rows))}
	for i := range q.rows {
		c := q.class[i]
		if c == rowDropped || c == rowUnmounted {
			p.groupOf[i] = -1
			continue
		}
		a := &q.rows[i]
		g := p.groupFor(a, q.opts.Idle.ByNode)
		p.groupOf[i] = g
		p.account(&p.groups[g], q, i, c)
	}
	q.idle = p
}

func (p *idlePlan) groupFor(a *Allocation, byNode bool) int32 {
	k := idleGroupKey{cluster: a.Properties.Cluster}
	if byNode {
		k.node = a.Properties.Node
	}
	if g, ok := p.index[k]; ok {
		return g
	}
	g := int32(len(p.groups))
	p.index[k] = g
	p.groups = append(p.groups, idleGroup{})
	return g
}

func (p *idlePlan) account(g *idleGroup, q *query, i int, c rowClass) {
	a := &q.rows[i]
	if c == rowIdle {
		g.idleCost.add(resourceCosts(a))
		g.idleHours.add(resourceHours(a))
		return
	}
	cost := resourceCosts(a)
	g.receiving.add(cost)
	if q.opts.Idle.Share == ShareEven {
		if g.keyRows == nil {
			g.keyRows = make(map[int32]int32)
		}
		g.keyRows[q.key[i]]++
	}
	if c != rowWorkload {
		return
	}
	g.visible.add(cost)
	if q.passes(i) {
		g.kept.add(cost)
	}
}

// shareOf is the idle cost and hours row i (a workload or shared row) receives.
func (p *idlePlan) shareOf(q *query, i int) (cost, hours resources) {
	g := &p.groups[p.groupOf[i]]
	own := resourceCosts(&q.rows[i])
	for r := range numResources {
		if g.receiving[r] == 0 {
			continue // nobody was charged for r: its idle stays idle
		}
		var f float64
		if q.opts.Idle.Share == ShareEven {
			f = 1 / float64(len(g.keyRows)*int(g.keyRows[q.key[i]]))
		} else {
			f = own[r] / g.receiving[r]
		}
		cost[r] = g.idleCost[r] * f
		hours[r] = g.idleHours[r] * f
	}
	return cost, hours
}

// keptFraction is the part of an idle row's resource r the answer shows: none of
// what was shared out; with a filter, the kept rows' share of the group's cost.
func (p *idlePlan) keptFraction(q *query, g *idleGroup, r resource, a *Allocation) float64 {
	switch {
	case q.opts.Idle.Share != ShareNone && g.receiving[r] != 0:
		return 0
	case q.opts.Filter.IsEmpty():
		return 1
	case g.visible[r] != 0:
		return g.kept[r] / g.visible[r]
	case q.opts.Filter.Matches(a):
		return 1
	}
	return 0
}

// addIdle sums idle row i, or what is left of it, into its idle output row.
func (q *query) addIdle(i int) {
	a := &q.rows[i]
	s := &q.sums[q.key[i]]
	if q.idle == nil {
		s.add(a)
		return
	}
	g := &q.idle.groups[q.idle.groupOf[i]]
	var f resources
	cost, hours := resourceCosts(a), resourceHours(a)
	whole, none := true, true // keeps all of it; keeps nothing that is not zero
	for r := range numResources {
		f[r] = q.idle.keptFraction(q, g, r, a)
		whole = whole && f[r] == 1
		none = none && (f[r] == 0 || (cost[r] == 0 && hours[r] == 0))
	}
	switch {
	case whole:
		s.add(a)
	case none && (a.TotalCost() == a.CPUTotalCost()+a.RAMTotalCost()+a.GPUTotalCost() || !q.opts.Filter.Matches(a)):
		// everything it had was shared out, or the filter excludes the rest
	default:
		// What sharing does not move (an idle row's volume, network or other
		// cost) stays on the idle row, so totals are conserved.
		c := *a
		scaleResources(&c, f)
		s.add(&c)
	}
}
