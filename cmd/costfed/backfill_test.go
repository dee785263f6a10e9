package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gokitlog "github.com/go-kit/log"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/s3"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/etl"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/internal/simtest"
	"github.com/costfed/costfed/internal/testinfra"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
	"github.com/costfed/costfed/store"
)

// realFleet is a simulated fleet of two clusters in one real Prometheus (a
// shared workspace) and a real S3 server, with agent configs for both
// clusters using the cluster filter.
type realFleet struct {
	cfg     sim.Config
	truth   map[string]sim.ClusterTruth // by cluster + "/" + resolution + "/" + start
	dir     string
	s3      *testinfra.S3Server
	agents  map[string]string // cluster → agent.yaml
	promURL string
}

func startRealFleet(t *testing.T) *realFleet {
	t.Helper()
	ctx := context.Background()
	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster = 2, 2
	cfg.Start = cfg.End.Add(-72 * time.Hour)
	fleet := simtest.Fleet(t, cfg)

	f := &realFleet{cfg: cfg, truth: map[string]sim.ClusterTruth{}, dir: t.TempDir(), agents: map[string]string{}}
	require.NoError(t, fleet.Truth(ctx, func(r sim.TruthRecord) error {
		if c, ok := r.(*sim.ClusterTruth); ok {
			f.truth[c.Cluster+"/"+c.Resolution+"/"+c.WindowStart.Format(time.RFC3339)] = *c
		}
		return nil
	}))
	f.promURL = simtest.Prometheus(t, fleet).URL

	f.s3 = testinfra.StartVersityGW(t)
	// The AMP guide's federated-store.yaml with only the endpoint and keys
	// pointed at the local server.
	fixture, err := os.ReadFile("../../testdata/federated-store.amp-guide.yaml")
	require.NoError(t, err)
	storeYAML := strings.NewReplacer(
		`bucket: "kubecost-etl-metrics"`, `bucket: "`+f.s3.Bucket+`"`,
		`endpoint: "s3.amazonaws.com"`, `endpoint: "`+f.s3.Endpoint+`"`+"\n  access_key: "+f.s3.AccessKey+"\n  secret_key: "+f.s3.SecretKey+"\n  bucket_lookup_type: path",
		`insecure: false`, `insecure: true`,
		`trace:`+"\n    enable: true", `trace:`+"\n    enable: false",
	).Replace(string(fixture))
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "federated-store.yaml"), []byte(storeYAML), 0o600))
	for i := 1; i <= cfg.Clusters; i++ {
		id := fmt.Sprintf("cluster-%02d", i)
		y := fmt.Sprintf("cluster_id: %s\nstore: federated-store.yaml\nproducer_instance: %s-agent\nprometheus:\n  url: %s\n  cluster_filter: true\n", id, id, f.promURL)
		path := filepath.Join(f.dir, id+".yaml")
		require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
		f.agents[id] = path
	}
	return f
}

func (f *realFleet) store(t *testing.T) *store.Store {
	t.Helper()
	bkt, err := s3.NewBucket(gokitlog.NewNopLogger(), f.s3.S3ConfigYAML(""), "test", nil)
	require.NoError(t, err)
	return store.New(bkt, store.Options{})
}

// cancelAfter cancels ctx once n progress lines ("… rows=…") were written.
type cancelAfter struct {
	mu     sync.Mutex
	n      int
	cancel func()
	buf    bytes.Buffer
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n -= strings.Count(string(p), " rows=")
	if c.n <= 0 {
		c.cancel()
	}
	return c.buf.Write(p)
}

