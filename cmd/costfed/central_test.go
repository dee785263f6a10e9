package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/etl"
	"github.com/costfed/costfed/internal/simtest"
	"github.com/costfed/costfed/internal/testinfra"
	"github.com/costfed/costfed/sim"
)

// runCmdAt runs costfed with blocks stamped with the build time now.
func runCmdAt(t *testing.T, now time.Time, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), &env{stdout: &out, stderr: &errb, now: func() time.Time { return now }}, args)
	return code, out.String(), errb.String()
}

// storeFiles reads every object of a FILESYSTEM store, by key.
func storeFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		out[filepath.ToSlash(rel)] = b
		return err
	}))
	return out
}

// TestCentralBackfillMatchesPerClusterAgents (issue 15): a simulated
// three-cluster shared workspace is backfilled once by a central agent
// (clusters: discover: true) and once by three per-cluster agents with
// cluster_filter: true, into two stores. Every object of the two stores,
// blocks and indexes, is byte-identical; then `clusters: ids` does the same
// for a subset, and a rebuild over the central config replaces the blocks
// with the same bytes.
func TestCentralBackfillMatchesPerClusterAgents(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster = 3, 1
	cfg.Start = cfg.End.Add(-30 * time.Hour)
	fleet := simtest.Fleet(t, cfg)
	dir := t.TempDir()
	require.NoError(t, os.Symlink(simtest.TSDB(t, fleet), filepath.Join(dir, "snapshot")))
	built := cfg.End.Add(time.Hour) // every block's build time
	stores := map[string]string{}
	for _, name := range []string{"central", "single", "listed"} {
		stores[name] = filepath.Join(dir, name+"-store")
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+"-store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+stores[name]+"\n"), 0o600))
	}
	write := func(name, y string) string {
		path := filepath.Join(dir, name+".yaml")
		require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
		return path
	}
	from, to := cfg.Start.Format(time.RFC3339), cfg.End.Format(time.RFC3339)
	backfill := func(path string) string {
		code, stdout, stderr := runCmdAt(t, built, "backfill", "--config", path, "--from", from, "--to", to)
		require.Equal(t, 0, code, "%s: %s%s", path, stdout, stderr)
		require.Contains(t, stdout, ", 0 failed")
		return stdout
	}

	central := write("central", "clusters:\n  discover: true\nstore: central-store.yaml\nproducer_instance: test\nprometheus:\n  tsdb_path: snapshot\n")
	out := backfill(central)
	require.Contains(t, out, "clusters (discovered through cluster_id): cluster-01, cluster-02, cluster-03\n")
	require.Contains(t, out, "cluster-02 1h ", "lines name their cluster")
	var ids []string
	for i := 1; i <= cfg.Clusters; i++ {
		id := fmt.Sprintf("cluster-%02d", i)
		ids = append(ids, id)
		out := backfill(write(id, "cluster_id: "+id+"\nstore: single-store.yaml\nproducer_instance: test\nprometheus:\n  tsdb_path: snapshot\n  cluster_filter: true\n"))
		require.NotContains(t, out, id+" 1h", "a per-cluster agent's lines are unchanged")
	}

	want, got := storeFiles(t, stores["single"]), storeFiles(t, stores["central"])
	parquet := 0
	for key := range want {
		if strings.HasSuffix(key, ".parquet") {
			parquet++
		}
	}
	require.Greater(t, parquet, 3*30, "hourly and daily blocks of every cluster")
	requireSameFiles(t, want, got)

	// A listed subset: the same blocks for those clusters, none for others.
	listed := write("listed", "clusters:\n  ids: [cluster-03, cluster-01]\nstore: listed-store.yaml\nproducer_instance: test\nprometheus:\n  tsdb_path: snapshot\n")
	require.Contains(t, backfill(listed), "clusters: cluster-03, cluster-01\n")
	subset := map[string][]byte{}
	for key, b := range want {
		if !strings.Contains(key, "/cluster-02/") {
			subset[key] = b
		}
	}
	requireSameFiles(t, subset, storeFiles(t, stores["listed"]))

	// Rebuild accepts the central config too, and rebuilds the same bytes.
	code, stdout, stderr := runCmdAt(t, built, "rebuild", "--config", central, "--from", from, "--to", to, "--resolution", "1h")
	require.Equal(t, 0, code, stdout+stderr)
	for _, id := range ids {
		require.Contains(t, stdout, id+" 1h ")
	}
	requireSameFiles(t, want, storeFiles(t, stores["central"]))
}

