package allocation

import (
	"slices"
	"strings"
	"time"
)

// summer adds rows together under one name by the summing rules of
// reference/domain.md:
//
//   - hours, byte-hours, bytes and costs add;
//   - request and usage averages are weighted by running minutes, and the result is
//     divided by the minutes of the merged row, max(End) − min(Start). Concurrent
//     rows therefore add up (two containers requesting 2 cores each average 4), and
//     rows separated by a gap are diluted by it (2 cores for the first and last hour
//     of a 3-hour span average 1.33). This is OpenCost's rule; it keeps
//     average × minutes, the request core-hours, exact under any order of merging;
//   - usage maxima take the maximum;
//   - properties intersect: a value that differs between rows becomes empty, a label
//     survives only when every row has it with the same value. As in OpenCost,
//     unmounted rows (container "__unmounted__", which carry no labels or
//     annotations) are left out of the label, annotation and namespace label
//     intersections, so a namespace's unmounted volumes do not wipe its labels;
//   - volumes (PVs) and load balancers merge by key. A load balancer's key
//     is OpenCost's "<cluster>/<namespace>/<service>"; an older block's
//     "<namespace>/<service>" is qualified with its row's cluster, so two
//     clusters' services of one name stay apart. Its cost adds, but its hours
//     are not additive across the rows sharing it: rows of one window (that
//     ran side by side) take the maximum, and windows (consecutive, as
//     Accumulate requires) add. Rows of one load balancer that ran one after
//     the other in one window (a pod replaced mid-window) therefore show the
//     longest row's hours, not their sum: the rows do not say when in the
//     window each had the load balancer.
//
// A summer never writes to the rows it is given: maps and slices are shared with
// the first row until they must change, then copied, and finish copies whatever
// is still shared, so a summed row shares no memory with its inputs.
type summer struct {
	out Allocation
	n   int

	// Σ average × minutes, divided by the merged minutes when the summer finishes.
	cpuReq, cpuUse, gpuReq, gpuUse, ramReq, ramUse float64

	ownPVs, ownLBs bool // out.PVs / out.LoadBalancers are ours to modify

	// The intersections of the rows' label and annotation maps, kept as small
	// lists (cheaper to narrow than maps) and turned back into maps by finish.
	labels, annotations, nsLabels, nsAnnotations labelSet
	// metaSet says the label sets hold a row's maps: false until the first
	// row that is not unmounted.
	metaSet bool

	// Key → position in out.PVs / out.LoadBalancers, built once a list is long
	// enough for a linear search to hurt.
	pvIndex, lbIndex map[string]int

	// firstWindow is the first row's window; lbHours holds, per position in
	// out.LoadBalancers, the load balancer's hours per window (the maximum
	// over that window's rows), once a row with load balancers merged.
	firstWindow Window
	lbHours     [][]windowHours
}

// windowHours is a load balancer's hours in one window.
type windowHours struct {
	w     Window
	hours float64
}

// indexThreshold is the list length from which PV and LB merges use a map.
const indexThreshold = 16

// add merges a into the sum.
func (s *summer) add(a *Allocation) {
	if s.n == 0 {
		s.out = *a
		s.ownPVs, s.ownLBs = false, false
		s.pvIndex, s.lbIndex = nil, nil
		s.firstWindow, s.lbHours = a.Window, nil
		s.qualifyLBs(a.Properties.Cluster)
		s.metaSet = false
		s.addMeta(&a.Properties)
	} else {
		s.merge(a)
	}
	s.n++
	if a.CPUCoreRequestAverage == 0 && a.CPUCoreUsageAverage == 0 && a.GPURequestAverage == 0 &&
		a.GPUUsageAverage == 0 && a.RAMBytesRequestAverage == 0 && a.RAMBytesUsageAverage == 0 {
		return
	}
	m := a.Minutes()
	s.cpuReq += a.CPUCoreRequestAverage * m
	s.cpuUse += a.CPUCoreUsageAverage * m
	s.gpuReq += a.GPURequestAverage * m
	s.gpuUse += a.GPUUsageAverage * m
	s.ramReq += a.RAMBytesRequestAverage * m
	s.ramUse += a.RAMBytesUsageAverage * m
}

