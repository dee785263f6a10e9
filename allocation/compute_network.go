package allocation

// computeNetwork charges each pod's received and transmitted bytes (the
// cAdvisor pod-level counters, every interface) evenly to its containers,
// and, when the network-costs daemonset's counters and the egress prices
// exist, the cost of its cross-zone, cross-region and internet egress.
func (c *computation) computeNetwork() {
	type podBytes struct{ rx, tx, zone, region, internet float64 }
	acc := map[*podState]*podBytes{}
	get := func(ls map[string]string) *podBytes {
		p := c.pods[c.podKeyOf(ls)]
		if p == nil || len(p.life) == 0 {
			return nil
		}
		b := acc[p]
		if b == nil {
			b = &podBytes{}
			acc[p] = b
		}
		return b
	}
	for _, s := range c.series(mNetRx) {
		if b := get(s.Labels); b != nil {
			b.rx += counterIntegral(c.pods[c.podKeyOf(s.Labels)].life, s.Samples)
		}
	}
	for _, s := range c.series(mNetTx) {
		if b := get(s.Labels); b != nil {
			b.tx += counterIntegral(c.pods[c.podKeyOf(s.Labels)].life, s.Samples)
		}
	}
	for _, s := range c.series(mEgressBytes) {
		b := get(s.Labels)
		if b == nil {
			continue
		}
		gib := counterIntegral(c.pods[c.podKeyOf(s.Labels)].life, s.Samples) / gibibyte
		switch {
		case s.Labels["internet"] == "true":
			b.internet += gib
		case s.Labels["same_zone"] == "false" && s.Labels["same_region"] == "true":
			b.zone += gib
		case s.Labels["same_zone"] == "false" && s.Labels["same_region"] == "false":
			b.region += gib
		}
	}
	zone, region, internet := c.egressPrices(mZoneEgress), c.egressPrices(mRegionEgress), c.egressPrices(mInternetEgress)
	for _, p := range c.podOrder {
		b := acc[p]
		if b == nil {
			continue
		}
		rows := p.rowContainers()
		if len(rows) == 0 {
			continue
		}
		n := float64(len(rows))
		zc, rc, ic := b.zone*zone[p.key.cluster]/n, b.region*region[p.key.cluster]/n, b.internet*internet[p.key.cluster]/n
		for _, ct := range rows {
			a := &ct.row
			a.NetworkReceiveBytes += b.rx / n
			a.NetworkTransferBytes += b.tx / n
			a.NetworkCrossZoneCost += zc
			a.NetworkCrossRegionCost += rc
			a.NetworkInternetCost += ic
			a.NetworkCost += zc + rc + ic
		}
	}
}

// egressPrices returns each cluster's last $/GiB of an egress price metric.
func (c *computation) egressPrices(metric string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range c.series(metric) {
		if n := len(s.Samples); n > 0 {
			out[c.cluster(s.Labels)] = s.Samples[n-1].V
		}
	}
	return out
}
