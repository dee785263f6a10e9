package prom_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/internal/testinfra"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
)

// localFleet is a small simulated fleet over hours hours ending at
// sim.DefaultEnd.
func localFleet(t testing.TB, nodes, hours int) *sim.Fleet {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.NodesPerCluster = nodes
	cfg.Start = sim.DefaultEnd.Add(-time.Duration(hours) * time.Hour)
	f, err := sim.New(cfg)
	require.NoError(t, err)
	return f
}

func openLocalFleet(t testing.TB, f *sim.Fleet) *prom.LocalSource {
	t.Helper()
	dir := t.TempDir()
	_, err := f.WriteTSDB(context.Background(), dir, sim.TSDBOptions{})
	require.NoError(t, err)
	src, err := prom.OpenLocal(dir, prom.LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, src.Close()) })
	return src
}

func TestLocalOpenErrors(t *testing.T) {
	_, err := prom.OpenLocal(filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "open local TSDB")
	_, err = prom.OpenLocal(t.TempDir())
	require.ErrorContains(t, err, "no TSDB blocks")
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = prom.OpenLocal(file)
	require.ErrorContains(t, err, "not a directory")
}

func TestLocalQueries(t *testing.T) {
	f := localFleet(t, 3, 3)
	src := openLocalFleet(t, f)
	ctx := context.Background()
	end := f.Config().End

	res, err := src.Query(ctx, `count(kube_node_labels)`, end)
	require.NoError(t, err)
	vec := res.Value.(model.Vector)
	require.Len(t, vec, 1)
	require.Equal(t, 3.0, float64(vec[0].Value))
	require.Positive(t, res.SamplesProcessed)

	res, err = src.QueryRange(ctx, `sum by (cluster_id) (node_total_hourly_cost)`, end.Add(-time.Hour), end, 5*time.Minute)
	require.NoError(t, err)
	mat := res.Value.(model.Matrix)
	require.Len(t, mat, 1)
	require.Len(t, mat[0].Values, 13)
	require.Equal(t, model.LabelValue("cluster-01"), mat[0].Metric["cluster_id"])

	res, err = src.Query(ctx, `count_over_time(vector(1)[1h:5m])`, end)
	require.NoError(t, err)
	require.Equal(t, float64(prom.LocalRangeSemantics.SubqueryPoints(time.Hour, 5*time.Minute)), float64(res.Value.(model.Vector)[0].Value))
	require.Equal(t, prom.RangeLeftOpen, src.RangeSemantics())

	res, err = src.Query(ctx, `scalar(count(kube_node_labels)) * 2`, end)
	require.NoError(t, err)
	require.Equal(t, 6.0, float64(res.Value.(*model.Scalar).Value))

	res, err = src.Query(ctx, `kube_node_labels{cluster_id="nope"}`, end)
	require.NoError(t, err)
	require.NotNil(t, res.Value)
	require.Empty(t, res.Value.(model.Vector))

	first, last := src.TimeRange()
	require.Equal(t, f.Config().Start, first)
	require.Equal(t, end, last)

	_, err = src.Query(ctx, `sum(`, end)
	require.ErrorContains(t, err, "local query")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = src.Query(cancelled, `count(kube_node_labels)`, end)
	require.ErrorIs(t, err, context.Canceled)
}

