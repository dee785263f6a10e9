package allocation

import (
	"sort"
	"time"
)

// volumeState is one persistent volume: its price, capacity and life.
type volumeState struct {
	key        objKey // namespace empty
	price      stepCurve
	capacity   stepCurve
	life       lifeSpans
	providerID string
	claimed    bool
	source     string     // price source
	claim      objKey     // the claim bound to it, when known
	claimBytes *stepCurve // that claim's requested bytes
	used       []Sample   // kubelet's reports of the claim's used bytes
}

// claimState is one claim, its bytes and the pods mounting it.
type claimState struct {
	key    objKey
	pv     string
	bytes  stepCurve
	mounts map[*podState][][]Sample // pod → its pod_pvc_allocation samples
}

// sharedSegments cuts owner's life at every boundary of the members' lives
// and calls fn for each segment with the members alive over it.
func sharedSegments(owner lifeSpans, members []lifeSpans, fn func(x, y int64, active []int)) {
	var cuts []int64
	for _, sp := range owner {
		cuts = append(cuts, sp.s, sp.e)
	}
	for _, m := range members {
		for _, sp := range m {
			cuts = append(cuts, sp.s, sp.e)
		}
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i] < cuts[j] })
	var active []int
	oi := 0
	for i := 0; i+1 < len(cuts); i++ {
		x, y := cuts[i], cuts[i+1]
		if y <= x {
			continue
		}
		for oi < len(owner) && owner[oi].e <= x {
			oi++
		}
		if oi >= len(owner) {
			break
		}
		if owner[oi].s > x {
			continue
		}
		active = active[:0]
		for mi, m := range members {
			if m.covers(x) {
				active = append(active, mi)
			}
		}
		fn(x, y, active)
	}
}

// covers reports whether t lies in the life.
func (l lifeSpans) covers(t int64) bool {
	i := sort.Search(len(l), func(i int) bool { return l[i].e > t })
	return i < len(l) && l[i].s <= t
}

// within returns the spans of l that contain at least one sample.
func (l lifeSpans) within(ss []Sample) lifeSpans {
	var out lifeSpans
	for _, sp := range l {
		i := sort.Search(len(ss), func(i int) bool { return ss[i].T >= sp.s })
		if i < len(ss) && ss[i].T < sp.e {
			out = append(out, sp)
		}
	}
	return out
}

func (c *computation) volumeKeyOf(ls map[string]string) objKey {
	v := ls["persistentvolume"]
	if v == "" {
		v = ls["volumename"]
	}
	return objKey{c.cluster(ls), "", v}
}

