package api

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/thanos-io/objstore/providers/filesystem"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/store"
)

// Issue 7's benchmark: a month (COSTFED_BENCH_API_DAYS) of a large fleet aggregated by namespace, cold
// (decoded from the block files) and warm (from the cache), next to a plain
// Arrow scan of the same Parquet files summing cost by namespace. Writing the
// fixture (30 combined daily blocks) takes a while, so the size comes from
// COSTFED_BENCH_API_CLUSTERS and _CONTAINERS (defaults 100 × 1,000 = 3 M rows):
//
//	go test ./api -run '^$' -bench Month -benchmem -benchtime 3x -timeout 30m

var monthFixture struct {
	once sync.Once
	dir  string
	st   *store.Store
	w    allocation.Window
	rows int
	keep bool // the directory was given: leave it
	err  error
}

func benchEnv(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// month writes 30 combined daily blocks of clusters × containers rows into a
// filesystem store, once per test binary.
func month(b *testing.B) (*store.Store, allocation.Window, int) {
	f := &monthFixture
	f.once.Do(func() {
		clusters, containers := benchEnv("COSTFED_BENCH_API_CLUSTERS", 100), benchEnv("COSTFED_BENCH_API_CONTAINERS", 1000)
		days := benchEnv("COSTFED_BENCH_API_DAYS", 30)
		// COSTFED_BENCH_API_DIR keeps the fixture there (and reuses one
		// already written), so other tools (DuckDB, costfed query in a fresh
		// process) can be measured on the same files.
		if f.dir, f.keep = os.Getenv("COSTFED_BENCH_API_DIR"), true; f.dir == "" {
			f.dir, f.err = os.MkdirTemp("", "costfed-api-bench-")
			f.keep = false
			if f.err != nil {
				return
			}
		}
		bkt, err := filesystem.NewBucket(f.dir)
		if err != nil {
			f.err = err
			return
		}
		f.st = store.New(bkt, store.Options{})
		start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		f.w = allocation.Window{Start: start, End: start.AddDate(0, 0, days)}
		if idx, err := f.st.ReadIndex(context.Background(), store.CombinedID, store.Daily); err == nil && len(idx.Blocks) == days {
			for _, e := range idx.Blocks {
				f.rows += e.Rows
			}
			return
		}
		for d := 0; d < days; d++ {
			w := allocation.Window{Start: start.AddDate(0, 0, d), End: start.AddDate(0, 0, d+1)}
			var rows []allocation.Allocation
			for c := 0; c < clusters; c++ {
				rows = append(rows, blocktest.Rows(fmt.Sprintf("cluster-%03d", c), w, containers, uint64(d*1000+c))...)
			}
			f.rows += len(rows)
			blk := store.Block{Meta: store.BlockMeta{Cluster: store.CombinedID, Resolution: store.Daily, Window: w, Complete: true, BuildTime: w.End}, Rows: rows}
			if _, f.err = f.st.Commit(context.Background(), []store.Block{blk}, store.CommitOptions{}); f.err != nil {
				return
			}
		}
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.st, f.w, f.rows
}

func byNamespace(w allocation.Window) Query {
	by, _ := allocation.ParseAggregateBy("namespace")
	return Query{Window: w, Accumulate: allocation.AccumulateAll, Options: allocation.AggregateOptions{By: by}}
}

func BenchmarkMonthByNamespaceCold(b *testing.B) {
	st, w, rows := month(b)
	b.ResetTimer()
	for b.Loop() {
		eng, err := NewEngine(st, EngineOptions{CacheBytes: 0})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := eng.Answer(context.Background(), byNamespace(w)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkMonthByNamespaceWarm(b *testing.B) {
	st, w, rows := month(b)
	eng, err := NewEngine(st, EngineOptions{CacheBytes: 16 << 30})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := eng.Answer(context.Background(), byNamespace(w)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := eng.Answer(context.Background(), byNamespace(w)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkMonthPlainArrowScan is the baseline: read each block file with
// pqarrow (namespace and the cost columns only) and sum cost by namespace.
func BenchmarkMonthPlainArrowScan(b *testing.B) {
	_, _, rows := month(b)
	var files []string
	_ = filepath.Walk(filepath.Join(monthFixture.dir, "federated", "combined"), func(p string, info os.FileInfo, err error) error {
		if err == nil && filepath.Ext(p) == ".parquet" {
			files = append(files, p)
		}
		return nil
	})
	cols := []string{"namespace", "cpuCost", "ramCost", "gpuCost", "networkCost", "loadBalancerCost", "sharedCost"}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		sums := map[string]float64{}
		for _, path := range files {
			r, err := file.OpenParquetFile(path, false)
			if err != nil {
				b.Fatal(err)
			}
			fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, memory.DefaultAllocator)
			if err != nil {
				b.Fatal(err)
			}
			schema, _ := fr.Schema()
			var idx []int
			for _, c := range cols {
				idx = append(idx, schema.FieldIndices(c)[0])
			}
			rr, err := fr.GetRecordReader(ctx, idx, nil)
			if err != nil {
				b.Fatal(err)
			}
			for rr.Next() {
				rec := rr.RecordBatch()
				ns := rec.Column(0).(*array.String)
				for i := 0; i < int(rec.NumRows()); i++ {
					var c float64
					for j := 1; j < len(cols); j++ {
						c += rec.Column(j).(*array.Float64).Value(i)
					}
					sums[ns.Value(i)] += c
				}
			}
			rr.Release()
			_ = r.Close()
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestMain removes the month fixture, which outlives single benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	if monthFixture.dir != "" && !monthFixture.keep {
		_ = os.RemoveAll(monthFixture.dir)
	}
	os.Exit(code)
}
