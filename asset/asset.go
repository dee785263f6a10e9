package asset

import (
	"fmt"
	"time"
)

// Kind is the type of an asset.
type Kind string

// Asset kinds, spelled as OpenCost's asset types.
const (
	KindNode              Kind = "Node"
	KindDisk              Kind = "Disk"
	KindLoadBalancer      Kind = "LoadBalancer"
	KindNetwork           Kind = "Network"
	KindClusterManagement Kind = "ClusterManagement"
)

// kinds lists every kind.
var kinds = []Kind{KindClusterManagement, KindDisk, KindLoadBalancer, KindNetwork, KindNode}

// ParseKind accepts a kind in any letter case.
func ParseKind(s string) (Kind, error) {
	for _, k := range kinds {
		if equalFold(string(k), s) {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown asset type %q (want Node, Disk, LoadBalancer, Network or ClusterManagement)", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Categories of assets, as OpenCost names them.
const (
	CategoryCompute    = "Compute"
	CategoryStorage    = "Storage"
	CategoryNetwork    = "Network"
	CategoryManagement = "Management"
)

// Category is the category of a kind.
func (k Kind) Category() string {
	switch k {
	case KindNode:
		return CategoryCompute
	case KindDisk:
		return CategoryStorage
	case KindLoadBalancer, KindNetwork:
		return CategoryNetwork
	case KindClusterManagement:
		return CategoryManagement
	}
	return ""
}

// Window is a half-open time range [Start, End) in UTC.
type Window struct {
	Start time.Time
	End   time.Time
}

// Properties identify an asset. Empty strings mean unknown.
type Properties struct {
	Cluster string
	// Name is the node's, the volume's, "<namespace>/<service>" of a load
	// balancer, and empty for a cluster's network and management rows.
	Name       string
	ProviderID string
}

// Asset is the cost of one piece of infrastructure over a window. Start
// and End are the first and last instants it existed inside the window;
// Minutes is the time between them (a node that left and came back within
// a window counts the gap; the hours fields do not).
type Asset struct {
	Kind       Kind
	Properties Properties
	Labels     map[string]string
	Window     Window
	Start      time.Time
	End        time.Time
	// Hours is the time the asset existed in the window (≤ End − Start).
	Hours      float64
	Adjustment float64
	// PriceSource is "metrics" or "config" (the price table), as on
	// allocation rows.
	PriceSource string

	// Node.
	NodeType     string
	Preemptible  bool
	Discount     float64
	CPUCoreHours float64
	RAMByteHours float64
	GPUHours     float64
	CPUCost      float64
	RAMCost      float64
	GPUCost      float64
	// What the node's containers were allocated; cost − allocated is the
	// idle cost of the node's idle allocation row.
	CPUCostAllocated float64
	RAMCostAllocated float64
	GPUCostAllocated float64

	// Disk.
	ByteHours      float64
	StorageClass   string
	VolumeName     string
	ClaimName      string
	ClaimNamespace string
	Local          bool
	// Disk usage as kubelet reports it (kubelet_volume_stats_used_bytes) for
	// a claimed volume while a pod mounts it; nil when nothing was reported
	// in the window. ByteHoursUsed is the time-weighted average of the
	// reports times Hours (OpenCost's rule: usage measured while mounted
	// stands for the disk's whole life), ByteUsageMax the largest report.
	ByteHoursUsed *float64
	ByteUsageMax  *float64

	// Load balancer.
	IP      string
	Private bool

	// Cost is the cost of a disk, load balancer, network or management row
	// (a node's is CPUCost + RAMCost + GPUCost).
	Cost float64
}

// Key is the asset's unique name in a window: "<cluster>/<kind>/<name>".
func (a *Asset) Key() string {
	return a.Properties.Cluster + "/" + string(a.Kind) + "/" + a.Properties.Name
}

// Minutes is End − Start in minutes.
func (a *Asset) Minutes() float64 { return a.End.Sub(a.Start).Minutes() }

func (a *Asset) avg(v float64) float64 {
	if a.Hours <= 0 {
		return 0
	}
	return v / a.Hours
}

// CPUCores is the node's average core count over its life.
func (a *Asset) CPUCores() float64 { return a.avg(a.CPUCoreHours) }

// RAMBytes is the node's average RAM over its life.
func (a *Asset) RAMBytes() float64 { return a.avg(a.RAMByteHours) }

// GPUCount is the node's average GPU count over its life.
func (a *Asset) GPUCount() float64 { return a.avg(a.GPUHours) }

// Bytes is the disk's average size over its life.
func (a *Asset) Bytes() float64 { return a.avg(a.ByteHours) }

// IdleCost is a node's cost not allocated to containers, per resource
// clamped at zero as on allocation's idle rows.
func (a *Asset) IdleCost() float64 {
	return max(a.CPUCost-a.CPUCostAllocated, 0) + max(a.RAMCost-a.RAMCostAllocated, 0) + max(a.GPUCost-a.GPUCostAllocated, 0)
}

// TotalCost is what the asset cost: a node's CPU, RAM and GPU cost less its
// discount, any other kind's Cost, plus the adjustment.
func (a *Asset) TotalCost() float64 {
	if a.Kind == KindNode {
		return (a.CPUCost+a.RAMCost)*(1-a.Discount) + a.GPUCost + a.Adjustment
	}
	return a.Cost + a.Adjustment
}
