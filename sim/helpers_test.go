package sim

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
)

// tinyConfig is a one-cluster fleet of three nodes over hours hours ending
// at DefaultEnd.
func tinyConfig(hours int) Config {
	cfg := DefaultConfig()
	cfg.NodesPerCluster = 3
	cfg.Start = DefaultEnd.Add(-time.Duration(hours) * time.Hour)
	return cfg
}

func newFleet(t testing.TB, cfg Config) *Fleet {
	t.Helper()
	f, err := New(cfg)
	require.NoError(t, err)
	return f
}

func openMetrics(t testing.TB, f *Fleet) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := f.WriteOpenMetrics(context.Background(), &buf)
	require.NoError(t, err)
	return buf.Bytes(), st
}

type omSample struct {
	t int64
	v float64
}

// omSeries is one parsed series: its metric, labels and samples.
type omSeries struct {
	metric  string
	labels  map[string]string
	samples []omSample
}

// parseOM parses the simulator's OpenMetrics output into series keyed by
// their text "metric{labels}", checking the format rules promtool needs on
// the way: families contiguous, samples in time order per series, counters
// typed without _total, # EOF last.
func parseOM(t testing.TB, data []byte) map[string]*omSeries {
	t.Helper()
	out := map[string]*omSeries{}
	seenFamily := map[string]bool{}
	family, typ := "", ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lastLine := ""
	for sc.Scan() {
		line := sc.Text()
		lastLine = line
		if strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			if len(f) >= 4 && f[1] == "TYPE" {
				require.False(t, seenFamily[f[2]], "family %s not contiguous", f[2])
				seenFamily[f[2]] = true
				family, typ = f[2], f[3]
			}
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		sp2 := strings.LastIndexByte(line[:sp], ' ')
		key := line[:sp2]
		ts, err := strconv.ParseInt(line[sp+1:], 10, 64)
		if err != nil {
			t.Fatalf("bad timestamp: %s", line)
		}
		v, err := strconv.ParseFloat(line[sp2+1:sp], 64)
		if err != nil {
			t.Fatalf("bad value: %s", line)
		}
		s := out[key]
		if s == nil {
			s = parseSeriesKey(t, key)
			out[key] = s
		}
		want := family
		if typ == "counter" {
			want += "_total"
		}
		if s.metric != want {
			t.Fatalf("sample outside its family %s: %s", want, line)
		}
		if n := len(s.samples); n > 0 && ts <= s.samples[n-1].t {
			t.Fatalf("samples out of order: %s", line)
		}
		s.samples = append(s.samples, omSample{ts, v})
	}
	require.NoError(t, sc.Err())
	require.Equal(t, "# EOF", lastLine)
	return out
}

func parseSeriesKey(t testing.TB, key string) *omSeries {
	t.Helper()
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return &omSeries{metric: key, labels: map[string]string{}}
	}
	s := &omSeries{metric: key[:i], labels: map[string]string{}}
	body := strings.TrimSuffix(key[i+1:], "}")
	for _, kv := range strings.Split(body, "\",") {
		eq := strings.IndexByte(kv, '=')
		require.Positive(t, eq, key)
		s.labels[kv[:eq]] = strings.Trim(kv[eq+1:], "\"")
	}
	return s
}

// find returns the series of metric whose labels include match.
func find(series map[string]*omSeries, metric string, match map[string]string) []*omSeries {
	var out []*omSeries
	for _, s := range series {
		if s.metric != metric {
			continue
		}
		ok := true
		for k, v := range match {
			if s.labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i].labels) < fmt.Sprint(out[j].labels) })
	return out
}

// collectTruth computes the fleet's ground truth in memory.
func collectTruth(t testing.TB, f *Fleet) *Truth {
	t.Helper()
	tr := &Truth{}
	err := f.Truth(context.Background(), func(r TruthRecord) error {
		switch v := r.(type) {
		case *ContainerTruth:
			tr.Containers = append(tr.Containers, *v)
		case *NodeTruth:
			tr.Nodes = append(tr.Nodes, *v)
		case *UnmountedTruth:
			tr.Unmounted = append(tr.Unmounted, *v)
		case *ClusterTruth:
			tr.Clusters = append(tr.Clusters, *v)
		case *DiskTruth:
			tr.Disks = append(tr.Disks, *v)
		case *LoadBalancerTruth:
			tr.LoadBalancers = append(tr.LoadBalancers, *v)
		}
		return nil
	})
	require.NoError(t, err)
	return tr
}

// requireClose checks that got equals want within a relative tolerance of
// 1e-9 (float rounding), or 1e-12 absolute near zero.
func requireClose(t testing.TB, want, got float64, msgAndArgs ...any) {
	t.Helper()
	tol := 1e-9 * max(abs(want), abs(got))
	require.LessOrEqual(t, abs(want-got), max(tol, 1e-12), msgAndArgs...)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// readTSDB reads every sample of a TSDB directory, keyed like parseOM.
func readTSDB(t testing.TB, dir string) map[string][]omSample {
	t.Helper()
	db, err := tsdb.OpenDBReadOnly(dir, t.TempDir(), nil)
	require.NoError(t, err)
	defer db.Close()
	blocks, err := db.Blocks()
	require.NoError(t, err)
	out := map[string][]omSample{}
	for _, blk := range blocks {
		q, err := tsdb.NewBlockQuerier(blk, math.MinInt64, math.MaxInt64)
		require.NoError(t, err)
		readQuerier(t, q, out)
		require.NoError(t, q.Close())
	}
	return out
}

// readQuerier appends every series' samples of q to out.
func readQuerier(t testing.TB, q storage.Querier, out map[string][]omSample) {
	t.Helper()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	var it chunkenc.Iterator
	for ss.Next() {
		s := ss.At()
		var b strings.Builder
		b.WriteString(s.Labels().Get(model.MetricNameLabel))
		b.WriteByte('{')
		first := true
		s.Labels().Range(func(l labels.Label) {
			if l.Name == model.MetricNameLabel {
				return
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
		})
		b.WriteByte('}')
		it = s.Iterator(it)
		key := b.String()
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			out[key] = append(out[key], omSample{ts / 1000, v})
		}
		require.NoError(t, it.Err())
	}
	require.NoError(t, ss.Err())
}

// filterSink passes only some families to an OpenMetrics sink.
type filterSink struct {
	om   *omSink
	keep map[string]bool
	on   bool
}

func (s *filterSink) family(name, help string, typ metricType) error {
	s.on = s.keep[name]
	if !s.on {
		return nil
	}
	return s.om.family(name, help, typ)
}

func (s *filterSink) series(metric string, ls []label) error {
	if !s.on {
		return nil
	}
	return s.om.series(metric, ls)
}

func (s *filterSink) sample(t int64, v float64) error {
	if !s.on {
		return nil
	}
	return s.om.sample(t, v)
}

// someFamilies returns the OpenMetrics text of only the named families,
// written by the same code as WriteOpenMetrics, parsed.
func someFamilies(t testing.TB, f *Fleet, names ...string) map[string]*omSeries {
	t.Helper()
	var buf bytes.Buffer
	om := &omSink{w: &buf}
	keep := map[string]bool{}
	for _, n := range names {
		keep[n] = true
	}
	var st Stats
	require.NoError(t, f.emit(context.Background(), &filterSink{om: om, keep: keep}, f.start, f.end+1, &st))
	om.buf = append(om.buf, "# EOF\n"...)
	require.NoError(t, om.flush())
	return parseOM(t, buf.Bytes())
}
