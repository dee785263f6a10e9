package etl

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/internal/simtest"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
	"github.com/costfed/costfed/store"
)

// TestBuildCommitsAssetsInTheSameWindowPass builds a simulated day's hours
// and the day from a real (in-process) source: every window gets an asset
// block beside its allocation block, the day's assets are summed from its
// hours (no queries) and equal, to float rounding, what the source gives
// for the whole day; and the node assets reconcile with the blocks' idle.
func TestBuildCommitsAssetsInTheSameWindowPass(t *testing.T) {
	ctx := context.Background()
	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster, cfg.LateNodes = 1, 3, 1
	src, err := prom.OpenLocal(simtest.TSDB(t, simtest.Fleet(t, cfg)), prom.LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	defer src.Close()
	comp := SourceComputer{Source: src, Prices: allocation.PriceTable{ClusterManagementHour: 0.1},
		Options: allocation.QueryOptions{Step: cfg.ScrapeInterval, LeftOpen: src.RangeSemantics() == prom.RangeLeftOpen}}
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	now := cfg.End.Add(time.Hour)
	b := &Builder{Cluster: "cluster-01", ProducerVersion: "test", Store: st, Computer: comp, Now: func() time.Time { return now }}
	day := allocation.Window{Start: cfg.Start, End: cfg.End}
	var tasks []Task
	for h := day.Start; h.Before(day.End); h = h.Add(time.Hour) {
		tasks = append(tasks, Task{Resolution: store.Hourly, Window: allocation.Window{Start: h, End: h.Add(time.Hour)}, Final: true})
	}
	tasks = append(tasks, Task{Resolution: store.Daily, Window: day, Final: true})
	results, err := b.Build(ctx, tasks, BuildOptions{}, nil)
	require.NoError(t, err)
	require.Equal(t, store.BuiltFromHourly, results[len(results)-1].BuiltFrom)

	hix, err := st.ReadAssetIndex(ctx, "cluster-01", store.Hourly)
	require.NoError(t, err)
	require.Len(t, hix.Blocks, 24)
	dix, err := st.ReadAssetIndex(ctx, "cluster-01", store.Daily)
	require.NoError(t, err)
	require.Len(t, dix.Blocks, 1)
	summed, err := st.ReadAssetBlock(ctx, "cluster-01", store.Daily, dix.Blocks[0])
	require.NoError(t, err)
	require.True(t, summed.Meta.Complete)

	direct, err := comp.ComputeWindow(ctx, day)
	require.NoError(t, err)
	require.Len(t, summed.Assets, len(direct.Assets))
	var nodes, late int
	for i, want := range direct.Assets {
		got := summed.Assets[i]
		require.Equal(t, want.Key(), got.Key())
		require.Equal(t, want.Start, got.Start, want.Key())
		require.Equal(t, want.End, got.End, want.Key())
		require.InDelta(t, want.TotalCost(), got.TotalCost(), 1e-9*max(1, want.TotalCost()), want.Key())
		require.InDelta(t, want.Hours, got.Hours, 1e-9, want.Key())
		require.InDelta(t, want.CPUCostAllocated, got.CPUCostAllocated, 1e-9, want.Key())
		if got.Kind == asset.KindNode {
			nodes++
			if got.Start.After(day.Start) {
				late++
			}
		}
	}
	require.Equal(t, 4, nodes)
	require.Equal(t, 1, late, "the late node starts when it joined")

	// Node cost = allocated + idle against the committed daily allocation block.
	aix, err := st.ReadIndex(ctx, "cluster-01", store.Daily)
	require.NoError(t, err)
	blk, err := st.ReadBlock(ctx, "cluster-01", store.Daily, aix.Blocks[0])
	require.NoError(t, err)
	idle := map[string]allocation.Allocation{}
	for _, r := range blk.Rows {
		if r.IsIdle() {
			idle[r.Properties.Node] = r
		}
	}
	for _, a := range summed.Assets {
		if a.Kind != asset.KindNode {
			continue
		}
		id, ok := idle[a.Properties.Name]
		require.True(t, ok, a.Key())
		require.InDelta(t, a.CPUCost+a.RAMCost+a.GPUCost, a.CPUCostAllocated+a.RAMCostAllocated+a.GPUCostAllocated+id.CPUCost+id.RAMCost+id.GPUCost, 1e-9, a.Key())
	}
}

// TestBackfillAssetsIntoAnOldStore: a store built before assets existed
// (allocation blocks only) gets asset blocks from a backfill planned with
// the asset index, without its allocation blocks being touched; the day is
// summed from the hours just built.
func TestBackfillAssetsIntoAnOldStore(t *testing.T) {
	ctx := context.Background()
	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster, cfg.LateNodes = 1, 2, 0
	src, err := prom.OpenLocal(simtest.TSDB(t, simtest.Fleet(t, cfg)), prom.LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	defer src.Close()
	comp := SourceComputer{Source: src, Options: allocation.QueryOptions{Step: cfg.ScrapeInterval, LeftOpen: src.RangeSemantics() == prom.RangeLeftOpen}}
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	now := cfg.End.Add(time.Hour)
	b := &Builder{Cluster: "cluster-01", ProducerVersion: "test", Store: st, Computer: comp, Now: func() time.Time { return now }}
	plan := func(res store.Resolution, assets bool) []Task {
		ix, err := st.ReadIndex(ctx, "cluster-01", res)
		require.NoError(t, err)
		in := PlanInput{Mode: ModeBackfill, Now: now, Policy: Policy{Resolution: res}, From: cfg.Start, To: cfg.End, Committed: ix}
		if assets {
			aix, err := st.ReadAssetIndex(ctx, "cluster-01", res)
			require.NoError(t, err)
			in.Assets = &aix
		}
		tasks, _, err := Plan(in)
		require.NoError(t, err)
		return tasks
	}
	old := append(plan(store.Hourly, false), plan(store.Daily, false)...)
	_, err = b.Build(ctx, old, BuildOptions{SkipAssets: true}, nil)
	require.NoError(t, err)
	before, err := st.ReadIndex(ctx, "cluster-01", store.Hourly)
	require.NoError(t, err)
	aix, err := st.ReadAssetIndex(ctx, "cluster-01", store.Hourly)
	require.NoError(t, err)
	require.Empty(t, aix.Blocks, "an old store: no assets")

	tasks := append(plan(store.Hourly, true), plan(store.Daily, true)...)
	require.Len(t, tasks, 25)
	for _, tk := range tasks {
		require.True(t, tk.AssetsOnly)
		require.Equal(t, ReasonAssetsMissing, tk.Reason)
	}
	results, err := b.Build(ctx, tasks, BuildOptions{}, nil)
	require.NoError(t, err)
	require.Equal(t, store.BuiltFromHourly, results[24].BuiltFrom)
	after, err := st.ReadIndex(ctx, "cluster-01", store.Hourly)
	require.NoError(t, err)
	require.Equal(t, before, after, "allocation blocks untouched")
	for _, res := range store.Resolutions {
		aix, err := st.ReadAssetIndex(ctx, "cluster-01", res)
		require.NoError(t, err)
		require.NotEmpty(t, aix.Blocks)
		for _, e := range aix.Blocks {
			require.True(t, e.Complete)
			require.Positive(t, e.TotalCost)
		}
	}
	require.Empty(t, append(plan(store.Hourly, true), plan(store.Daily, true)...), "nothing left to do")
}