func TestBackfillAndRebuildAgainstRealServers(t *testing.T) {
	f := startRealFleet(t)
	st := f.store(t)
	ctx := context.Background()
	from, to := f.cfg.Start.Format(time.RFC3339), f.cfg.End.Format(time.RFC3339)

	// cluster-01 is killed after a few windows, then resumed.
	kctx, kill := context.WithCancel(ctx)
	out := &cancelAfter{n: 5, cancel: kill}
	code := run(kctx, &env{stdout: out, stderr: io.Discard}, []string{"backfill", "--config", f.agents["cluster-01"], "--from", from, "--to", to, "--concurrency", "1"})
	require.Equal(t, 1, code, "an interrupted backfill fails: %s", out.buf.String())
	ix, err := st.ReadIndex(ctx, "cluster-01", store.Hourly)
	require.NoError(t, err)
	done := len(ix.Blocks)
	require.GreaterOrEqual(t, done, 4, out.buf.String())
	require.Less(t, done, 72)

	for id, cfgPath := range f.agents {
		code, stdout, stderr := runCmd(t, "backfill", "--config", cfgPath, "--from", from, "--to", to)
		require.Equal(t, 0, code, "%s: %s%s", id, stdout, stderr)
		require.Contains(t, stdout, "0 failed")
	}
	ix, err = st.ReadIndex(ctx, "cluster-01", store.Hourly)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 72, "resumed: every hourly window once, none twice")

	// Every block matches the ground truth; each agent wrote only its cluster.
	worst := 0.0
	for id := range f.agents {
		for _, res := range store.Resolutions {
			ix, err := st.ReadIndex(ctx, id, res)
			require.NoError(t, err)
			for _, e := range ix.Blocks {
				b, err := st.ReadBlock(ctx, id, res, e)
				require.NoError(t, err)
				var total float64
				for _, r := range b.Rows {
					require.Equal(t, id, r.Properties.Cluster, "the cluster filter keeps other clusters out")
					total += r.TotalCost()
				}
				tr, ok := f.truth[id+"/"+string(res)+"/"+e.Window().Start.Format(time.RFC3339)]
				if !ok {
					continue // a daily window the simulation covers only in part
				}
				rel := math.Abs(total-tr.TotalCost) / tr.TotalCost
				worst = max(worst, rel)
				require.Less(t, rel, 0.001, "%s %s %s: block $%.4f, truth $%.4f (tolerance 0.1 %%)", id, res, e.Window(), total, tr.TotalCost)
			}
		}
	}
	t.Logf("worst block total vs ground truth: %.4f %%", worst*100)

	// History older than the source: a block the store kept from before.
	day := f.cfg.Start.Truncate(24 * time.Hour)
	old := allocation.Window{Start: day.Add(-24 * time.Hour), End: day}
	_, err = st.Commit(ctx, []store.Block{{Meta: store.BlockMeta{Cluster: "cluster-02", Resolution: store.Daily, Window: old, Complete: true, BuildTime: old.End},
		Rows: blocktest.Rows("cluster-02", old, 5, 1)}}, store.CommitOptions{})
	require.NoError(t, err)
	before, err := st.ReadIndex(ctx, "cluster-02", store.Daily)
	require.NoError(t, err)

	code, stdout, stderr := runCmd(t, "rebuild", "--config", f.agents["cluster-02"], "--from", old.Start.Format(time.RFC3339), "--to", f.cfg.End.Format(time.RFC3339), "--resolution", "1d", "--dry-run")
	require.Equal(t, 0, code, stdout+stderr)
	require.Contains(t, stdout, "skipped: no source data")
	require.Contains(t, stdout, "before: rows=")
	code, stdout, stderr = runCmd(t, "rebuild", "--config", f.agents["cluster-02"], "--from", old.Start.Format(time.RFC3339), "--to", f.cfg.End.Format(time.RFC3339), "--resolution", "1d")
	require.Equal(t, 0, code, stdout+stderr)
	after, err := st.ReadIndex(ctx, "cluster-02", store.Daily)
	require.NoError(t, err)
	oldBefore, _ := before.Find(old.Start)
	oldAfter, _ := after.Find(old.Start)
	require.Equal(t, oldBefore, oldAfter, "the source no longer covers it: the old block stays")
}

func TestBackfillBadInvocations(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("cluster_id: c\nprometheus:\n  url: http://127.0.0.1:1\n"), 0o600))
	for name, args := range map[string][]string{
		"no config":      {"backfill", "--from", "2024-01-01", "--to", "2024-01-02"},
		"bad from":       {"backfill", "--config", cfg, "--from", "last tuesday", "--to", "2024-01-02"},
		"inverted range": {"backfill", "--config", cfg, "--from", "2024-01-02", "--to", "2024-01-01"},
		"bad resolution": {"rebuild", "--config", cfg, "--from", "2024-01-01", "--to", "2024-01-02", "--resolution", "5m"},
		"bad flag":       {"rebuild", "--frobnicate"},
	} {
		code, _, errOut := runCmd(t, args...)
		require.Equal(t, 2, code, "%s: %s", name, errOut)
		require.NotContains(t, errOut, "goroutine")
	}
}