func (s *summer) merge(a *Allocation) {
	o := &s.out
	if o.Window != a.Window {
		o.Window = unionWindow(o.Window, a.Window)
	}
	o.Start, o.End = minTime(o.Start, a.Start), maxTime(o.End, a.End)
	addQuantities(o, a)
	o.CPUCoreUsageMax = max(o.CPUCoreUsageMax, a.CPUCoreUsageMax)
	o.RAMBytesUsageMax = max(o.RAMBytesUsageMax, a.RAMBytesUsageMax)
	intersectProperties(&o.Properties, &a.Properties)
	s.addMeta(&a.Properties)
	if o.PriceSource != a.PriceSource {
		o.PriceSource = ""
	}
	s.mergePVs(a.PVs)
	s.mergeLBs(a.LoadBalancers, a.Properties.Cluster, a.Window)
}

// addMeta narrows the label and annotation intersections by one row's maps;
// unmounted rows are skipped (OpenCost's AllocationProperties.Intersection).
func (s *summer) addMeta(p *Properties) {
	if p.Container == UnmountedSuffix {
		if !s.metaSet {
			s.labels.init(nil)
			s.annotations.init(nil)
			s.nsLabels.init(nil)
			s.nsAnnotations.init(nil)
		}
		return
	}
	if !s.metaSet {
		s.metaSet = true
		s.labels.init(p.Labels)
		s.annotations.init(p.Annotations)
		s.nsLabels.init(p.NamespaceLabels)
		s.nsAnnotations.init(p.NamespaceAnnotations)
		return
	}
	s.labels.intersect(p.Labels)
	s.annotations.intersect(p.Annotations)
	s.nsLabels.intersect(p.NamespaceLabels)
	s.nsAnnotations.intersect(p.NamespaceAnnotations)
}

// finish returns the merged row named name. Averages of a single row are kept as
// they are, so a row that merged with nothing comes out bit for bit unchanged
// (but for an older block's load balancer keys, qualified with the cluster).
func (s *summer) finish(name string) Allocation {
	o := s.out
	o.Name = name
	if s.n > 1 {
		m := o.Minutes()
		o.CPUCoreRequestAverage = perMinute(s.cpuReq, m)
		o.CPUCoreUsageAverage = perMinute(s.cpuUse, m)
		o.GPURequestAverage = perMinute(s.gpuReq, m)
		o.GPUUsageAverage = perMinute(s.gpuUse, m)
		o.RAMBytesRequestAverage = perMinute(s.ramReq, m)
		o.RAMBytesUsageAverage = perMinute(s.ramUse, m)
	}
	// The answer shares no memory with the inputs: copy what is still theirs.
	o.Properties.Services = slices.Clone(o.Properties.Services)
	o.Properties.Labels = s.labels.toMap()
	o.Properties.Annotations = s.annotations.toMap()
	o.Properties.NamespaceLabels = s.nsLabels.toMap()
	o.Properties.NamespaceAnnotations = s.nsAnnotations.toMap()
	if s.ownPVs {
		slices.SortFunc(o.PVs, func(a, b PVAllocation) int { return strings.Compare(a.Key, b.Key) })
	} else {
		o.PVs = slices.Clone(o.PVs)
	}
	if s.ownLBs {
		slices.SortFunc(o.LoadBalancers, func(a, b LBAllocation) int { return strings.Compare(a.Key, b.Key) })
	} else {
		o.LoadBalancers = slices.Clone(o.LoadBalancers)
	}
	return o
}

func perMinute(sum, minutes float64) float64 {
	if minutes <= 0 {
		return 0
	}
	return sum / minutes
}