func requireSameFiles(t *testing.T, want, got map[string][]byte) {
	t.Helper()
	require.Equal(t, len(want), len(got), "objects")
	for key, b := range want {
		g, ok := got[key]
		require.True(t, ok, "missing %s", key)
		require.True(t, bytes.Equal(b, g), "%s differs", key)
	}
}

// sharedWorkspace is a Prometheus API holding several clusters: the
// discovery query answers the current clusters, the range-semantics probe
// and presence checks answer as flakyProm's do, every other query is empty
// (windows build, with no rows).
type sharedWorkspace struct {
	clusters atomic.Value // []string
}

func (w *sharedWorkspace) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Content-Type", "application/json")
	_ = r.ParseForm()
	q, ts := r.Form.Get("query"), r.Form.Get("time")
	var data string
	switch {
	case r.URL.Path == "/api/v1/query_range":
		data = `{"resultType":"matrix","result":[]}`
	case strings.HasPrefix(q, "group by (cluster_id)"):
		var series []string
		for _, id := range w.clusters.Load().([]string) {
			series = append(series, fmt.Sprintf(`{"metric":{"cluster_id":%q},"value":[%s,"1"]}`, id, ts))
		}
		data = `{"resultType":"vector","result":[` + strings.Join(series, ",") + `]}`
	case strings.Contains(q, "vector(1)[60s:10s]"):
		data = fmt.Sprintf(`{"resultType":"vector","result":[{"metric":{},"value":[%s,"7"]}]}`, ts)
	case strings.Contains(q, "kube_pod_container_status_running"):
		data = fmt.Sprintf(`{"resultType":"vector","result":[{"metric":{},"value":[%s,"3"]}]}`, ts)
	default:
		data = `{"resultType":"vector","result":[]}`
	}
	_, _ = rw.Write([]byte(`{"status":"success","data":` + data + `}`))
}

