package allocation

// Derived values. They are methods, never stored, so they cannot disagree with the
// measured quantities they come from. Each returns 0 when the row ran for no time.

// CPUCores is the average number of cores allocated: CPUCoreHours / Hours.
func (a *Allocation) CPUCores() float64 { return perHour(a.CPUCoreHours, a.Hours()) }

// RAMBytes is the average number of bytes allocated: RAMByteHours / Hours.
func (a *Allocation) RAMBytes() float64 { return perHour(a.RAMByteHours, a.Hours()) }

// GPUCount is the average number of GPUs allocated: GPUHours / Hours.
func (a *Allocation) GPUCount() float64 { return perHour(a.GPUHours, a.Hours()) }

// PVBytes is the average number of volume bytes allocated: PVByteHours / Hours.
func (a *Allocation) PVBytes() float64 { return perHour(a.PVByteHours(), a.Hours()) }

func perHour(quantityHours, hours float64) float64 {
	if hours <= 0 {
		return 0
	}
	return quantityHours / hours
}

// CPUEfficiency is usage over request as OpenCost defines it: usageAvg/requestAvg
// when the request is positive; else 1 when something was used and charged for;
// else 0.
func (a *Allocation) CPUEfficiency() float64 {
	return efficiency(a.CPUCoreUsageAverage, a.CPUCoreRequestAverage, a.CPUTotalCost())
}

// RAMEfficiency is CPUEfficiency's rule applied to memory.
func (a *Allocation) RAMEfficiency() float64 {
	return efficiency(a.RAMBytesUsageAverage, a.RAMBytesRequestAverage, a.RAMTotalCost())
}

// GPUEfficiency is CPUEfficiency's rule applied to GPUs.
func (a *Allocation) GPUEfficiency() float64 {
	return efficiency(a.GPUUsageAverage, a.GPURequestAverage, a.GPUTotalCost())
}

// TotalEfficiency is the cost-weighted mean of CPU and RAM efficiency:
// (ramEff×ramTotal + cpuEff×cpuTotal) / (cpuTotal + ramTotal); 0 when nothing was
// charged for either. GPU efficiency is not part of it, as in OpenCost.
func (a *Allocation) TotalEfficiency() float64 {
	cpu, ram := a.CPUTotalCost(), a.RAMTotalCost()
	if cpu+ram == 0 {
		return 0
	}
	return (a.RAMEfficiency()*ram + a.CPUEfficiency()*cpu) / (cpu + ram)
}

func efficiency(usage, request, cost float64) float64 {
	switch {
	case request > 0:
		return usage / request
	case usage > 0 && cost > 0:
		return 1
	default:
		return 0
	}
}
