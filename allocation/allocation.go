package allocation

import (
	"fmt"
	"time"
)

// Window is a half-open time range [Start, End) in UTC.
type Window struct {
	Start time.Time
	End   time.Time
}

// NewWindow returns the window [start, end) in UTC; it fails when end is not after
// start.
func NewWindow(start, end time.Time) (Window, error) {
	if !end.After(start) {
		return Window{}, fmt.Errorf("window end %s is not after start %s", end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	return Window{Start: start.UTC(), End: end.UTC()}, nil
}

// Duration is End − Start.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

// Contains reports whether t lies in [Start, End).
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

func (w Window) String() string {
	return w.Start.UTC().Format(time.RFC3339) + "," + w.End.UTC().Format(time.RFC3339)
}

// Names of special rows, as in OpenCost.
const (
	IdleSuffix      = "__idle__"
	UnmountedSuffix = "__unmounted__"
	Unallocated     = "__unallocated__"
	// UnmountedPVCsSuffix ends the pod name of a namespace's unmounted row
	// ("<namespace>-unmounted-pvcs"), which carries the claims of that
	// namespace while no running pod mounts them, as in current OpenCost.
	UnmountedPVCsSuffix = "-unmounted-pvcs"
)

// Properties describe what an allocation belongs to. Empty strings mean unknown.
type Properties struct {
	Cluster              string
	Node                 string
	Namespace            string
	Pod                  string
	Container            string
	Controller           string
	ControllerKind       string
	Services             []string
	ProviderID           string
	Labels               map[string]string
	Annotations          map[string]string
	NamespaceLabels      map[string]string
	NamespaceAnnotations map[string]string
}

// PVAllocation is one persistent volume's share charged to an allocation.
type PVAllocation struct {
	// Key names the volume as OpenCost does: "cluster=<c>:name=<pv>".
	Key        string
	ByteHours  float64
	Cost       float64
	ProviderID string
	Adjustment float64
}

// LBAllocation is one load balancer's share charged to an allocation.
type LBAllocation struct {
	// Key is OpenCost's "<cluster>/<namespace>/<service>" (blocks written
	// before December 2026 have "<namespace>/<service>"; see LBKey).
	Key        string
	Service    string
	Cost       float64
	Private    bool
	IP         string
	Hours      float64
	Adjustment float64
}

// Allocation is the cost of one container (or an idle or unmounted row) over a
// window. Start and End are when it actually ran inside the window.
type Allocation struct {
	Name       string
	Properties Properties
	Window     Window
	Start      time.Time
	End        time.Time

	CPUCoreHours          float64
	CPUCoreRequestAverage float64
	CPUCoreUsageAverage   float64
	CPUCoreUsageMax       float64
	CPUCost               float64
	CPUCostAdjustment     float64
	CPUCostIdle           float64

	GPUHours          float64
	GPURequestAverage float64
	GPUUsageAverage   float64
	GPUCost           float64
	GPUCostAdjustment float64
	GPUCostIdle       float64

	RAMByteHours           float64
	RAMBytesRequestAverage float64
	RAMBytesUsageAverage   float64
	RAMBytesUsageMax       float64
	RAMCost                float64
	RAMCostAdjustment      float64
	RAMCostIdle            float64

	NetworkTransferBytes   float64
	NetworkReceiveBytes    float64
	NetworkCost            float64
	NetworkCrossZoneCost   float64
	NetworkCrossRegionCost float64
	NetworkInternetCost    float64
	NetworkCostAdjustment  float64

	LoadBalancerCost           float64
	LoadBalancerCostAdjustment float64
	LoadBalancers              []LBAllocation

	PVs              []PVAllocation
	PVCostAdjustment float64

	SharedCost   float64
	ExternalCost float64

	// PriceSource says where the prices came from: "metrics" (the cost exporter's
	// node_*_hourly_cost series), "config" (the price table) or "default".
	PriceSource string
}

// Minutes is the running time in minutes.
func (a *Allocation) Minutes() float64 { return a.End.Sub(a.Start).Minutes() }

// Hours is the running time in hours.
func (a *Allocation) Hours() float64 { return a.End.Sub(a.Start).Hours() }

// PVByteHours sums the byte-hours of every volume.
func (a *Allocation) PVByteHours() float64 {
	var s float64
	for _, pv := range a.PVs {
		s += pv.ByteHours
	}
	return s
}

// PVCost sums the cost of every volume.
func (a *Allocation) PVCost() float64 {
	var s float64
	for _, pv := range a.PVs {
		s += pv.Cost
	}
	return s
}

// CPUTotalCost is CPU cost plus adjustment.
func (a *Allocation) CPUTotalCost() float64 { return a.CPUCost + a.CPUCostAdjustment }

// GPUTotalCost is GPU cost plus adjustment.
func (a *Allocation) GPUTotalCost() float64 { return a.GPUCost + a.GPUCostAdjustment }

// RAMTotalCost is RAM cost plus adjustment.
func (a *Allocation) RAMTotalCost() float64 { return a.RAMCost + a.RAMCostAdjustment }

// PVTotalCost is PV cost plus adjustment.
func (a *Allocation) PVTotalCost() float64 { return a.PVCost() + a.PVCostAdjustment }

// NetworkTotalCost is network cost plus adjustment.
func (a *Allocation) NetworkTotalCost() float64 { return a.NetworkCost + a.NetworkCostAdjustment }

// LoadBalancerTotalCost is load-balancer cost plus adjustment.
func (a *Allocation) LoadBalancerTotalCost() float64 {
	return a.LoadBalancerCost + a.LoadBalancerCostAdjustment
}

// TotalCost is the sum of every resource's total cost plus shared and external
// cost, as OpenCost defines totalCost.
func (a *Allocation) TotalCost() float64 {
	return a.CPUTotalCost() + a.GPUTotalCost() + a.RAMTotalCost() + a.PVTotalCost() +
		a.NetworkTotalCost() + a.LoadBalancerTotalCost() + a.SharedCost + a.ExternalCost
}

// IsIdle reports whether this is an idle row.
func (a *Allocation) IsIdle() bool { return hasLastSegment(a.Name, IdleSuffix) }

// IsUnmounted reports whether this is an unmounted-volume row.
func (a *Allocation) IsUnmounted() bool { return hasLastSegment(a.Name, UnmountedSuffix) }

func hasLastSegment(name, seg string) bool {
	if name == seg {
		return true
	}
	n := len(name) - len(seg)
	return n > 0 && name[n-1] == '/' && name[n:] == seg
}
