package allocation

import "time"

const gibibyte = 1 << 30

// ctrState is one container name of one pod: the samples of its series
// (incarnations merged) and its row.
type ctrState struct {
	key      ctrKey
	pod      *podState
	node     string
	nodePrio int // priority of the series that named node

	reqCPU, reqRAM, reqGPU       []Sample
	cpuAlloc, ramAlloc, gpuAlloc []Sample
	cpuUsage, ramUsage           []Sample
	cpuUsageIsRate               bool

	lists [8][][]Sample // series lists before merging, indexed by the field constants
	row   Allocation
}

const (
	fReqCPU = iota
	fReqRAM
	fReqGPU
	fCPUAlloc
	fRAMAlloc
	fGPUAlloc
	fCPUUsage
	fRAMUsage
)

func (c *computation) container(k ctrKey) *ctrState {
	ct := c.containers[k]
	if ct == nil {
		p := c.pod(k.podKey)
		ct = &ctrState{key: k, pod: p}
		c.containers[k] = ct
		c.ctrOrder = append(c.ctrOrder, ct)
		p.containers = append(p.containers, ct)
	}
	return ct
}

func (c *computation) ctrKeyOf(ls map[string]string) ctrKey {
	name := ls["container"]
	if name == "" {
		name = ls["container_name"]
	}
	return ctrKey{c.podKeyOf(ls), name}
}

// buildContainers files every container series under its container.
func (c *computation) buildContainers() {
	for _, s := range c.series(mRunning) {
		c.container(c.ctrKeyOf(s.Labels))
	}
	for _, s := range c.series(mRequests) {
		f := -1
		switch s.Labels["resource"] {
		case "cpu":
			f = fReqCPU
		case "memory":
			f = fReqRAM
		case "nvidia_com_gpu", "nvidia.com/gpu":
			f = fReqGPU
		}
		if f >= 0 {
			c.addContainerSeries(s, f, 2)
		}
	}
	c.addContainerMetric(mCPUAlloc, fCPUAlloc, 3)
	c.addContainerMetric(mRAMAlloc, fRAMAlloc, 3)
	c.addContainerMetric(mGPUAlloc, fGPUAlloc, 3)
	c.addContainerMetric(mCPUUsage, fCPUUsage, 1)
	c.addContainerMetric(mRAMUsage, fRAMUsage, 1)
	rule := len(c.series(mCPUUsageRule)) > 0
	if rule {
		c.addContainerMetric(mCPUUsageRule, fCPUUsage, 1)
	}
	if len(c.series(mRAMUsageRule)) > 0 {
		c.addContainerMetric(mRAMUsageRule, fRAMUsage, 1)
	}
	for _, ct := range c.ctrOrder {
		ct.reqCPU, ct.reqRAM, ct.reqGPU = mergeSamples(ct.lists[fReqCPU]), mergeSamples(ct.lists[fReqRAM]), mergeSamples(ct.lists[fReqGPU])
		ct.cpuAlloc, ct.ramAlloc, ct.gpuAlloc = mergeSamples(ct.lists[fCPUAlloc]), mergeSamples(ct.lists[fRAMAlloc]), mergeSamples(ct.lists[fGPUAlloc])
		ct.cpuUsage, ct.ramUsage = mergeSamples(ct.lists[fCPUUsage]), mergeSamples(ct.lists[fRAMUsage])
		ct.cpuUsageIsRate = rule
		ct.lists = [8][][]Sample{}
	}
	for _, p := range c.podOrder {
		c.fallbackPodLife(p)
		for _, ct := range p.containers {
			if p.node == "" {
				p.node = ct.node
			}
		}
	}
}

func (c *computation) addContainerMetric(metric string, field, nodePriority int) {
	for _, s := range c.series(metric) {
		c.addContainerSeries(s, field, nodePriority)
	}
}

