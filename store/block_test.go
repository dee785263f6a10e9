package store

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
)

func sortedCopy(rows []allocation.Allocation) []allocation.Allocation {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(a, b allocation.Allocation) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func TestBlockRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 3, 1000, rowGroupRows + 10} {
		b := testBlock("cluster-a", n, uint64(n))
		data, err := EncodeBlock(b)
		require.NoError(t, err)
		got, err := DecodeBlock(context.Background(), b.Meta.Ref().Key(), data)
		require.NoError(t, err, "n=%d", n)

		want := b.Meta
		want.SchemaVersion, want.Rows = SchemaVersion, n
		require.Equal(t, want, got.Meta)
		require.Len(t, got.Rows, n)
		if n > 0 {
			require.Equal(t, sortedCopy(b.Rows), got.Rows, "n=%d", n)
		}
	}
}

func TestBlockRoundTripKeepsNilVersusEmpty(t *testing.T) {
	b := testBlock("c", 25, 1)
	data, err := EncodeBlock(b)
	require.NoError(t, err)
	got, err := DecodeBlock(context.Background(), b.Meta.Ref().Key(), data)
	require.NoError(t, err)
	byName := map[string]allocation.Allocation{}
	for _, r := range got.Rows {
		byName[r.Name] = r
	}
	for _, r := range b.Rows {
		g := byName[r.Name]
		require.Equal(t, r.Properties.Annotations == nil, g.Properties.Annotations == nil, r.Name)
		require.Equal(t, r.Properties.Services == nil, g.Properties.Services == nil, r.Name)
		require.Equal(t, r.PVs == nil, g.PVs == nil, r.Name)
		require.Equal(t, r.LoadBalancers == nil, g.LoadBalancers == nil, r.Name)
	}
}

func TestEncodeBlockIsDeterministic(t *testing.T) {
	b := testBlock("c", 500, 3)
	first, err := EncodeBlock(b)
	require.NoError(t, err)

	// Same rows in another order, maps rebuilt: same bytes.
	shuffled := b
	shuffled.Rows = slices.Clone(b.Rows)
	slices.Reverse(shuffled.Rows)
	for i := range shuffled.Rows {
		if shuffled.Rows[i].Properties.Labels == nil {
			continue
		}
		m := map[string]string{}
		for k, v := range shuffled.Rows[i].Properties.Labels {
			m[k] = v
		}
		shuffled.Rows[i].Properties.Labels = m
	}
	second, err := EncodeBlock(shuffled)
	require.NoError(t, err)
	require.True(t, bytes.Equal(first, second), "encoding depends on row order")
	require.Equal(t, b.Rows[0].Name, testBlock("c", 500, 3).Rows[0].Name, "EncodeBlock must not reorder the caller's rows")
}

// Rows sharing one map (as decoded rows do) encode as if each had its own
// copy, including runs of three or more rows, empty maps and nil maps between.
func TestEncodeBlockSharedMaps(t *testing.T) {
	b := testBlock("c", 200, 4)
	b.Rows = sortedCopy(b.Rows)
	shared := map[string]string{"z": "1", "a": "2", "m": ""}
	other := map[string]string{"b": "x"}
	empty := map[string]string{}
	// The same map comes back after a nil, an empty and another map.
	pattern := []map[string]string{shared, shared, shared, nil, shared, empty, shared, other, other, shared, empty, empty, other}
	for i := range b.Rows {
		b.Rows[i].Properties.Labels = pattern[i%len(pattern)]
		b.Rows[i].Properties.NamespaceAnnotations = shared
		b.Rows[i].Properties.NamespaceLabels = pattern[(i+5)%len(pattern)]
	}
	copied := b
	copied.Rows = slices.Clone(b.Rows)
	for i := range copied.Rows {
		p := &copied.Rows[i].Properties
		p.Labels = maps.Clone(p.Labels) // nil stays nil
		p.NamespaceLabels = maps.Clone(p.NamespaceLabels)
		p.NamespaceAnnotations = maps.Clone(p.NamespaceAnnotations)
	}
	first, err := EncodeBlock(b)
	require.NoError(t, err)
	second, err := EncodeBlock(copied)
	require.NoError(t, err)
	require.True(t, bytes.Equal(first, second), "shared maps encode differently from copies")
	got, err := DecodeBlock(context.Background(), b.Meta.Ref().Key(), first)
	require.NoError(t, err)
	require.Equal(t, copied.Rows, got.Rows)
}

