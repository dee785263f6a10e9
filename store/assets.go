package store

// Asset blocks: the assets pipeline beside the allocations one. Same key
// layout under etl/parquet/assets/, same footer metadata (plus
// costfed.pipeline=assets), same index format and commit protocol; only the
// row type and the columns differ.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
)

// Pipeline names the kind of rows a prefix holds, as Kubecost's federated
// ETL names its two pipelines.
type Pipeline string

// The pipelines.
const (
	PipelineAllocations Pipeline = "allocations"
	PipelineAssets      Pipeline = "assets"
)

// ParsePipelines accepts a comma-separated list of pipelines.
func ParsePipelines(s string) ([]Pipeline, error) {
	var out []Pipeline
	for _, p := range strings.Split(s, ",") {
		switch v := Pipeline(strings.TrimSpace(p)); v {
		case PipelineAllocations, PipelineAssets:
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		default:
			return nil, fmt.Errorf("unknown pipeline %q (want allocations or assets)", p)
		}
	}
	return out, nil
}

const (
	assetsDir    = parquetDir + "/assets"
	metaPipeline = "costfed.pipeline"
)

// AssetPrefix is the directory of one cluster's asset blocks of one
// resolution.
func AssetPrefix(cluster string, res Resolution) string {
	return rootPrefix + "/" + cluster + "/" + assetsDir + "/" + string(res) + "/"
}

// AssetBlockKey is the object key of an asset block.
func AssetBlockKey(cluster string, res Resolution, w allocation.Window) string {
	return AssetPrefix(cluster, res) + strconv.FormatInt(w.Start.Unix(), 10) + "-" + strconv.FormatInt(w.End.Unix(), 10) + blockSuffix
}

// AssetIndexKey is the object key of the asset index of one cluster and
// resolution.
func AssetIndexKey(cluster string, res Resolution) string {
	return AssetPrefix(cluster, res) + indexName
}

// ParseAssetBlockKey is ParseBlockKey for asset block keys.
func ParseAssetBlockKey(key string) (BlockRef, error) {
	rest, ok := strings.CutPrefix(key, rootPrefix+"/")
	if !ok {
		return BlockRef{}, fmt.Errorf("asset block key %q: not under %s/", key, rootPrefix)
	}
	cluster, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return BlockRef{}, fmt.Errorf("asset block key %q: no cluster segment", key)
	}
	rest, ok = strings.CutPrefix(rest, assetsDir+"/")
	if !ok {
		return BlockRef{}, fmt.Errorf("asset block key %q: not under %s/", key, assetsDir)
	}
	// The rest has the allocation layout's shape: reuse its parser.
	ref, err := ParseBlockKey(rootPrefix + "/" + cluster + "/" + allocationsDir + "/" + rest)
	if err != nil {
		return BlockRef{}, fmt.Errorf("asset block key %q: %w", key, err)
	}
	return ref, nil
}

// AssetBlock is one cluster's assets for one window.
type AssetBlock struct {
	Meta   BlockMeta
	Assets []asset.Asset
}

// assetColumn is one flat column of the asset schema: encoding and decoding
// both walk assetColumns, so the two cannot disagree.
type assetColumn struct {
	name string
	str  func(*asset.Asset) *string
	num  func(*asset.Asset) *float64
	flag func(*asset.Asset) *bool
}