// TestAgentTicksAgainstRealServers drives etl.Agent with a fake clock over the
// real Prometheus and S3 server: the open window is refreshed on each tick,
// then built once more as final after the settle delay, then left alone.
// The costfed agent command itself then starts, serves /healthz, /status and
// /metrics, and exits 0 on cancellation (SIGTERM).
func TestAgentTicksAgainstRealServers(t *testing.T) {
	f := startRealFleet(t)
	ctx := context.Background()
	bkt, err := s3.NewBucket(gokitlog.NewNopLogger(), f.s3.S3ConfigYAML(""), "test", nil)
	require.NoError(t, err)
	st := store.New(objstore.NewPrefixedBucket(bkt, "agent-test"), store.Options{})
	src, err := prom.NewHTTP(ctx, prom.HTTPConfig{URL: f.promURL, ClusterFilter: "cluster-01"})
	require.NoError(t, err)
	defer src.Close()

	now := f.cfg.End.Add(-20 * time.Minute)
	clock := func() time.Time { return now }
	agent := &etl.Agent{
		Builder: &etl.Builder{Cluster: "cluster-01", ProducerInstance: "test", Store: st, Now: clock,
			Computer: etl.SourceComputer{Source: src, Options: allocation.QueryOptions{Cluster: "cluster-01"}}},
		Policies:    []etl.Policy{{Resolution: store.Hourly, Retention: 3 * time.Hour}, {Resolution: store.Daily, Retention: 48 * time.Hour}},
		SettleDelay: 10 * time.Minute,
		Now:         clock,
		Oldest:      func(ctx context.Context) (time.Time, error) { return etl.OldestSample(ctx, src, now, 72*time.Hour) },
	}
	last := f.cfg.End.Add(-time.Hour) // the last hour of data, open at first
	entry := func() store.IndexEntry {
		ix, err := st.ReadIndex(ctx, "cluster-01", store.Hourly)
		require.NoError(t, err)
		e, ok := ix.Find(last)
		require.True(t, ok)
		return e
	}

	require.NoError(t, agent.Tick(ctx))
	open := entry()
	require.False(t, open.Complete)
	require.Greater(t, open.Rows, 0)
	require.Equal(t, 3, agent.Status().Resolutions[0].Present)

	now = f.cfg.End.Add(5 * time.Minute) // closed, settling
	require.NoError(t, agent.Tick(ctx))
	settling := entry()
	require.False(t, settling.Complete)
	require.True(t, settling.BuildTime.After(open.BuildTime), "rebuilt while settling")

	now = f.cfg.End.Add(15 * time.Minute) // settled: final
	require.NoError(t, agent.Tick(ctx))
	final := entry()
	require.True(t, final.Complete)
	truth := f.truth["cluster-01/1h/"+last.Format(time.RFC3339)]
	require.InEpsilon(t, truth.TotalCost, final.TotalCost, 0.001, "final block vs ground truth (0.1 %)")

	now = f.cfg.End.Add(40 * time.Minute)
	require.NoError(t, agent.Tick(ctx))
	require.Equal(t, final, entry(), "a final window is not rebuilt")

	// The command: ops endpoints, then a clean exit on SIGTERM.
	port := testinfra.FreePort(t)
	cfgPath := filepath.Join(f.dir, "agent-cmd.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf("cluster_id: cluster-01\nstore: federated-store.yaml\nlisten_address: 127.0.0.1:%d\nprometheus:\n  url: %s\n  cluster_filter: true\n", port, f.promURL)), 0o600))
	cmd := startBackground("agent", "--config", cfgPath, "--shutdown-grace", "2s")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testinfra.WaitHTTP(t, base+"/healthz", testinfra.StatusIs(200), 20*time.Second)
	require.Eventually(t, func() bool {
		body := httpGet(t, base+"/status")
		return strings.Contains(body, `"cluster": "cluster-01"`) && strings.Contains(body, `"lastTick"`)
	}, 20*time.Second, 100*time.Millisecond, "the first tick runs at start")
	require.Contains(t, httpGet(t, base+"/metrics"), "costfed_agent_blocks_built_total")
	cmd.stop(t)
}