// addQuantities adds every additive field of a to o.
func addQuantities(o, a *Allocation) {
	o.CPUCoreHours += a.CPUCoreHours
	o.CPUCost += a.CPUCost
	o.CPUCostAdjustment += a.CPUCostAdjustment
	o.CPUCostIdle += a.CPUCostIdle

	o.GPUHours += a.GPUHours
	o.GPUCost += a.GPUCost
	o.GPUCostAdjustment += a.GPUCostAdjustment
	o.GPUCostIdle += a.GPUCostIdle

	o.RAMByteHours += a.RAMByteHours
	o.RAMCost += a.RAMCost
	o.RAMCostAdjustment += a.RAMCostAdjustment
	o.RAMCostIdle += a.RAMCostIdle

	o.NetworkTransferBytes += a.NetworkTransferBytes
	o.NetworkReceiveBytes += a.NetworkReceiveBytes
	o.NetworkCost += a.NetworkCost
	o.NetworkCrossZoneCost += a.NetworkCrossZoneCost
	o.NetworkCrossRegionCost += a.NetworkCrossRegionCost
	o.NetworkInternetCost += a.NetworkInternetCost
	o.NetworkCostAdjustment += a.NetworkCostAdjustment

	o.LoadBalancerCost += a.LoadBalancerCost
	o.LoadBalancerCostAdjustment += a.LoadBalancerCostAdjustment
	o.PVCostAdjustment += a.PVCostAdjustment

	o.SharedCost += a.SharedCost
	o.ExternalCost += a.ExternalCost
}

// intersectProperties keeps in o only the strings and services a agrees with
// (maps are the summer's labelSets). It never writes into a slice of o: it may
// belong to a caller's row.
func intersectProperties(o, a *Properties) {
	o.Cluster = sameOrEmpty(o.Cluster, a.Cluster)
	o.Node = sameOrEmpty(o.Node, a.Node)
	o.Namespace = sameOrEmpty(o.Namespace, a.Namespace)
	o.Pod = sameOrEmpty(o.Pod, a.Pod)
	o.Container = sameOrEmpty(o.Container, a.Container)
	o.Controller = sameOrEmpty(o.Controller, a.Controller)
	o.ControllerKind = sameOrEmpty(o.ControllerKind, a.ControllerKind)
	o.ProviderID = sameOrEmpty(o.ProviderID, a.ProviderID)
	o.Services = intersectStrings(o.Services, a.Services)
}

func sameOrEmpty(a, b string) string {
	if a == b {
		return a
	}
	return ""
}

// labelSet is the intersection of label maps: the entries every map so far has
// with the same value.
type labelSet struct{ kvs []labelKV }

type labelKV struct{ k, v string }

func (l *labelSet) init(m map[string]string) {
	l.kvs = l.kvs[:0]
	for k, v := range m {
		l.kvs = append(l.kvs, labelKV{k, v})
	}
}

// intersect drops the entries m does not have with the same value.
func (l *labelSet) intersect(m map[string]string) {
	keep := l.kvs[:0]
	for _, kv := range l.kvs {
		if v, ok := m[kv.k]; ok && v == kv.v {
			keep = append(keep, kv)
		}
	}
	l.kvs = keep
}

// toMap returns the intersection as a new map, nil when empty.
func (l *labelSet) toMap() map[string]string {
	if len(l.kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(l.kvs))
	for _, kv := range l.kvs {
		m[kv.k] = kv.v
	}
	return m
}