// TestLocalClusterFilter: with LocalClusterFilter, every selector only sees
// the one cluster, as with HTTPConfig.ClusterFilter.
func TestLocalClusterFilter(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster = 2, 2
	cfg.Start = cfg.End.Add(-2 * time.Hour)
	f, err := sim.New(cfg)
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = f.WriteTSDB(context.Background(), dir, sim.TSDBOptions{})
	require.NoError(t, err)
	ctx := context.Background()

	count := func(src *prom.LocalSource, q string) model.Vector {
		t.Helper()
		res, err := src.Query(ctx, q, cfg.End)
		require.NoError(t, err)
		return res.Value.(model.Vector)
	}
	all, err := prom.OpenLocal(dir, prom.LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	defer all.Close()
	require.Len(t, count(all, `count by (cluster_id) (kube_node_labels)`), 2)

	one, err := prom.OpenLocal(dir, prom.LocalSandboxDir(t.TempDir()), prom.LocalClusterFilter("", "cluster-02"))
	require.NoError(t, err)
	defer one.Close()
	v := count(one, `count by (cluster_id) (kube_node_labels) and on () (sum(rate(container_cpu_usage_seconds_total[5m])) > 0)`)
	require.Len(t, v, 1)
	require.Equal(t, model.LabelValue("cluster-02"), v[0].Metric["cluster_id"])
	res, err := one.QueryRange(ctx, `count by (cluster_id) (kube_node_labels)`, cfg.End.Add(-time.Hour), cfg.End, 30*time.Minute)
	require.NoError(t, err)
	require.Len(t, res.Value.(model.Matrix), 1)

	_, err = prom.OpenLocal(dir, prom.LocalClusterFilter("cluster_id", ""))
	require.ErrorContains(t, err, "empty cluster value")
	_, err = prom.OpenLocal(dir, prom.LocalClusterFilter("cluster-id", "a"))
	require.ErrorContains(t, err, "not a valid label name")
}

func TestLocalMaxSamples(t *testing.T) {
	f := localFleet(t, 2, 2)
	dir := t.TempDir()
	_, err := f.WriteTSDB(context.Background(), dir, sim.TSDBOptions{})
	require.NoError(t, err)
	src, err := prom.OpenLocal(dir, prom.LocalMaxSamples(100), prom.LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Query(context.Background(), `container_cpu_allocation[1h]`, f.Config().End)
	require.ErrorContains(t, err, "too many samples")
}

// TestLocalIncludeWAL reads a directory whose data is only in the WAL, as
// a live Prometheus leaves its last hours.
func TestLocalIncludeWAL(t *testing.T) {
	dir := t.TempDir()
	db, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
	require.NoError(t, err)
	app := db.Appender(context.Background())
	ls := labels.FromStrings(model.MetricNameLabel, "up", "job", "x")
	base := sim.DefaultEnd.UnixMilli()
	for i := int64(0); i < 10; i++ {
		_, err := app.Append(0, ls, base+i*60_000, float64(i))
		require.NoError(t, err)
	}
	require.NoError(t, app.Commit())
	require.NoError(t, db.Close())

	_, err = prom.OpenLocal(dir, prom.LocalSandboxDir(t.TempDir()))
	require.ErrorContains(t, err, "no TSDB blocks", "the WAL is ignored by default")

	src, err := prom.OpenLocal(dir, prom.LocalIncludeWAL(), prom.LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	defer src.Close()
	res, err := src.Query(context.Background(), `sum_over_time(up[10m])`, sim.DefaultEnd.Add(9*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 45.0, float64(res.Value.(model.Vector)[0].Value))
}

// TestLocalMatchesPrometheus backfills a simulated fleet with promtool,
// serves it with a real Prometheus 2.42, opens a copy of the same blocks
// with OpenLocal and compares the answers to queries the allocation engine
// uses. Away from range boundaries they agree to float rounding; at a time
// on the scrape grid, Prometheus 3's left-open ranges drop the sample at
// the range start, exactly as LocalRangeSemantics documents.
func TestLocalMatchesPrometheus(t *testing.T) {
	f := localFleet(t, 2, 4)
	om := filepath.Join(t.TempDir(), "fleet.om")
	out, err := os.Create(om)
	require.NoError(t, err)
	_, err = f.WriteOpenMetrics(context.Background(), out)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	serverDir, localDir := t.TempDir(), t.TempDir()
	testinfra.BackfillOpenMetrics(t, om, serverDir)
	copyDir(t, serverDir, localDir) // before the server writes into its copy
	srv := testinfra.StartPrometheus(t, serverDir)
	src, err := prom.OpenLocal(localDir, prom.LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()

	end := f.Config().End
	onGrid := end.Add(-30 * time.Minute)
	offGrid := onGrid.Add(30 * time.Second)
	same := []string{
		`avg_over_time(container_cpu_allocation{container!="",container!="POD",node!=""}[1h])`,
		`avg(avg_over_time(kube_pod_container_resource_requests{resource="cpu",unit="core",node!=""}[1h])) by (container,pod,namespace,node,cluster_id)`,
		`sum by (namespace, cluster_id) (rate(container_cpu_usage_seconds_total{container!="",pod=~"(kube-proxy|fluent-bit)-.*"}[1h]))`,
		`sum(increase(container_network_receive_bytes_total{pod=~"(kube-proxy|fluent-bit)-.*"}[1h])) by (pod, namespace, cluster_id)`,
		`max_over_time(sum by (namespace) (container_memory_working_set_bytes)[1h:5m])`,
		`avg(kube_pod_container_status_running != 0) by (pod, namespace, cluster_id)`,
		`sum by (node) (node_total_hourly_cost)`,
		`sum(avg_over_time(node_cpu_hourly_cost[1h]) * on (node) group_left() avg_over_time(kube_node_status_capacity_cpu_cores[1h]))`,
		`count_over_time(container_cpu_allocation[1h])`,
	}
	for _, q := range same {
		want := serverInstant(t, srv.URL, q, offGrid)
		got, err := src.Query(ctx, q, offGrid)
		require.NoError(t, err, q)
		require.NotEmpty(t, want, q)
		requireSameVector(t, want, got.Value.(model.Vector), q)
	}

	// rate and increase agree for series that cover the window. For a series
	// that starts inside it, Prometheus 2.42 extrapolates towards the
	// counter's zero point when that is within 1.1 intervals, Prometheus 3
	// extrapolates by at most half an interval first: less, never more.
	q := `rate(container_cpu_usage_seconds_total{container!=""}[1h])`
	firstSample := serverFirstSamples(t, srv.URL, `container_cpu_usage_seconds_total{container!=""}[1h]`, offGrid)
	rates, err := src.Query(ctx, q, offGrid)
	require.NoError(t, err)
	localRates := byFingerprint(rates.Value.(model.Vector))
	covering, started := 0, 0
	for _, s := range serverInstant(t, srv.URL, q, offGrid) {
		fp := s.Metric.Fingerprint()
		if firstSample[fp] > offGrid.Add(-time.Hour+66*time.Second).Unix() {
			require.LessOrEqual(t, float64(localRates[fp]), float64(s.Value)*(1+1e-9), s.Metric)
			started++
			continue
		}
		requireCloseValue(t, float64(s.Value), float64(localRates[fp]), s.Metric.String())
		covering++
	}
	require.Positive(t, covering)
	require.Positive(t, started)

	// A range query whose steps are off the scrape grid.
	q = `sum by (namespace) (container_cpu_allocation)`
	start := end.Add(-2*time.Hour + 30*time.Second)
	want := serverRange(t, srv.URL, q, start, offGrid, 5*time.Minute)
	got, err := src.QueryRange(ctx, q, start, offGrid, 5*time.Minute)
	require.NoError(t, err)
	requireSameMatrix(t, want, got.Value.(model.Matrix))

	// On the grid: a series with a sample exactly at t-1h counts one sample
	// less here; a series without one counts the same.
	q = `count_over_time(container_cpu_allocation[1h])`
	server := serverInstant(t, srv.URL, q, onGrid)
	local, err := src.Query(ctx, q, onGrid)
	require.NoError(t, err)
	atStart := map[model.Fingerprint]bool{}
	for _, s := range serverInstant(t, srv.URL, `timestamp(container_cpu_allocation)`, onGrid.Add(-time.Hour)) {
		if s.Value == model.SampleValue(onGrid.Add(-time.Hour).Unix()) {
			atStart[s.Metric.Fingerprint()] = true
		}
	}
	lv := byFingerprint(local.Value.(model.Vector))
	equal, fewer := 0, 0
	for _, s := range server {
		fp := s.Metric.Fingerprint()
		if atStart[fp] {
			require.Equal(t, s.Value-1, lv[fp], s.Metric)
			fewer++
		} else {
			require.Equal(t, s.Value, lv[fp], s.Metric)
			equal++
		}
	}
	require.Positive(t, fewer)
	require.Positive(t, equal, "a pod that started inside the hour")
	// A subquery: 13 points on Prometheus 2, 12 here.
	sub := `count_over_time(vector(1)[1h:5m])`
	require.Equal(t, model.SampleValue(prom.RangeClosed.SubqueryPoints(time.Hour, 5*time.Minute)), serverInstant(t, srv.URL, sub, onGrid)[0].Value)
	res, err := src.Query(ctx, sub, onGrid)
	require.NoError(t, err)
	require.Equal(t, model.SampleValue(prom.LocalRangeSemantics.SubqueryPoints(time.Hour, 5*time.Minute)), res.Value.(model.Vector)[0].Value)
}

// serverFirstSamples returns the first sample time of each series of a
// range selector, keyed by the fingerprint of its labels without the name.
func serverFirstSamples(t *testing.T, base, selector string, at time.Time) map[model.Fingerprint]int64 {
	t.Helper()
	var m model.Matrix
	serverGet(t, base+"/api/v1/query?"+url.Values{"query": {selector}, "time": {unix(at)}}.Encode(), "matrix", &m)
	out := map[model.Fingerprint]int64{}
	for _, ss := range m {
		delete(ss.Metric, model.MetricNameLabel)
		out[ss.Metric.Fingerprint()] = ss.Values[0].Timestamp.Unix()
	}
	return out
}

func byFingerprint(v model.Vector) map[model.Fingerprint]model.SampleValue {
	out := make(map[model.Fingerprint]model.SampleValue, len(v))
	for _, s := range v {
		out[s.Metric.Fingerprint()] = s.Value
	}
	return out
}

func requireSameVector(t *testing.T, want, got model.Vector, msg string) {
	t.Helper()
	require.Equal(t, len(want), len(got), msg)
	g := byFingerprint(got)
	for _, s := range want {
		v, ok := g[s.Metric.Fingerprint()]
		require.True(t, ok, "%s: missing %v", msg, s.Metric)
		requireCloseValue(t, float64(s.Value), float64(v), msg+" "+s.Metric.String())
	}
}

func requireSameMatrix(t *testing.T, want, got model.Matrix) {
	t.Helper()
	require.Equal(t, len(want), len(got))
	sort.Sort(want)
	sort.Sort(got)
	for i := range want {
		require.Equal(t, want[i].Metric, got[i].Metric)
		require.Equal(t, len(want[i].Values), len(got[i].Values), want[i].Metric)
		for j := range want[i].Values {
			require.Equal(t, want[i].Values[j].Timestamp, got[i].Values[j].Timestamp)
			requireCloseValue(t, float64(want[i].Values[j].Value), float64(got[i].Values[j].Value), want[i].Metric.String())
		}
	}
}

// requireCloseValue allows float rounding only: Prometheus 3 sums with
// compensation where 2.42 does not.
func requireCloseValue(t *testing.T, want, got float64, msg string) {
	t.Helper()
	require.LessOrEqual(t, math.Abs(want-got), 1e-9*math.Max(math.Abs(want), 1e-3), "%s: want %v got %v", msg, want, got)
}

func serverInstant(t *testing.T, base, query string, at time.Time) model.Vector {
	t.Helper()
	var v model.Vector
	serverGet(t, base+"/api/v1/query?"+url.Values{"query": {query}, "time": {unix(at)}}.Encode(), "vector", &v)
	return v
}

func serverRange(t *testing.T, base, query string, start, end time.Time, step time.Duration) model.Matrix {
	t.Helper()
	var m model.Matrix
	params := url.Values{"query": {query}, "start": {unix(start)}, "end": {unix(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	serverGet(t, base+"/api/v1/query_range?"+params.Encode(), "matrix", &m)
	return m
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func serverGet(t *testing.T, u, resultType string, into any) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var env struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &env), string(body))
	require.Equal(t, "success", env.Status, env.Error)
	require.Equal(t, resultType, env.Data.ResultType)
	require.NoError(t, json.Unmarshal(env.Data.Result, into))
}

// copyDir copies a directory tree of regular files.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	require.NoError(t, err)
}
