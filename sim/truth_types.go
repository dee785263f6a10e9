package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Resolutions of the ground-truth windows.
const (
	Hourly = "1h"
	Daily  = "1d"
)

// Kinds of ground-truth records, the "kind" field of each JSON line.
const (
	KindContainer = "container"
	KindNode      = "node"
	KindUnmounted = "unmounted"
	KindCluster   = "cluster"
	KindDisk      = "disk"
	KindLB        = "loadbalancer"
)

// TruthRecord is one ground-truth record: *ContainerTruth, *NodeTruth,
// *UnmountedTruth, *ClusterTruth, *DiskTruth or *LoadBalancerTruth.
type TruthRecord interface {
	TruthKind() string
}

// Window identifies a ground-truth window [WindowStart, WindowEnd).
type Window struct {
	Resolution  string    `json:"resolution"` // "1h" or "1d"
	WindowStart time.Time `json:"windowStart"`
	WindowEnd   time.Time `json:"windowEnd"`
}

// ContainerTruth is what one container cost in one window. A pod recreated
// under the same name on the same node is one container row: its
// incarnations add up. Averages are over RunningSeconds; hours and costs
// are time integrals (see doc.go for the model).
type ContainerTruth struct {
	Kind string `json:"kind"`
	Window
	Cluster        string `json:"cluster"`
	Node           string `json:"node"`
	Namespace      string `json:"namespace"`
	Pod            string `json:"pod"`
	Container      string `json:"container"`
	ControllerKind string `json:"controllerKind"`
	Controller     string `json:"controller"`
	// Start and End are the first and last instants the container ran in
	// the window; RunningSeconds is the time it ran (less than End−Start
	// when a recreated pod left a gap).
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	RunningSeconds int64     `json:"runningSeconds"`

	CPUCoreRequestAverage float64 `json:"cpuCoreRequestAverage"`
	CPUCoreUsageAverage   float64 `json:"cpuCoreUsageAverage"`
	CPUCoreHours          float64 `json:"cpuCoreHours"` // ∫ max(request, usage) dt, in core-hours
	CPUCost               float64 `json:"cpuCost"`

	RAMByteRequestAverage float64 `json:"ramByteRequestAverage"`
	RAMByteUsageAverage   float64 `json:"ramByteUsageAverage"`
	RAMByteHours          float64 `json:"ramByteHours"` // ∫ max(request, working set) dt
	RAMCost               float64 `json:"ramCost"`

	GPURequestAverage float64 `json:"gpuRequestAverage"`
	GPUHours          float64 `json:"gpuHours"`
	GPUCost           float64 `json:"gpuCost"`

	PVByteHours float64   `json:"pvByteHours"`
	PVCost      float64   `json:"pvCost"`
	PVs         []PVTruth `json:"pvs,omitempty"`

	// Network bytes are the pod's, divided evenly among its containers.
	NetworkReceiveBytes  float64 `json:"networkReceiveBytes"`
	NetworkTransmitBytes float64 `json:"networkTransmitBytes"`

	LoadBalancerCost float64 `json:"loadBalancerCost"`
	TotalCost        float64 `json:"totalCost"` // cpu + ram + gpu + pv + load balancer
}

// PVTruth is one volume's share charged to a container.
type PVTruth struct {
	// Key is "cluster=<cluster>:name=<pv>", as OpenCost names volumes.
	Key                   string  `json:"key"`
	PersistentVolumeClaim string  `json:"persistentVolumeClaim"`
	PersistentVolume      string  `json:"persistentVolume"`
	ByteHours             float64 `json:"byteHours"`
	Cost                  float64 `json:"cost"`
}

// NodeTruth is a node's capacity cost in a window and how much of it the
// containers on it were allocated. Idle = capacity cost − allocated cost,
// per resource.
type NodeTruth struct {
	Kind string `json:"kind"`
	Window
	Cluster      string `json:"cluster"`
	Node         string `json:"node"`
	InstanceType string `json:"instanceType"`
	ProviderID   string `json:"providerID"`
	Spot         bool   `json:"spot"`
	// Start and End bound the node's existence in the window (a node that
	// joins inside it starts then); RunningSeconds = End − Start.
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	RunningSeconds int64     `json:"runningSeconds"`
	CPUCores       float64   `json:"cpuCores"`
	RAMBytes       float64   `json:"ramBytes"`
	GPUCount       float64   `json:"gpuCount"`

	CPUCost   float64 `json:"cpuCost"`
	RAMCost   float64 `json:"ramCost"`
	GPUCost   float64 `json:"gpuCost"`
	TotalCost float64 `json:"totalCost"`

	AllocatedCPUCost float64 `json:"allocatedCpuCost"`
	AllocatedRAMCost float64 `json:"allocatedRamCost"`
	AllocatedGPUCost float64 `json:"allocatedGpuCost"`

	IdleCPUCost float64 `json:"idleCpuCost"`
	IdleRAMCost float64 `json:"idleRamCost"`
	IdleGPUCost float64 `json:"idleGpuCost"`
	IdleCost    float64 `json:"idleCost"`
}

// DiskTruth is what one persistent volume cost in a window: its capacity
// at its price over the window (volumes exist over the whole range), as
// its Disk asset should say.
type DiskTruth struct {
	Kind string `json:"kind"`
	Window
	Cluster          string  `json:"cluster"`
	PersistentVolume string  `json:"persistentVolume"`
	ProviderID       string  `json:"providerID"`
	StorageClass     string  `json:"storageClass"`
	ClaimNamespace   string  `json:"claimNamespace,omitempty"`
	ClaimName        string  `json:"claimName,omitempty"`
	Bytes            float64 `json:"bytes"`
	ByteHours        float64 `json:"byteHours"`
	Cost             float64 `json:"cost"`
}

