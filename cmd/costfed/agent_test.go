package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/etl"
	"github.com/costfed/costfed/internal/testinfra"
)

// flakyProm is a Prometheus API that answers 503 to everything while down,
// and when up answers the range-semantics probe (closed ranges), the
// presence query of the oldest-sample search (data everywhere) and every
// other query with an empty result: windows build, with no rows.
type flakyProm struct {
	up       atomic.Bool
	requests atomic.Int64
}

func (f *flakyProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	if !f.up.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"unavailable","error":"workspace unavailable"}`))
		return
	}
	_ = r.ParseForm()
	q := r.Form.Get("query")
	var data string
	switch {
	case r.URL.Path == "/api/v1/query_range":
		data = `{"resultType":"matrix","result":[]}`
	case strings.Contains(q, "vector(1)[60s:10s]"):
		data = fmt.Sprintf(`{"resultType":"vector","result":[{"metric":{},"value":[%s,"7"]}]}`, r.Form.Get("time"))
	case strings.Contains(q, "kube_pod_container_status_running"):
		data = fmt.Sprintf(`{"resultType":"vector","result":[{"metric":{},"value":[%s,"3"]}]}`, r.Form.Get("time"))
	default:
		data = `{"resultType":"vector","result":[]}`
	}
	_, _ = w.Write([]byte(`{"status":"success","data":` + data + `}`))
}

// metricValue is the value of one sample line of a /metrics body, or -1.
func metricValue(body, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// TestAgentOutlivesItsSource (issue 16, row 5): started while Prometheus
// answers 503, the agent stays up and serves /healthz, /metrics and /status
// at once; /readyz is 503, costfed_agent_source_up is 0 and failed ticks are
// counted by reason. When the source comes back, the next tick builds and the
// source is up.
func TestAgentOutlivesItsSource(t *testing.T) {
	fake := &flakyProm{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	port := testinfra.FreePort(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "federated-store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+filepath.Join(dir, "data")+"\n"), 0o600))
	cfgPath := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`cluster_id: c1
store: federated-store.yaml
listen_address: 127.0.0.1:%d
schedule: "@every 1s"
resolutions: [{resolution: 1h, retention: 2h}]
prometheus:
  url: %s
  retries: 0
`, port, srv.URL)), 0o600))

	cmd := startBackground("agent", "--config", cfgPath, "--shutdown-grace", "2s")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testinfra.WaitHTTP(t, base+"/healthz", testinfra.StatusIs(200), 20*time.Second)

	// Down: serving, not ready, failures counted; ticks keep coming.
	failedSeries := `costfed_agent_ticks_failed_total{reason="` + etl.FailSourceUnreachable + `"}`
	require.Eventually(t, func() bool {
		return metricValue(httpGet(t, base+"/metrics"), failedSeries) >= 2
	}, 20*time.Second, 50*time.Millisecond, "failed ticks are counted, and retried")
	metrics := httpGet(t, base+"/metrics")
	require.Equal(t, 0.0, metricValue(metrics, "costfed_agent_source_up"))
	require.Equal(t, 0.0, metricValue(metrics, `costfed_agent_ticks_failed_total{reason="`+etl.FailStore+`"}`))
	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	var st etl.Status
	require.NoError(t, json.Unmarshal([]byte(httpGet(t, base+"/status")), &st))
	require.Equal(t, "c1", st.Cluster)
	require.False(t, st.Source.Up)
	require.Equal(t, etl.FailSourceUnreachable, st.Source.LastErrorReason)
	require.Contains(t, st.Source.LastError, "503")
	require.Contains(t, st.LastError, "503")
	require.GreaterOrEqual(t, st.Source.ConsecutiveFailures, 1)
	select {
	case code := <-cmd.done:
		t.Fatalf("the agent exited (%d) while its source was down: %s", code, cmd.stderr.String())
	default:
	}

	// Back: the next tick probes, builds, and the source is up.
	fake.up.Store(true)
	require.Eventually(t, func() bool {
		m := httpGet(t, base+"/metrics")
		return metricValue(m, "costfed_agent_source_up") == 1 && metricValue(m, `costfed_agent_blocks_built_total{resolution="1h"}`) > 0
	}, 20*time.Second, 50*time.Millisecond, "the tick after the source came back builds")
	require.Equal(t, "source up\n", httpGet(t, base+"/readyz"))
	st = etl.Status{}
	require.NoError(t, json.Unmarshal([]byte(httpGet(t, base+"/status")), &st))
	require.True(t, st.Source.Up)
	require.Zero(t, st.Source.ConsecutiveFailures)
	require.Contains(t, st.Source.LastError, "503", "the outage stays visible")
	cmd.stop(t)
}

// TestAgentConfigErrorsFailFast: outliving the source does not mean
// outliving a broken config: those still exit at once, before any tick.
func TestAgentConfigErrorsFailFast(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	listen := fmt.Sprintf("listen_address: 127.0.0.1:%d\n", testinfra.FreePort(t))
	for name, tc := range map[string]struct {
		cfg  string
		code int
	}{
		"bad yaml":      {write("bad.yaml", "cluster_id: [c\n"), 2},
		"missing store": {write("nostore.yaml", "cluster_id: c\nstore: missing.yaml\n"+listen+"prometheus:\n  url: http://127.0.0.1:1\n"), 2},
		"bad store":     {write("badstore.yaml", "cluster_id: c\nstore: "+write("store.yaml", "type: NOPE\n")+"\n"+listen+"prometheus:\n  url: http://127.0.0.1:1\n"), 2},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var errb lockedBuffer
		code := run(ctx, &env{stdout: io.Discard, stderr: &errb}, []string{"agent", "--config", tc.cfg})
		require.NoError(t, ctx.Err(), "%s: the agent ran instead of failing", name)
		cancel()
		require.Equal(t, tc.code, code, "%s: %s", name, errb.String())
	}
}

// TestTickLoopRetriesWhileTheSourceIsDown: after a tick that found the
// source down, the loop runs another after the agent's backoff delay without
// waiting for the schedule, and stops retrying once the source is up; a
// panicking tick does not end the loop.
func TestTickLoopRetriesWhileTheSourceIsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ticks atomic.Int64
	trigger := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tickLoop(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), trigger, func() {
			if ticks.Add(1) == 2 {
				panic("boom")
			}
		}, func() (time.Duration, bool) {
			return time.Millisecond, ticks.Load() < 4 // down for three ticks
		})
	}()
	trigger <- struct{}{}
	require.Eventually(t, func() bool { return ticks.Load() == 4 }, 10*time.Second, time.Millisecond)
	trigger <- struct{}{} // the schedule still drives ticks
	require.Eventually(t, func() bool { return ticks.Load() == 5 }, 10*time.Second, time.Millisecond)
	cancel()
	<-done
	require.Equal(t, int64(5), ticks.Load(), "no retry once the source is up")
}
