package accuracy

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/etl"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
)

// fleetConfig is the accuracy fleet: two clusters of four nodes, and one
// that joins mid-range, over two days ending at sim.DefaultEnd, scraped
// every 60 s.
func fleetConfig() sim.Config {
	cfg := sim.DefaultConfig()
	cfg.Clusters = 2
	cfg.NodesPerCluster = 4
	cfg.LateNodes = 1
	cfg.Start = sim.DefaultEnd.Add(-48 * time.Hour)
	return cfg
}

// truth is a fleet's ground truth, indexed.
type truth struct {
	containers []sim.ContainerTruth
	nodes      []sim.NodeTruth
	unmounted  []sim.UnmountedTruth
	clusters   []sim.ClusterTruth
	disks      []sim.DiskTruth
	lbs        []sim.LoadBalancerTruth
}

func collectTruth(t testing.TB, f *sim.Fleet) *truth {
	t.Helper()
	tr := &truth{}
	err := f.Truth(context.Background(), func(r sim.TruthRecord) error {
		switch r := r.(type) {
		case *sim.ContainerTruth:
			tr.containers = append(tr.containers, *r)
		case *sim.NodeTruth:
			tr.nodes = append(tr.nodes, *r)
		case *sim.UnmountedTruth:
			tr.unmounted = append(tr.unmounted, *r)
		case *sim.ClusterTruth:
			tr.clusters = append(tr.clusters, *r)
		case *sim.DiskTruth:
			tr.disks = append(tr.disks, *r)
		case *sim.LoadBalancerTruth:
			tr.lbs = append(tr.lbs, *r)
		}
		return nil
	})
	require.NoError(t, err)
	return tr
}

// windows lists the truth's windows, hourly then daily.
func (tr *truth) windows() []sim.Window {
	seen := map[sim.Window]bool{}
	var out []sim.Window
	for _, c := range tr.clusters {
		if !seen[c.Window] {
			seen[c.Window] = true
			out = append(out, c.Window)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Resolution != out[j].Resolution {
			return out[i].Resolution == sim.Hourly
		}
		return out[i].WindowStart.Before(out[j].WindowStart)
	})
	return out
}

// computed is our answer for one window.
type computed struct {
	win      sim.Window
	rows     []allocation.Allocation
	assets   []asset.Asset
	warnings []string
	queries  int
	samples  int64
}

// computeAll evaluates every window's query set against src and computes it.
func computeAll(t testing.TB, src prom.Source, wins []sim.Window, opts allocation.QueryOptions) []computed {
	t.Helper()
	ctx := context.Background()
	out := make([]computed, 0, len(wins))
	for _, sw := range wins {
		w, err := allocation.NewWindow(sw.WindowStart, sw.WindowEnd)
		require.NoError(t, err)
		r, res, err := etl.ComputeWindowFromSource(ctx, src, w, opts, allocation.PriceTable{ClusterManagementHour: clusterFee}, 4)
		require.NoError(t, err, "window %s", w)
		require.LessOrEqual(t, res.Queries, 25, "queries per window")
		out = append(out, computed{win: sw, rows: r.Allocations, assets: r.Assets, warnings: r.Warnings, queries: res.Queries, samples: res.SamplesProcessed})
	}
	return out
}