// Asset columns follow OpenCost's asset JSON field names.
var assetColumns = []assetColumn{
	{name: "type", str: func(a *asset.Asset) *string { return (*string)(&a.Kind) }},
	{name: "cluster", str: func(a *asset.Asset) *string { return &a.Properties.Cluster }},
	{name: "name", str: func(a *asset.Asset) *string { return &a.Properties.Name }},
	{name: "providerID", str: func(a *asset.Asset) *string { return &a.Properties.ProviderID }},
	{name: "priceSource", str: func(a *asset.Asset) *string { return &a.PriceSource }},
	{name: "nodeType", str: func(a *asset.Asset) *string { return &a.NodeType }},
	{name: "storageClass", str: func(a *asset.Asset) *string { return &a.StorageClass }},
	{name: "volumeName", str: func(a *asset.Asset) *string { return &a.VolumeName }},
	{name: "claimName", str: func(a *asset.Asset) *string { return &a.ClaimName }},
	{name: "claimNamespace", str: func(a *asset.Asset) *string { return &a.ClaimNamespace }},
	{name: "ip", str: func(a *asset.Asset) *string { return &a.IP }},
	{name: "preemptible", flag: func(a *asset.Asset) *bool { return &a.Preemptible }},
	{name: "local", flag: func(a *asset.Asset) *bool { return &a.Local }},
	{name: "private", flag: func(a *asset.Asset) *bool { return &a.Private }},
	{name: "hours", num: func(a *asset.Asset) *float64 { return &a.Hours }},
	{name: "adjustment", num: func(a *asset.Asset) *float64 { return &a.Adjustment }},
	{name: "discount", num: func(a *asset.Asset) *float64 { return &a.Discount }},
	{name: "cpuCoreHours", num: func(a *asset.Asset) *float64 { return &a.CPUCoreHours }},
	{name: "ramByteHours", num: func(a *asset.Asset) *float64 { return &a.RAMByteHours }},
	{name: "GPUHours", num: func(a *asset.Asset) *float64 { return &a.GPUHours }},
	{name: "cpuCost", num: func(a *asset.Asset) *float64 { return &a.CPUCost }},
	{name: "ramCost", num: func(a *asset.Asset) *float64 { return &a.RAMCost }},
	{name: "gpuCost", num: func(a *asset.Asset) *float64 { return &a.GPUCost }},
	{name: "cpuCostAllocated", num: func(a *asset.Asset) *float64 { return &a.CPUCostAllocated }},
	{name: "ramCostAllocated", num: func(a *asset.Asset) *float64 { return &a.RAMCostAllocated }},
	{name: "gpuCostAllocated", num: func(a *asset.Asset) *float64 { return &a.GPUCostAllocated }},
	{name: "byteHours", num: func(a *asset.Asset) *float64 { return &a.ByteHours }},
	{name: "cost", num: func(a *asset.Asset) *float64 { return &a.Cost }},
}

// assetSchema: start, end, labels, then assetColumns in order.
var assetSchema = func() *arrow.Schema {
	fields := []arrow.Field{
		{Name: colStart, Type: timestampType},
		{Name: colEnd, Type: timestampType},
		{Name: colLabels, Type: stringMapType, Nullable: true},
	}
	for _, c := range assetColumns {
		t := arrow.DataType(arrow.PrimitiveTypes.Float64)
		switch {
		case c.str != nil:
			t = arrow.BinaryTypes.String
		case c.flag != nil:
			t = arrow.FixedWidthTypes.Boolean
		}
		fields = append(fields, arrow.Field{Name: c.name, Type: t})
	}
	return arrow.NewSchema(fields, nil)
}()

// ValidateAssetBlock checks what EncodeAssetBlock requires: a valid cluster
// id and window, known kinds of this cluster, unique keys, finite numbers,
// times inside the window in whole milliseconds.
func ValidateAssetBlock(b AssetBlock) error {
	m := b.Meta
	var errs []error
	if err := ValidateClusterID(m.Cluster); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseResolution(string(m.Resolution)); err != nil {
		errs = append(errs, err)
	} else if !m.Resolution.AlignedWindow(m.Window) {
		errs = append(errs, fmt.Errorf("window %s is not one aligned %s window", m.Window, m.Resolution))
	}
	if m.Rows != 0 && m.Rows != len(b.Assets) {
		errs = append(errs, fmt.Errorf("meta says %d rows but the block has %d", m.Rows, len(b.Assets)))
	}
	seen := make(map[string]bool, len(b.Assets))
	for i := range b.Assets {
		a := &b.Assets[i]
		if err := validateAsset(a, m); err != nil {
			errs = append(errs, fmt.Errorf("asset %d (%s): %w", i, a.Key(), err))
		}
		if seen[a.Key()] {
			errs = append(errs, fmt.Errorf("asset %d: duplicate key %q", i, a.Key()))
		}
		seen[a.Key()] = true
		if len(errs) > 20 {
			errs = append(errs, errors.New("more problems not listed"))
			break
		}
	}
	return errors.Join(errs...)
}

func validateAsset(a *asset.Asset, m BlockMeta) error {
	if _, err := asset.ParseKind(string(a.Kind)); err != nil || a.Kind == "" {
		return fmt.Errorf("unknown type %q", a.Kind)
	}
	if m.Cluster != CombinedID && a.Properties.Cluster != m.Cluster {
		return fmt.Errorf("cluster %q in a block of %q", a.Properties.Cluster, m.Cluster)
	}
	w := m.Window
	if a.Start.Before(w.Start) || a.End.After(w.End) || a.End.Before(a.Start) {
		return fmt.Errorf("life %s..%s is not inside window %s", a.Start.UTC().Format(time.RFC3339Nano), a.End.UTC().Format(time.RFC3339Nano), w)
	}
	if a.Start.UnixNano()%int64(time.Millisecond) != 0 || a.End.UnixNano()%int64(time.Millisecond) != 0 {
		return errors.New("start or end is not a whole millisecond")
	}
	for _, c := range assetColumns {
		if c.num != nil {
			if v := *c.num(a); math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s is %v", c.name, v)
			}
		}
	}
	return nil
}

