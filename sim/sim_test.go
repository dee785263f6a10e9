package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSimConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	cases := map[string]func(*Config){
		"scrape interval":   func(c *Config) { c.ScrapeInterval = 7 * time.Second },
		"whole hours":       func(c *Config) { c.Start = c.Start.Add(time.Minute) },
		"not after start":   func(c *Config) { c.End = c.Start },
		"clusters":          func(c *Config) { c.Clusters = 0 },
		"nodes per cluster": func(c *Config) { c.NodesPerCluster = 0 },
		"namespaces":        func(c *Config) { c.Namespaces = c.Namespaces[:1] },
		"instance types":    func(c *Config) { c.InstanceTypes = nil },
	}
	for want, mutate := range cases {
		cfg := DefaultConfig()
		mutate(&cfg)
		_, err := New(cfg)
		require.ErrorContains(t, err, want)
	}
}

func TestSimDeterministic(t *testing.T) {
	cfg := tinyConfig(3)
	hash := func(cfg Config) ([32]byte, [32]byte) {
		f := newFleet(t, cfg)
		om, _ := openMetrics(t, f)
		var truth bytes.Buffer
		_, err := f.WriteTruth(context.Background(), &truth)
		require.NoError(t, err)
		return sha256.Sum256(om), sha256.Sum256(truth.Bytes())
	}
	om1, truth1 := hash(cfg)
	om2, truth2 := hash(cfg)
	require.Equal(t, om1, om2, "same seed, same metrics")
	require.Equal(t, truth1, truth2, "same seed, same truth")
	cfg.Seed = 2
	om3, truth3 := hash(cfg)
	require.NotEqual(t, om1, om3)
	require.NotEqual(t, truth1, truth3)
}

// TestSimFleetShape checks that the fleet has every object kind the
// allocation engine must handle.
func TestSimFleetShape(t *testing.T) {
	f := newFleet(t, tinyConfig(24))
	c := f.clusters[0]
	kinds := map[string]int{}
	names := map[string]int{}
	shortest := int64(1 << 62)
	restarts, unaligned := 0, 0
	for _, p := range c.pods {
		kinds[p.controllerKind]++
		names[p.namespace+"/"+p.name]++
		if p.end < f.end {
			shortest = min(shortest, p.end-p.start)
		}
		if p.start%60 != 0 && p.end%60 != 0 {
			unaligned++
		}
		for _, ct := range p.containers {
			restarts += len(ct.restarts)
		}
	}
	for _, k := range []string{"deployment", "statefulset", "daemonset", "cronjob", "job", "replicaset"} {
		require.Positive(t, kinds[k], "no %s pods", k)
	}
	recreated := 0
	for _, n := range names {
		if n > 1 {
			recreated++
		}
	}
	require.Positive(t, recreated, "no pod recreated under the same name")
	require.Less(t, shortest, int64(10*60), "no short job")
	require.Positive(t, restarts)
	require.Greater(t, unaligned, len(c.pods)*9/10, "starts and stops at arbitrary seconds")
	spot, gpu, changed := 0, 0, 0
	for _, n := range c.nodes {
		spot += int(boolValue(n.spot))
		gpu += n.gpus
		if n.changeCell < 1<<62 {
			changed++
		}
	}
	require.Positive(t, spot)
	require.Positive(t, gpu)
	require.Equal(t, 1, changed)
	unclaimed, unmounted := 0, 0
	for _, v := range c.pvs {
		if v.claim < 0 {
			unclaimed++
		}
	}
	mounted := map[int]bool{}
	for _, p := range c.pods {
		for _, v := range p.pvcs {
			mounted[v] = true
		}
	}
	unmounted = len(c.pvcs) - len(mounted)
	require.Equal(t, 1, unclaimed)
	require.Equal(t, 1, unmounted)
}