func TestEncodeBlockRejectsBadInput(t *testing.T) {
	cases := map[string]struct {
		mutate func(*Block)
		want   string
	}{
		"NaN cost":            {func(b *Block) { b.Rows[2].CPUCost = math.NaN() }, "cpuCost is NaN"},
		"Inf pv":              {func(b *Block) { b.Rows[4].PVs[0].Cost = math.Inf(1) }, "non-finite"},
		"duplicate name":      {func(b *Block) { b.Rows[3].Name = b.Rows[2].Name }, "duplicate name"},
		"empty name":          {func(b *Block) { b.Rows[3].Name = "" }, "empty name"},
		"outside window":      {func(b *Block) { b.Rows[3].End = testDay.End.Add(time.Second) }, "not inside window"},
		"sub-millisecond":     {func(b *Block) { b.Rows[3].Start = b.Rows[3].Start.Add(time.Microsecond) }, "whole millisecond"},
		"bad cluster":         {func(b *Block) { b.Meta.Cluster = "../other" }, "not a valid key segment"},
		"unaligned window":    {func(b *Block) { b.Meta.Window.Start = b.Meta.Window.Start.Add(time.Hour) }, "not one aligned 1d window"},
		"unknown resolution":  {func(b *Block) { b.Meta.Resolution = "5m" }, "unknown resolution"},
		"meta row mismatch":   {func(b *Block) { b.Meta.Rows = 3 }, "meta says 3 rows"},
		"future schema write": {func(b *Block) { b.Meta.SchemaVersion = 9 }, "schema version 9"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := testBlock("c", 10, 1)
			tc.mutate(&b)
			_, err := EncodeBlock(b)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// writeForeignParquet writes a parquet file with our schema and the given
// metadata, bypassing EncodeBlock's checks, to fake files other writers made.
func writeParquet(t *testing.T, b Block, meta [][2]string) []byte {
	t.Helper()
	rec := buildRecord(sortedRows(b.Rows))
	defer rec.Release()
	var buf bytes.Buffer
	fw, err := pqarrow.NewFileWriter(blockSchema, &buf, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd)), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	require.NoError(t, err)
	require.NoError(t, fw.WriteBuffered(rec))
	for _, kv := range meta {
		require.NoError(t, fw.AppendKeyValueMetadata(kv[0], kv[1]))
	}
	require.NoError(t, fw.Close())
	return buf.Bytes()
}

func withMeta(pairs [][2]string, key, value string) [][2]string {
	out := slices.Clone(pairs)
	for i := range out {
		if out[i][0] == key {
			out[i][1] = value
		}
	}
	return out
}

func TestDecodeBlockRejectsBadFiles(t *testing.T) {
	b := testBlock("cluster-a", 50, 2)
	key := b.Meta.Ref().Key()
	good, err := EncodeBlock(b)
	require.NoError(t, err)
	pairs := metaPairs(b.Meta, 50)

	cases := map[string]struct {
		key    string
		data   []byte
		reason error
		detail string
	}{
		"empty":             {key, nil, ErrEmptyBlock, "0 bytes"},
		"truncated footer":  {key, good[:len(good)-5], ErrCorruptBlock, ""},
		"truncated half":    {key, good[:len(good)/2], ErrCorruptBlock, ""},
		"not parquet":       {key, []byte("PAR1 this is not a parquet file at all PAR1"), ErrCorruptBlock, ""},
		"kubecost bingen":   {key, make([]byte, 86), ErrCorruptBlock, ""},
		"foreign cluster":   {BlockKey("cluster-b", Daily, testDay), good, ErrForeignBlock, `file says cluster "cluster-a", key says "cluster-b"`},
		"other window":      {BlockKey("cluster-a", Daily, allocation.Window{Start: testDay.End, End: testDay.End.Add(24 * time.Hour)}), good, ErrForeignBlock, "window"},
		"other resolution":  {BlockKey("cluster-a", Hourly, allocation.Window{Start: testDay.Start, End: testDay.Start.Add(time.Hour)}), good, ErrForeignBlock, "window"},
		"bad key":           {"federated/cluster-a/somewhere/else.parquet", good, ErrForeignBlock, ""},
		"future schema":     {key, writeParquet(t, b, withMeta(pairs, metaSchemaVersion, "2")), ErrSchemaVersion, `version "2"`},
		"no schema version": {key, writeParquet(t, b, nil), ErrSchemaVersion, "not a costfed block"},
		"row count lies":    {key, writeParquet(t, b, withMeta(pairs, metaRows, "49")), ErrRowCount, "metadata says 49 rows, footer says 50"},
		"bad build time":    {key, writeParquet(t, b, withMeta(pairs, metaBuildTime, "yesterday")), ErrInvalidBlock, metaBuildTime},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeBlock(context.Background(), tc.key, tc.data)
			require.Error(t, err)
			var be *BlockError
			require.True(t, errors.As(err, &be), "want *BlockError, got %T %v", err, err)
			require.ErrorIs(t, err, tc.reason)
			require.Equal(t, tc.key, be.Key)
			require.Contains(t, err.Error(), tc.key, "error must name the object")
			require.Contains(t, err.Error(), tc.detail)
		})
	}
}

