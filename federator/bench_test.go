package federator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	rtmetrics "runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/filesystem"

	"github.com/costfed/costfed/store"
)

// Run: go test ./federator -run '^$' -bench . -benchmem -benchtime 3x

const (
	benchClusters = 100
	benchRows     = 2000
)

// mergeFixture commits one daily block of benchRows rows for each of
// benchClusters clusters and returns the store, the plan of that window and
// the encoded cluster blocks (for the plain-Parquet baseline).
func mergeFixture(b *testing.B) (*store.Store, WindowPlan, [][]byte) {
	b.Helper()
	ctx := context.Background()
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	var files [][]byte
	var clusters []ClusterIndex
	for i := 0; i < benchClusters; i++ {
		blk := clusterBlock(fmt.Sprintf("cluster-%03d", i), 0, benchRows, uint64(i))
		data, err := store.EncodeBlock(blk)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, data)
		if _, err := st.Commit(ctx, []store.Block{blk}, store.CommitOptions{}); err != nil {
			b.Fatal(err)
		}
		ix, err := st.ReadIndex(ctx, blk.Meta.Cluster, store.Daily)
		if err != nil {
			b.Fatal(err)
		}
		clusters = append(clusters, ClusterIndex{Cluster: blk.Meta.Cluster, Index: ix})
	}
	plan, _ := Plan(clusters, store.Index{Cluster: store.CombinedID, Resolution: store.Daily}, PlanOptions{})
	if len(plan) != 1 {
		b.Fatalf("want one window, got %d", len(plan))
	}
	return st, plan[0], files
}

