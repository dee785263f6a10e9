package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/internal/simtest"
	"github.com/costfed/costfed/sim"
	"github.com/costfed/costfed/store"
)

// TestBackfillFromTSDBPathMatchesHTTP backfills one cluster of a simulated
// two-cluster fleet twice: through a real Prometheus 2.42 serving the
// fleet's blocks (prometheus.url), and from a copy of the same blocks read
// in-process (prometheus.tsdb_path), each into its own store. Both use the
// cluster filter (the blocks hold two clusters). The blocks must be the
// same: the same windows, completeness and rows, every cost within 1e-9
// relative, and both match the simulation's ground truth.
func TestBackfillFromTSDBPathMatchesHTTP(t *testing.T) {
	ctx := context.Background()
	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster = 2, 2
	cfg.Start = cfg.End.Add(-48 * time.Hour)
	fleet := simtest.Fleet(t, cfg)
	promURL := simtest.Prometheus(t, fleet).URL // skips locally without the binary
	dir := t.TempDir()
	// The offline copy of the blocks, found through a path relative to
	// agent.yaml.
	require.NoError(t, os.Symlink(simtest.TSDB(t, fleet), filepath.Join(dir, "snapshot")))

	const cluster = "cluster-02"
	stores := map[string]string{}
	for _, name := range []string{"http", "offline"} {
		stores[name] = filepath.Join(dir, name+"-store")
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+"-store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+stores[name]+"\n"), 0o600))
	}
	agentYAML := func(name, source string) string {
		path := filepath.Join(dir, name+".yaml")
		y := fmt.Sprintf("cluster_id: %s\nstore: %s-store.yaml\nproducer_instance: test\nprometheus:\n  %s\n  cluster_filter: true\n", cluster, name, source)
		require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
		return path
	}
	from, to := cfg.Start.Format(time.RFC3339), cfg.End.Format(time.RFC3339)
	for name, source := range map[string]string{"http": "url: " + promURL, "offline": "tsdb_path: snapshot"} {
		code, stdout, stderr := runCmd(t, "backfill", "--config", agentYAML(name, source), "--from", from, "--to", to)
		require.Equal(t, 0, code, "%s: %s%s", name, stdout, stderr)
		require.Contains(t, stdout, "0 failed", name)
		if name == "offline" {
			require.Contains(t, stdout, "offline source "+filepath.Join(dir, "snapshot")+": building as of "+cfg.End.Add(5*time.Minute).Format(time.RFC3339))
		}
	}

	openStore := func(name string) *store.Store {
		bkt, err := store.NewBucket(ctx, nil, mustFilesystemStore(t, stores[name]), nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = bkt.Close() })
		return store.New(bkt, store.Options{})
	}
	httpStore, offStore := openStore("http"), openStore("offline")
	truth := map[string]float64{}
	require.NoError(t, fleet.Truth(ctx, func(r sim.TruthRecord) error {
		if c, ok := r.(*sim.ClusterTruth); ok && c.Cluster == cluster {
			truth[c.Resolution+"/"+c.WindowStart.Format(time.RFC3339)] = c.TotalCost
		}
		return nil
	}))

	worst, worstTruth, compared := 0.0, 0.0, 0
	for _, res := range store.Resolutions {
		hix, err := httpStore.ReadIndex(ctx, cluster, res)
		require.NoError(t, err)
		oix, err := offStore.ReadIndex(ctx, cluster, res)
		require.NoError(t, err)
		require.Len(t, oix.Blocks, len(hix.Blocks), res)
		require.NotEmpty(t, hix.Blocks, res)
		for i, he := range hix.Blocks {
			oe := oix.Blocks[i]
			w := he.Window()
			require.Equal(t, w, oe.Window(), res)
			require.Equal(t, he.Complete, oe.Complete, "%s %s", res, w)
			require.True(t, oe.Complete, "%s %s: a window inside the data is final offline too", res, w)
			require.Equal(t, he.Rows, oe.Rows, "%s %s", res, w)
			hb, err := httpStore.ReadBlock(ctx, cluster, res, he)
			require.NoError(t, err)
			ob, err := offStore.ReadBlock(ctx, cluster, res, oe)
			require.NoError(t, err)
			rows := map[string]allocation.Allocation{}
			for _, r := range hb.Rows {
				rows[r.Name] = r
			}
			var total float64
			for _, o := range ob.Rows {
				require.Equal(t, cluster, o.Properties.Cluster, "the cluster filter keeps the other cluster out")
				h, ok := rows[o.Name]
				require.True(t, ok, "%s %s: row %s only offline", res, w, o.Name)
				require.Equal(t, h.Properties, o.Properties, o.Name)
				require.Equal(t, h.Start, o.Start, o.Name)
				require.Equal(t, h.End, o.End, o.Name)
				for _, f := range []struct {
					name string
					h, o float64
				}{
					{"total", h.TotalCost(), o.TotalCost()},
					{"cpu cost", h.CPUCost, o.CPUCost}, {"ram cost", h.RAMCost, o.RAMCost}, {"gpu cost", h.GPUCost, o.GPUCost},
					{"pv cost", h.PVTotalCost(), o.PVTotalCost()}, {"network cost", h.NetworkCost, o.NetworkCost},
					{"lb cost", h.LoadBalancerCost, o.LoadBalancerCost},
					{"cpu core hours", h.CPUCoreHours, o.CPUCoreHours}, {"ram byte hours", h.RAMByteHours, o.RAMByteHours},
				} {
					d := symRelDiff(f.h, f.o)
					worst = max(worst, d)
					require.LessOrEqual(t, d, 1e-9, "%s %s %s %s: http %v, offline %v", res, w, o.Name, f.name, f.h, f.o)
				}
				total += o.TotalCost()
				compared++
			}
			if tr, ok := truth[string(res)+"/"+w.Start.Format(time.RFC3339)]; ok {
				d := relDiff(tr, total)
				worstTruth = max(worstTruth, d)
				require.Less(t, d, 0.001, "%s %s: offline block $%.4f, truth $%.4f (0.1 %%)", res, w, total, tr)
			}
		}
	}
	t.Logf("%d rows compared; worst offline vs HTTP: %.3g relative; worst offline block vs ground truth: %.4f %%", compared, worst, worstTruth*100)

	// A rebuild reads the offline copy too: nothing after its newest sample
	// is planned, so a range past it rebuilds the covered windows only.
	code, stdout, stderr := runCmd(t, "rebuild", "--config", filepath.Join(dir, "offline.yaml"), "--from", cfg.End.Add(-2*time.Hour).Format(time.RFC3339),
		"--to", cfg.End.Add(48*time.Hour).Format(time.RFC3339), "--resolution", "1h")
	require.Equal(t, 0, code, stdout+stderr)
	require.Contains(t, stdout, "rebuild: 2 window(s) built, 0 failed", stdout)

	// --from after the data: a usage error, no empty blocks.
	code, _, stderr = runCmd(t, "backfill", "--config", filepath.Join(dir, "offline.yaml"), "--from", cfg.End.Add(24*time.Hour).Format(time.RFC3339),
		"--to", cfg.End.Add(48*time.Hour).Format(time.RFC3339))
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "newest sample of prometheus.tsdb_path")
}