// intersectStrings returns the elements of a that b also has: a itself when that
// is all of them, else a new slice (nil when empty).
func intersectStrings(a, b []string) []string {
	if len(a) == 0 {
		return a
	}
	keep := 0
	for _, s := range a {
		if slices.Contains(b, s) {
			keep++
		}
	}
	switch keep {
	case len(a):
		return a
	case 0:
		return nil
	}
	out := make([]string, 0, keep)
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func (s *summer) mergePVs(pvs []PVAllocation) {
	if len(pvs) == 0 {
		return
	}
	if !s.ownPVs {
		s.out.PVs = slices.Clone(s.out.PVs)
		s.ownPVs = true
	}
	for _, pv := range pvs {
		i := s.pvPosition(pv.Key)
		if i < 0 {
			if s.pvIndex != nil {
				s.pvIndex[pv.Key] = len(s.out.PVs)
			}
			s.out.PVs = append(s.out.PVs, pv)
			continue
		}
		o := &s.out.PVs[i]
		o.ByteHours += pv.ByteHours
		o.Cost += pv.Cost
		o.Adjustment += pv.Adjustment
		o.ProviderID = sameOrEmpty(o.ProviderID, pv.ProviderID)
	}
}

// LBKey is a load balancer's key as OpenCost writes it,
// "<cluster>/<namespace>/<service>": key itself when it has a cluster, else
// key ("<namespace>/<service>", as older blocks write it) qualified with
// cluster (unless that is empty).
func LBKey(cluster, key string) string {
	if cluster == "" || strings.Count(key, "/") != 1 {
		return key
	}
	return cluster + "/" + key
}

// qualifyLBs gives the first row's load balancers their cluster-qualified
// keys (see LBKey), copying the list only when a key changes.
func (s *summer) qualifyLBs(cluster string) {
	for i, lb := range s.out.LoadBalancers {
		if k := LBKey(cluster, lb.Key); k != lb.Key {
			if !s.ownLBs {
				s.out.LoadBalancers = slices.Clone(s.out.LoadBalancers)
				s.ownLBs = true
			}
			s.out.LoadBalancers[i].Key = k
		}
	}
}

// mergeLBs merges the load balancers of a row of cluster over window w:
// costs add, hours take the maximum within a window and add across windows.
func (s *summer) mergeLBs(lbs []LBAllocation, cluster string, w Window) {
	if len(lbs) == 0 {
		return
	}
	if !s.ownLBs {
		s.out.LoadBalancers = slices.Clone(s.out.LoadBalancers)
		s.ownLBs = true
	}
	if s.lbHours == nil {
		s.lbHours = make([][]windowHours, len(s.out.LoadBalancers), len(s.out.LoadBalancers)+len(lbs))
		for i, lb := range s.out.LoadBalancers {
			s.lbHours[i] = []windowHours{{s.firstWindow, lb.Hours}}
		}
	}
	for _, lb := range lbs {
		lb.Key = LBKey(cluster, lb.Key)
		i := s.lbPosition(lb.Key)
		if i < 0 {
			if s.lbIndex != nil {
				s.lbIndex[lb.Key] = len(s.out.LoadBalancers)
			}
			s.out.LoadBalancers = append(s.out.LoadBalancers, lb)
			s.lbHours = append(s.lbHours, []windowHours{{w, lb.Hours}})
			continue
		}
		o := &s.out.LoadBalancers[i]
		o.Cost += lb.Cost
		o.Adjustment += lb.Adjustment
		o.Service = sameOrEmpty(o.Service, lb.Service)
		o.IP = sameOrEmpty(o.IP, lb.IP)
		o.Private = o.Private && lb.Private
		o.Hours = s.addLBHours(i, w, lb.Hours)
	}
}

// addLBHours records hours of load balancer i in window w and returns its
// hours over every window: the maximum per window, summed.
func (s *summer) addLBHours(i int, w Window, hours float64) float64 {
	ws := s.lbHours[i]
	j := slices.IndexFunc(ws, func(x windowHours) bool { return x.w == w })
	if j < 0 {
		ws = append(ws, windowHours{w, hours})
	} else {
		ws[j].hours = max(ws[j].hours, hours)
	}
	s.lbHours[i] = ws
	var total float64
	for _, x := range ws {
		total += x.hours
	}
	return total
}

func (s *summer) pvPosition(key string) int {
	if s.pvIndex == nil && len(s.out.PVs) >= indexThreshold {
		s.pvIndex = make(map[string]int, 2*len(s.out.PVs))
		for i, pv := range s.out.PVs {
			s.pvIndex[pv.Key] = i
		}
	}
	if s.pvIndex != nil {
		if i, ok := s.pvIndex[key]; ok {
			return i
		}
		return -1
	}
	return slices.IndexFunc(s.out.PVs, func(x PVAllocation) bool { return x.Key == key })
}

func (s *summer) lbPosition(key string) int {
	if s.lbIndex == nil && len(s.out.LoadBalancers) >= indexThreshold {
		s.lbIndex = make(map[string]int, 2*len(s.out.LoadBalancers))
		for i, lb := range s.out.LoadBalancers {
			s.lbIndex[lb.Key] = i
		}
	}
	if s.lbIndex != nil {
		if i, ok := s.lbIndex[key]; ok {
			return i
		}
		return -1
	}
	return slices.IndexFunc(s.out.LoadBalancers, func(x LBAllocation) bool { return x.Key == key })
}

// unionWindow is the smallest window holding both; a zero window is ignored.
func unionWindow(a, b Window) Window {
	switch {
	case a == Window{}:
		return b
	case b == Window{}:
		return a
	}
	return Window{Start: minTime(a.Start, b.Start), End: maxTime(a.End, b.End)}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
