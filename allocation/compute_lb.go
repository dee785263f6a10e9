package allocation

import (
	"net/netip"
	"sort"
)

// lbState is one load balancer (a service with an ingress address).
type lbState struct {
	key    objKey
	ip     string
	prices [][]Sample
	price  stepCurve // merged prices, set by chargeLB
	life   lifeSpans
}

// computeLoadBalancers splits each load balancer's cost, over time, evenly
// among the running pods its service selects (then among each pod's
// containers); while it selects none, its cost goes to its namespace's
// unmounted row.
func (c *computation) computeLoadBalancers() {
	lbs := map[objKey]*lbState{}
	var order []*lbState
	for _, s := range c.series(mLBCost) {
		k := objKey{c.cluster(s.Labels), s.Labels["namespace"], s.Labels["service_name"]}
		lb := lbs[k]
		if lb == nil {
			lb = &lbState{key: k}
			lbs[k] = lb
			order = append(order, lb)
		}
		if ip := s.Labels["ingress_ip"]; ip != "" {
			lb.ip = ip
		}
		lb.prices = append(lb.prices, s.Samples)
	}
	if len(order) == 0 {
		return
	}
	sort.Slice(order, func(i, j int) bool { return lessObj(order[i].key, order[j].key) })
	c.lbs = order
	byNS := map[nsKey][]*podState{}
	for _, p := range c.podOrder {
		if len(p.life) > 0 {
			k := nsKey{p.key.cluster, p.key.namespace}
			byNS[k] = append(byNS[k], p)
		}
	}
	for _, lb := range order {
		c.chargeLB(lb, byNS[nsKey{lb.key.cluster, lb.key.namespace}])
	}
}

func (c *computation) chargeLB(lb *lbState, nsPods []*podState) {
	samples := mergeSamples(lb.prices)
	lb.price = newStepCurve(cleanPrices(samples))
	lb.life = sampleLife(samples, c.ws, c.we, c.step)
	price, life := &lb.price, lb.life
	var match map[string]string
	for _, s := range c.meta.selectors[nsKey{lb.key.cluster, lb.key.namespace}] {
		if s.name == lb.key.name {
			match = s.match
		}
	}
	var pods []*podState
	var members []lifeSpans
	for _, p := range nsPods {
		c.resolvePod(p)
		if selectorMatches(match, p.labels) {
			pods = append(pods, p)
			members = append(members, p.life)
		}
	}
	// OpenCost's key names the cluster (two clusters' services of one name
	// are two load balancers); Service is "<namespace>/<service>".
	service := lb.key.namespace + "/" + lb.key.name
	key := LBKey(lb.key.cluster, service)
	private := isPrivateIP(lb.ip)
	costs := make([]float64, len(pods))
	hours := make([]float64, len(pods))
	hp := 0
	sharedSegments(life, members, func(x, y int64, active []int) {
		cost := price.integral(x, y, &hp)
		if len(active) == 0 {
			a := c.unmountedRow(lb.key.cluster, "")
			extend(a, x, y)
			addLB(a, LBAllocation{Key: key, Service: service, Cost: cost, Private: private, IP: lb.ip, Hours: float64(y-x) / msPerHour})
			a.LoadBalancerCost += cost
			return
		}
		n := float64(len(active))
		for _, i := range active {
			costs[i] += cost / n
			hours[i] += float64(y-x) / msPerHour
		}
	})
	for i, p := range pods {
		rows := p.rowContainers()
		if len(rows) == 0 || costs[i] == 0 {
			continue
		}
		n := float64(len(rows))
		for _, ct := range rows {
			addLB(&ct.row, LBAllocation{Key: key, Service: service, Cost: costs[i] / n, Private: private, IP: lb.ip, Hours: hours[i]})
			ct.row.LoadBalancerCost += costs[i] / n
		}
	}
}

func addLB(a *Allocation, lb LBAllocation) {
	for i := range a.LoadBalancers {
		if a.LoadBalancers[i].Key == lb.Key {
			a.LoadBalancers[i].Cost += lb.Cost
			a.LoadBalancers[i].Hours += lb.Hours
			return
		}
	}
	a.LoadBalancers = append(a.LoadBalancers, lb)
}

// isPrivateIP reports whether an ingress address is private (RFC 1918,
// RFC 4193, loopback or link-local).
func isPrivateIP(s string) bool {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	return ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast()
}
