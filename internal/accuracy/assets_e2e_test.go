package accuracy

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/api"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/etl"
	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/internal/simtest"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
	"github.com/costfed/costfed/store"
)

// TestAssetsThroughTheWholePath runs the simulated fleet through every
// stage, agent (one per cluster, filtering the shared source by cluster) →
// cluster asset blocks → federator → combined store → the /assets engine,
// and holds what /assets answers to the truth: the day (one 1d block,
// summed by the agent from its hours) and the afternoon (six 1h blocks,
// accumulated by the API), per node, disk and load balancer, and per
// cluster.
func TestAssetsThroughTheWholePath(t *testing.T) {
	ctx := context.Background()
	cfg := fleetConfig()
	cfg.NodesPerCluster = 3
	cfg.Start = sim.DefaultEnd.Add(-24 * time.Hour)
	f := simtest.Fleet(t, cfg)
	src, err := prom.OpenLocal(simtest.TSDB(t, f), prom.LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	defer src.Close()
	tr := collectTruth(t, f)

	st := store.New(objstore.NewInMemBucket(), store.Options{})
	day := allocation.Window{Start: cfg.Start, End: cfg.End}
	var tasks []etl.Task
	for h := day.Start; h.Before(day.End); h = h.Add(time.Hour) {
		tasks = append(tasks, etl.Task{Resolution: store.Hourly, Window: allocation.Window{Start: h, End: h.Add(time.Hour)}, Final: true})
	}
	tasks = append(tasks, etl.Task{Resolution: store.Daily, Window: day, Final: true})
	for _, c := range []string{"cluster-01", "cluster-02"} {
		comp := etl.SourceComputer{Source: src, Prices: allocation.PriceTable{ClusterManagementHour: clusterFee}, Concurrency: 4,
			Options: allocation.QueryOptions{Step: cfg.ScrapeInterval, Cluster: c, LeftOpen: src.RangeSemantics() == prom.RangeLeftOpen}}
		b := &etl.Builder{Cluster: c, ProducerVersion: "test", Store: st, Computer: comp, Now: func() time.Time { return cfg.End.Add(time.Hour) }}
		_, err := b.Build(ctx, tasks, etl.BuildOptions{}, nil)
		require.NoError(t, err, c)
	}
	rep, err := federator.New(st, federator.Options{Version: "test", Now: func() time.Time { return cfg.End.Add(2 * time.Hour) }}).RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.MergedAssets[store.Daily])
	require.Equal(t, 24, rep.MergedAssets[store.Hourly])

	afternoon := allocation.Window{Start: day.Start.Add(12 * time.Hour), End: day.Start.Add(18 * time.Hour)}
	for _, w := range []allocation.Window{day, afternoon} {
		ans, err := api.Assets(ctx, st, store.CombinedID, api.AssetQuery{Window: w, Accumulate: true})
		require.NoError(t, err)
		require.Empty(t, ans.Warnings)
		require.Len(t, ans.Sets, 1)
		got := ans.Sets[0].Assets

		want := map[string]float64{}
		clusters := map[string]float64{}
		res := sim.Hourly
		if w == day {
			res = sim.Daily
		}
		in := func(win sim.Window) bool {
			return win.Resolution == res && !win.WindowStart.Before(w.Start) && !win.WindowEnd.After(w.End)
		}
		for _, n := range tr.nodes {
			if in(n.Window) {
				want[n.Cluster+"/Node/"+n.Node] += n.TotalCost
			}
		}
		for _, d := range tr.disks {
			if in(d.Window) {
				want[d.Cluster+"/Disk/"+d.PersistentVolume] += d.Cost
			}
		}
		for _, l := range tr.lbs {
			if in(l.Window) {
				want[l.Cluster+"/LoadBalancer/"+l.Namespace+"/"+l.Service] += l.Cost
			}
		}
		for _, c := range tr.clusters {
			if in(c.Window) {
				want[c.Cluster+"/ClusterManagement/"] += clusterFee * c.WindowEnd.Sub(c.WindowStart).Hours()
				clusters[c.Cluster] += c.TotalCost + clusterFee*c.WindowEnd.Sub(c.WindowStart).Hours()
			}
		}
		require.Len(t, got, len(want), "assets in %s", w)
		node, other, cl := newWorst("node asset cost (API)", tolNodeAsset), newWorst("disk/LB asset cost (API)", tolDiskLBAsset), newWorst("cluster asset cost (API)", tolClusterAsset)
		sums := map[string]float64{}
		for k, v := range want {
			a, ok := got[k]
			require.True(t, ok, "missing %s", k)
			switch a.Kind {
			case asset.KindNode, asset.KindClusterManagement:
				node.add(k, a.TotalCost(), v)
			default:
				other.add(k, a.TotalCost(), v)
			}
			sums[a.Properties.Cluster] += a.TotalCost()
		}
		for c, v := range clusters {
			cl.add(c, sums[c], v)
		}
		t.Logf("window %s (relative errors %.2e, %.2e, %.2e):\n  %s\n  %s\n  %s", w, node.err, other.err, cl.err, node, other, cl)
		node.check(t)
		other.check(t)
		cl.check(t)
	}
}