func TestReadBlockMetaMatchesDecode(t *testing.T) {
	b := testBlock("c", 20, 4)
	b.Meta.Sources = []Source{{Cluster: "a", SHA256: strings.Repeat("1", 64)}, {Cluster: "b", SHA256: strings.Repeat("2", 64), Quarantined: strings.Repeat("3", 64)}}
	data, err := EncodeBlock(b)
	require.NoError(t, err)
	meta, err := ReadBlockMeta(b.Meta.Ref().Key(), data)
	require.NoError(t, err)
	full, err := DecodeBlock(context.Background(), b.Meta.Ref().Key(), data)
	require.NoError(t, err)
	require.Equal(t, full.Meta, meta)
	require.Equal(t, b.Meta.Sources, meta.Sources, "lineage survives the footer")
}

func FuzzDecodeBlock(f *testing.F) {
	b := testBlock("c", 8, 5)
	good, err := EncodeBlock(b)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-9])
	f.Add(good[len(good)/3:])
	f.Add([]byte{})
	f.Add([]byte("PAR1PAR1"))
	key := b.Meta.Ref().Key()
	by, err := allocation.ParseAggregateBy("namespace")
	if err != nil {
		f.Fatal(err)
	}
	opts := allocation.AggregateOptions{By: by, Idle: allocation.IdleOptions{Include: true}}
	f.Fuzz(func(t *testing.T, data []byte) {
		blk, err := DecodeBlock(context.Background(), key, data)
		// The columnar reader takes the same bytes to the same verdict.
		g, gerr := allocation.NewGrouper(opts)
		if gerr != nil {
			t.Fatal(gerr)
		}
		summed, aerr := AggregateBlockData(context.Background(), key, data, ScanOptions{}, g)
		if (err == nil) != (aerr == nil) {
			t.Fatalf("decoding says %v, aggregating by columns says %v", err, aerr)
		}
		if err != nil {
			var be *BlockError
			if !errors.As(err, &be) || be.Key != key {
				t.Fatalf("error is not a *BlockError naming the key: %T %v", err, err)
			}
			if !errors.As(aerr, &be) || be.Key != key {
				t.Fatalf("columnar error is not a *BlockError naming the key: %T %v", aerr, aerr)
			}
			return
		}
		// Anything accepted must satisfy the invariants readers rely on.
		if blk.Meta.Cluster != "c" || len(blk.Rows) != blk.Meta.Rows {
			t.Fatalf("accepted an inconsistent block: %+v", blk.Meta)
		}
		want, err := allocation.NewSet(blk.Meta.Window, blk.Rows...).Aggregate(opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Allocations) != len(summed.Allocations) || math.Abs(want.TotalCost()-summed.TotalCost()) > 1e-9*math.Abs(want.TotalCost()) {
			t.Fatalf("columnar answer %d rows costing %v, rows give %d costing %v", len(summed.Allocations), summed.TotalCost(), len(want.Allocations), want.TotalCost())
		}
	})
}