// sortedAssets returns the assets ordered by key (cluster, type, name).
func sortedAssets(as []asset.Asset) []*asset.Asset {
	out := make([]*asset.Asset, len(as))
	for i := range as {
		out[i] = &as[i]
	}
	slices.SortStableFunc(out, func(x, y *asset.Asset) int { return strings.Compare(x.Key(), y.Key()) })
	return out
}

// EncodeAssetBlock writes b as one ZSTD-compressed Parquet file, assets
// sorted by key and labels by name, so the same block gives the same bytes.
func EncodeAssetBlock(b AssetBlock) ([]byte, error) {
	key := AssetBlockKey(b.Meta.Cluster, b.Meta.Resolution, b.Meta.Window)
	if err := ValidateAssetBlock(b); err != nil {
		return nil, fmt.Errorf("encode asset block %s: %w", key, err)
	}
	rows := sortedAssets(b.Assets)
	bld := array.NewRecordBuilder(memory.NewGoAllocator(), assetSchema)
	defer bld.Release()
	starts := bld.Field(0).(*array.TimestampBuilder)
	ends := bld.Field(1).(*array.TimestampBuilder)
	labels := bld.Field(2).(*array.MapBuilder)
	keys, items := labels.KeyBuilder().(*array.StringBuilder), labels.ItemBuilder().(*array.StringBuilder)
	for _, a := range rows {
		starts.Append(arrow.Timestamp(a.Start.UnixMilli()))
		ends.Append(arrow.Timestamp(a.End.UnixMilli()))
		if a.Labels == nil {
			labels.AppendNull()
		} else {
			labels.Append(true)
			for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
				keys.Append(k)
				items.Append(a.Labels[k])
			}
		}
		for j, c := range assetColumns {
			f := bld.Field(3 + j)
			switch {
			case c.str != nil:
				f.(*array.StringBuilder).Append(*c.str(a))
			case c.flag != nil:
				f.(*array.BooleanBuilder).Append(*c.flag(a))
			default:
				f.(*array.Float64Builder).Append(*c.num(a))
			}
		}
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(rowGroupRows),
		parquet.WithStats(true),
		parquet.WithDictionaryDefault(false),
	)
	fw, err := pqarrow.NewFileWriter(assetSchema, &buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, fmt.Errorf("encode asset block %s: open parquet writer: %w", key, err)
	}
	if err := fw.WriteBuffered(rec); err != nil {
		_ = fw.Close()
		return nil, fmt.Errorf("encode asset block %s: write rows: %w", key, err)
	}
	pairs := append(metaPairs(b.Meta, len(rows)), [2]string{metaPipeline, string(PipelineAssets)})
	for _, kv := range pairs {
		if err := fw.AppendKeyValueMetadata(kv[0], kv[1]); err != nil {
			_ = fw.Close()
			return nil, fmt.Errorf("encode asset block %s: metadata %s: %w", key, kv[0], err)
		}
	}
	if err := fw.Close(); err != nil {
		return nil, fmt.Errorf("encode asset block %s: close parquet writer: %w", key, err)
	}
	return buf.Bytes(), nil
}