// addContainerSeries files s; the node label of the series with the highest
// priority names the container's node (exporter, then kube-state-metrics,
// then cAdvisor).
func (c *computation) addContainerSeries(s Series, field, nodePriority int) {
	k := c.ctrKeyOf(s.Labels)
	if k.container == "" || k.container == "POD" {
		return
	}
	ct := c.container(k)
	ct.lists[field] = append(ct.lists[field], s.Samples)
	if n := s.Labels["node"]; n != "" && nodePriority > ct.nodePrio {
		ct.node, ct.nodePrio = n, nodePriority
	}
}

// computeContainers computes every container's row.
func (c *computation) computeContainers() {
	for _, ct := range c.ctrOrder {
		ct.row = Allocation{}
		if ct.pod.life.millis() == 0 {
			continue
		}
		c.computeContainer(ct)
	}
}

func (c *computation) computeContainer(ct *ctrState) {
	p := ct.pod
	l := p.life
	hours := float64(l.millis()) / msPerHour
	node := ct.node
	if node == "" {
		node = p.node
	}
	nd := c.node(nodeKey{ct.key.cluster, node})
	nd.used = true
	a := &ct.row
	s, e := l.bounds()
	*a = Allocation{
		Name:   joinName(ct.key.cluster, node, ct.key.namespace, ct.key.pod, ct.key.container),
		Window: c.w, Start: time.UnixMilli(s).UTC(), End: time.UnixMilli(e).UTC(),
		PriceSource: nd.source,
	}
	c.fillProperties(a, ct, node, nd)

	reqCPU, reqRAM := newStepCurve(ct.reqCPU), newStepCurve(ct.reqRAM)
	allocCPU := newStepCurve(ct.cpuAlloc)

	// CPU usage per piece, and CPU allocation.
	var usageInt, usageMax float64
	var cpuHours, cpuCost float64
	hr, ha, hp := 0, 0, 0
	c.cpuRates(ct, func(pc piece, rate float64) {
		if pc.next < 0 && !allocCPU.empty() {
			if al := allocCPU.at(ct.cpuUsage[pc.j].T, &ha); al > reqCPU.at(ct.cpuUsage[pc.j].T, &hr)*(1+1e-9) {
				rate = al
			}
		}
		d := float64(pc.b - pc.a)
		usageInt += rate * d
		usageMax = max(usageMax, rate)
		if len(ct.cpuAlloc) == 0 {
			v := max(reqCPU.at(pc.a, &hr), rate)
			cpuHours += v * d
			cpuCost += v * nd.cpuPrice.integral(pc.a, pc.b, &hp)
		}
	})
	if len(ct.cpuAlloc) > 0 {
		l.eachPiece(ct.cpuAlloc, func(pc piece) {
			v := ct.cpuAlloc[pc.j].V
			cpuHours += v * float64(pc.b-pc.a)
			cpuCost += v * nd.cpuPrice.integral(pc.a, pc.b, &hp)
		})
	} else if len(ct.cpuUsage) == 0 {
		l.eachPiece(ct.reqCPU, func(pc piece) {
			v := ct.reqCPU[pc.j].V
			cpuHours += v * float64(pc.b-pc.a)
			cpuCost += v * nd.cpuPrice.integral(pc.a, pc.b, &hp)
		})
	}
	a.CPUCoreHours = cpuHours / msPerHour
	a.CPUCost = cpuCost
	a.CPUCoreRequestAverage = l.integral(ct.reqCPU) / hours
	a.CPUCoreUsageAverage = usageInt / msPerHour / hours
	a.CPUCoreUsageMax = usageMax

	c.computeRAM(ct, nd, &reqRAM, hours)
	c.computeGPU(ct, nd, hours)
}

