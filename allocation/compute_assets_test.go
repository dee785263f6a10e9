package allocation_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
)

func assetsByKey(as []asset.Asset) map[string]asset.Asset {
	out := make(map[string]asset.Asset, len(as))
	for _, a := range as {
		out[a.Key()] = a
	}
	return out
}

// TestComputeWindowAssets covers every asset kind on one fixture: a node
// for the whole hour with a price change, a spot node that joins at
// 10:20:17 (kube_node_created) running nothing, a claimed and an unclaimed
// volume, a load balancer, egress and the management fee.
func TestComputeWindowAssets(t *testing.T) {
	f := newFixture(time.Hour)
	f.node("n1", 4, 16*gib, func(ts int64) float64 {
		if ts >= f.at(30*time.Minute) {
			return 0.05
		}
		return 0.04
	}, 0.005)
	join := f.at(20*time.Minute + 17*time.Second)
	late := f.grid(join, f.at(time.Hour)+1)
	ls := map[string]string{"node": "n2", "instance": "n2", "instance_type": "m5.large", "provider_id": "aws:///n2"}
	f.add("node_cpu_hourly_cost", ls, late, constant(0.01))
	f.add("node_ram_hourly_cost", ls, late, constant(0.001))
	f.add("kubecost_node_is_spot", ls, late, constant(1))
	f.add("kube_node_status_capacity", map[string]string{"node": "n2", "resource": "cpu", "unit": "core"}, late, constant(2))
	f.add("kube_node_status_capacity", map[string]string{"node": "n2", "resource": "memory", "unit": "byte"}, late, constant(8*gib))
	f.add("kube_node_created", map[string]string{"node": "n2"}, []int64{ms(f.w.End)}, constant(float64(join)/1000))
	f.add("kube_node_labels", map[string]string{"node": "n2", "label_team": "ml"}, []int64{ms(f.w.End)}, constant(1))

	f.pod(podSpec{ns: "a", pod: "web-1", uid: "u1", container: "c", node: "n1", start: f.at(-time.Hour), end: f.at(2 * time.Hour),
		cpuReq: 1, cpuAlloc: 1, memAlloc: gib, labels: map[string]string{"app": "web"}})
	all := f.grid(f.at(0), f.at(time.Hour)+1)
	f.add("kubecost_load_balancer_cost", map[string]string{"namespace": "a", "service_name": "web", "ingress_ip": "34.1.2.3"}, all, constant(0.025))
	f.add("kube_persistentvolumeclaim_info", map[string]string{"namespace": "a", "persistentvolumeclaim": "data", "volumename": "pv1", "storageclass": "gp3"}, []int64{ms(f.w.End)}, constant(1))
	f.add("kube_persistentvolumeclaim_resource_requests_storage_bytes", map[string]string{"namespace": "a", "persistentvolumeclaim": "data"}, all, constant(10*gib))
	f.add("pv_hourly_cost", map[string]string{"persistentvolume": "pv1", "volumename": "pv1", "provider_id": "vol-1"}, all, constant(0.0001))
	f.add("kube_persistentvolume_capacity_bytes", map[string]string{"persistentvolume": "pv1"}, all, constant(20*gib))
	// kubelet reports the claim's usage only while it is mounted: minutes
	// 10..39, 3 GiB but 9 GiB at minute 20 (a middle sample counts one step
	// under any rule for a run's edges): average 3.2 GiB.
	f.add("kubelet_volume_stats_used_bytes", map[string]string{"namespace": "a", "persistentvolumeclaim": "data", "node": "n1"},
		f.grid(f.at(10*time.Minute), f.at(40*time.Minute)), func(ts int64) float64 {
			if ts == f.at(20*time.Minute) {
				return 9 * gib
			}
			return 3 * gib
		})
	f.add("pv_hourly_cost", map[string]string{"persistentvolume": "pv2", "volumename": "pv2"}, all, constant(0.0002))
	f.add("kube_persistentvolume_capacity_bytes", map[string]string{"persistentvolume": "pv2"}, all, constant(5*gib))
	f.add("kube_persistentvolume_info", map[string]string{"persistentvolume": "pv1", "storageclass": "gp3", "csi_driver": "ebs.csi.aws.com", "csi_volume_handle": "vol-1"}, []int64{ms(f.w.End)}, constant(1))
	f.add("kube_persistentvolume_info", map[string]string{"persistentvolume": "pv2", "storageclass": "standard", "local_path": "/mnt/disks/ssd0", "local_fs": "ext4"}, []int64{ms(f.w.End)}, constant(1))
	// 1 GiB of internet egress over the hour at $0.09/GiB.
	f.add("kubecost_pod_network_egress_bytes_total", map[string]string{"namespace": "a", "pod_name": "web-1", "internet": "true"}, all,
		func(ts int64) float64 { return float64(ts-f.at(0)) / float64(time.Hour.Milliseconds()) * gib })
	f.add("kubecost_network_internet_egress_cost", nil, all, constant(0.09))

	res, err := allocation.ComputeWindow(f.w, f.results(), allocation.PriceTable{ClusterManagementHour: 0.10})
	require.NoError(t, err)
	require.Empty(t, res.Warnings)
	got := assetsByKey(res.Assets)
	keys := make([]string, 0, len(res.Assets))
	for _, a := range res.Assets {
		keys = append(keys, a.Key())
	}
	require.Equal(t, []string{"c1/ClusterManagement/", "c1/Disk/pv1", "c1/Disk/pv2", "c1/LoadBalancer/a/web", "c1/Network/", "c1/Node/n1", "c1/Node/n2"}, keys)

	n1 := got["c1/Node/n1"]
	require.InDelta(t, 4*(0.5*0.04+0.5*0.05), n1.CPUCost, 1e-12, "a price change is charged by time")
	require.InDelta(t, 16*0.005, n1.RAMCost, 1e-12)
	require.InDelta(t, 4.0, n1.CPUCores(), 1e-12)
	require.InDelta(t, 16*gib, n1.RAMBytes(), 1e-3)
	require.Equal(t, f.w.Start, n1.Start)
	require.Equal(t, f.w.End, n1.End)
	require.Equal(t, 60.0, n1.Minutes())
	require.Equal(t, "m5.xlarge", n1.NodeType)
	require.Equal(t, "aws:///n1", n1.Properties.ProviderID)
	require.False(t, n1.Preemptible)

	n2 := got["c1/Node/n2"]
	life := (time.Hour - 20*time.Minute - 17*time.Second).Hours()
	require.Equal(t, time.UnixMilli(join).UTC(), n2.Start, "kube_node_created gives the exact join")
	require.InDelta(t, life, n2.Hours, 1e-12)
	require.InDelta(t, 2*0.01*life, n2.CPUCost, 1e-12)
	require.InDelta(t, 8*0.001*life, n2.RAMCost, 1e-12)
	require.True(t, n2.Preemptible)
	require.Equal(t, map[string]string{"team": "ml"}, n2.Labels)
	require.Zero(t, n2.CPUCostAllocated)

	// Node cost = allocated + idle, per node and resource.
	rows := byName(res.Allocations)
	for _, n := range []asset.Asset{n1, n2} {
		idle := rows["c1/"+n.Properties.Name+"/__idle__"]
		require.InDelta(t, n.CPUCost, n.CPUCostAllocated+idle.CPUCost, 1e-12)
		require.InDelta(t, n.RAMCost, n.RAMCostAllocated+idle.RAMCost, 1e-12)
		require.InDelta(t, n.IdleCost(), idle.TotalCost(), 1e-12)
	}
	require.InDelta(t, rows["c1/n1/a/web-1/c"].CPUCost, n1.CPUCostAllocated, 1e-12)

	pv1 := got["c1/Disk/pv1"]
	require.InDelta(t, 20*0.0001, pv1.Cost, 1e-12, "a disk costs its capacity, not its claim")
	require.InDelta(t, 20*gib, pv1.Bytes(), 1e-3)
	require.Equal(t, "data", pv1.ClaimName)
	require.Equal(t, "a", pv1.ClaimNamespace)
	require.Equal(t, "gp3", pv1.StorageClass)
	require.Equal(t, "vol-1", pv1.Properties.ProviderID)
	require.False(t, pv1.Local, "a CSI (EBS) volume is network storage")
	require.NotNil(t, pv1.ByteHoursUsed)
	require.InDelta(t, 3.2*gib*pv1.Hours, *pv1.ByteHoursUsed, 1, "average reported usage carried over the disk's hours")
	require.Equal(t, 1.0, pv1.Hours)
	require.Equal(t, float64(9*gib), *pv1.ByteUsageMax)
	pv2 := got["c1/Disk/pv2"]
	require.True(t, pv2.Local, "kube_persistentvolume_info names its local_path")
	require.InDelta(t, 5*0.0002, pv2.Cost, 1e-12)
	require.Empty(t, pv2.ClaimName)
	require.Equal(t, "standard", pv2.StorageClass)
	require.Nil(t, pv2.ByteHoursUsed, "no claim, no kubelet reports: unknown, not zero")
	require.Nil(t, pv2.ByteUsageMax)

	lb := got["c1/LoadBalancer/a/web"]
	require.InDelta(t, 0.025, lb.Cost, 1e-12)
	require.Equal(t, "34.1.2.3", lb.IP)
	require.False(t, lb.Private)

	net := got["c1/Network/"]
	require.InDelta(t, rows["c1/n1/a/web-1/c"].NetworkCost, net.Cost, 1e-12)
	require.Greater(t, net.Cost, 0.08)

	mgmt := got["c1/ClusterManagement/"]
	require.InDelta(t, 0.10, mgmt.Cost, 1e-12)
	require.Equal(t, "Management", mgmt.Kind.Category())
}

// TestComputeKeepsIdleWithoutCreationTime: without kube_node_created a
// node's life starts half a step before its first sample, as before.
func TestComputeNodeLifeWithoutCreationTime(t *testing.T) {
	f := newFixture(time.Hour)
	late := f.grid(f.at(20*time.Minute+17*time.Second), f.at(time.Hour)+1)
	f.add("kube_node_status_capacity", map[string]string{"node": "n2", "resource": "cpu", "unit": "core"}, late, constant(2))
	res, err := allocation.ComputeWindow(f.w, f.results(), allocation.PriceTable{Default: allocation.NodePrices{CPUCoreHour: 0.01}})
	require.NoError(t, err)
	require.Len(t, res.Assets, 1)
	n2 := res.Assets[0]
	require.Equal(t, time.UnixMilli(f.at(20*time.Minute+30*time.Second)).UTC(), n2.Start)
	require.Equal(t, allocation.PriceSourceConfig, n2.PriceSource)
	require.InDelta(t, 2*0.01*n2.Hours, n2.TotalCost(), 1e-12)
}