// computeVolumes charges every claim's cost, over time, to the pods that
// mount it (evenly among the pods mounted at once, then among each pod's
// containers); what no running pod carries, and volumes without claims, go
// to unmounted rows.
func (c *computation) computeVolumes() {
	vols := map[objKey]*volumeState{}
	var volOrder []*volumeState
	vol := func(k objKey) *volumeState {
		v := vols[k]
		if v == nil {
			v = &volumeState{key: k}
			vols[k] = v
			volOrder = append(volOrder, v)
		}
		return v
	}
	priceLists, capLists := map[objKey][][]Sample{}, map[objKey][][]Sample{}
	for _, s := range c.series(mPVPrice) {
		k := c.volumeKeyOf(s.Labels)
		v := vol(k)
		priceLists[k] = append(priceLists[k], s.Samples)
		if id := s.Labels["provider_id"]; id != "" {
			v.providerID = id
		}
	}
	for _, s := range c.series(mPVBytes) {
		k := c.volumeKeyOf(s.Labels)
		vol(k)
		capLists[k] = append(capLists[k], s.Samples)
	}
	claims := map[objKey]*claimState{}
	var claimOrder []*claimState
	claim := func(k objKey) *claimState {
		cl := claims[k]
		if cl == nil {
			cl = &claimState{key: k, pv: c.meta.pvcVolume[k], mounts: map[*podState][][]Sample{}}
			claims[k] = cl
			claimOrder = append(claimOrder, cl)
		}
		return cl
	}
	for k := range c.meta.pvcVolume {
		claim(k)
	}
	bytesLists := map[objKey][][]Sample{}
	for _, s := range c.series(mPVCBytes) {
		k := objKey{c.cluster(s.Labels), s.Labels["namespace"], s.Labels["persistentvolumeclaim"]}
		bytesLists[k] = append(bytesLists[k], s.Samples)
	}
	usedLists := map[objKey][][]Sample{}
	for _, s := range c.series(mPVCUsed) {
		k := objKey{c.cluster(s.Labels), s.Labels["namespace"], s.Labels["persistentvolumeclaim"]}
		usedLists[k] = append(usedLists[k], s.Samples)
	}
	for _, s := range c.series(mPodPVC) {
		k := objKey{c.cluster(s.Labels), s.Labels["namespace"], s.Labels["persistentvolumeclaim"]}
		cl := claim(k)
		if cl.pv == "" {
			cl.pv = s.Labels["persistentvolume"]
		}
		if p := c.pods[c.podKeyOf(s.Labels)]; p != nil {
			cl.mounts[p] = append(cl.mounts[p], s.Samples)
		}
	}
	sort.Slice(claimOrder, func(i, j int) bool { return lessObj(claimOrder[i].key, claimOrder[j].key) })
	for _, v := range volOrder {
		prices := mergeSamples(priceLists[v.key])
		caps := mergeSamples(capLists[v.key])
		v.capacity = newStepCurve(caps)
		v.source = PriceSourceMetrics
		if validPrices(prices) {
			v.price = newStepCurve(cleanPrices(prices))
		} else {
			v.price, v.source = constCurve(c.ws, c.prices.Default.PVGiBHour), PriceSourceConfig
		}
		life := prices
		if len(life) == 0 {
			life = caps
		}
		v.life = sampleLife(life, c.ws, c.we, c.step)
	}
	for _, cl := range claimOrder {
		if cl.pv == "" {
			continue
		}
		v := vol(objKey{cl.key.cluster, "", cl.pv})
		if v.price.empty() {
			v.price, v.source = constCurve(c.ws, c.prices.Default.PVGiBHour), PriceSourceConfig
		}
		v.claimed = true
		v.claim = cl.key
		cl.bytes = newStepCurve(mergeSamples(bytesLists[cl.key]))
		if cl.bytes.empty() {
			cl.bytes = v.capacity
		}
		v.claimBytes = &cl.bytes
		v.used = mergeSamples(usedLists[cl.key])
		c.chargeClaim(cl, v)
	}
	c.volumes = volOrder
	for _, v := range volOrder {
		if v.claimed || len(v.life) == 0 {
			continue
		}
		for _, sp := range v.life {
			c.addUnmountedPV(objKey{v.key.cluster, "", ""}, v, &v.capacity, sp.s, sp.e)
		}
	}
}

func lessObj(a, b objKey) bool {
	if a.cluster != b.cluster {
		return a.cluster < b.cluster
	}
	if a.namespace != b.namespace {
		return a.namespace < b.namespace
	}
	return a.name < b.name
}

// chargeClaim shares a claim's cost among the pods mounting it.
func (c *computation) chargeClaim(cl *claimState, v *volumeState) {
	pods := make([]*podState, 0, len(cl.mounts))
	for p := range cl.mounts {
		pods = append(pods, p)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].key.pod < pods[j].key.pod })
	members := make([]lifeSpans, len(pods))
	for i, p := range pods {
		members[i] = p.life.within(mergeSamples(cl.mounts[p]))
	}
	owner := v.life
	if len(owner) == 0 {
		owner = lifeSpans{{s: c.ws, e: c.we}}
	}
	byteHours := make([]float64, len(pods))
	costs := make([]float64, len(pods))
	hb := 0
	sharedSegments(owner, members, func(x, y int64, active []int) {
		if len(active) == 0 {
			c.addUnmountedPV(objKey{cl.key.cluster, cl.key.namespace, ""}, v, &cl.bytes, x, y)
			return
		}
		n := float64(len(active))
		bh := cl.bytes.integral(x, y, &hb) / n
		cost := productIntegral(&cl.bytes, &v.price, x, y) / gibibyte / n
		for _, i := range active {
			byteHours[i] += bh
			costs[i] += cost
		}
	})
	pvKey := "cluster=" + cl.key.cluster + ":name=" + cl.pv
	for i, p := range pods {
		rows := p.rowContainers()
		if len(rows) == 0 || (byteHours[i] == 0 && costs[i] == 0) {
			continue
		}
		n := float64(len(rows))
		for _, ct := range rows {
			addPV(&ct.row, PVAllocation{Key: pvKey, ByteHours: byteHours[i] / n, Cost: costs[i] / n, ProviderID: v.providerID})
		}
	}
}

