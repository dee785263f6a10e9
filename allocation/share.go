package allocation

// Shared costs: shared namespaces, shared labels and a fixed overhead, shared out
// over the workload rows. See ShareOptions for the rules.

// SharedSuffix names the row that keeps shared cost nobody could receive.
const SharedSuffix = "__shared__"

// sharePlan is the shared pool and what its coefficients are taken over.
type sharePlan struct {
	pool    float64 // everything to share: shared rows' cost and the overhead
	even    bool
	weights float64 // weighted: Σ receiving rows' weights
	keys    int     // even: number of output keys with receiving rows
	keyRows []int32 // even: receiving rows per output key
	// remainder is the index of the __shared__ row when no row can receive, else
	// -1.
	remainder int32
}

// planShare gathers the pool and the totals coefficients are taken over.
func (q *query) planShare() {
	if !q.opts.Share.active() {
		return
	}
	p := &sharePlan{
		pool:      q.opts.Share.CostPerHour * q.window.Duration().Hours(),
		even:      q.opts.Share.Split == ShareEven,
		remainder: -1,
	}
	if p.even {
		p.keyRows = make([]int32, len(q.keys.names))
	}
	for i := range q.rows {
		switch q.class[i] {
		case rowShared:
			p.pool += q.costWithIdle(i)
		case rowWorkload:
			p.count(q, i)
		}
	}
	if p.pool != 0 && ((p.even && p.keys == 0) || (!p.even && p.weights <= 0)) {
		p.remainder = q.intern(SharedSuffix)
	}
	q.share = p
}

func (p *sharePlan) count(q *query, i int) {
	if !p.even {
		p.weights += q.shareWeight(i)
		return
	}
	k := q.key[i]
	if p.keyRows[k] == 0 {
		p.keys++
	}
	p.keyRows[k]++
}

// costWithIdle is row i's total cost including the idle shared into it.
func (q *query) costWithIdle(i int) float64 {
	t := q.rows[i].TotalCost()
	if q.idle != nil && q.opts.Idle.Share != ShareNone {
		cost, _ := q.idle.shareOf(q, i)
		for _, c := range cost {
			t += c
		}
	}
	return t
}

// shareWeight is what a workload row weighs when shared cost is split weighted:
// its cost (with shared idle) less the shared cost it already carries; never
// negative.
func (q *query) shareWeight(i int) float64 {
	return max(0, q.costWithIdle(i)-q.rows[i].SharedCost)
}

// portion is the shared cost workload row i receives.
func (p *sharePlan) portion(q *query, i int) float64 {
	switch {
	case p.remainder >= 0 || p.pool == 0:
		return 0
	case p.even:
		return p.pool / float64(p.keys*int(p.keyRows[q.key[i]]))
	}
	return p.pool * q.shareWeight(i) / p.weights
}

// addSharedRemainder puts the pool in a __shared__ row when nobody received it.
func (q *query) addSharedRemainder() {
	if q.share == nil || q.share.remainder < 0 {
		return
	}
	w := q.window
	row := Allocation{Name: SharedSuffix, Window: w, Start: w.Start, End: w.End, SharedCost: q.share.pool}
	q.sums[q.share.remainder].add(&row)
}
