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

func TestSumAddsWindowsPerKey(t *testing.T) {
	h0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	day := asset.Window{Start: h0, End: h0.Add(24 * time.Hour)}
	node := func(h int, cost float64, labels map[string]string) asset.Asset {
		s := h0.Add(time.Duration(h) * time.Hour)
		return asset.Asset{Kind: asset.KindNode, Properties: asset.Properties{Cluster: "c", Name: "n"}, Labels: labels,
			Window: asset.Window{Start: s, End: s.Add(time.Hour)}, Start: s, End: s.Add(time.Hour), Hours: 1,
			CPUCoreHours: 4, CPUCost: cost, CPUCostAllocated: cost / 2, PriceSource: "metrics"}
	}
	disk := asset.Asset{Kind: asset.KindDisk, Properties: asset.Properties{Cluster: "c", Name: "pv"}, Start: h0.Add(time.Hour), End: h0.Add(90 * time.Minute),
		Hours: 0.5, ByteHours: 5, Cost: 0.5, PriceSource: "config"}
	first := []asset.Asset{node(0, 1, map[string]string{"v": "1"})}
	second := []asset.Asset{disk, node(1, 2, map[string]string{"v": "2"})}
	got := asset.Sum(day, first, second)
	require.Len(t, got, 2)
	require.Equal(t, "c/Disk/pv", got[0].Key())
	n := got[1]
	require.Equal(t, day, n.Window)
	require.Equal(t, h0, n.Start)
	require.Equal(t, h0.Add(2*time.Hour), n.End)
	require.Equal(t, 2.0, n.Hours)
	require.Equal(t, 4.0, n.CPUCores())
	require.Equal(t, 3.0, n.CPUCost)
	require.Equal(t, 1.5, n.CPUCostAllocated)
	require.Equal(t, map[string]string{"v": "2"}, n.Labels, "the latest labels")
	require.Equal(t, "config", got[0].PriceSource)
	n.Labels["v"] = "x"
	require.Equal(t, "2", second[1].Labels["v"], "no memory shared with the inputs")
}

// Disk usage adds over the windows that measured it and keeps the largest
// report; a window without reports leaves both as they were, and a sum
// without any report keeps them nil (OpenCost's null).
func TestSumDiskUsage(t *testing.T) {
	h0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f := func(v float64) *float64 { return &v }
	disk := func(h int, used, peak *float64) asset.Asset {
		s := h0.Add(time.Duration(h) * time.Hour)
		return asset.Asset{Kind: asset.KindDisk, Properties: asset.Properties{Cluster: "c", Name: "pv"}, Start: s, End: s.Add(time.Hour),
			Hours: 1, ByteHours: 10, ByteHoursUsed: used, ByteUsageMax: peak}
	}
	day := asset.Window{Start: h0, End: h0.Add(24 * time.Hour)}
	in := [][]asset.Asset{{disk(0, f(4), f(5))}, {disk(1, nil, nil)}, {disk(2, f(2), f(3))}}
	got := asset.Sum(day, in...)
	require.Len(t, got, 1)
	require.Equal(t, 6.0, *got[0].ByteHoursUsed)
	require.Equal(t, 5.0, *got[0].ByteUsageMax)
	*got[0].ByteUsageMax = 99
	require.Equal(t, 5.0, *in[0][0].ByteUsageMax, "no memory shared with the inputs")

	none := asset.Sum(day, []asset.Asset{disk(0, nil, nil)}, []asset.Asset{disk(1, nil, nil)})
	require.Nil(t, none[0].ByteHoursUsed)
	require.Nil(t, none[0].ByteUsageMax)

	late := asset.Sum(day, []asset.Asset{disk(0, nil, nil)}, []asset.Asset{disk(1, f(1), f(2))})
	require.Equal(t, 1.0, *late[0].ByteHoursUsed)
	require.Equal(t, 2.0, *late[0].ByteUsageMax)
}
