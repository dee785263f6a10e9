package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/internal/testinfra"
	"github.com/costfed/costfed/sim"
)

// TestDemo runs the README's first command, smaller: simulate, backfill every
// cluster, federate, report; the report's worst cluster difference from the
// ground truth must be within 0.1 % and every namespace within 1 %.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, "demo", "--dir", dir, "--clusters", "2", "--nodes", "2", "--days", "1")
	require.Equal(t, 0, code, errOut)
	m := regexp.MustCompile(`Worst difference: ([0-9.]+) % per cluster, ([0-9.]+) % per namespace`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	cluster, _ := strconv.ParseFloat(m[1], 64)
	namespace, _ := strconv.ParseFloat(m[2], 64)
	require.Less(t, cluster, 0.1, out)
	require.Less(t, namespace, 1.0, out)
	require.Contains(t, out, "cluster-02/__idle__")
	m = regexp.MustCompile(`Worst asset difference: ([0-9.]+) %`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assetDiff, _ := strconv.ParseFloat(m[1], 64)
	require.Less(t, assetDiff, 0.1, out)
	require.Contains(t, out, "cluster-02/Node")
	require.Contains(t, out, "cluster-01/LoadBalancer")
	_, err := os.Stat(filepath.Join(dir, "store", "federated", "combined", "etl", "parquet", "allocations", "1d", "index.json"))
	require.NoError(t, err, "the combined store is left in --dir")
	require.Contains(t, out, "Look around: costfed status --store "+filepath.Join(dir, "federated-store.yaml"))

	code, out, _ = runCmd(t, "status", "--store", filepath.Join(dir, "federated-store.yaml"))
	require.Equal(t, 0, code)
	require.Contains(t, out, "cluster-01")

	// Issue 16 row 6: the federator run on the demo's store afterwards keeps
	// it: with the demo's federator.yaml nothing expires, and with the
	// default retention (which would expire all of 2024) it halts instead.
	combined := func() string {
		t.Helper()
		objs, err := os.ReadDir(filepath.Join(dir, "store", "federated", "combined", "etl", "parquet", "allocations", "1h"))
		require.NoError(t, err)
		ix, err := os.ReadFile(filepath.Join(dir, "store", "federated", "combined", "etl", "parquet", "allocations", "1d", "index.json"))
		require.NoError(t, err)
		return strconv.Itoa(len(objs)) + string(ix)
	}
	before := combined()
	code, out, errOut = runCmd(t, "federator", "--config", filepath.Join(dir, "federator.yaml"), "--once")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "merged_1h=0 merged_1d=0 expired=0", out)
	require.Equal(t, before, combined())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "default.yaml"), []byte("store: federated-store.yaml\n"), 0o600))
	code, out, errOut = runCmd(t, "federator", "--config", filepath.Join(dir, "default.yaml"), "--once")
	require.Equal(t, 1, code, out)
	require.Contains(t, errOut, "federator halted (expire share)")
	require.Contains(t, errOut, "(100 %) in one pass, more than retention.max_expire_share (50 %)")
	require.Contains(t, errOut, "--force")
	require.Contains(t, out, "halted: expire share")
	require.Equal(t, before, combined(), "a halted pass expired something")

	// status shows each resolution's horizon and what the next pass expires.
	code, out, errOut = runCmd(t, "status", "--config", filepath.Join(dir, "default.yaml"))
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `1h\s+49h\s+\S+\s+24 of 24 \(100 %\)\s+over retention.max_expire_share \(50 %\): the next pass halts unless --force`, out)
	require.Regexp(t, `1d\s+91d\s+\S+\s+1 of 1 \(100 %\)`, out)
	code, out, errOut = runCmd(t, "status", "--config", filepath.Join(dir, "federator.yaml"))
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `1h\s+\d+d\s+\S+\s+0 of 24 \(0 %\)\s*\n`, out)

	code, _, _ = runCmd(t, "demo", "--clusters", "0")
	require.Equal(t, 2, code)
}

// TestDemoServeAnswersEqualGroundTruth keeps the demo's API up and checks the
// OpenCost-compatible answers against the simulation's ground truth: cluster
// totals (idle included) within 0.1 %, every namespace within 0.5 %.
func TestDemoServeAnswersEqualGroundTruth(t *testing.T) {
	addr := freeAddr(t)
	demo := startBackground("demo", "--dir", t.TempDir(), "--clusters", "2", "--nodes", "2", "--days", "1", "--serve", "--listen", addr)
	base := "http://" + addr
	testinfra.WaitHTTP(t, base+"/healthz", testinfra.StatusIs(200), 60*time.Second)

	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster = 2, 2
	cfg.Start = cfg.End.Add(-24 * time.Hour)
	fleet, err := sim.New(cfg)
	require.NoError(t, err)
	truth, err := collectDemoTruth(context.Background(), fleet)
	require.NoError(t, err)

	window := cfg.Start.Format(time.RFC3339) + "," + cfg.End.Format(time.RFC3339)
	answer := func(params string) map[string]float64 {
		resp, err := http.Get(base + "/allocation?window=" + window + "&" + params)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		var body struct {
			Code int                                 `json:"code"`
			Data []map[string]map[string]interface{} `json:"data"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		require.Len(t, body.Data, 1)
		got := map[string]float64{}
		for name, a := range body.Data[0] {
			got[name], _ = a["totalCost"].(float64)
		}
		return got
	}
	// Idle is one __idle__ row across clusters unless split, as in OpenCost:
	// each cluster's own rows are its total less its idle.
	clusters := answer("aggregate=cluster&includeIdle=true")
	var sumGot, sumTruth float64
	for c, want := range truth.cluster {
		require.InEpsilon(t, want-truth.idle[c], clusters[c], 0.001, "cluster %s without idle (tolerance 0.1 %%): %v", c, clusters)
		sumTruth += want
	}
	for _, v := range clusters {
		sumGot += v
	}
	require.InEpsilon(t, sumTruth, sumGot, 0.001, "fleet total with idle (tolerance 0.1 %%)")
	// Unmounted volumes and load balancers have their own rows (container
	// __unmounted__); the truth's namespaces are containers only.
	namespaces := answer("aggregate=cluster,namespace&filter=" + url.QueryEscape(`container!:"__unmounted__"`))
	for key, want := range truth.namespace {
		require.InEpsilon(t, want, namespaces[key], 0.005, "namespace %s (tolerance 0.5 %%)", key)
	}
	demo.stop(t)
	require.Contains(t, demo.stdout.String(), "curl -s 'http://127.0.0.1:")
}

// Issue 16, item 8: without --dir the demo prints no path of its temporary
// directory (removed on exit), and --serve checks its port before simulating.
func TestDemoRoughEdges(t *testing.T) {
	code, out, errOut := runCmd(t, "demo", "--clusters", "1", "--nodes", "1", "--days", "1")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Worst difference")
	require.NotContains(t, out, "costfed-demo-", "a path about to be deleted")
	require.NotContains(t, out, "Look around")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	start := time.Now()
	code, out, errOut = runCmd(t, "demo", "--clusters", "1", "--nodes", "1", "--days", "1", "--serve", "--listen", ln.Addr().String())
	require.Equal(t, 1, code)
	require.Empty(t, out, "nothing simulated")
	require.Contains(t, errOut, "demo: --listen: listen tcp "+ln.Addr().String())
	require.Contains(t, errOut, "nothing was simulated")
	require.Less(t, time.Since(start), 5*time.Second)
}
