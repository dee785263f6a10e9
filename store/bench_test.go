package store

import (
	"bytes"
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// The block benchmarks encode and decode 100k rows and compare, in the same
// run, with a plain Arrow IPC write and read of the same record batch (the
// cost of the data itself, without Parquet encoding or our row conversion).
// Run: go test ./store -run '^$' -bench 'Block|IPC|BuildRecord|WriteParquet' -benchmem -benchtime 3x

const benchRows = 100_000

func benchBlock(b *testing.B) Block {
	b.Helper()
	return testBlock("bench", benchRows, 42)
}

func reportRows(b *testing.B, size int) {
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/benchRows, "bytes/row")
}

func BenchmarkBlockEncode(b *testing.B) {
	blk := benchBlock(b)
	var size int
	b.ResetTimer()
	for b.Loop() {
		data, err := EncodeBlock(blk)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	reportRows(b, size)
}

func BenchmarkBlockDecode(b *testing.B) {
	blk := benchBlock(b)
	data, err := EncodeBlock(blk)
	if err != nil {
		b.Fatal(err)
	}
	key := blk.Meta.Ref().Key()
	b.ResetTimer()
	for b.Loop() {
		if _, err := DecodeBlock(context.Background(), key, data); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b, len(data))
}

func ipcOptions(zstd bool) []ipc.Option {
	opts := []ipc.Option{ipc.WithSchema(blockSchema)}
	if zstd {
		opts = append(opts, ipc.WithZstd())
	}
	return opts
}

func benchmarkIPCWrite(b *testing.B, zstd bool) {
	blk := benchBlock(b)
	rec := buildRecord(sortedRows(blk.Rows))
	defer rec.Release()
	var size int
	b.ResetTimer()
	for b.Loop() {
		var buf bytes.Buffer
		w, err := ipc.NewFileWriter(&buf, ipcOptions(zstd)...)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	reportRows(b, size)
}

func benchmarkIPCRead(b *testing.B, zstd bool) {
	blk := benchBlock(b)
	rec := buildRecord(sortedRows(blk.Rows))
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipcOptions(zstd)...)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	rec.Release()
	data := buf.Bytes()
	b.ResetTimer()
	for b.Loop() {
		r, err := ipc.NewFileReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < r.NumRecords(); i++ {
			rec, err := r.RecordBatch(i)
			if err != nil {
				b.Fatal(err)
			}
			_ = rec.NumRows()
		}
		_ = r.Close()
	}
	reportRows(b, len(data))
}

// BenchmarkIPCWrite is the baseline for BlockEncode: the same record batch
// written as Arrow IPC (uncompressed, and ZSTD like our blocks), without
// building it from rows.
func BenchmarkIPCWrite(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchmarkIPCWrite(b, false) })
	b.Run("zstd", func(b *testing.B) { benchmarkIPCWrite(b, true) })
}

// BenchmarkIPCRead is the baseline for BlockDecode: reading the IPC file back
// into record batches, without converting to rows.
func BenchmarkIPCRead(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchmarkIPCRead(b, false) })
	b.Run("zstd", func(b *testing.B) { benchmarkIPCRead(b, true) })
}

// BenchmarkBuildRecord isolates our rows→Arrow conversion inside BlockEncode.
func BenchmarkBuildRecord(b *testing.B) {
	blk := benchBlock(b)
	b.ResetTimer()
	for b.Loop() {
		buildRecord(sortedRows(blk.Rows)).Release()
	}
	reportRows(b, 0)
}

// BenchmarkWriteParquet isolates the Parquet write inside BlockEncode: the
// record batch is built once, as for IPCWrite.
func BenchmarkWriteParquet(b *testing.B) {
	blk := benchBlock(b)
	rec := buildRecord(sortedRows(blk.Rows))
	defer rec.Release()
	var size int
	b.ResetTimer()
	for b.Loop() {
		var buf bytes.Buffer
		if err := writeBlockParquet(&buf, rec, blk.Meta); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	reportRows(b, size)
}
