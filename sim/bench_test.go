package sim

import (
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchConfig is clusters clusters of nodes nodes over days days.
func benchConfig(clusters, nodes, days int) Config {
	cfg := DefaultConfig()
	cfg.Clusters = clusters
	cfg.NodesPerCluster = nodes
	cfg.Start = DefaultEnd.Add(-time.Duration(days) * 24 * time.Hour)
	return cfg
}

// reportMemory adds the process's peak RSS (VmHWM, Linux) and the Go heap
// in use to the benchmark's metrics.
func reportMemory(b *testing.B) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if f := strings.Fields(rest); len(f) == 2 {
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
					b.ReportMetric(kb/1024, "peak-RSS-MiB")
				}
			}
		}
	}
}

func reportSamples(b *testing.B, samples int64) {
	b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(samples), "samples/op")
}

// BenchmarkSimOpenMetrics formats one day of a 100-node cluster as
// OpenMetrics text into io.Discard.
func BenchmarkSimOpenMetrics(b *testing.B) {
	f := newFleet(b, benchConfig(1, 100, 1))
	b.ResetTimer()
	var st Stats
	for i := 0; i < b.N; i++ {
		var err error
		st, err = f.WriteOpenMetrics(context.Background(), io.Discard)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(st.Bytes)
	reportSamples(b, st.Samples)
	reportMemory(b)
}

// BenchmarkSimTSDB writes one day of a 100-node cluster as TSDB blocks.
func BenchmarkSimTSDB(b *testing.B) {
	f := newFleet(b, benchConfig(1, 100, 1))
	b.ResetTimer()
	var st Stats
	for i := 0; i < b.N; i++ {
		var err error
		st, err = f.WriteTSDB(context.Background(), b.TempDir(), TSDBOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Bytes)/float64(st.Samples), "disk-B/sample")
	reportSamples(b, st.Samples)
	reportMemory(b)
}

// BenchmarkSimTruth computes seven days of ground truth for a 100-node
// cluster.
func BenchmarkSimTruth(b *testing.B) {
	f := newFleet(b, benchConfig(1, 100, 7))
	b.ResetTimer()
	var n int64
	for i := 0; i < b.N; i++ {
		var err error
		n, err = f.WriteTruth(context.Background(), io.Discard)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "records/op")
	reportMemory(b)
}

// countSink counts samples without formatting them.
type countSink struct{}

func (countSink) family(string, string, metricType) error { return nil }
func (countSink) series(string, []label) error            { return nil }
func (countSink) sample(int64, float64) error             { return nil }

// BenchmarkSimScale generates every sample of 1,000 nodes (10 clusters of
// 100) over seven days, without formatting, and their ground truth: the
// model's cost and the memory bound at the target scale. It takes about a
// minute and runs only with COSTFED_SIM_SCALE=1.
func BenchmarkSimScale(b *testing.B) {
	if os.Getenv("COSTFED_SIM_SCALE") != "1" {
		b.Skip("set COSTFED_SIM_SCALE=1 to run the 1,000-node, 7-day generation")
	}
	f := newFleet(b, benchConfig(10, 100, 7))
	b.ResetTimer()
	var st Stats
	var records int64
	for i := 0; i < b.N; i++ {
		st = Stats{}
		if err := f.emit(context.Background(), countSink{}, f.start, f.end+1, &st); err != nil {
			b.Fatal(err)
		}
		n, err := f.WriteTruth(context.Background(), io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		records = n
	}
	b.ReportMetric(float64(f.Counts().Pods), "pods")
	b.ReportMetric(float64(records), "records/op")
	reportSamples(b, st.Samples)
	reportMemory(b)
}

// BenchmarkSimScaleTSDB writes one day of 1,000 nodes (10 clusters of 100)
// as TSDB blocks: the writer's memory bound at the target scale (it holds
// one two-hour part at a time). About two minutes; only with
// COSTFED_SIM_SCALE=1.
func BenchmarkSimScaleTSDB(b *testing.B) {
	if os.Getenv("COSTFED_SIM_SCALE") != "1" {
		b.Skip("set COSTFED_SIM_SCALE=1 to run the 1,000-node TSDB write")
	}
	f := newFleet(b, benchConfig(10, 100, 1))
	b.ResetTimer()
	var st Stats
	for i := 0; i < b.N; i++ {
		var err error
		st, err = f.WriteTSDB(context.Background(), b.TempDir(), TSDBOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Bytes)/float64(st.Samples), "disk-B/sample")
	reportSamples(b, st.Samples)
	reportMemory(b)
}
