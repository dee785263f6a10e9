package api

import (
	"time"

	"github.com/costfed/costfed/asset"
)

// AssetResponse is the /assets answer: OpenCost's envelope with one map of
// assets by key per set (a one-element list when accumulated).
type AssetResponse struct {
	Code     int              `json:"code"`
	Status   string           `json:"status"`
	Data     []map[string]any `json:"data"`
	Warnings []string         `json:"warnings,omitempty"`
}

// AssetPropertiesJSON are an asset's properties with OpenCost's names.
type AssetPropertiesJSON struct {
	Category   string `json:"category,omitempty"`
	Provider   string `json:"provider,omitempty"`
	Account    string `json:"account,omitempty"`
	Project    string `json:"project,omitempty"`
	Service    string `json:"service,omitempty"`
	Cluster    string `json:"cluster,omitempty"`
	Name       string `json:"name,omitempty"`
	ProviderID string `json:"providerID,omitempty"`
}

// BreakdownJSON splits a resource's cost into fractions. costfed knows
// what was allocated (user) and what was not (idle); system and other are
// always 0.
type BreakdownJSON struct {
	Idle   Number `json:"idle"`
	Other  Number `json:"other"`
	System Number `json:"system"`
	User   Number `json:"user"`
}

// assetHead is the part every asset kind writes first.
type assetHead struct {
	Type       string              `json:"type,omitempty"`
	Properties AssetPropertiesJSON `json:"properties"`
	Labels     map[string]string   `json:"labels"`
	Window     WindowJSON          `json:"window"`
	Start      string              `json:"start"`
	End        string              `json:"end"`
	Minutes    Number              `json:"minutes"`
}

// NodeJSON is a Node asset in OpenCost's field order.
type NodeJSON struct {
	assetHead
	NodeType     string        `json:"nodeType"`
	CPUCores     Number        `json:"cpuCores"`
	RAMBytes     Number        `json:"ramBytes"`
	CPUCoreHours Number        `json:"cpuCoreHours"`
	RAMByteHours Number        `json:"ramByteHours"`
	GPUHours     Number        `json:"GPUHours"`
	CPUBreakdown BreakdownJSON `json:"cpuBreakdown"`
	RAMBreakdown BreakdownJSON `json:"ramBreakdown"`
	Preemptible  Number        `json:"preemptible"`
	Discount     Number        `json:"discount"`
	CPUCost      Number        `json:"cpuCost"`
	GPUCost      Number        `json:"gpuCost"`
	GPUCount     Number        `json:"gpuCount"`
	RAMCost      Number        `json:"ramCost"`
	Adjustment   Number        `json:"adjustment"`
	TotalCost    Number        `json:"totalCost"`
}

// DiskJSON is a Disk asset. byteHoursUsed and byteUsageMax are null where
// kubelet reported no usage (a volume without a claim, or never mounted),
// as OpenCost writes unknowns.
type DiskJSON struct {
	assetHead
	ByteHours      Number        `json:"byteHours"`
	Bytes          Number        `json:"bytes"`
	ByteHoursUsed  *Number       `json:"byteHoursUsed"`
	ByteUsageMax   *Number       `json:"byteUsageMax"`
	Breakdown      BreakdownJSON `json:"breakdown"`
	Adjustment     Number        `json:"adjustment"`
	TotalCost      Number        `json:"totalCost"`
	StorageClass   string        `json:"storageClass"`
	VolumeName     string        `json:"volumeName"`
	ClaimName      string        `json:"claimName"`
	ClaimNamespace string        `json:"claimNamespace"`
}

// LoadBalancerJSON is a LoadBalancer asset.
type LoadBalancerJSON struct {
	assetHead
	Adjustment Number `json:"adjustment"`
	TotalCost  Number `json:"totalCost"`
	Private    bool   `json:"private"`
	IP         string `json:"ip"`
}

// CostJSON is a Network, ClusterManagement or mixed (Any) asset: the head
// and its cost.
type CostJSON struct {
	assetHead
	Adjustment *Number `json:"adjustment,omitempty"`
	TotalCost  Number  `json:"totalCost"`
}

// NewAssetResponse converts an answer to the /assets form.
func NewAssetResponse(ans AssetAnswer) AssetResponse {
	r := AssetResponse{Code: 200, Status: "success", Data: make([]map[string]any, len(ans.Sets)), Warnings: ans.Warnings}
	for i, s := range ans.Sets {
		m := make(map[string]any, len(s.Assets))
		for k, a := range s.Assets {
			m[k] = AssetJSON(&a)
		}
		r.Data[i] = m
	}
	return r
}