// TestBackfillFromTSDBPathMatchesTruth runs the offline path alone (no
// Prometheus binary needed): a day of a simulated cluster backfilled from
// its TSDB directory matches the ground truth, hourly and daily.
func TestBackfillFromTSDBPathMatchesTruth(t *testing.T) {
	ctx := context.Background()
	cfg := sim.DefaultConfig() // one cluster, the day before sim.DefaultEnd
	cfg.NodesPerCluster = 2
	fleet := simtest.Fleet(t, cfg)
	dir := t.TempDir()
	bucket := filepath.Join(dir, "bucket")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+bucket+"\n"), 0o600))
	agentPath := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(agentPath, []byte("cluster_id: cluster-01\nstore: store.yaml\nprometheus:\n  tsdb_path: "+simtest.TSDB(t, fleet)+"\n"), 0o600))
	code, stdout, stderr := runCmd(t, "backfill", "--config", agentPath, "--from", cfg.Start.Format(time.RFC3339), "--to", cfg.End.Add(24*time.Hour).Format(time.RFC3339))
	require.Equal(t, 0, code, stdout+stderr)
	require.Contains(t, stdout, "backfill: 25 window(s) built, 0 failed", "24 hours and the day; nothing after the data")

	truth := map[string]float64{}
	require.NoError(t, fleet.Truth(ctx, func(r sim.TruthRecord) error {
		if c, ok := r.(*sim.ClusterTruth); ok {
			truth[c.Resolution+"/"+c.WindowStart.Format(time.RFC3339)] = c.TotalCost
		}
		return nil
	}))
	bkt, err := store.NewBucket(ctx, nil, mustFilesystemStore(t, bucket), nil)
	require.NoError(t, err)
	defer bkt.Close()
	st := store.New(bkt, store.Options{})
	for _, res := range store.Resolutions {
		ix, err := st.ReadIndex(ctx, "cluster-01", res)
		require.NoError(t, err)
		for _, e := range ix.Blocks {
			require.True(t, e.Complete, "%s %s", res, e.Window())
			tr, ok := truth[string(res)+"/"+e.Window().Start.Format(time.RFC3339)]
			require.True(t, ok, "%s %s: a window outside the data", res, e.Window())
			require.InEpsilon(t, tr, e.TotalCost, 0.001, "%s %s vs ground truth (0.1 %%)", res, e.Window())
		}
	}
}

// TestTSDBPathInvocations: the agent refuses a tsdb_path source before
// opening anything; backfill names a directory it cannot open.
func TestTSDBPathInvocations(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+filepath.Join(dir, "bucket")+"\n"), 0o600))
	cfg := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("cluster_id: c\nstore: store.yaml\nprometheus:\n  tsdb_path: missing\n"), 0o600))

	code, _, stderr := runCmd(t, "agent", "--config", cfg)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "prometheus.tsdb_path is for backfill and rebuild")

	code, _, stderr = runCmd(t, "backfill", "--config", cfg, "--from", "2024-01-01", "--to", "2024-01-02")
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "open prometheus.tsdb_path: open local TSDB: stat "+filepath.Join(dir, "missing"))

	both := filepath.Join(dir, "both.yaml")
	require.NoError(t, os.WriteFile(both, []byte("cluster_id: c\nstore: store.yaml\nprometheus:\n  url: http://127.0.0.1:1\n  tsdb_path: snap\n"), 0o600))
	code, _, stderr = runCmd(t, "rebuild", "--config", both, "--from", "2024-01-01", "--to", "2024-01-02")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "prometheus.tsdb_path: cannot be combined with url")
}

func symRelDiff(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / max(math.Abs(a), math.Abs(b))
}

func mustFilesystemStore(t *testing.T, dir string) config.Store {
	t.Helper()
	s, err := config.NewFilesystemStore(dir, "")
	require.NoError(t, err)
	return s
}
