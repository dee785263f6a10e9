package prom

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/costfed/costfed/internal/promproxy"
	"github.com/costfed/costfed/internal/testinfra"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// The fixture: two clusters (c1, c2), each with two nodes and three pods,
// one sample a minute for a day ending at httpFixtureEnd.
//
//	series                                              value at t (Unix s)
//	kube_node_status_capacity_cpu_cores{cluster_id,node}  4 on c1, 8 on c2
//	container_cpu_allocation{cluster_id,namespace,pod,     k + (t/60 mod 60)/100, k = 0…5
//	                         container,node}                (c1 p0…p2 = 0…2, c2 p0…p2 = 3…5)
var httpFixtureEnd = time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)

const (
	httpFixtureSpan     = 24 * time.Hour
	httpFixtureInterval = time.Minute
)

type httpFixtureSeries struct {
	labels string // {a="b",…}
	value  func(unix int64) float64
}

func httpFixtureFamilies() []struct {
	name   string
	series []httpFixtureSeries
} {
	var nodes, pods []httpFixtureSeries
	for ci, cluster := range []string{"c1", "c2"} {
		capacity := float64(4 * (ci + 1))
		for n := 0; n < 2; n++ {
			nodes = append(nodes, httpFixtureSeries{
				labels: fmt.Sprintf(`{cluster_id="%s",node="n%d"}`, cluster, n),
				value:  func(int64) float64 { return capacity },
			})
		}
		for p := 0; p < 3; p++ {
			k := float64(ci*3 + p)
			pods = append(pods, httpFixtureSeries{
				labels: fmt.Sprintf(`{cluster_id="%s",namespace="ns",pod="p%d",container="app",node="n%d"}`, cluster, p, p%2),
				value:  func(unix int64) float64 { return httpFixturePodValue(k, unix) },
			})
		}
	}
	return []struct {
		name   string
		series []httpFixtureSeries
	}{
		{"kube_node_status_capacity_cpu_cores", nodes},
		{"container_cpu_allocation", pods},
	}
}

func httpFixturePodValue(k float64, unix int64) float64 {
	return k + float64((unix/60)%60)/100
}

// writeHTTPFixture writes the fixture as OpenMetrics for promtool: seconds
// timestamps, one contiguous family per metric, each series in time order,
// and the final "# EOF".
func writeHTTPFixture(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	start := httpFixtureEnd.Add(-httpFixtureSpan).Unix()
	step := int64(httpFixtureInterval / time.Second)
	for _, fam := range httpFixtureFamilies() {
		fmt.Fprintf(w, "# TYPE %s gauge\n", fam.name)
		for _, s := range fam.series {
			for ts := start; ts <= httpFixtureEnd.Unix(); ts += step {
				fmt.Fprintf(w, "%s%s %s %d\n", fam.name, s.labels, strconv.FormatFloat(s.value(ts), 'g', -1, 64), ts)
			}
		}
	}
	fmt.Fprintln(w, "# EOF")
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}

// startHTTPFixturePrometheus backfills the fixture into a fresh TSDB directory
// and starts a real Prometheus on it.
func startHTTPFixturePrometheus(t *testing.T, extraArgs ...string) *testinfra.PromServer {
	t.Helper()
	testinfra.NeedBinary(t, "prometheus")
	dir := t.TempDir()
	om := filepath.Join(dir, "fixture.om")
	writeHTTPFixture(t, om)
	tsdb := filepath.Join(dir, "tsdb")
	require.NoError(t, os.Mkdir(tsdb, 0o755))
	testinfra.BackfillOpenMetrics(t, om, tsdb)
	return testinfra.StartPrometheus(t, tsdb, extraArgs...)
}