// BenchmarkMergeWindow merges one window of 100 clusters × 2,000 rows: read
// and verify every block, decode, merge, encode and commit the combined block.
func BenchmarkMergeWindow(b *testing.B) {
	st, wp, _ := mergeFixture(b)
	f := New(st, Options{Resolutions: []store.Resolution{store.Daily}})
	empty := store.Index{Cluster: store.CombinedID, Resolution: store.Daily}
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.mergeWindow(context.Background(), store.Daily, wp, empty); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchClusters*benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPlainParquetMerge is the limit BenchmarkMergeWindow approaches: the
// same 100 files read into Arrow tables and written back as one ZSTD Parquet
// file, with no verification, row conversion or sorting.
func BenchmarkPlainParquetMerge(b *testing.B) {
	_, _, files := mergeFixture(b)
	ctx := context.Background()
	mem := memory.DefaultAllocator
	b.ResetTimer()
	for b.Loop() {
		var recs []arrow.RecordBatch
		var schema *arrow.Schema
		for _, data := range files {
			tbl, err := pqarrow.ReadTable(ctx, bytes.NewReader(data), parquet.NewReaderProperties(mem), pqarrow.ArrowReadProperties{}, mem)
			if err != nil {
				b.Fatal(err)
			}
			schema = tbl.Schema()
			tr := array.NewTableReader(tbl, 0)
			for tr.Next() {
				rec := tr.RecordBatch()
				rec.Retain()
				recs = append(recs, rec)
			}
			tr.Release()
			tbl.Release()
		}
		var out bytes.Buffer
		fw, err := pqarrow.NewFileWriter(schema, &out, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithMaxRowGroupLength(64*1024)), pqarrow.DefaultWriterProps())
		if err != nil {
			b.Fatal(err)
		}
		for _, rec := range recs {
			if err := fw.WriteBuffered(rec); err != nil {
				b.Fatal(err)
			}
			rec.Release()
		}
		if err := fw.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchClusters*benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// countingBucket counts objects and bytes read.
type countingBucket struct {
	objstore.Bucket
	gets, bytes atomic.Int64
}

func (c *countingBucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := c.Bucket.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(rc)
	_ = rc.Close()
	c.gets.Add(1)
	c.bytes.Add(int64(len(data)))
	return io.NopCloser(bytes.NewReader(data)), err
}

// BenchmarkNoopPass is a pass over 1,000 clusters × 90 daily windows in which
// nothing changed: only index objects are read. Blocks themselves are not
// needed (and not written) since the pass never opens them. Digests are either
// counters printed as 64 hex digits (mostly zeros, which compress far better
// than real digests) or SHA-256 sums, as real blocks have.
func BenchmarkNoopPass(b *testing.B) {
	for _, digests := range []string{"counter", "sha256"} {
		b.Run("digests="+digests, func(b *testing.B) {
			digest := func(n int) string { return fmt.Sprintf("%064x", n) }
			if digests == "sha256" {
				digest = func(n int) string {
					sum := sha256.Sum256(fmt.Appendf(nil, "block %d", n))
					return hex.EncodeToString(sum[:])
				}
			}
			benchNoopPass(b, digest)
		})
	}
}

func benchNoopPass(b *testing.B, digest func(int) string) {
	ctx := context.Background()
	const clusters, days = 1000, 90
	inner := objstore.NewInMemBucket()
	st := store.New(inner, store.Options{})
	combined := store.Index{Cluster: store.CombinedID, Resolution: store.Daily}
	for d := 0; d < days; d++ {
		combined.Blocks = append(combined.Blocks, entry(d, digest(clusters*days+d)))
	}
	for i := 0; i < clusters; i++ {
		id := fmt.Sprintf("cluster-%04d", i)
		ix := store.Index{Cluster: id, Resolution: store.Daily}
		for d := 0; d < days; d++ {
			e := entry(d, digest(i*days+d))
			e.BuildTime = day0.Add(time.Duration(d+1) * 24 * time.Hour)
			e.ProducerInstance = id + "-agent"
			ix.Blocks = append(ix.Blocks, e)
			combined.Blocks[d].Sources = append(combined.Blocks[d].Sources, store.Source{Cluster: id, SHA256: e.SHA256})
		}
		if err := st.WriteIndex(ctx, ix); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.WriteIndex(ctx, combined); err != nil {
		b.Fatal(err)
	}
	cb := &countingBucket{Bucket: inner}
	// The store holds no combined block objects (only their index), so the
	// combined block check is off; with blocks it adds one attributes call
	// per combined window (90 here) to a pass.
	f := New(store.New(cb, store.Options{}), Options{Resolutions: []store.Resolution{store.Daily}, SkipCombinedCheck: true,
		Now: func() time.Time { return day0.Add(days * 24 * time.Hour) }})
	b.ResetTimer()
	for b.Loop() {
		rep, err := f.RunOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Merged[store.Daily] != 0 {
			b.Fatalf("no-op pass merged %d windows", rep.Merged[store.Daily])
		}
	}
	b.ReportMetric(float64(cb.gets.Load())/float64(b.N), "objects/pass")
	b.ReportMetric(float64(cb.bytes.Load())/float64(b.N)/(1<<20), "MiB-read/pass")
}

func heapNow() uint64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64()
}

// peakHeap samples the live heap while f runs and returns its peak in bytes.
func peakHeap(f func()) uint64 {
	runtime.GC()
	sample := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			rtmetrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak.Load()
}

// BenchmarkPassPeakMemory runs a first pass (everything to merge) over 10
// clusters × 1,000 rows per window, for 4 and then 16 daily windows, on a
// filesystem bucket (so stored objects are not on the heap): the peak heap
// above the pre-pass baseline stays flat in the number of windows, since the
// pass holds one window at a time.
func BenchmarkPassPeakMemory(b *testing.B) {
	for _, days := range []int{4, 16} {
		b.Run(fmt.Sprintf("windows=%d", days), func(b *testing.B) {
			inner, err := filesystem.NewBucket(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			st := store.New(inner, store.Options{})
			for c := 0; c < 10; c++ {
				var blocks []store.Block
				for d := 0; d < days; d++ {
					blocks = append(blocks, clusterBlock(fmt.Sprintf("c%02d", c), d, 1000, uint64(c*100+d)))
				}
				if _, err := st.Commit(context.Background(), blocks, store.CommitOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			var peak uint64
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				for _, res := range store.Resolutions {
					_ = inner.Delete(context.Background(), store.IndexKey(store.CombinedID, res))
				}
				b.StartTimer()
				runtime.GC()
				base := heapNow()
				p := peakHeap(func() {
					if _, err := newFederator(st, nil).RunOnce(context.Background()); err != nil {
						b.Fatal(err)
					}
				})
				peak = max(peak, p-min(p, base))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-above-base-MiB")
		})
	}
}
