package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// apiNow is the clock of API tests: "yesterday" is day0, "1d" the day after.
var apiNow = day0.Add(day + 20*time.Hour)

// goldenStore holds one hand-written combined 1d block for day0.
func goldenStore(t testing.TB) *store.Store {
	t.Helper()
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	w := win(day0, day)
	at := func(h float64) time.Time { return day0.Add(time.Duration(h * float64(time.Hour))) }
	rows := []allocation.Allocation{
		{
			Name: "east/n1/web/web-1/app", Window: w, Start: at(0), End: at(24),
			Properties: allocation.Properties{Cluster: "east", Node: "n1", Namespace: "web", Pod: "web-1", Container: "app",
				Controller: "web", ControllerKind: "deployment", Services: []string{"web"}, ProviderID: "i-1",
				Labels: map[string]string{"app": "web", "team": "a"}, NamespaceLabels: map[string]string{"env": "prod"}},
			CPUCoreHours: 48, CPUCoreRequestAverage: 2, CPUCoreUsageAverage: 1.5, CPUCoreUsageMax: 3.25, CPUCost: 1.0 / 3,
			RAMByteHours: 24 * (4 << 30), RAMBytesRequestAverage: 4 << 30, RAMBytesUsageAverage: 3 << 30, RAMBytesUsageMax: 5 << 30, RAMCost: 0.5,
			NetworkTransferBytes: 1e9, NetworkCost: 0.02, NetworkCrossZoneCost: 0.02,
			PVs:              []allocation.PVAllocation{{Key: "cluster=east:name=pv-1", ByteHours: 24 * (10 << 30), Cost: 0.1234567, ProviderID: "vol-1"}},
			LoadBalancerCost: 0.6, LoadBalancers: []allocation.LBAllocation{{Key: "web/web", Service: "web/web", Cost: 0.6, IP: "1.2.3.4", Hours: 25}},
		},
		{
			Name: "east/n1/db/db-0/pg", Window: w, Start: at(6), End: at(18),
			Properties: allocation.Properties{Cluster: "east", Node: "n1", Namespace: "db", Pod: "db-0", Container: "pg",
				Controller: "db", ControllerKind: "statefulset", Labels: map[string]string{"app": "db"}},
			CPUCoreHours: 12, CPUCoreRequestAverage: 1, CPUCoreUsageAverage: 0.25, CPUCost: 0.25,
			GPUHours: 12, GPURequestAverage: 1, GPUCost: 10, RAMByteHours: 12 * (1 << 30), RAMBytesRequestAverage: 1 << 30, RAMCost: 0.125,
		},
		{
			Name: "east/n1/" + allocation.IdleSuffix, Window: w, Start: at(0), End: at(24),
			Properties: allocation.Properties{Cluster: "east", Node: "n1"},
			CPUCost:    2, RAMCost: 1,
		},
	}
	_, err := st.Commit(context.Background(), []store.Block{{Meta: meta(store.CombinedID, store.Daily, w), Rows: rows}}, store.CommitOptions{})
	require.NoError(t, err)
	return st
}

type testAPI struct {
	h   http.Handler
	reg *prometheus.Registry
}

func newTestAPI(t testing.TB, src Source, mod func(*HandlerOptions)) *testAPI {
	t.Helper()
	reg := prometheus.NewRegistry()
	eng, err := NewEngine(src, EngineOptions{CacheBytes: 1 << 20, Registerer: reg})
	require.NoError(t, err)
	opts := HandlerOptions{Engine: eng, Now: func() time.Time { return apiNow }, Registerer: reg, Gatherer: reg,
		Status: func(context.Context) (any, error) { return map[string]any{"clusters": []string{"east"}}, nil }}
	if mod != nil {
		mod(&opts)
	}
	h, err := NewHandler(opts)
	require.NoError(t, err)
	return &testAPI{h: h, reg: reg}
}

func (a *testAPI) get(t testing.TB, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, got, "", "  "))
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./api -update to create %s", path)
	require.Equal(t, string(want), pretty.String())
}