func TestRealPrometheus(t *testing.T) {
	prom := startHTTPFixturePrometheus(t)
	ctx := context.Background()
	direct, _ := newTestHTTPSource(t, HTTPConfig{URL: prom.URL})

	t.Run("instant and range queries", func(t *testing.T) {
		res, err := direct.Query(ctx, `sum(container_cpu_allocation)`, httpFixtureEnd)
		require.NoError(t, err)
		vec := res.Value.(model.Vector)
		require.Len(t, vec, 1)
		require.InDelta(t, 0+1+2+3+4+5, float64(vec[0].Value), 1e-9)
		require.Positive(t, res.SamplesProcessed, "stats=all gives totalQueryableSamples")

		start := httpFixtureEnd.Add(-time.Hour)
		res, err = direct.QueryRange(ctx, `container_cpu_allocation{cluster_id="c2",pod="p1"}`, start, httpFixtureEnd, 5*time.Minute)
		require.NoError(t, err)
		m := res.Value.(model.Matrix)
		require.Len(t, m, 1)
		require.Len(t, m[0].Values, 13)
		for _, p := range m[0].Values {
			require.InDelta(t, httpFixturePodValue(4, p.Timestamp.Unix()), float64(p.Value), 1e-9, "at %v", p.Timestamp.Time())
		}
		require.Positive(t, res.SamplesProcessed)
	})

	t.Run("cluster filter selects one cluster", func(t *testing.T) {
		filtered, _ := newTestHTTPSource(t, HTTPConfig{URL: prom.URL, ClusterFilter: "c1"})
		res, err := filtered.Query(ctx, `sum by (cluster_id) (container_cpu_allocation) / on (cluster_id) group_left count by (cluster_id) (kube_node_status_capacity_cpu_cores)`, httpFixtureEnd)
		require.NoError(t, err)
		vec := res.Value.(model.Vector)
		require.Len(t, vec, 1)
		require.Equal(t, model.LabelValue("c1"), vec[0].Metric["cluster_id"])
		require.InDelta(t, (0.0+1+2)/2, float64(vec[0].Value), 1e-9)

		all, err := direct.Query(ctx, `count(kube_node_status_capacity_cpu_cores)`, httpFixtureEnd)
		require.NoError(t, err)
		require.InDelta(t, 4, float64(all.Value.(model.Vector)[0].Value), 0)
		one, err := filtered.Query(ctx, `count(kube_node_status_capacity_cpu_cores)`, httpFixtureEnd)
		require.NoError(t, err)
		require.InDelta(t, 2, float64(one.Value.(model.Vector)[0].Value), 0)

		rng, err := filtered.QueryRange(ctx, `max_over_time(container_cpu_allocation[10m])`, httpFixtureEnd.Add(-time.Hour), httpFixtureEnd, 10*time.Minute)
		require.NoError(t, err)
		m := rng.Value.(model.Matrix)
		require.Len(t, m, 3)
		for _, ss := range m {
			require.Equal(t, model.LabelValue("c1"), ss.Metric["cluster_id"])
		}
	})

	t.Run("range semantics of Prometheus 2 are closed", func(t *testing.T) {
		sem, err := ProbeRangeSemantics(ctx, direct, ProbeAt(httpFixtureEnd))
		require.NoError(t, err)
		require.Equal(t, RangeClosed, sem)
		sem, err = ProbeRangeSemantics(ctx, direct)
		require.NoError(t, err)
		require.Equal(t, RangeClosed, sem)
		// What query builders rely on: a [1h:5m] subquery at an aligned
		// time counts SubqueryPoints samples.
		res, err := direct.Query(ctx, `count_over_time(container_cpu_allocation{cluster_id="c1",pod="p0"}[1h:5m])`, httpFixtureEnd)
		require.NoError(t, err)
		require.EqualValues(t, sem.SubqueryPoints(time.Hour, 5*time.Minute), res.Value.(model.Vector)[0].Value)
	})

	t.Run("faults give the fault-free answers", func(t *testing.T) {
		testFaultProxy(t, prom.URL, direct)
	})

	t.Run("sigv4 proxy", func(t *testing.T) {
		testSigV4Proxy(t, prom.URL, direct)
	})

	t.Run("path prefix of the AMP proxy URL form", func(t *testing.T) {
		srv := startPrefixStripper(t, prom.URL, "/workspaces/ws-123")
		viaProxy, _ := newTestHTTPSource(t, HTTPConfig{URL: srv.URL + "/workspaces/ws-123"})
		q := `sum by (cluster_id) (container_cpu_allocation)`
		want, err := direct.Query(ctx, q, httpFixtureEnd)
		require.NoError(t, err)
		got, err := viaProxy.Query(ctx, q, httpFixtureEnd)
		require.NoError(t, err)
		require.Equal(t, sortedHTTPVector(want.Value), sortedHTTPVector(got.Value))
		// Without the prefix the stripper answers 404: the prefix was used.
		bare, _ := newTestHTTPSource(t, HTTPConfig{URL: srv.URL})
		_, err = bare.Query(ctx, q, httpFixtureEnd)
		require.ErrorContains(t, err, "HTTP 404")
	})
}