// TestScanBlockBatchesAndProjection: a scan hands over the block's rows in
// batches of the size asked for, in file order, and leaving columns out only
// zeroes their fields.
func TestScanBlockBatchesAndProjection(t *testing.T) {
	b := testBlock("cluster-a", 1000, 5)
	key := b.Meta.Ref().Key()
	data, err := EncodeBlock(b)
	require.NoError(t, err)
	want := sortedCopy(b.Rows)

	var got []allocation.Allocation
	var sizes []int
	meta, err := ScanBlockData(context.Background(), key, data, ScanOptions{BatchRows: 300}, func(rows []allocation.Allocation) error {
		sizes = append(sizes, len(rows))
		got = append(got, rows...)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 1000, meta.Rows)
	require.Equal(t, []int{300, 300, 300, 100}, sizes)
	require.Equal(t, want, got)

	got = got[:0]
	_, err = ScanBlockData(context.Background(), key, data, ScanOptions{Omit: []string{ColumnLabels, ColumnAnnotations}}, func(rows []allocation.Allocation) error {
		got = append(got, rows...)
		return nil
	})
	require.NoError(t, err)
	for i := range want {
		want[i].Properties.Labels, want[i].Properties.Annotations = nil, nil
	}
	require.Equal(t, want, got)

	_, err = ScanBlockData(context.Background(), key, data, ScanOptions{Omit: []string{"name"}}, func([]allocation.Allocation) error { return nil })
	require.ErrorContains(t, err, "cannot be left out")

	stop := errors.New("stop")
	_, err = ScanBlockData(context.Background(), key, data, ScanOptions{BatchRows: 10}, func([]allocation.Allocation) error { return stop })
	require.ErrorIs(t, err, stop, "an error of fn comes back as it is")
}

// TestScanBlockSkipsRowGroupsByStatistics: row groups whose statistics rule
// out every required value are not read, and the row count still checks.
func TestScanBlockSkipsRowGroupsByStatistics(t *testing.T) {
	b := testBlock("cluster-a", rowGroupRows+100, 3)
	b.Rows = sortedCopy(b.Rows)
	for i := range b.Rows {
		b.Rows[i].Properties.Cluster = "aaa"
		if i >= rowGroupRows {
			b.Rows[i].Properties.Cluster = "zzz"
		}
	}
	key := b.Meta.Ref().Key()
	data, err := EncodeBlock(b)
	require.NoError(t, err)
	count := func(require map[string][]string) int {
		n := 0
		_, err := ScanBlockData(context.Background(), key, data, ScanOptions{Require: require}, func(rows []allocation.Allocation) error {
			n += len(rows)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	require.Equal(t, rowGroupRows+100, count(nil))
	require.Equal(t, 100, count(map[string][]string{"cluster": {"zzz"}}))
	require.Equal(t, rowGroupRows, count(map[string][]string{"cluster": {"aaa", "nope"}}))
	require.Equal(t, 0, count(map[string][]string{"cluster": {"mmm"}}), "between the groups' ranges")
	require.Equal(t, rowGroupRows+100, count(map[string][]string{"no-such-column": {"x"}}), "no statistics rule nothing out")
}

// The lineage's reasons survive the footer whatever their text, and footers
// of earlier builds (no reasons) read as before.
func TestSourcesReasonsRoundTrip(t *testing.T) {
	srcs := []Source{
		{Cluster: "a", SHA256: strings.Repeat("1", 64)},
		{Cluster: "b", SHA256: strings.Repeat("2", 64), Quarantined: strings.Repeat("3", 64), Reason: "not a readable parquet file"},
		{Cluster: "c", Reason: "index missing"},
		{Cluster: "d", SHA256: strings.Repeat("4", 64), Reason: "odd, text?with!separators=and%"},
	}
	got, err := decodeSources(encodeSources(srcs))
	require.NoError(t, err)
	require.Equal(t, srcs, got)
	require.True(t, got[2].Damaged() && got[3].Damaged() && !got[1].Damaged() && got[1].Missing() && !got[0].Missing())

	old := "a=" + strings.Repeat("1", 64) + ",b=" + strings.Repeat("2", 64) + "!" + strings.Repeat("3", 64)
	require.Equal(t, old, encodeSources(srcs[:1:1])+","+encodeSources([]Source{{Cluster: "b", SHA256: strings.Repeat("2", 64), Quarantined: strings.Repeat("3", 64)}}))
	got, err = decodeSources(old)
	require.NoError(t, err)
	require.Equal(t, []Source{srcs[0], {Cluster: "b", SHA256: strings.Repeat("2", 64), Quarantined: strings.Repeat("3", 64)}}, got)
}
