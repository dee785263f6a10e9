package asset

import "sort"

// Sum adds up the assets of consecutive windows into window w: one asset
// per Key, with hours, quantities, costs and adjustments added, Start the
// earliest and End the latest, and the descriptive fields (labels, node
// type, IP, …) of the last input that has them, inputs being taken in the
// order given (oldest window first). A price source of "config" anywhere
// wins, as a sum is only as good as its worst part. The result is sorted by
// Key and shares no memory with the inputs.
func Sum(w Window, sets ...[]Asset) []Asset {
	byKey := map[string]int{}
	var out []Asset
	for _, set := range sets {
		for i := range set {
			a := &set[i]
			k := a.Key()
			j, ok := byKey[k]
			if !ok {
				c := *a
				c.Window = w
				c.Labels = copyMap(a.Labels)
				c.ByteHoursUsed, c.ByteUsageMax = copyFloat(a.ByteHoursUsed), copyFloat(a.ByteUsageMax)
				byKey[k] = len(out)
				out = append(out, c)
				continue
			}
			add(&out[j], a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

func add(s *Asset, a *Asset) {
	if a.Start.Before(s.Start) {
		s.Start = a.Start
	}
	if a.End.After(s.End) {
		s.End = a.End
	}
	s.Hours += a.Hours
	s.Adjustment += a.Adjustment
	s.CPUCoreHours += a.CPUCoreHours
	s.RAMByteHours += a.RAMByteHours
	s.GPUHours += a.GPUHours
	s.CPUCost += a.CPUCost
	s.RAMCost += a.RAMCost
	s.GPUCost += a.GPUCost
	s.CPUCostAllocated += a.CPUCostAllocated
	s.RAMCostAllocated += a.RAMCostAllocated
	s.GPUCostAllocated += a.GPUCostAllocated
	s.ByteHours += a.ByteHours
	s.Cost += a.Cost
	// Usage adds where it was measured (a window without reports adds
	// nothing, as OpenCost adds a nil ByteHoursUsed); one disk's largest
	// report over consecutive windows is the largest of theirs.
	if a.ByteHoursUsed != nil {
		s.ByteHoursUsed = addFloat(s.ByteHoursUsed, *a.ByteHoursUsed)
	}
	if a.ByteUsageMax != nil && (s.ByteUsageMax == nil || *a.ByteUsageMax > *s.ByteUsageMax) {
		s.ByteUsageMax = copyFloat(a.ByteUsageMax)
	}
	if a.PriceSource == "config" {
		s.PriceSource = a.PriceSource
	}
	if a.Labels != nil {
		s.Labels = copyMap(a.Labels)
	}
	for _, f := range []struct{ dst, src *string }{
		{&s.Properties.ProviderID, &a.Properties.ProviderID}, {&s.NodeType, &a.NodeType}, {&s.StorageClass, &a.StorageClass},
		{&s.VolumeName, &a.VolumeName}, {&s.ClaimName, &a.ClaimName}, {&s.ClaimNamespace, &a.ClaimNamespace}, {&s.IP, &a.IP},
	} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
	s.Preemptible, s.Local, s.Private = a.Preemptible, a.Local, a.Private
	if a.Discount != 0 {
		s.Discount = a.Discount
	}
}

// addFloat returns a new *p + v (v when p is nil).
func addFloat(p *float64, v float64) *float64 {
	if p != nil {
		v += *p
	}
	return &v
}

func copyFloat(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