// faultQueries are asked directly and through the fault proxy.
var faultQueries = []struct {
	instant bool
	query   string
	step    time.Duration
}{
	{true, `sum by (cluster_id) (container_cpu_allocation)`, 0},
	{false, `container_cpu_allocation`, 5 * time.Minute},
	{false, `avg_over_time(kube_node_status_capacity_cpu_cores[10m])`, 10 * time.Minute},
}

func askFaultQueries(ctx context.Context, t *testing.T, src Source) []Result {
	t.Helper()
	var out []Result
	for _, q := range faultQueries {
		var (
			res Result
			err error
		)
		if q.instant {
			res, err = src.Query(ctx, q.query, httpFixtureEnd)
		} else {
			res, err = src.QueryRange(ctx, q.query, httpFixtureEnd.Add(-24*time.Hour), httpFixtureEnd, q.step)
		}
		require.NoError(t, err, q.query)
		out = append(out, res)
	}
	return out
}

func testFaultProxy(t *testing.T, promURL string, direct *HTTPSource) {
	ctx := context.Background()
	want := askFaultQueries(ctx, t, direct)

	target, err := url.Parse(promURL)
	require.NoError(t, err)
	fp := promproxy.NewFaultProxy(target,
		promproxy.Rule{Match: promproxy.OnIndex(0), Fault: promproxy.Fault{Kind: promproxy.Fault429, RetryAfter: "1"}},
		promproxy.Rule{Match: promproxy.OnIndex(1), Fault: promproxy.Fault{Kind: promproxy.Fault429}},
		promproxy.Rule{Match: promproxy.OnIndex(2), Fault: promproxy.Fault{Kind: promproxy.FaultThrottling400}},
		promproxy.Rule{Match: promproxy.OnIndex(3), Fault: promproxy.Fault{Kind: promproxy.Fault503}},
		promproxy.Rule{Match: promproxy.OnIndex(4), Fault: promproxy.Fault{Kind: promproxy.Fault504}},
		promproxy.Rule{Match: promproxy.OnIndex(5), Fault: promproxy.Fault{Kind: promproxy.FaultReset}},
		promproxy.Rule{Match: promproxy.OnIndex(6), Fault: promproxy.Fault{Kind: promproxy.FaultSlow, Delay: time.Minute}},
		promproxy.Rule{Match: matchBoth(promproxy.QueryContains("container_cpu_allocation"), promproxy.RangeLongerThan(6*time.Hour)),
			Fault: promproxy.Fault{Kind: promproxy.Fault422}},
		promproxy.Rule{Match: matchBoth(promproxy.QueryContains("kube_node"), promproxy.RangeLongerThan(12*time.Hour)),
			Fault: promproxy.Fault{Kind: promproxy.Fault413}},
	)
	srv := httptest.NewServer(fp)
	t.Cleanup(srv.Close)
	// Seven faults hit the first query in a row: allow for them.
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, rec := newTestHTTPSource(t, HTTPConfig{URL: srv.URL, Retries: 8, QueryTimeout: 2 * time.Second}, WithHTTPLogger(logger))

	got := askFaultQueries(ctx, t, src)
	require.Equal(t, sortedHTTPVector(want[0].Value), sortedHTTPVector(got[0].Value))
	for i := 1; i < len(want); i++ {
		requireSameHTTPMatrix(t, want[i].Value, got[i].Value)
	}

	injected := fp.Injected()
	require.Equal(t, map[promproxy.FaultKind]int{
		promproxy.Fault429: 2, promproxy.FaultThrottling400: 1, promproxy.Fault503: 1, promproxy.Fault504: 1,
		promproxy.FaultReset: 1, promproxy.FaultSlow: 1,
		// 24h → 2×12h → 4×6h for the first range query; 24h → 2×12h for the second.
		promproxy.Fault422: 3, promproxy.Fault413: 1,
	}, injected)
	st := src.Stats()
	// On a loaded machine a real query may also exceed the 2s timeout and
	// be retried: the slow fault accounts for at least one timeout.
	require.GreaterOrEqual(t, st.Retries[RetryTimeout], int64(1))
	st.Retries[RetryTimeout] = 1
	require.Equal(t, map[RetryReason]int64{
		RetryThrottled: 3, RetryUnavailable: 1, RetryGatewayTimeout: 1, RetryConnection: 1, RetryTimeout: 1,
	}, st.Retries)
	require.EqualValues(t, 4, st.Splits)
	require.EqualValues(t, fp.Requests(), st.Requests)
	require.Zero(t, st.Failures)
	require.Equal(t, time.Second, rec.all()[0], "Retry-After honoured")
	t.Logf("fault proxy: %d requests, injected %v, client stats %+v", fp.Requests(), injected, st)
}