// LoadBalancerTruth is what one load balancer (a LoadBalancer service)
// cost in a window: its hourly price over the window.
type LoadBalancerTruth struct {
	Kind string `json:"kind"`
	Window
	Cluster   string  `json:"cluster"`
	Namespace string  `json:"namespace"`
	Service   string  `json:"service"`
	IP        string  `json:"ip"`
	Cost      float64 `json:"cost"`
}

// Types of unmounted records.
const (
	UnmountedPV           = "pv"
	UnmountedLoadBalancer = "loadbalancer"
)

// UnmountedTruth is cost no container carries in a window: a volume while
// no running pod mounts its claim (or that has no claim), or a load
// balancer while no running pod matches its selector.
type UnmountedTruth struct {
	Kind string `json:"kind"`
	Window
	Cluster string `json:"cluster"`
	Type    string `json:"type"` // "pv" or "loadbalancer"
	// Namespace and Name are the claim's (empty for a volume without a
	// claim) or the service's.
	Namespace        string  `json:"namespace"`
	Name             string  `json:"name"`
	PersistentVolume string  `json:"persistentVolume,omitempty"`
	Seconds          int64   `json:"seconds"`
	ByteHours        float64 `json:"byteHours,omitempty"`
	Cost             float64 `json:"cost"`
}

// ClusterTruth sums a cluster's window. TotalCost = NodeCost + PVCost +
// LoadBalancerCost = ContainerCost + IdleCost + UnmountedPVCost +
// UnmountedLoadBalancerCost.
type ClusterTruth struct {
	Kind string `json:"kind"`
	Window
	Cluster string `json:"cluster"`

	NodeCPUCost float64 `json:"nodeCpuCost"`
	NodeRAMCost float64 `json:"nodeRamCost"`
	NodeGPUCost float64 `json:"nodeGpuCost"`
	NodeCost    float64 `json:"nodeCost"`

	AllocatedCPUCost float64 `json:"allocatedCpuCost"`
	AllocatedRAMCost float64 `json:"allocatedRamCost"`
	AllocatedGPUCost float64 `json:"allocatedGpuCost"`

	IdleCPUCost float64 `json:"idleCpuCost"`
	IdleRAMCost float64 `json:"idleRamCost"`
	IdleGPUCost float64 `json:"idleGpuCost"`
	IdleCost    float64 `json:"idleCost"`

	PVCost                    float64 `json:"pvCost"`
	UnmountedPVCost           float64 `json:"unmountedPvCost"`
	LoadBalancerCost          float64 `json:"loadBalancerCost"`
	UnmountedLoadBalancerCost float64 `json:"unmountedLoadBalancerCost"`
	NetworkReceiveBytes       float64 `json:"networkReceiveBytes"`
	NetworkTransmitBytes      float64 `json:"networkTransmitBytes"`

	ContainerCost float64 `json:"containerCost"`
	TotalCost     float64 `json:"totalCost"`
}

// TruthKind implements TruthRecord.
func (*ContainerTruth) TruthKind() string { return KindContainer }

// TruthKind implements TruthRecord.
func (*NodeTruth) TruthKind() string { return KindNode }

// TruthKind implements TruthRecord.
func (*UnmountedTruth) TruthKind() string { return KindUnmounted }

// TruthKind implements TruthRecord.
func (*ClusterTruth) TruthKind() string { return KindCluster }

// TruthKind implements TruthRecord.
func (*DiskTruth) TruthKind() string { return KindDisk }

// TruthKind implements TruthRecord.
func (*LoadBalancerTruth) TruthKind() string { return KindLB }

// Truth is a whole ground truth in memory, as ReadTruth returns it.
type Truth struct {
	Containers    []ContainerTruth
	Nodes         []NodeTruth
	Unmounted     []UnmountedTruth
	Clusters      []ClusterTruth
	Disks         []DiskTruth
	LoadBalancers []LoadBalancerTruth
}

// WriteTruth writes the fleet's ground truth to w as JSON lines, one record
// per line, and returns the number of records.
func (f *Fleet) WriteTruth(ctx context.Context, w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	var n int64
	err := f.Truth(ctx, func(r TruthRecord) error {
		n++
		return enc.Encode(r)
	})
	if err != nil {
		return n, fmt.Errorf("write ground truth: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write ground truth: %w", err)
	}
	return n, nil
}

// ReadTruth reads ground truth written by WriteTruth.
func ReadTruth(r io.Reader) (*Truth, error) {
	t := &Truth{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if err := t.decodeLine(sc.Bytes()); err != nil {
			return nil, fmt.Errorf("read ground truth line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ground truth: %w", err)
	}
	return t, nil
}

func (t *Truth) decodeLine(b []byte) error {
	var head struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	switch head.Kind {
	case KindContainer:
		return decodeAppend(b, &t.Containers)
	case KindNode:
		return decodeAppend(b, &t.Nodes)
	case KindUnmounted:
		return decodeAppend(b, &t.Unmounted)
	case KindCluster:
		return decodeAppend(b, &t.Clusters)
	case KindDisk:
		return decodeAppend(b, &t.Disks)
	case KindLB:
		return decodeAppend(b, &t.LoadBalancers)
	default:
		return fmt.Errorf("unknown kind %q", head.Kind)
	}
}

func decodeAppend[T any](b []byte, list *[]T) error {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}
