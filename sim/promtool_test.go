package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/costfed/costfed/internal/testinfra"
	"github.com/stretchr/testify/require"
)

// TestSimPromtoolAccepts backfills the OpenMetrics output with promtool
// 2.42 and checks, through a real Prometheus, that every sample arrived and
// values are intact.
func TestSimPromtoolAccepts(t *testing.T) {
	f := newFleet(t, tinyConfig(2))
	data, st := openMetrics(t, f)
	file := filepath.Join(t.TempDir(), "fleet.om")
	require.NoError(t, os.WriteFile(file, data, 0o644))
	dir := t.TempDir()
	testinfra.BackfillOpenMetrics(t, file, dir)
	srv := testinfra.StartPrometheus(t, dir)

	// Prometheus 2 ranges are closed: [start, end] holds every sample.
	var total, series float64
	for _, fam := range families {
		name := fam.name
		if fam.typ == counter {
			name += "_total"
		}
		total += promScalar(t, srv.URL, fmt.Sprintf(`sum(count_over_time(%s[2h])) or vector(0)`, name), f.end)
		series += promScalar(t, srv.URL, fmt.Sprintf(`count(count_over_time(%s[2h])) or vector(0)`, name), f.end)
	}
	require.Equal(t, float64(st.Samples), total)
	require.LessOrEqual(t, series, float64(st.Series))
	require.Greater(t, series, float64(st.Series)*0.95) // runs of one series count once here

	p := f.clusters[0].pods[0]
	start := promScalar(t, srv.URL, fmt.Sprintf(`max(max_over_time(kube_pod_start_time{pod=%q}[2h]))`, p.name), f.end)
	require.Equal(t, float64(p.start), start)
	nodes := promScalar(t, srv.URL, `count(kube_node_labels{cluster_id="cluster-01"})`, f.end)
	require.Equal(t, 3.0, nodes)
}

// promScalar evaluates an instant query whose result is one sample.
func promScalar(t testing.TB, base, query string, at int64) float64 {
	t.Helper()
	u := base + "/api/v1/query?" + url.Values{"query": {query}, "time": {strconv.FormatInt(at, 10)}}.Encode()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status, body.Error)
	require.Len(t, body.Data.Result, 1, query)
	v, err := strconv.ParseFloat(body.Data.Result[0].Value[1].(string), 64)
	require.NoError(t, err)
	return v
}