func matchBoth(a, b func(promproxy.Request) bool) func(promproxy.Request) bool {
	return func(r promproxy.Request) bool { return a(r) && b(r) }
}

func testSigV4Proxy(t *testing.T, promURL string, direct *HTTPSource) {
	ctx := context.Background()
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	// As AMP: https://…/workspaces/<id>/api/v1/… signed with the workspace
	// path, which a prefix stripper behind the verifier removes.
	stripper := startPrefixStripper(t, promURL, "/workspaces/ws-123")
	target, err := url.Parse(stripper.URL)
	require.NoError(t, err)
	proxy := promproxy.NewSigV4Proxy(target, &promproxy.SigV4Verifier{
		Region: "us-west-2", Service: "aps", AccessKey: "AKIDCOSTFEDTEST", SecretKey: "costfed-test-secret"})
	proxySrv := httptest.NewServer(proxy)
	t.Cleanup(proxySrv.Close)
	workspace := proxySrv.URL + "/workspaces/ws-123"

	q := `sum by (cluster_id) (container_cpu_allocation)`
	want, err := direct.QueryRange(ctx, q, httpFixtureEnd.Add(-6*time.Hour), httpFixtureEnd, 15*time.Minute)
	require.NoError(t, err)

	signed, _ := newTestHTTPSource(t, HTTPConfig{URL: workspace,
		SigV4: &SigV4Auth{Region: "us-west-2", AccessKey: "AKIDCOSTFEDTEST", SecretKey: "costfed-test-secret"}})
	got, err := signed.QueryRange(ctx, q, httpFixtureEnd.Add(-6*time.Hour), httpFixtureEnd, 15*time.Minute)
	require.NoError(t, err)
	requireSameHTTPMatrix(t, want.Value, got.Value)
	inst, err := signed.Query(ctx, q, httpFixtureEnd)
	require.NoError(t, err)
	require.Len(t, inst.Value.(model.Vector), 2)
	require.EqualValues(t, 2, proxy.Accepted())

	wrong, rec := newTestHTTPSource(t, HTTPConfig{URL: workspace,
		SigV4: &SigV4Auth{Region: "us-west-2", AccessKey: "AKIDCOSTFEDTEST", SecretKey: "not-the-secret"}})
	_, err = wrong.Query(ctx, q, httpFixtureEnd)
	require.Error(t, err)
	t.Logf("wrong secret: %v", err)
	require.Contains(t, err.Error(), "HTTP 403 Forbidden")
	require.Contains(t, err.Error(), "InvalidSignatureException")
	require.Contains(t, err.Error(), "signature we calculated does not match")
	require.Empty(t, rec.all(), "a signature error is not retried")
	require.EqualValues(t, 1, wrong.Stats().Failures)

	unsigned, _ := newTestHTTPSource(t, HTTPConfig{URL: workspace})
	_, err = unsigned.Query(ctx, q, httpFixtureEnd)
	require.ErrorContains(t, err, "MissingAuthenticationTokenException")
	require.EqualValues(t, 2, proxy.Rejected())
}