// DecodeAssetBlock reads an asset block and checks it as DecodeBlock checks
// allocation blocks (footer, version, pipeline, columns, metadata against
// the key, row count). Failures are *BlockError values; no input panics.
func DecodeAssetBlock(ctx context.Context, key string, data []byte) (b AssetBlock, err error) {
	defer recoverAsCorrupt(key, &err)
	rdr, err := openParquet(key, data)
	if err != nil {
		return AssetBlock{}, err
	}
	defer rdr.Close()
	if p := rdr.MetaData().KeyValueMetadata().FindValue(metaPipeline); p == nil || *p != string(PipelineAssets) {
		return AssetBlock{}, blockErr(key, ErrForeignBlock, "not an asset block (no %s=%s in the footer)", metaPipeline, PipelineAssets)
	}
	meta, err := checkAssetMeta(key, rdr)
	if err != nil {
		return AssetBlock{}, err
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: rowGroupRows}, memory.NewGoAllocator())
	if err != nil {
		return AssetBlock{}, blockErr(key, ErrCorruptBlock, "%v", err)
	}
	sch, err := fr.Schema()
	if err != nil {
		return AssetBlock{}, blockErr(key, ErrCorruptBlock, "%v", err)
	}
	if !sameColumns(sch, assetSchema) {
		return AssetBlock{}, blockErr(key, ErrSchemaMismatch, "%v", sch)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return AssetBlock{}, blockErr(key, ErrCorruptBlock, "%v", err)
	}
	defer rr.Release()
	out := make([]asset.Asset, 0, meta.Rows)
	for rr.Next() {
		if out, err = appendAssets(out, rr.RecordBatch(), meta.Window); err != nil {
			return AssetBlock{}, blockErr(key, ErrInvalidBlock, "%v", err)
		}
	}
	if err := rr.Err(); err != nil {
		return AssetBlock{}, blockErr(key, ErrCorruptBlock, "%v", err)
	}
	if len(out) != meta.Rows {
		return AssetBlock{}, blockErr(key, ErrRowCount, "metadata says %d rows, read %d", meta.Rows, len(out))
	}
	return AssetBlock{Meta: meta, Assets: out}, nil
}

// checkAssetMeta is checkMeta against an asset key.
func checkAssetMeta(key string, rdr *file.Reader) (BlockMeta, error) {
	ref, err := ParseAssetBlockKey(key)
	if err != nil {
		return BlockMeta{}, blockErr(key, ErrForeignBlock, "%v", err)
	}
	// checkMeta verifies the footer against the allocation-shaped key of the
	// same cluster, resolution and window.
	m, err := checkMeta(ref.Key(), rdr)
	if err != nil {
		var be *BlockError
		if errors.As(err, &be) {
			be.Key = key
		}
		return BlockMeta{}, err
	}
	return m, nil
}

func appendAssets(out []asset.Asset, rec arrow.RecordBatch, w allocation.Window) ([]asset.Asset, error) {
	n := int(rec.NumRows())
	starts, ok1 := rec.Column(0).(*array.Timestamp)
	ends, ok2 := rec.Column(1).(*array.Timestamp)
	labels, ok3 := rec.Column(2).(*array.Map)
	if !ok1 || !ok2 || !ok3 {
		return nil, errors.New("start, end or labels column has the wrong type")
	}
	base := len(out)
	out = slices.Grow(out, n)[:base+n]
	keys, kok := labels.Keys().(*array.String)
	items, iok := labels.Items().(*array.String)
	if !kok || !iok {
		return nil, errors.New("labels are not a map of strings")
	}
	offs := labels.Offsets()
	for i := 0; i < n; i++ {
		a := &out[base+i]
		a.Window = asset.Window{Start: w.Start, End: w.End}
		a.Start = time.UnixMilli(int64(starts.Value(i))).UTC()
		a.End = time.UnixMilli(int64(ends.Value(i))).UTC()
		if labels.IsValid(i) {
			a.Labels = make(map[string]string, offs[i+1]-offs[i])
			for j := offs[i]; j < offs[i+1]; j++ {
				a.Labels[keys.Value(int(j))] = items.Value(int(j))
			}
		}
	}
	for j, c := range assetColumns {
		col := rec.Column(3 + j)
		for i := 0; i < n; i++ {
			a := &out[base+i]
			switch {
			case c.str != nil:
				s, ok := col.(*array.String)
				if !ok {
					return nil, fmt.Errorf("column %s is not strings", c.name)
				}
				*c.str(a) = strings.Clone(s.Value(i))
			case c.flag != nil:
				b, ok := col.(*array.Boolean)
				if !ok {
					return nil, fmt.Errorf("column %s is not booleans", c.name)
				}
				*c.flag(a) = b.Value(i)
			default:
				f, ok := col.(*array.Float64)
				if !ok {
					return nil, fmt.Errorf("column %s is not floats", c.name)
				}
				*c.num(a) = f.Value(i)
			}
		}
	}
	return out, nil
}

// assetEntryFor is the index entry of an encoded asset block.
func assetEntryFor(b AssetBlock, data []byte) IndexEntry {
	sum := sha256.Sum256(data)
	var total float64
	for _, a := range sortedAssets(b.Assets) {
		total += a.TotalCost()
	}
	return metaEntry(b.Meta, sum, int64(len(data)), len(b.Assets), total)
}
