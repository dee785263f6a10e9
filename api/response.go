package api

import (
	"encoding/json"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/costfed/costfed/allocation"
)

// Response is the /allocation answer: OpenCost's envelope with one map of
// allocations by name per step.
type Response struct {
	Code     int                          `json:"code"`
	Status   string                       `json:"status"`
	Data     []map[string]*AllocationJSON `json:"data"`
	Warnings []string                     `json:"warnings,omitempty"`
}

// ErrorResponse is the answer to a failed request.
type ErrorResponse struct {
	Code    int    `json:"code"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Number is a float written rounded to 5 decimals, and as null when NaN or
// infinite, as OpenCost writes its numbers.
type Number float64

// MarshalJSON writes the rounded number, or null.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	r := math.Round(f*1e5) / 1e5
	if math.IsInf(r, 0) || math.Abs(f) >= 1e15 {
		r = f // too large to scale; already whole for all practical purposes
	}
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.AppendFloat(nil, r, 'f', -1, 64), nil
}

// WindowJSON is a window as OpenCost writes it.
type WindowJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// PropertiesJSON are an allocation's properties with OpenCost's names.
type PropertiesJSON struct {
	Cluster              string            `json:"cluster,omitempty"`
	Node                 string            `json:"node,omitempty"`
	Container            string            `json:"container,omitempty"`
	Controller           string            `json:"controller,omitempty"`
	ControllerKind       string            `json:"controllerKind,omitempty"`
	Namespace            string            `json:"namespace,omitempty"`
	Pod                  string            `json:"pod,omitempty"`
	Services             []string          `json:"services,omitempty"`
	ProviderID           string            `json:"providerID,omitempty"`
	Labels               map[string]string `json:"labels,omitempty"`
	Annotations          map[string]string `json:"annotations,omitempty"`
	NamespaceLabels      map[string]string `json:"namespaceLabels,omitempty"`
	NamespaceAnnotations map[string]string `json:"namespaceAnnotations,omitempty"`
}

// PVJSON is one volume's share.
type PVJSON struct {
	ByteHours  Number `json:"byteHours"`
	Cost       Number `json:"cost"`
	ProviderID string `json:"providerID,omitempty"`
	Adjustment Number `json:"adjustment"`
}

// LBJSON is one load balancer's share.
type LBJSON struct {
	Service    string `json:"service"`
	Cost       Number `json:"cost"`
	Private    bool   `json:"private"`
	IP         string `json:"ip"`
	Hours      Number `json:"hours"`
	Adjustment Number `json:"adjustment"`
}

// RawJSON is rawAllocationOnly.
type RawJSON struct {
	CPUCoreUsageMax Number `json:"cpuCoreUsageMax"`
	RAMByteUsageMax Number `json:"ramByteUsageMax"`
}

// GPUAllocationJSON is OpenCost's gpuAllocation object. costfed knows the
// request and usage averages (the same numbers as the allocation's
// gpuRequestAverage and gpuUsageAverage); it does not read the device,
// model, UUID or sharing of a GPU, so those are left out, as OpenCost
// leaves out what it does not know.
type GPUAllocationJSON struct {
	GPUDevice         string `json:"gpuDevice,omitempty"`
	GPUModel          string `json:"gpuModel,omitempty"`
	GPUUUID           string `json:"gpuUUID,omitempty"`
	IsGPUShared       *bool  `json:"isGPUShared,omitempty"`
	GPUUsageAverage   Number `json:"gpuUsageAverage"`
	GPURequestAverage Number `json:"gpuRequestAverage"`
}

// AllocationJSON is one allocation with OpenCost's field names; derived
// quantities (cores, efficiencies, totals) are filled in.
type AllocationJSON struct {
	Name       string         `json:"name"`
	Properties PropertiesJSON `json:"properties"`
	Window     WindowJSON     `json:"window"`
	Start      time.Time      `json:"start"`
	End        time.Time      `json:"end"`
	Minutes    Number         `json:"minutes"`

	CPUCores              Number `json:"cpuCores"`
	CPUCoreRequestAverage Number `json:"cpuCoreRequestAverage"`
	CPUCoreUsageAverage   Number `json:"cpuCoreUsageAverage"`
	CPUCoreHours          Number `json:"cpuCoreHours"`
	CPUCost               Number `json:"cpuCost"`
	CPUCostAdjustment     Number `json:"cpuCostAdjustment"`
	CPUCostIdle           Number `json:"cpuCostIdle"`
	CPUEfficiency         Number `json:"cpuEfficiency"`

	GPUCount          Number `json:"gpuCount"`
	GPURequestAverage Number `json:"gpuRequestAverage"`
	GPUUsageAverage   Number `json:"gpuUsageAverage"`
	GPUHours          Number `json:"gpuHours"`
	GPUCost           Number `json:"gpuCost"`
	GPUCostAdjustment Number `json:"gpuCostAdjustment"`
	GPUCostIdle       Number `json:"gpuCostIdle"`
	GPUEfficiency     Number `json:"gpuEfficiency"`
	// GPUAllocation is OpenCost's per-allocation GPU object, null when the
	// allocation has no GPU.
	GPUAllocation *GPUAllocationJSON `json:"gpuAllocation"`

	NetworkTransferBytes   Number `json:"networkTransferBytes"`
	NetworkReceiveBytes    Number `json:"networkReceiveBytes"`
	NetworkCost            Number `json:"networkCost"`
	NetworkCrossZoneCost   Number `json:"networkCrossZoneCost"`
	NetworkCrossRegionCost Number `json:"networkCrossRegionCost"`
	NetworkInternetCost    Number `json:"networkInternetCost"`
	NetworkCostAdjustment  Number `json:"networkCostAdjustment"`

	LoadBalancerCost           Number `json:"loadBalancerCost"`
	LoadBalancerCostAdjustment Number `json:"loadBalancerCostAdjustment"`

	PVBytes          Number            `json:"pvBytes"`
	PVByteHours      Number            `json:"pvByteHours"`
	PVCost           Number            `json:"pvCost"`
	PVs              map[string]PVJSON `json:"pvs"`
	PVCostAdjustment Number            `json:"pvCostAdjustment"`

	RAMBytes              Number `json:"ramBytes"`
	RAMByteRequestAverage Number `json:"ramByteRequestAverage"`
	RAMByteUsageAverage   Number `json:"ramByteUsageAverage"`
	RAMByteHours          Number `json:"ramByteHours"`
	RAMCost               Number `json:"ramCost"`
	RAMCostAdjustment     Number `json:"ramCostAdjustment"`
	RAMCostIdle           Number `json:"ramCostIdle"`
	RAMEfficiency         Number `json:"ramEfficiency"`

	ExternalCost      Number            `json:"externalCost"`
	SharedCost        Number            `json:"sharedCost"`
	TotalCost         Number            `json:"totalCost"`
	TotalEfficiency   Number            `json:"totalEfficiency"`
	RawAllocationOnly RawJSON           `json:"rawAllocationOnly"`
	LBAllocations     map[string]LBJSON `json:"lbAllocations"`
}

// NewAllocationJSON converts a to its API form.
func NewAllocationJSON(a *allocation.Allocation) *AllocationJSON {
	p := a.Properties
	out := &AllocationJSON{
		Name: a.Name,
		Properties: PropertiesJSON{
			Cluster: p.Cluster, Node: p.Node, Container: p.Container, Controller: p.Controller,
			ControllerKind: p.ControllerKind, Namespace: p.Namespace, Pod: p.Pod, Services: p.Services,
			ProviderID: p.ProviderID, Labels: p.Labels, Annotations: p.Annotations,
			NamespaceLabels: p.NamespaceLabels, NamespaceAnnotations: p.NamespaceAnnotations,
		},
		Window:  WindowJSON{Start: a.Window.Start.UTC(), End: a.Window.End.UTC()},
		Start:   a.Start.UTC(),
		End:     a.End.UTC(),
		Minutes: Number(a.Minutes()),

		CPUCores: Number(a.CPUCores()), CPUCoreRequestAverage: Number(a.CPUCoreRequestAverage),
		CPUCoreUsageAverage: Number(a.CPUCoreUsageAverage), CPUCoreHours: Number(a.CPUCoreHours),
		CPUCost: Number(a.CPUCost), CPUCostAdjustment: Number(a.CPUCostAdjustment),
		CPUCostIdle: Number(a.CPUCostIdle), CPUEfficiency: Number(a.CPUEfficiency()),

		GPUCount: Number(a.GPUCount()), GPURequestAverage: Number(a.GPURequestAverage),
		GPUUsageAverage: Number(a.GPUUsageAverage), GPUHours: Number(a.GPUHours),
		GPUCost: Number(a.GPUCost), GPUCostAdjustment: Number(a.GPUCostAdjustment),
		GPUCostIdle: Number(a.GPUCostIdle), GPUEfficiency: Number(a.GPUEfficiency()),

		NetworkTransferBytes: Number(a.NetworkTransferBytes), NetworkReceiveBytes: Number(a.NetworkReceiveBytes),
		NetworkCost: Number(a.NetworkCost), NetworkCrossZoneCost: Number(a.NetworkCrossZoneCost),
		NetworkCrossRegionCost: Number(a.NetworkCrossRegionCost), NetworkInternetCost: Number(a.NetworkInternetCost),
		NetworkCostAdjustment: Number(a.NetworkCostAdjustment),

		LoadBalancerCost: Number(a.LoadBalancerCost), LoadBalancerCostAdjustment: Number(a.LoadBalancerCostAdjustment),

		PVBytes: Number(a.PVBytes()), PVByteHours: Number(a.PVByteHours()), PVCost: Number(a.PVCost()),
		PVs: map[string]PVJSON{}, PVCostAdjustment: Number(a.PVCostAdjustment),

		RAMBytes: Number(a.RAMBytes()), RAMByteRequestAverage: Number(a.RAMBytesRequestAverage),
		RAMByteUsageAverage: Number(a.RAMBytesUsageAverage), RAMByteHours: Number(a.RAMByteHours),
		RAMCost: Number(a.RAMCost), RAMCostAdjustment: Number(a.RAMCostAdjustment),
		RAMCostIdle: Number(a.RAMCostIdle), RAMEfficiency: Number(a.RAMEfficiency()),

		ExternalCost: Number(a.ExternalCost), SharedCost: Number(a.SharedCost),
		TotalCost: Number(a.TotalCost()), TotalEfficiency: Number(a.TotalEfficiency()),
		RawAllocationOnly: RawJSON{CPUCoreUsageMax: Number(a.CPUCoreUsageMax), RAMByteUsageMax: Number(a.RAMBytesUsageMax)},
		LBAllocations:     map[string]LBJSON{},
	}
	if a.GPUHours != 0 || a.GPURequestAverage != 0 || a.GPUUsageAverage != 0 {
		out.GPUAllocation = &GPUAllocationJSON{GPUUsageAverage: Number(a.GPUUsageAverage), GPURequestAverage: Number(a.GPURequestAverage)}
	}
	for _, pv := range a.PVs {
		out.PVs[pv.Key] = PVJSON{ByteHours: Number(pv.ByteHours), Cost: Number(pv.Cost), ProviderID: pv.ProviderID, Adjustment: Number(pv.Adjustment)}
	}
	for _, lb := range a.LoadBalancers {
		out.LBAllocations[lb.Key] = LBJSON{Service: lb.Service, Cost: Number(lb.Cost), Private: lb.Private, IP: lb.IP, Hours: Number(lb.Hours), Adjustment: Number(lb.Adjustment)}
	}
	return out
}

// NewResponse converts an answer to the /allocation response.
func NewResponse(ans Answer) Response {
	data := make([]map[string]*AllocationJSON, len(ans.Sets))
	for i, s := range ans.Sets {
		m := make(map[string]*AllocationJSON, len(s.Allocations))
		for j := range s.Allocations {
			a := &s.Allocations[j]
			m[a.Name] = NewAllocationJSON(a)
		}
		data[i] = m
	}
	return Response{Code: 200, Status: "success", Data: data, Warnings: ans.Warnings}
}

// WriteJSON writes v as JSON followed by a newline, indented when asked.
func WriteJSON(w io.Writer, v any, indent bool) error {
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// SummaryResponse is the /allocation/summary answer: OpenCost's compact form,
// a few fields per allocation.
type SummaryResponse struct {
	Code     int         `json:"code"`
	Status   string      `json:"status"`
	Data     SummaryData `json:"data"`
	Warnings []string    `json:"warnings,omitempty"`
}

// SummaryData holds the summary sets. Step is in nanoseconds, as OpenCost's
// SummaryAllocationSetRange marshals its time.Duration: the query's step, or
// the window's length when it has none.
type SummaryData struct {
	Step   time.Duration `json:"step"`
	Sets   []SummarySet  `json:"sets"`
	Window WindowJSON    `json:"window"`
}

// SummarySet is one step of a summary.
type SummarySet struct {
	Allocations map[string]SummaryJSON `json:"allocations"`
	Window      WindowJSON             `json:"window"`
}

// SummaryJSON is one allocation in a summary.
type SummaryJSON struct {
	Name                  string    `json:"name"`
	Start                 time.Time `json:"start"`
	End                   time.Time `json:"end"`
	CPUCoreRequestAverage Number    `json:"cpuCoreRequestAverage"`
	CPUCoreUsageAverage   Number    `json:"cpuCoreUsageAverage"`
	CPUCost               Number    `json:"cpuCost"`
	CPUCostIdle           Number    `json:"cpuCostIdle"`
	GPURequestAverage     Number    `json:"gpuRequestAverage"`
	GPUUsageAverage       Number    `json:"gpuUsageAverage"`
	GPUCost               Number    `json:"gpuCost"`
	GPUCostIdle           Number    `json:"gpuCostIdle"`
	NetworkCost           Number    `json:"networkCost"`
	LoadBalancerCost      Number    `json:"loadBalancerCost"`
	PVCost                Number    `json:"pvCost"`
	RAMByteRequestAverage Number    `json:"ramByteRequestAverage"`
	RAMByteUsageAverage   Number    `json:"ramByteUsageAverage"`
	RAMCost               Number    `json:"ramCost"`
	RAMCostIdle           Number    `json:"ramCostIdle"`
	SharedCost            Number    `json:"sharedCost"`
	ExternalCost          Number    `json:"externalCost"`
	TotalCost             Number    `json:"totalCost"`
	// Efficiency is OpenCost's name (SummaryAllocation.Efficiency: the
	// cost-weighted CPU and RAM efficiency, 0 for idle rows);
	// TotalEfficiency is the same number under the full /allocation name.
	Efficiency      Number `json:"efficiency"`
	TotalEfficiency Number `json:"totalEfficiency"`
}

// NewSummaryResponse converts an answer over window w, in steps of step (0:
// the whole window), to the summary form.
func NewSummaryResponse(ans Answer, w allocation.Window, step time.Duration) SummaryResponse {
	if step <= 0 {
		step = w.Duration()
	}
	out := SummaryResponse{Code: 200, Status: "success", Warnings: ans.Warnings,
		Data: SummaryData{Step: step, Sets: make([]SummarySet, len(ans.Sets)), Window: WindowJSON{Start: w.Start, End: w.End}}}
	for i, s := range ans.Sets {
		set := SummarySet{Allocations: make(map[string]SummaryJSON, len(s.Allocations)), Window: WindowJSON{Start: s.Window.Start, End: s.Window.End}}
		for j := range s.Allocations {
			a := &s.Allocations[j]
			set.Allocations[a.Name] = SummaryJSON{
				Name: a.Name, Start: a.Start.UTC(), End: a.End.UTC(),
				CPUCoreRequestAverage: Number(a.CPUCoreRequestAverage), CPUCoreUsageAverage: Number(a.CPUCoreUsageAverage),
				CPUCost: Number(a.CPUTotalCost()), GPUCost: Number(a.GPUTotalCost()), NetworkCost: Number(a.NetworkTotalCost()),
				LoadBalancerCost: Number(a.LoadBalancerTotalCost()), PVCost: Number(a.PVTotalCost()),
				RAMByteRequestAverage: Number(a.RAMBytesRequestAverage), RAMByteUsageAverage: Number(a.RAMBytesUsageAverage),
				RAMCost: Number(a.RAMTotalCost()), SharedCost: Number(a.SharedCost), ExternalCost: Number(a.ExternalCost),
				TotalCost:   Number(a.TotalCost()),
				CPUCostIdle: Number(a.CPUCostIdle), GPUCostIdle: Number(a.GPUCostIdle), RAMCostIdle: Number(a.RAMCostIdle),
				GPURequestAverage: Number(a.GPURequestAverage), GPUUsageAverage: Number(a.GPUUsageAverage),
			}
			if !a.IsIdle() {
				sj := set.Allocations[a.Name]
				sj.Efficiency, sj.TotalEfficiency = Number(a.TotalEfficiency()), Number(a.TotalEfficiency())
				set.Allocations[a.Name] = sj
			}
		}
		out.Data.Sets[i] = set
	}
	return out
}