// TestCentralAgentStatusAndMetrics: a central agent with discover: true
// builds every cluster of the workspace, reports each on /status and
// /metrics (a cluster label on the agent's metrics), and reports a cluster
// that vanishes as stale, keeping it listed.
func TestCentralAgentStatusAndMetrics(t *testing.T) {
	ws := &sharedWorkspace{}
	ws.clusters.Store([]string{"alpha", "beta"})
	srv := httptest.NewServer(ws)
	defer srv.Close()
	dir := t.TempDir()
	port := testinfra.FreePort(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "federated-store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+filepath.Join(dir, "data")+"\n"), 0o600))
	cfgPath := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`clusters:
  discover: true
store: federated-store.yaml
listen_address: 127.0.0.1:%d
schedule: "@every 1s"
resolutions: [{resolution: 1h, retention: 2h}]
# No settle delay: the previous hour is complete whatever the minute the
# test runs at (with the default, it stays open for the delay's first minutes
# of each hour, and the test raced the clock).
settle_delay: 0s
prometheus:
  url: %s
  concurrency: 2
`, port, srv.URL)), 0o600))

	cmd := startBackground("agent", "--config", cfgPath, "--shutdown-grace", "2s")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testinfra.WaitHTTP(t, base+"/healthz", testinfra.StatusIs(200), 20*time.Second)
	built := func(m, id string) float64 {
		return metricValue(m, `costfed_agent_blocks_built_total{cluster="`+id+`",resolution="1h"}`)
	}
	require.Eventually(t, func() bool {
		m := httpGet(t, base+"/metrics")
		// Coverage is set when a tick's builds are done (the allocation
		// and the asset block), after the built counter moves.
		return built(m, "alpha") > 0 && built(m, "beta") > 0 &&
			metricValue(m, `costfed_agent_windows{cluster="beta",resolution="1h",state="complete"}`) >= 1
	}, 20*time.Second, 50*time.Millisecond, "both clusters are built")
	m := httpGet(t, base+"/metrics")
	require.Equal(t, 1.0, metricValue(m, `costfed_agent_source_up{cluster="alpha"}`))
	require.Equal(t, 2.0, metricValue(m, `costfed_agent_clusters{state="active"}`))
	require.GreaterOrEqual(t, metricValue(m, `costfed_agent_windows{cluster="beta",resolution="1h",state="complete"}`), 1.0)
	require.Equal(t, "source up\n", httpGet(t, base+"/readyz"))
	var st etl.FleetStatus
	require.NoError(t, json.Unmarshal([]byte(httpGet(t, base+"/status")), &st))
	require.True(t, st.Discover)
	require.True(t, st.Source.Up)
	require.Len(t, st.Clusters, 2)
	require.Equal(t, "alpha", st.Clusters[0].Cluster)
	require.Equal(t, etl.ClusterActive, st.Clusters[0].State)
	require.NotEmpty(t, st.Clusters[0].Resolutions)
	require.Greater(t, st.Clusters[0].Resolutions[0].Present, 0)

	ws.clusters.Store([]string{"alpha"})
	require.Eventually(t, func() bool {
		return metricValue(httpGet(t, base+"/metrics"), `costfed_agent_clusters{state="stale"}`) == 1
	}, 20*time.Second, 50*time.Millisecond, "beta vanished")
	st = etl.FleetStatus{}
	require.NoError(t, json.Unmarshal([]byte(httpGet(t, base+"/status")), &st))
	require.Len(t, st.Clusters, 2, "a stale cluster stays listed")
	require.Equal(t, etl.ClusterStale, st.Clusters[1].State)
	require.Greater(t, st.Clusters[1].Resolutions[0].Present, 0, "its coverage as last seen")
	cmd.stop(t)
}

// TestCentralBackfillOverHTTPMatchesPerClusterAgents: the same through a
// real Prometheus (prometheus.url): the central agent filters the shared
// HTTP source per cluster (prom.Filtered), the per-cluster agents have the
// HTTP source filter; the stores are byte-identical.
func TestCentralBackfillOverHTTPMatchesPerClusterAgents(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster = 2, 1
	cfg.Start = cfg.End.Add(-12 * time.Hour)
	fleet := simtest.Fleet(t, cfg)
	promURL := simtest.Prometheus(t, fleet).URL // skips locally without the binary
	dir := t.TempDir()
	built := cfg.End.Add(time.Hour)
	stores := map[string]string{}
	for _, name := range []string{"central", "single"} {
		stores[name] = filepath.Join(dir, name+"-store")
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+"-store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+stores[name]+"\n"), 0o600))
	}
	from, to := cfg.Start.Format(time.RFC3339), cfg.End.Format(time.RFC3339)
	backfill := func(name, y string) {
		path := filepath.Join(dir, name+".yaml")
		require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
		code, stdout, stderr := runCmdAt(t, built, "backfill", "--config", path, "--from", from, "--to", to)
		require.Equal(t, 0, code, "%s: %s%s", name, stdout, stderr)
		require.Contains(t, stdout, ", 0 failed")
	}
	backfill("central", "clusters:\n  discover: true\nstore: central-store.yaml\nproducer_instance: test\nprometheus:\n  url: "+promURL+"\n  concurrency: 3\n")
	for i := 1; i <= cfg.Clusters; i++ {
		id := fmt.Sprintf("cluster-%02d", i)
		backfill(id, "cluster_id: "+id+"\nstore: single-store.yaml\nproducer_instance: test\nprometheus:\n  url: "+promURL+"\n  concurrency: 3\n  cluster_filter: true\n")
	}
	want := storeFiles(t, stores["single"])
	require.NotEmpty(t, want)
	requireSameFiles(t, want, storeFiles(t, stores["central"]))
}
