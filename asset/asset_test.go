package asset_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/asset"
)

func TestParseKind(t *testing.T) {
	for in, want := range map[string]asset.Kind{"node": asset.KindNode, "Disk": asset.KindDisk,
		"loadbalancer": asset.KindLoadBalancer, "NETWORK": asset.KindNetwork, "clustermanagement": asset.KindClusterManagement} {
		got, err := asset.ParseKind(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	_, err := asset.ParseKind("nodes")
	require.ErrorContains(t, err, `"nodes"`)
}

func TestDerivedQuantities(t *testing.T) {
	s := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	n := asset.Asset{Kind: asset.KindNode, Start: s, End: s.Add(90 * time.Minute), Hours: 1.5,
		CPUCoreHours: 6, RAMByteHours: 1.5 * 8, GPUHours: 0, CPUCost: 1, RAMCost: 0.5, GPUCost: 2,
		CPUCostAllocated: 0.25, RAMCostAllocated: 0.75, Discount: 0.1, Adjustment: -0.05}
	require.Equal(t, 4.0, n.CPUCores())
	require.Equal(t, 8.0, n.RAMBytes())
	require.Equal(t, 90.0, n.Minutes())
	require.InDelta(t, 1.5*0.9+2-0.05, n.TotalCost(), 1e-12, "the discount applies to CPU and RAM")
	require.InDelta(t, 0.75+0+2, n.IdleCost(), 1e-12, "idle is clamped per resource")
	d := asset.Asset{Kind: asset.KindDisk, Hours: 0, ByteHours: 5, Cost: 3, Adjustment: 1}
	require.Zero(t, d.Bytes(), "no life, no average")
	require.Equal(t, 4.0, d.TotalCost())
	require.Equal(t, "Storage", d.Kind.Category())
	d.Properties = asset.Properties{Cluster: "c", Name: "pv1"}
	require.Equal(t, "c/Disk/pv1", d.Key())
}