// AssetMapResponse is OpenCost's /assets answer: data is the one asset set
// of the whole window, a map of assets by key.
type AssetMapResponse struct {
	Code     int            `json:"code"`
	Status   string         `json:"status"`
	Data     map[string]any `json:"data"`
	Warnings []string       `json:"warnings,omitempty"`
}

// NewAssetMapResponse converts an accumulated answer (at most one set) to
// OpenCost's /assets form; no set is an empty map.
func NewAssetMapResponse(ans AssetAnswer) AssetMapResponse {
	r := AssetMapResponse{Code: 200, Status: "success", Data: map[string]any{}, Warnings: ans.Warnings}
	for _, s := range ans.Sets {
		for k, a := range s.Assets {
			r.Data[k] = AssetJSON(&a)
		}
	}
	return r
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// AssetJSON is one asset in OpenCost's shape for its kind.
func AssetJSON(a *asset.Asset) any {
	h := assetHead{
		Type:       string(a.Kind),
		Properties: AssetPropertiesJSON{Category: a.Kind.Category(), Cluster: a.Properties.Cluster, Name: a.Properties.Name, ProviderID: a.Properties.ProviderID},
		Labels:     a.Labels,
		Window:     WindowJSON{Start: a.Window.Start.UTC(), End: a.Window.End.UTC()},
		Start:      rfc3339(a.Start), End: rfc3339(a.End), Minutes: Number(a.Minutes()),
	}
	if h.Labels == nil {
		h.Labels = map[string]string{}
	}
	switch a.Kind {
	case asset.KindNode:
		pre := 0.0
		if a.Preemptible {
			pre = 1
		}
		return NodeJSON{assetHead: h, NodeType: a.NodeType, CPUCores: Number(a.CPUCores()), RAMBytes: Number(a.RAMBytes()),
			CPUCoreHours: Number(a.CPUCoreHours), RAMByteHours: Number(a.RAMByteHours), GPUHours: Number(a.GPUHours),
			CPUBreakdown: breakdown(a.CPUCost, a.CPUCostAllocated), RAMBreakdown: breakdown(a.RAMCost, a.RAMCostAllocated),
			Preemptible: Number(pre), Discount: Number(a.Discount), CPUCost: Number(a.CPUCost), GPUCost: Number(a.GPUCost),
			GPUCount: Number(a.GPUCount()), RAMCost: Number(a.RAMCost), Adjustment: Number(a.Adjustment), TotalCost: Number(a.TotalCost())}
	case asset.KindDisk:
		return DiskJSON{assetHead: h, ByteHours: Number(a.ByteHours), Bytes: Number(a.Bytes()), Adjustment: Number(a.Adjustment),
			ByteHoursUsed: numberOrNull(a.ByteHoursUsed), ByteUsageMax: numberOrNull(a.ByteUsageMax),
			TotalCost: Number(a.TotalCost()), StorageClass: a.StorageClass, VolumeName: a.VolumeName, ClaimName: a.ClaimName, ClaimNamespace: a.ClaimNamespace}
	case asset.KindLoadBalancer:
		return LoadBalancerJSON{assetHead: h, Adjustment: Number(a.Adjustment), TotalCost: Number(a.TotalCost()), Private: a.Private, IP: a.IP}
	case asset.KindClusterManagement:
		return CostJSON{assetHead: h, TotalCost: Number(a.TotalCost())}
	case kindAny:
		h.Type = "" // OpenCost writes mixed aggregates without a type
		adj := Number(a.Adjustment)
		return CostJSON{assetHead: h, Adjustment: &adj, TotalCost: Number(a.Cost + a.CPUCost + a.RAMCost + a.GPUCost + a.Adjustment)}
	}
	adj := Number(a.Adjustment)
	return CostJSON{assetHead: h, Adjustment: &adj, TotalCost: Number(a.TotalCost())}
}

// numberOrNull is v as a JSON number, or null when v is nil.
func numberOrNull(v *float64) *Number {
	if v == nil {
		return nil
	}
	n := Number(*v)
	return &n
}

// breakdown is the allocated (user) and idle fractions of a cost.
func breakdown(cost, allocated float64) BreakdownJSON {
	if cost <= 0 {
		return BreakdownJSON{}
	}
	user := min(max(allocated/cost, 0), 1)
	return BreakdownJSON{User: Number(user), Idle: Number(1 - user)}
}