// cpuRates walks the pieces of the container's CPU usage with the usage
// rate (cores) of each (see counterRates; the recording rule's series holds
// rates already).
func (c *computation) cpuRates(ct *ctrState, fn func(pc piece, rate float64)) {
	if ct.cpuUsageIsRate {
		ct.pod.life.eachPiece(ct.cpuUsage, func(pc piece) { fn(pc, ct.cpuUsage[pc.j].V) })
		return
	}
	counterRates(ct.pod.life, ct.cpuUsage, fn)
}

// counterRates walks the pieces of a counter with the rate per second of
// each: the increase to the next sample of the same incarnation divided by
// the time between them (a drop is a restart: the new value is the
// increase). A last piece has no next sample: it takes the previous piece's
// rate, or for a one-sample incarnation with a known start the counter's
// value over the time since the start.
func counterRates(l lifeSpans, ss []Sample, fn func(pc piece, rate float64)) {
	prev := 0.0
	l.eachPiece(ss, func(pc piece) {
		var rate float64
		switch {
		case pc.next >= 0:
			dv := ss[pc.next].V - ss[pc.j].V
			if dv < 0 {
				dv = ss[pc.next].V
			}
			if dt := ss[pc.next].T - ss[pc.j].T; dt > 0 {
				rate = dv / (float64(dt) / 1000)
			}
		case !pc.first:
			rate = prev
		case pc.span.hasStart && ss[pc.j].T > pc.span.start:
			rate = ss[pc.j].V / (float64(ss[pc.j].T-pc.span.start) / 1000)
		}
		prev = rate
		fn(pc, rate)
	})
}

// counterIntegral is the amount a counter accumulated over a life.
func counterIntegral(l lifeSpans, ss []Sample) float64 {
	var sum float64
	counterRates(l, ss, func(pc piece, rate float64) { sum += rate * float64(pc.b-pc.a) / 1000 })
	return sum
}

func (c *computation) computeRAM(ct *ctrState, nd *nodeState, reqRAM *stepCurve, hours float64) {
	l := ct.pod.life
	a := &ct.row
	var byteHours, cost, usageMax float64
	hp, hr := 0, 0
	add := func(v float64, pc piece) {
		byteHours += v * float64(pc.b-pc.a)
		cost += v / gibibyte * nd.ramPrice.integral(pc.a, pc.b, &hp)
	}
	switch {
	case len(ct.ramAlloc) > 0:
		l.eachPiece(ct.ramAlloc, func(pc piece) { add(ct.ramAlloc[pc.j].V, pc) })
	case len(ct.ramUsage) > 0:
		l.eachPiece(ct.ramUsage, func(pc piece) { add(max(ct.ramUsage[pc.j].V, reqRAM.at(pc.a, &hr)), pc) })
	default:
		l.eachPiece(ct.reqRAM, func(pc piece) { add(ct.reqRAM[pc.j].V, pc) })
	}
	l.eachPiece(ct.ramUsage, func(pc piece) { usageMax = max(usageMax, ct.ramUsage[pc.j].V) })
	a.RAMByteHours = byteHours / msPerHour
	a.RAMCost = cost
	a.RAMBytesRequestAverage = l.integral(ct.reqRAM) / hours
	a.RAMBytesUsageAverage = l.integral(ct.ramUsage) / hours
	a.RAMBytesUsageMax = usageMax
}

func (c *computation) computeGPU(ct *ctrState, nd *nodeState, hours float64) {
	l := ct.pod.life
	a := &ct.row
	ss := ct.gpuAlloc
	if len(ss) == 0 {
		ss = ct.reqGPU
	}
	var gpuHours, cost float64
	hp := 0
	l.eachPiece(ss, func(pc piece) {
		v := ss[pc.j].V
		gpuHours += v * float64(pc.b-pc.a)
		cost += v * nd.gpuPrice.integral(pc.a, pc.b, &hp)
	})
	a.GPUHours = gpuHours / msPerHour
	a.GPUCost = cost
	req := ct.reqGPU
	if len(req) == 0 {
		req = ct.gpuAlloc
	}
	a.GPURequestAverage = l.integral(req) / hours
}