// TestSimOpenMetricsFormat checks the rules promtool needs (parseOM checks
// contiguity, order and # EOF) and the sample count.
func TestSimOpenMetricsFormat(t *testing.T) {
	f := newFleet(t, tinyConfig(2))
	data, st := openMetrics(t, f)
	require.Equal(t, int64(len(data)), st.Bytes)
	series := parseOM(t, data)
	var samples int64
	for _, s := range series {
		samples += int64(len(s.samples))
		require.Equal(t, "cluster-01", s.labels["cluster_id"], s.metric)
		for _, smp := range s.samples {
			require.Zero(t, smp.t%60, "timestamps in seconds on the scrape grid")
			require.GreaterOrEqual(t, smp.t, f.start)
			require.LessOrEqual(t, smp.t, f.end)
		}
	}
	require.Equal(t, st.Samples, samples)
	require.Contains(t, string(data), "# TYPE container_cpu_usage_seconds counter\n")
	require.Contains(t, string(data), "\ncontainer_cpu_usage_seconds_total{")
	require.True(t, strings.HasSuffix(string(data), "\n# EOF\n"))
	// Series end with the pod: a short job's samples are exactly the scrapes
	// inside its life.
	for _, p := range f.clusters[0].pods {
		if p.controllerKind != "cronjob" || p.start < f.start || p.end > f.end {
			continue
		}
		got := find(series, "container_cpu_allocation", map[string]string{"pod": p.name})
		require.Len(t, got, 1)
		var want []int64
		for ts := f.grid.firstAt(p.start) * 60; ts < p.end; ts += 60 {
			want = append(want, ts)
		}
		var have []int64
		for _, s := range got[0].samples {
			have = append(have, s.t)
		}
		require.Equal(t, want, have, p.name)
		running := find(series, "kube_pod_container_status_running", map[string]string{"pod": p.name})
		require.Len(t, running, 1)
		last := running[0].samples[len(running[0].samples)-1]
		require.Zero(t, last.v, "a completed pod is still reported, not running")
		// Its exact end, from the first scrape at or after it while reported.
		done := find(series, "kube_pod_completion_time", map[string]string{"pod": p.name, "uid": p.uid})
		require.Len(t, done, 1)
		require.Equal(t, f.grid.firstAt(p.end)*60, done[0].samples[0].t, p.name)
		require.Equal(t, last.t, done[0].samples[len(done[0].samples)-1].t, p.name)
		for _, s := range done[0].samples {
			require.Equal(t, float64(p.end), s.v, p.name)
		}
	}
	// Pods that are deleted, not completed, have no completion time.
	for _, p := range f.clusters[0].pods {
		if p.controllerKind == "cronjob" || p.controllerKind == "job" {
			require.True(t, p.completes(), p.name)
			continue
		}
		require.False(t, p.completes(), p.name)
		require.Empty(t, find(series, "kube_pod_completion_time", map[string]string{"pod": p.name}), p.name)
	}
}

// TestSimTSDBMatchesOpenMetrics writes the same fleet both ways and
// compares every sample, across block boundaries and compacted parts.
func TestSimTSDBMatchesOpenMetrics(t *testing.T) {
	f := newFleet(t, tinyConfig(5))
	data, omStats := openMetrics(t, f)
	want := parseOM(t, data)
	dir := t.TempDir()
	st, err := f.WriteTSDB(context.Background(), dir, TSDBOptions{BlockDuration: 4 * time.Hour})
	require.NoError(t, err)
	require.Equal(t, omStats.Samples, st.Samples)
	require.Equal(t, omStats.Series, st.Series)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 3, "blocks [16h,20h), [20h,24h) compacted from two parts, [0h,4h); no staging left")
	got := readTSDB(t, dir)
	require.Equal(t, len(want), len(got))
	for key, s := range want {
		require.Equal(t, s.samples, got[key], key)
	}
	_, err = os.Stat(filepath.Join(dir, "wal"))
	require.True(t, os.IsNotExist(err))
}

func TestSimCountsAndStats(t *testing.T) {
	f := newFleet(t, tinyConfig(1))
	c := f.Counts()
	require.Equal(t, 1, c.Clusters)
	require.Equal(t, 3, c.Nodes)
	require.Greater(t, c.Containers, c.Pods-1)
	_, st := openMetrics(t, f)
	require.Positive(t, st.Series)
	require.Greater(t, st.Samples, st.Series)
}