func TestAPIGolden(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	for name, target := range map[string]string{
		"allocation_raw":            "/allocation?window=yesterday",
		"allocation_namespace_idle": "/allocation/compute?window=yesterday&aggregate=namespace&includeIdle=true",
		"allocation_namespace_meta": "/allocation?window=yesterday&aggregate=namespace&includeAggregatedMetadata=true",
		"allocation_shared_idle":    "/model/allocation?window=" + url.QueryEscape(day0.Format(time.RFC3339)+","+day0.Add(day).Format(time.RFC3339)) + "&aggregate=cluster,label:app&shareIdle=weighted",
		"allocation_summary":        "/allocation/summary?window=yesterday&aggregate=namespace",
		"allocation_missing":        "/allocation?window=2d&aggregate=namespace&filter=" + url.QueryEscape(`namespace:"web"`),
	} {
		t.Run(name, func(t *testing.T) {
			rec := a.get(t, target)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			checkGolden(t, name, rec.Body.Bytes())
		})
	}
}

func TestAPIResponseShape(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	rec := a.get(t, "/allocation?window=yesterday&aggregate=namespace")
	require.Equal(t, http.StatusOK, rec.Code)
	var resp struct {
		Code   int                         `json:"code"`
		Status string                      `json:"status"`
		Data   []map[string]map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.Equal(t, 200, resp.Code)
	require.Equal(t, "success", resp.Status)
	require.Len(t, resp.Data, 1)
	web := resp.Data[0]["web"]
	for _, field := range []string{"name", "properties", "window", "start", "end", "minutes", "cpuCores", "cpuCoreRequestAverage",
		"cpuCoreUsageAverage", "cpuCoreHours", "cpuCost", "cpuCostAdjustment", "cpuEfficiency", "gpuCount", "gpuHours", "gpuCost",
		"ramBytes", "ramByteRequestAverage", "ramByteUsageAverage", "ramByteHours", "ramCost", "ramEfficiency",
		"networkTransferBytes", "networkReceiveBytes", "networkCost", "networkCrossZoneCost", "networkCrossRegionCost", "networkInternetCost",
		"loadBalancerCost", "pvBytes", "pvByteHours", "pvCost", "pvs", "lbAllocations", "sharedCost", "externalCost", "totalCost",
		"totalEfficiency", "rawAllocationOnly"} {
		require.Contains(t, web, field)
	}
	require.Equal(t, 0.33333, web["cpuCost"], "rounded to 5 decimals")
	require.Equal(t, 0.12346, web["pvCost"])
	require.Equal(t, 2.0, web["cpuCores"])
	require.Equal(t, 0.75, web["cpuEfficiency"])
}

func TestAPINumbers(t *testing.T) {
	for in, want := range map[float64]string{
		math.NaN(): "null", math.Inf(1): "null", math.Inf(-1): "null", 1.0 / 3: "0.33333", -1e-9: "0", 2.5: "2.5",
		123456789.123456789: "123456789.12346", 1e20: "100000000000000000000",
	} {
		got, err := Number(in).MarshalJSON()
		require.NoError(t, err)
		require.Equal(t, want, string(got), "%v", in)
	}
}

func TestAPIBadParameters(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	for param, value := range map[string]string{
		"window":          "forever",
		"window ":         "100000w",
		"aggregate":       "namespace,planet",
		"step":            "90m",
		"accumulate":      "fortnight",
		"includeIdle":     "maybe",
		"idle":            "maybe",
		"idleByNode":      "2",
		"splitIdle":       "yes please",
		"shareIdle":       "lots",
		"shareNamespaces": "kube-system,Not A Namespace",
		"shareLabels":     "app",
		"shareCost":       "-1",
		"shareCost ":      "1e308", // issue 16, row 10: was a 200 with null costs
		"shareCost  ":     "+Inf",
		"shareCost   ":    "NaN",
		"shareSplit":      "none",
		"filter":          "namespace:web",
	} {
		t.Run(param, func(t *testing.T) {
			v := url.Values{"window": {"yesterday"}}
			param = strings.TrimSpace(param)
			v.Set(param, value)
			rec := a.get(t, "/allocation?"+v.Encode())
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			var e ErrorResponse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
			require.Equal(t, 400, e.Code)
			require.Equal(t, "error", e.Status)
			want := param
			if param == "idle" {
				want = "includeIdle"
			}
			require.True(t, strings.HasPrefix(e.Message, want+": "), "message %q names %s", e.Message, want)
		})
	}
	t.Run("missing window", func(t *testing.T) {
		rec := a.get(t, "/allocation?aggregate=namespace")
		require.Equal(t, http.StatusBadRequest, rec.Code)
		require.Contains(t, rec.Body.String(), `"message":"window: required`)
	})
	t.Run("huge parameter", func(t *testing.T) {
		rec := a.get(t, "/allocation?window=1d&filter="+strings.Repeat("x", maxParamLen+1))
		require.Equal(t, http.StatusBadRequest, rec.Code)
		require.Contains(t, rec.Body.String(), "filter: longer than")
	})
}

func TestAPIMethodsAndPaths(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req := httptest.NewRequest(m, "/allocation?window=1d", nil)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
		require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	}
	require.Equal(t, http.StatusNotFound, a.get(t, "/nope").Code)
	rec := a.get(t, "/healthz")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "ok\n", rec.Body.String())
	rec = a.get(t, "/status")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"clusters":["east"]}`, rec.Body.String())

	rec = a.get(t, "/metrics")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `costfed_api_requests_total{code="405",path="/allocation"} 3`)
	require.Equal(t, 1.0, testutil.ToFloat64(counterOf(t, a.reg, "costfed_api_requests_total", "/healthz", "200")))
}

func counterOf(t *testing.T, reg *prometheus.Registry, name, path, code string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["path"] == path && labels["code"] == code {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 { return m.GetCounter().GetValue() })
			}
		}
	}
	t.Fatalf("no %s{path=%q,code=%q}", name, path, code)
	return nil
}

func TestAPIBearerAuth(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), func(o *HandlerOptions) { o.BearerToken = "s3cret" })
	for name, header := range map[string][]string{
		"none":        nil,
		"wrong":       {"Authorization", "Bearer nope"},
		"prefix":      {"Authorization", "Bearer s3cre"},
		"not bearer":  {"Authorization", "Basic czNjcmV0"},
		"bare secret": {"Authorization", "s3cret"},
	} {
		for _, path := range []string{"/allocation?window=1d", "/model/allocation?window=1d", "/allocation/summary?window=1d", "/status"} {
			rec := a.get(t, path, header...)
			require.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s", name, path)
			require.NotContains(t, rec.Body.String(), "s3cret")
			require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
		}
	}
	require.Equal(t, http.StatusOK, a.get(t, "/allocation?window=1d", "Authorization", "Bearer s3cret").Code)
	require.Equal(t, http.StatusOK, a.get(t, "/healthz").Code, "health stays open")
	require.Equal(t, http.StatusOK, a.get(t, "/metrics").Code, "metrics stay open")
}

func TestAPIInternalErrorIsGeneric(t *testing.T) {
	src := &countingSource{Source: goldenStore(t), fail: errors.New("s3: secret-bucket-name unreachable")}
	a := newTestAPI(t, src, nil)
	rec := a.get(t, "/allocation?window=yesterday")
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.NotContains(t, rec.Body.String(), "secret-bucket-name")
	require.JSONEq(t, `{"code":500,"status":"error","message":"internal error; see the server log"}`, rec.Body.String())
}

func TestAPIConcurrentRequests(t *testing.T) {
	src := &countingSource{Source: goldenStore(t)}
	a := newTestAPI(t, src, func(o *HandlerOptions) { o.MaxConcurrent = 2 })
	want := a.get(t, "/allocation?window=yesterday&aggregate=namespace").Body.String()
	var wg sync.WaitGroup
	bodies := make(chan string, 32)
	for i := range 32 {
		wg.Go(func() {
			target := "/allocation?window=yesterday&aggregate=namespace"
			if i%2 == 1 {
				target = "/model/allocation?window=yesterday&aggregate=namespace"
			}
			req := httptest.NewRequest(http.MethodGet, target, nil)
			rec := httptest.NewRecorder()
			a.h.ServeHTTP(rec, req)
			bodies <- rec.Body.String()
		})
	}
	wg.Wait()
	close(bodies)
	for b := range bodies {
		require.Equal(t, want, b)
	}
	require.Equal(t, int64(1), src.reads.Load(), "one block read, then cached")
}

func TestAPISlowClientIsCut(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	srv := NewServer(a.h, ServerOptions{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = io.WriteString(conn, "GET /allocation?window=1d HTTP/1.1\r\n")
	require.NoError(t, err)
	// Trickle a header one byte at a time; the server must hang up long
	// before it is complete.
	cut := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		cut <- time.Since(start)
	}()
	// The header would take 20 s to arrive; the 200 ms header timeout must
	// cut it long before. The bound is loose (10 s) so a loaded machine's
	// scheduling delays cannot fail the test, yet a server without the
	// timeout still fails it.
	header := "X-Slow: " + strings.Repeat("a", 1000) + "\r\n"
	for i := 0; i < len(header); i++ {
		if _, err := conn.Write([]byte{header[i]}); err != nil {
			break
		}
		select {
		case d := <-cut:
			require.Less(t, d, 10*time.Second)
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	select {
	case d := <-cut: // a write failed: the server hung up
		require.Less(t, d, 10*time.Second)
	case <-time.After(10 * time.Second):
		t.Fatal("slow client was not cut while it trickled its header")
	}
}

// TestAPIStepFinerThanTheDataIs400: hourly steps over a day kept only as a
// 1d block are a 400 naming step and the finest step there, not an empty
// 200 (issue 13 point 5).
func TestAPIStepFinerThanTheDataIs400(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	rec := a.get(t, "/allocation?window=yesterday&step=1h&aggregate=namespace")
	require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "step")
	require.Contains(t, rec.Body.String(), "step=1d")
	rec = a.get(t, "/allocation?window=yesterday&step=1d&aggregate=namespace")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

// TestAPIOpenCostUIPath: the OpenCost UI's default base URL (/model) puts
// /model/allocation/compute in front of serve; it answers with OpenCost's
// meaning (shareIdle needs includeIdle), unlike Kubecost's /model/allocation.
func TestAPIOpenCostUIPath(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	ui := a.get(t, "/model/allocation/compute?window=yesterday&aggregate=namespace&shareIdle=true")
	require.Equal(t, http.StatusOK, ui.Code, ui.Body.String())
	oc := a.get(t, "/allocation/compute?window=yesterday&aggregate=namespace&shareIdle=true")
	require.Equal(t, oc.Body.String(), ui.Body.String())
	kc := a.get(t, "/model/allocation?window=yesterday&aggregate=namespace&shareIdle=true")
	require.Equal(t, http.StatusOK, kc.Code, kc.Body.String())
	require.NotEqual(t, oc.Body.String(), kc.Body.String(), "Kubecost's route shares idle without includeIdle")
}

// TestGPUAllocationObject: OpenCost clients (its integration tests'
// TestGPUCosts) read a GPU allocation's request average from the
// gpuAllocation object; it carries the allocation's own averages, and is
// null for allocations without a GPU.
func TestGPUAllocationObject(t *testing.T) {
	gpu := allocation.Allocation{Name: "ml", GPUHours: 24, GPURequestAverage: 1, GPUUsageAverage: 0.25}
	raw, err := json.Marshal(NewAllocationJSON(&gpu))
	require.NoError(t, err)
	var got struct {
		GPUAllocation *struct {
			GPURequestAverage float64 `json:"gpuRequestAverage"`
			GPUUsageAverage   float64 `json:"gpuUsageAverage"`
		} `json:"gpuAllocation"`
	}
	require.NoError(t, json.Unmarshal(raw, &got))
	require.NotNil(t, got.GPUAllocation)
	require.Equal(t, 1.0, got.GPUAllocation.GPURequestAverage)
	require.Equal(t, 0.25, got.GPUAllocation.GPUUsageAverage)
	require.NotContains(t, string(raw), "gpuDevice", "unknown device details are left out")

	cpu := allocation.Allocation{Name: "web", CPUCoreHours: 1}
	raw, err = json.Marshal(NewAllocationJSON(&cpu))
	require.NoError(t, err)
	require.Contains(t, string(raw), `"gpuAllocation":null`)
}