// rowContainers are the pod's containers that have a row.
func (p *podState) rowContainers() []*ctrState {
	out := make([]*ctrState, 0, len(p.containers))
	for _, ct := range p.containers {
		if ct.row.Name != "" {
			out = append(out, ct)
		}
	}
	return out
}

// addPV adds a volume share to a row, merging shares of the same volume.
func addPV(a *Allocation, pv PVAllocation) {
	for i := range a.PVs {
		if a.PVs[i].Key == pv.Key {
			a.PVs[i].ByteHours += pv.ByteHours
			a.PVs[i].Cost += pv.Cost
			return
		}
	}
	a.PVs = append(a.PVs, pv)
}

// unmountedRow returns the unmounted row of a namespace, or of the
// cluster when namespace is "". As in OpenCost, a namespace's row is pod
// "<namespace>-unmounted-pvcs" and carries its claims while no running pod
// mounts them; the cluster's row (namespace and pod __unmounted__) carries
// volumes without a claim and load balancers that select no running pod.
func (c *computation) unmountedRow(cluster, namespace string) *Allocation {
	k := podKey{cluster, namespace, ""}
	a := c.unmounted[k]
	if a == nil {
		ns, pod := UnmountedSuffix, UnmountedSuffix
		if namespace != "" {
			ns, pod = namespace, namespace+UnmountedPVCsSuffix
		}
		a = &Allocation{
			Name:        joinName(cluster, UnmountedSuffix, ns, pod, UnmountedSuffix),
			Properties:  Properties{Cluster: cluster, Namespace: ns, Pod: pod, Container: UnmountedSuffix},
			Window:      c.w,
			PriceSource: PriceSourceMetrics,
		}
		c.unmounted[k] = a
	}
	return a
}

// extend widens a row's running time to cover [x, y).
func extend(a *Allocation, x, y int64) {
	xs, ys := time.UnixMilli(x).UTC(), time.UnixMilli(y).UTC()
	if a.Start.IsZero() || xs.Before(a.Start) {
		a.Start = xs
	}
	if ys.After(a.End) {
		a.End = ys
	}
}

func (c *computation) addUnmountedPV(k objKey, v *volumeState, bytes *stepCurve, x, y int64) {
	a := c.unmountedRow(k.cluster, k.namespace)
	if v.source == PriceSourceConfig {
		a.PriceSource = PriceSourceConfig
	}
	hb := 0
	extend(a, x, y)
	addPV(a, PVAllocation{
		Key:        "cluster=" + v.key.cluster + ":name=" + v.key.name,
		ByteHours:  bytes.integral(x, y, &hb),
		Cost:       productIntegral(bytes, &v.price, x, y) / gibibyte,
		ProviderID: v.providerID,
	})
}

// unmountedRows returns the unmounted rows.
func (c *computation) unmountedRows() []Allocation {
	out := make([]Allocation, 0, len(c.unmounted))
	for _, a := range c.unmounted {
		sort.Slice(a.PVs, func(i, j int) bool { return a.PVs[i].Key < a.PVs[j].Key })
		sort.Slice(a.LoadBalancers, func(i, j int) bool { return a.LoadBalancers[i].Key < a.LoadBalancers[j].Key })
		out = append(out, *a)
	}
	return out
}