// startPrefixStripper serves target under prefix only, as the AMP SigV4
// proxy serves a workspace under /workspaces/<id>.
func startPrefixStripper(t *testing.T, target, prefix string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix+"/") {
			http.NotFound(w, r)
			return
		}
		r.URL.Path = strings.TrimPrefix(r.URL.Path, prefix)
		r.URL.RawPath = ""
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func sortedHTTPVector(v model.Value) model.Vector {
	vec := append(model.Vector(nil), v.(model.Vector)...)
	sort.Sort(vec)
	return vec
}

// A Prometheus with a low --query.max-samples answers a long range query
// with a real 422; the client splits it and gets the unsplit answer.
func TestRealPrometheusTooManySamplesIsSplit(t *testing.T) {
	full := startHTTPFixturePrometheus(t)
	limited := startHTTPFixturePrometheus(t, "--query.max-samples=1000")
	ctx := context.Background()
	direct, _ := newTestHTTPSource(t, HTTPConfig{URL: full.URL})
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: limited.URL})

	q := `container_cpu_allocation`
	start := httpFixtureEnd.Add(-24 * time.Hour)
	want, err := direct.QueryRange(ctx, q, start, httpFixtureEnd, 5*time.Minute)
	require.NoError(t, err)

	got, err := src.QueryRange(ctx, q, start, httpFixtureEnd, 5*time.Minute)
	require.NoError(t, err)
	requireSameHTTPMatrix(t, want.Value, got.Value)
	st := src.Stats()
	require.Positive(t, st.Splits)
	t.Logf("max-samples 1000: %d splits, %d requests", st.Splits, st.Requests)

	// An instant query over too many samples cannot be split.
	_, err = src.Query(ctx, `count_over_time(container_cpu_allocation[1d])`, httpFixtureEnd)
	require.Error(t, err)
	t.Logf("instant over the limit: %v", err)
	require.Contains(t, err.Error(), "HTTP 422")
	require.Contains(t, err.Error(), "too many samples")
	require.Contains(t, err.Error(), "cannot be split")
}

// The probe against the Prometheus 3 engine (the local TSDB source runs
// github.com/prometheus/prometheus v0.316.0 in-process) says left-open:
// it tells the two semantics apart, not only recognises Prometheus 2.
func TestProbeDetectsLeftOpenOnPrometheus3Engine(t *testing.T) {
	testinfra.NeedBinary(t, "promtool")
	dir := t.TempDir()
	om := filepath.Join(dir, "fixture.om")
	writeHTTPFixture(t, om)
	tsdb := filepath.Join(dir, "tsdb")
	require.NoError(t, os.Mkdir(tsdb, 0o755))
	testinfra.BackfillOpenMetrics(t, om, tsdb)
	local, err := OpenLocal(tsdb, LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, local.Close()) })

	sem, err := ProbeRangeSemantics(context.Background(), local, ProbeAt(httpFixtureEnd))
	require.NoError(t, err)
	require.Equal(t, RangeLeftOpen, sem)
	res, err := local.Query(context.Background(), `count_over_time(container_cpu_allocation{cluster_id="c1",pod="p0"}[1h:5m])`, httpFixtureEnd)
	require.NoError(t, err)
	require.EqualValues(t, sem.SubqueryPoints(time.Hour, 5*time.Minute), res.Value.(model.Vector)[0].Value)
}
