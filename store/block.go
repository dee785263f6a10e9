package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/costfed/costfed/allocation"
)

// BlockMeta is what a block says about itself in its Parquet key-value metadata.
type BlockMeta struct {
	SchemaVersion int
	Cluster       string
	Resolution    Resolution
	Window        allocation.Window
	// Complete is true once the window has closed and settled: the block will not
	// change unless someone rebuilds it.
	Complete  bool
	BuildTime time.Time
	// ProducerVersion is the costfed version that wrote the block.
	ProducerVersion string
	// ProducerInstance identifies the writing process (pod name or host), so two
	// producers writing the same cluster id can be told apart.
	ProducerInstance string
	Rows             int
	// Sources is the lineage of a combined block: the cluster blocks it was
	// merged from. Empty for cluster blocks.
	Sources []Source
	// BuiltFrom says how an agent computed a cluster block: BuiltFromSource
	// (queries to Prometheus) or BuiltFromHourly (a daily block summed from
	// the day's committed hourly blocks). Empty for combined blocks and for
	// blocks written before it was recorded.
	BuiltFrom string
}

// How a cluster block was computed (BlockMeta.BuiltFrom).
const (
	BuiltFromSource = "source"
	BuiltFromHourly = "hourly"
)

// Source names one input of a combined block by cluster and content digest.
// Quarantined, when set, is the digest of a newer input that could not be read;
// the rows of SHA256 were kept in its place. Reason says, in a few words, why
// the cluster's rows in the block are not its current block's: the quarantined
// block's fault ("empty object"), or, without Quarantined, why the cluster is
// damaged ("index missing", "index unreadable"); then SHA256, if set, is the
// input whose rows were kept, and empty means the block has none of the
// cluster's rows. A block with such a source is not complete.
type Source struct {
	Cluster     string `json:"cluster"`
	SHA256      string `json:"sha256"`
	Quarantined string `json:"quarantined,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// Damaged reports whether the source records a damaged cluster (its index
// missing or unreadable) rather than a block.
func (s Source) Damaged() bool { return s.Quarantined == "" && s.Reason != "" }

// Missing reports whether the block lacks the cluster's current rows: a
// quarantined input or a damaged cluster.
func (s Source) Missing() bool { return s.Quarantined != "" || s.Reason != "" }

// Ref returns the block's reference (what its key encodes).
func (m BlockMeta) Ref() BlockRef {
	return BlockRef{Cluster: m.Cluster, Resolution: m.Resolution, Window: m.Window}
}

// Block is one cluster's allocations for one window.
type Block struct {
	Meta BlockMeta
	Rows []allocation.Allocation
}

// Parquet key-value metadata keys.
const (
	metaSchemaVersion    = "costfed.schema_version"
	metaCluster          = "costfed.cluster"
	metaResolution       = "costfed.resolution"
	metaWindowStart      = "costfed.window_start"
	metaWindowEnd        = "costfed.window_end"
	metaComplete         = "costfed.complete"
	metaBuildTime        = "costfed.build_time"
	metaProducerVersion  = "costfed.producer_version"
	metaProducerInstance = "costfed.producer_instance"
	metaRows             = "costfed.rows"
	metaSources          = "costfed.sources"
	metaBuiltFrom        = "costfed.built_from"
)

// rowGroupRows bounds a row group. Readers (DuckDB, Athena) parallelise by row
// group; 64k rows keeps a group a few MB compressed.
const rowGroupRows = 64 * 1024

// Reasons a block is refused. Match them with errors.Is on a *BlockError.
var (
	ErrEmptyBlock     = errors.New("empty object")
	ErrMissingBlock   = errors.New("object not found")
	ErrCorruptBlock   = errors.New("not a readable parquet file")
	ErrSchemaVersion  = errors.New("unsupported schema version")
	ErrSchemaMismatch = errors.New("columns do not match the block schema")
	ErrForeignBlock   = errors.New("block belongs to another cluster or window")
	ErrRowCount       = errors.New("row count does not match")
	ErrHashMismatch   = errors.New("content hash does not match the index")
	ErrSizeMismatch   = errors.New("object size does not match the index")
	ErrBlockTooLarge  = errors.New("object larger than the read limit")
	ErrInvalidBlock   = errors.New("invalid block contents")
)

// BlockError says which object failed and why. Reason is one of the Err…
// sentinels above; errors.Is(err, ErrForeignBlock) works through it.
type BlockError struct {
	Key    string
	Reason error
	Detail string
}

func (e *BlockError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("block %s: %v", e.Key, e.Reason)
	}
	return fmt.Sprintf("block %s: %v: %s", e.Key, e.Reason, e.Detail)
}

// Unwrap exposes the reason to errors.Is.
func (e *BlockError) Unwrap() error { return e.Reason }

func blockErr(key string, reason error, format string, args ...any) *BlockError {
	return &BlockError{Key: key, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ValidateBlock checks what EncodeBlock requires: a valid cluster id, a window
// aligned to the resolution, unique row names, finite numbers, rows inside the
// window, and whole-millisecond times (the file stores milliseconds, and a value
// that would not survive the round trip is refused rather than truncated).
func ValidateBlock(b Block) error {
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
	switch m.BuiltFrom {
	case "", BuiltFromSource, BuiltFromHourly:
	default:
		errs = append(errs, fmt.Errorf("built from %q: want %q or %q", m.BuiltFrom, BuiltFromSource, BuiltFromHourly))
	}
	if m.SchemaVersion != 0 && m.SchemaVersion != SchemaVersion {
		errs = append(errs, fmt.Errorf("schema version %d cannot be written by this build (writes %d)", m.SchemaVersion, SchemaVersion))
	}
	if m.Rows != 0 && m.Rows != len(b.Rows) {
		errs = append(errs, fmt.Errorf("meta says %d rows but the block has %d", m.Rows, len(b.Rows)))
	}
	seen := make(map[string]struct{}, len(b.Rows))
	for i := range b.Rows {
		if err := validateRow(&b.Rows[i], m.Window); err != nil {
			errs = append(errs, fmt.Errorf("row %d (%s): %w", i, b.Rows[i].Name, err))
		}
		if _, dup := seen[b.Rows[i].Name]; dup {
			errs = append(errs, fmt.Errorf("row %d: duplicate name %q", i, b.Rows[i].Name))
		}
		seen[b.Rows[i].Name] = struct{}{}
		if len(errs) > 20 {
			errs = append(errs, errors.New("more problems not listed"))
			break
		}
	}
	return errors.Join(errs...)
}

func validateRow(a *allocation.Allocation, w allocation.Window) error {
	if a.Name == "" {
		return errors.New("empty name")
	}
	if a.Start.Before(w.Start) || a.End.After(w.End) || a.End.Before(a.Start) {
		return fmt.Errorf("running time %s..%s is not inside window %s", a.Start.UTC().Format(time.RFC3339Nano), a.End.UTC().Format(time.RFC3339Nano), w)
	}
	if a.Start.UnixNano()%int64(time.Millisecond) != 0 || a.End.UnixNano()%int64(time.Millisecond) != 0 {
		return errors.New("start or end is not a whole millisecond")
	}
	for _, c := range floatColumns {
		if v := *c.ref(a); math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s is %v", c.name, v)
		}
	}
	for _, pv := range a.PVs {
		if !finite(pv.ByteHours, pv.Cost, pv.Adjustment) {
			return fmt.Errorf("pv %s has a non-finite value", pv.Key)
		}
	}
	for _, lb := range a.LoadBalancers {
		if !finite(lb.Cost, lb.Hours, lb.Adjustment) {
			return fmt.Errorf("load balancer %s has a non-finite value", lb.Key)
		}
	}
	return nil
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// EncodeBlock writes b as one ZSTD-compressed Parquet file. Rows are written
// sorted by name and map entries sorted by key, so the same block always gives
// the same bytes. b is not modified.
func EncodeBlock(b Block) ([]byte, error) {
	if err := ValidateBlock(b); err != nil {
		return nil, fmt.Errorf("encode block %s: %w", b.Meta.Ref().Key(), err)
	}
	rows := sortedRows(b.Rows)
	rec := buildRecord(rows)
	defer rec.Release()

	var buf bytes.Buffer
	if err := writeBlockParquet(&buf, rec, b.Meta); err != nil {
		return nil, fmt.Errorf("encode block %s: %w", b.Meta.Ref().Key(), err)
	}
	return buf.Bytes(), nil
}

// writeBlockParquet writes rec, the block's rows as built by buildRecord, and the
// block's metadata as one Parquet file.
func writeBlockParquet(w io.Writer, rec arrow.RecordBatch, meta BlockMeta) error {
	props := parquet.NewWriterProperties(writerProps...)
	fw, err := pqarrow.NewFileWriter(blockSchema, w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return fmt.Errorf("open parquet writer: %w", err)
	}
	if err := fw.WriteBuffered(rec); err != nil {
		_ = fw.Close()
		return fmt.Errorf("write rows: %w", err)
	}
	for _, kv := range metaPairs(meta, int(rec.NumRows())) {
		if err := fw.AppendKeyValueMetadata(kv[0], kv[1]); err != nil {
			_ = fw.Close()
			return fmt.Errorf("metadata %s: %w", kv[0], err)
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("close parquet writer: %w", err)
	}
	return nil
}

// writerProps: ZSTD, bounded row groups, statistics for predicate pushdown,
// and dictionary encoding only for the string properties that repeat
// (dictionaryColumns). Measured floats rarely repeat; building a dictionary
// for them only to fall back cost most of the encoding time.
var writerProps = func() []parquet.WriterProperty {
	props := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(rowGroupRows),
		parquet.WithStats(true),
		parquet.WithDictionaryDefault(false),
	}
	names := slices.Sorted(maps.Keys(dictionaryColumns))
	for _, name := range names {
		props = append(props, parquet.WithDictionaryFor(name, true))
	}
	return props
}()

// sortedRows returns pointers to rows ordered by name. It sorts (name, index)
// pairs held side by side rather than pointers into the rows, which keeps the
// comparisons in cache; rows already in order (a merge's output) cost one pass.
func sortedRows(rows []allocation.Allocation) []*allocation.Allocation {
	out := make([]*allocation.Allocation, len(rows))
	sorted := true
	for i := range rows {
		out[i] = &rows[i]
		if i > 0 && rows[i].Name < rows[i-1].Name {
			sorted = false
		}
	}
	if sorted {
		return out
	}
	type entry struct {
		name string
		i    int
	}
	idx := make([]entry, len(rows))
	for i := range rows {
		idx[i] = entry{rows[i].Name, i}
	}
	slices.SortFunc(idx, func(a, b entry) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	for j, e := range idx {
		out[j] = &rows[e.i]
	}
	return out
}

func metaPairs(m BlockMeta, rows int) [][2]string {
	pairs := [][2]string{
		{metaSchemaVersion, strconv.Itoa(SchemaVersion)},
		{metaCluster, m.Cluster},
		{metaResolution, string(m.Resolution)},
		{metaWindowStart, m.Window.Start.UTC().Format(time.RFC3339)},
		{metaWindowEnd, m.Window.End.UTC().Format(time.RFC3339)},
		{metaComplete, strconv.FormatBool(m.Complete)},
		{metaBuildTime, m.BuildTime.UTC().Format(time.RFC3339Nano)},
		{metaProducerVersion, m.ProducerVersion},
		{metaProducerInstance, m.ProducerInstance},
		{metaRows, strconv.Itoa(rows)},
		{metaSources, encodeSources(m.Sources)},
	}
	if m.BuiltFrom != "" {
		// Only when set, so blocks that do not record it keep their bytes.
		pairs = append(pairs, [2]string{metaBuiltFrom, m.BuiltFrom})
	}
	return pairs
}

// encodeSources writes lineage as cluster=sha[!quarantined][?reason] items
// separated by commas; cluster ids and hex digests contain none of these
// characters and the reason is query-escaped. Blocks without reasons keep the
// bytes of earlier builds.
func encodeSources(srcs []Source) string {
	var b strings.Builder
	for i, s := range srcs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.Cluster + "=" + s.SHA256)
		if s.Quarantined != "" {
			b.WriteString("!" + s.Quarantined)
		}
		if s.Reason != "" {
			b.WriteString("?" + url.QueryEscape(s.Reason))
		}
	}
	return b.String()
}

func decodeSources(v string) ([]Source, error) {
	if v == "" {
		return nil, nil
	}
	var out []Source
	for _, part := range strings.Split(v, ",") {
		cluster, rest, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("source %q is not cluster=sha256", part)
		}
		rest, reason, _ := strings.Cut(rest, "?")
		if reason != "" {
			r, err := url.QueryUnescape(reason)
			if err != nil {
				return nil, fmt.Errorf("source %q: reason: %w", part, err)
			}
			reason = r
		}
		sha, q, _ := strings.Cut(rest, "!")
		out = append(out, Source{Cluster: cluster, SHA256: sha, Quarantined: q, Reason: reason})
	}
	return out, nil
}

// buildRecord converts sorted rows to one Arrow record batch of blockSchema.
// It fills the Arrow buffers (offsets, bytes, validity bitmaps) directly, in
// one pass that visits each row once and appends it to every column, rather
// than value by value through array builders column after column: the rows
// are visited in name order, not memory order, so each extra pass over them
// was mostly cache misses, and the builders' nested map and list columns were
// most of the encoding time.
func buildRecord(rows []*allocation.Allocation) arrow.RecordBatch {
	n := len(rows)
	name, ps := newStrCol(n), newStrCol(n)
	strs := make([]*strCol, len(stringColumns))
	for j := range strs {
		strs[j] = newStrCol(n)
	}
	starts, ends := make([]int64, n), make([]int64, n)
	floats := make([]float64, n*len(floatColumns)) // column j at [j*n, (j+1)*n)
	svc := newListCol(n)
	svcVals := newStrCol(n)
	mcols := make([]*mapCol, len(mapColumns))
	for j := range mcols {
		mcols[j] = newMapCol(n)
	}
	pvs, lbs := newListCol(n), newListCol(n)
	pv := pvCols{key: strCol{offs: []int32{0}}, pid: strCol{offs: []int32{0}}}
	lb := lbCols{key: strCol{offs: []int32{0}}, svc: strCol{offs: []int32{0}}, ip: strCol{offs: []int32{0}}}

	for i, a := range rows {
		name.add(a.Name)
		starts[i], ends[i] = a.Start.UnixMilli(), a.End.UnixMilli()
		for j, c := range stringColumns {
			strs[j].add(*c.ref(a))
		}
		for _, s := range a.Properties.Services {
			svcVals.add(s)
		}
		svc.row(i, a.Properties.Services == nil, svcVals.len())
		for j, c := range mapColumns {
			mcols[j].add(i, *c.ref(a))
		}
		for j, c := range floatColumns {
			floats[j*n+i] = *c.ref(a)
		}
		for k := range a.PVs {
			pv.add(&a.PVs[k])
		}
		pvs.row(i, a.PVs == nil, pv.key.len())
		for k := range a.LoadBalancers {
			lb.add(&a.LoadBalancers[k])
		}
		lbs.row(i, a.LoadBalancers == nil, lb.key.len())
		ps.add(a.PriceSource)
	}

	fields := blockSchema.Fields()
	cols := make([]arrow.Array, 0, len(fields))
	add := func(d arrow.ArrayData) {
		cols = append(cols, array.MakeFromData(d))
		d.Release()
	}
	add(name.data())
	add(fixedData(timestampType, n, arrow.Int64Traits.CastToBytes(starts)))
	add(fixedData(timestampType, n, arrow.Int64Traits.CastToBytes(ends)))
	for _, sc := range strs {
		add(sc.data())
	}
	add(svc.data(fields[len(cols)].Type, svcVals.data()))
	for _, m := range mcols {
		add(m.data(fields[len(cols)].Type.(*arrow.MapType)))
	}
	for j := range floatColumns {
		add(fixedData(arrow.PrimitiveTypes.Float64, n, arrow.Float64Traits.CastToBytes(floats[j*n:(j+1)*n:(j+1)*n])))
	}
	add(pvs.data(fields[len(cols)].Type, pv.data(fields[len(cols)].Type.(*arrow.ListType))))
	add(lbs.data(fields[len(cols)].Type, lb.data(fields[len(cols)].Type.(*arrow.ListType))))
	add(ps.data())

	rec := array.NewRecordBatch(blockSchema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// strCol accumulates a string array's offsets and bytes.
type strCol struct {
	offs []int32
	buf  []byte
}

// newStrCol starts a string column sized for about n values.
func newStrCol(n int) *strCol {
	return &strCol{offs: make([]int32, 1, n+1)}
}

func (c *strCol) add(s string) {
	c.buf = append(c.buf, s...)
	if len(c.buf) > math.MaxInt32 {
		panic("store: string column larger than 2 GiB")
	}
	c.offs = append(c.offs, int32(len(c.buf)))
}

// repeat appends again the values from..to-1 already in the column.
func (c *strCol) repeat(from, to int) {
	lo, hi := c.offs[from], c.offs[to]
	base := int32(len(c.buf)) - lo
	c.buf = append(c.buf, c.buf[lo:hi]...)
	if len(c.buf) > math.MaxInt32 {
		panic("store: string column larger than 2 GiB")
	}
	for _, o := range c.offs[from+1 : to+1] {
		c.offs = append(c.offs, o+base)
	}
}

func (c *strCol) len() int { return len(c.offs) - 1 }

// data returns the column as Arrow array data with no nulls.
func (c *strCol) data() arrow.ArrayData {
	return array.NewData(arrow.BinaryTypes.String, c.len(),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.offs)), memory.NewBufferBytes(c.buf)},
		nil, 0, 0)
}

func fixedData(t arrow.DataType, n int, b []byte) arrow.ArrayData {
	return array.NewData(t, n, []*memory.Buffer{nil, memory.NewBufferBytes(b)}, nil, 0, 0)
}

func float64Data(vs []float64) arrow.ArrayData {
	return fixedData(arrow.PrimitiveTypes.Float64, len(vs), arrow.Float64Traits.CastToBytes(vs))
}

func boolData(vs []bool) arrow.ArrayData {
	bits := make([]byte, bitutil.BytesForBits(int64(len(vs))))
	for i, v := range vs {
		if v {
			bitutil.SetBit(bits, i)
		}
	}
	return fixedData(arrow.FixedWidthTypes.Boolean, len(vs), bits)
}

// listCol accumulates the offsets and validity of a nullable list (or map)
// column of n rows.
type listCol struct {
	offs  []int32
	valid []byte
	nulls int
}

func newListCol(n int) *listCol {
	return &listCol{offs: make([]int32, 1, n+1), valid: make([]byte, bitutil.BytesForBits(int64(n)))}
}

// row closes row i, whose values end at child value end; a nil row is null.
func (l *listCol) row(i int, isNil bool, end int) {
	if isNil {
		l.nulls++
	} else {
		bitutil.SetBit(l.valid, i)
	}
	l.offs = append(l.offs, int32(end))
}

// data returns the list column of type t over child, taking child's reference.
func (l *listCol) data(t arrow.DataType, child arrow.ArrayData) arrow.ArrayData {
	defer child.Release()
	var valid *memory.Buffer
	if l.nulls > 0 {
		valid = memory.NewBufferBytes(l.valid)
	}
	return array.NewData(t, len(l.offs)-1,
		[]*memory.Buffer{valid, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(l.offs))},
		[]arrow.ArrayData{child}, l.nulls, 0)
}

// structData assembles a struct array with no nulls from its field arrays,
// taking their references.
func structData(t arrow.DataType, n int, children ...arrow.ArrayData) arrow.ArrayData {
	d := array.NewData(t, n, []*memory.Buffer{nil}, children, 0, 0)
	for _, ch := range children {
		ch.Release()
	}
	return d
}

// mapCol accumulates a map column, entries sorted by key. A row whose map is
// the very map of the row before (decoded blocks share equal maps between
// rows) copies that row's entries instead of iterating and sorting again.
type mapCol struct {
	list     *listCol
	keys     *strCol
	items    *strCol
	sorted   []string // scratch
	prev     unsafe.Pointer
	prevFrom int
}

func newMapCol(n int) *mapCol {
	return &mapCol{list: newListCol(n), keys: newStrCol(n), items: newStrCol(n)}
}

func (c *mapCol) add(i int, m map[string]string) {
	from, p := c.keys.len(), mapPointer(m)
	if len(m) > 0 && p == c.prev {
		c.keys.repeat(c.prevFrom, from)
		c.items.repeat(c.prevFrom, from)
	} else if len(m) > 0 {
		keys := c.sorted[:0]
		for k := range m {
			keys = append(keys, k)
		}
		if len(keys) > 1 {
			slices.Sort(keys)
		}
		for _, k := range keys {
			c.keys.add(k)
			c.items.add(m[k])
		}
		c.sorted = keys
	}
	// Always the previous row's map, even nil or empty: a map seen again
	// after other rows must not copy their entries.
	c.prev, c.prevFrom = p, from
	c.list.row(i, m == nil, c.keys.len())
}

func (c *mapCol) data(t *arrow.MapType) arrow.ArrayData {
	clear(c.sorted) // do not keep the rows' strings reachable
	return c.list.data(t, structData(t.Elem(), c.keys.len(), c.keys.data(), c.items.data()))
}

// mapPointer is a map's identity: two variables holding the same map give
// the same pointer.
func mapPointer(m map[string]string) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&m))
}

// pvCols accumulates the fields of the pvs list's struct values; its
// string columns start with offsets {0}.
type pvCols struct {
	key, pid      strCol
	bh, cost, adj []float64
}

func (c *pvCols) add(pv *allocation.PVAllocation) {
	c.key.add(pv.Key)
	c.bh = append(c.bh, pv.ByteHours)
	c.cost = append(c.cost, pv.Cost)
	c.pid.add(pv.ProviderID)
	c.adj = append(c.adj, pv.Adjustment)
}

func (c *pvCols) data(t *arrow.ListType) arrow.ArrayData {
	return structData(t.Elem(), c.key.len(), c.key.data(), float64Data(c.bh), float64Data(c.cost), c.pid.data(), float64Data(c.adj))
}

// lbCols accumulates the fields of the lbAllocations list's struct values;
// its string columns start with offsets {0}.
type lbCols struct {
	key, svc, ip     strCol
	cost, hours, adj []float64
	priv             []bool
}

func (c *lbCols) add(l *allocation.LBAllocation) {
	c.key.add(l.Key)
	c.svc.add(l.Service)
	c.cost = append(c.cost, l.Cost)
	c.priv = append(c.priv, l.Private)
	c.ip.add(l.IP)
	c.hours = append(c.hours, l.Hours)
	c.adj = append(c.adj, l.Adjustment)
}

func (c *lbCols) data(t *arrow.ListType) arrow.ArrayData {
	return structData(t.Elem(), c.key.len(), c.key.data(), c.svc.data(), float64Data(c.cost), boolData(c.priv), c.ip.data(), float64Data(c.hours), float64Data(c.adj))
}

// ReadBlockMeta reads and checks only the footer metadata of a block: it costs
// the footer, not the rows. key is the object key the data was read from; the
// metadata must agree with it.
func ReadBlockMeta(key string, data []byte) (meta BlockMeta, err error) {
	defer recoverAsCorrupt(key, &err)
	rdr, err := openParquet(key, data)
	if err != nil {
		return BlockMeta{}, err
	}
	defer rdr.Close()
	return checkMeta(key, rdr)
}

// DecodeBlock reads a block and checks it: a readable footer, a known schema
// version and column set, metadata that matches the key it was read from, and
// the row count. Every failure is a *BlockError naming key and reason; no input
// makes it panic. Rows with equal label or annotation maps may share one map:
// treat the rows' maps as read-only.
func DecodeBlock(ctx context.Context, key string, data []byte) (Block, error) {
	var rows []allocation.Allocation
	meta, err := ScanBlockData(ctx, key, data, ScanOptions{}, func(batch []allocation.Allocation) error {
		if rows == nil {
			rows = batch[:len(batch):len(batch)]
			return nil
		}
		rows = append(rows, batch...)
		return nil
	})
	if err != nil {
		return Block{}, err
	}
	if rows == nil {
		rows = []allocation.Allocation{}
	}
	return Block{Meta: meta, Rows: rows}, nil
}

// ScanOptions say how ScanBlockData reads a block.
type ScanOptions struct {
	// BatchRows bounds the rows handed over at a time (default and most: a
	// row group's).
	BatchRows int
	// Omit names columns not to read: the rows' fields for them stay zero
	// (nil maps and lists). Reading fewer columns is most of what makes a
	// scan cheap; the label and annotation maps are the dearest. Only the
	// optional columns can be left out: name, start and end are always read.
	Omit []string
	// Require maps a flat string column to values: a row group whose
	// statistics show that column holds none of them is not read (its rows
	// are never handed over). For readers whose filter would drop such rows
	// anyway. Rows are sorted by name, which starts with the cluster, so a
	// cluster's rows sit in few row groups.
	Require map[string][]string
	// ReuseBatch hands every batch over in one slice, overwritten by the
	// next: fn must not keep the slice or pointers into it (strings, maps
	// and lists of the rows stay valid). It spares an allocation per batch.
	ReuseBatch bool
	// Buffers, when set, lends the Arrow buffers of AggregateBlockData's
	// batches and takes them back (ScanBlockData ignores it: its rows point
	// into the buffers).
	Buffers *BufferPool
}

// Columns a scan may leave out.
const (
	ColumnLabels      = colLabels
	ColumnAnnotations = colAnnots
)

// selectRowGroups returns the row groups whose statistics do not rule out
// every required value, and the rows of those left out; nil (every group)
// when nothing is required. A column without usable statistics rules nothing
// out.
func selectRowGroups(rdr *file.Reader, require map[string][]string) (groups []int, skippedRows int64) {
	if len(require) == 0 {
		return nil, 0
	}
	md := rdr.MetaData()
	groups = []int{}
	for rg := range rdr.NumRowGroups() {
		rgmd := md.RowGroup(rg)
		if rowGroupMayHold(rgmd, md.Schema, require) {
			groups = append(groups, rg)
		} else {
			skippedRows += rgmd.NumRows()
		}
	}
	return groups, skippedRows
}

func rowGroupMayHold(rg *metadata.RowGroupMetaData, sch *schema.Schema, require map[string][]string) bool {
	for name, values := range require {
		ci := sch.ColumnIndexByName(name)
		if ci < 0 {
			continue
		}
		cc, err := rg.ColumnChunk(ci)
		if err != nil {
			continue
		}
		if set, err := cc.StatsSet(); err != nil || !set {
			continue
		}
		st, err := cc.Statistics()
		if err != nil || st == nil || !st.HasMinMax() {
			continue
		}
		bs, ok := st.(*metadata.ByteArrayStatistics)
		if !ok {
			continue
		}
		lo, hi := string(bs.Min()), string(bs.Max())
		if !slices.ContainsFunc(values, func(v string) bool { return v >= lo && v <= hi }) {
			return false
		}
	}
	return true
}

// projectColumns returns the Parquet leaf columns of every top-level column
// not in omit, or nil (every column) when omit is empty.
func projectColumns(rdr *file.Reader, omit []string) ([]int, error) {
	if len(omit) == 0 {
		return nil, nil
	}
	for _, name := range omit {
		switch name {
		case colName, colStart, colEnd:
			return nil, fmt.Errorf("column %s cannot be left out of a scan", name)
		}
	}
	sch := rdr.MetaData().Schema
	var leaves []int
	for i := range sch.NumColumns() {
		if !slices.Contains(omit, sch.ColumnRoot(i).Name()) {
			leaves = append(leaves, i)
		}
	}
	return leaves, nil
}

// ScanBlockData checks a block as DecodeBlock does and hands its rows to fn in
// batches of at most opts.BatchRows (a row group's rows at most), so a reader
// holds one batch decoded at a time, not the block. A batch is fn's to keep
// unless opts.ReuseBatch. An error from fn stops the scan and is returned as
// it is; a block that turns out damaged after some batches were handed over
// still fails with a *BlockError, so callers must drop what they made of the
// earlier batches.
func ScanBlockData(ctx context.Context, key string, data []byte, opts ScanOptions, fn func(rows []allocation.Allocation) error) (meta BlockMeta, err error) {
	var reused []allocation.Allocation
	return scanRecords(ctx, key, data, opts, memory.DefaultAllocator, func(rec arrow.RecordBatch, meta BlockMeta) error {
		rows, err := appendRecord(reused[:0], rec, meta.Window)
		if opts.ReuseBatch {
			reused = rows
		}
		if err != nil {
			return blockErr(key, ErrCorruptBlock, "%v", err)
		}
		return fn(rows)
	})
}

// scanRecords checks a block as DecodeBlock does and hands its record
// batches (the columns opts leave, of the row groups opts.Require does not
// rule out) to fn, with the checked metadata. A batch is valid only during
// fn. An error from fn stops the scan and is returned as it is.
func scanRecords(ctx context.Context, key string, data []byte, opts ScanOptions, mem memory.Allocator, fn func(rec arrow.RecordBatch, meta BlockMeta) error) (meta BlockMeta, err error) {
	defer recoverAsCorrupt(key, &err)
	rdr, err := openParquet(key, data)
	if err != nil {
		return BlockMeta{}, err
	}
	defer rdr.Close()
	meta, err = checkMeta(key, rdr)
	if err != nil {
		return BlockMeta{}, err
	}
	batchRows := opts.BatchRows
	if batchRows <= 0 || batchRows > rowGroupRows {
		batchRows = rowGroupRows
	}
	leaves, err := projectColumns(rdr, opts.Omit)
	if err != nil {
		return BlockMeta{}, blockErr(key, ErrInvalidBlock, "%v", err)
	}
	props := pqarrow.ArrowReadProperties{BatchSize: int64(batchRows)}
	// The repeating string properties are dictionary-encoded in the file;
	// reading them as Arrow dictionaries decodes each distinct value once
	// instead of once per row.
	sch := rdr.MetaData().Schema
	for i := range sch.NumColumns() {
		if col := sch.Column(i); col.ColumnPath().String() == col.Name() && dictionaryColumns[col.Name()] {
			props.SetReadDict(i, true)
		}
	}
	fr, err := pqarrow.NewFileReader(rdr, props, mem)
	if err != nil {
		return BlockMeta{}, blockErr(key, ErrCorruptBlock, "%v", err)
	}
	schema, err := fr.Schema()
	if err != nil {
		return BlockMeta{}, blockErr(key, ErrCorruptBlock, "%v", err)
	}
	if !sameColumns(schema, blockSchema) {
		return BlockMeta{}, blockErr(key, ErrSchemaMismatch, "file columns %v, schema version %d wants %v", schema, SchemaVersion, blockSchema)
	}
	rowGroups, skipped := selectRowGroups(rdr, opts.Require)
	if rowGroups != nil && len(rowGroups) == 0 {
		return meta, nil // every row group ruled out (the footer's count was checked)
	}
	rr, err := fr.GetRecordReader(ctx, leaves, rowGroups)
	if err != nil {
		return BlockMeta{}, blockErr(key, ErrCorruptBlock, "%v", err)
	}
	defer rr.Release()
	n := int(skipped)
	for rr.Next() {
		rec := rr.RecordBatch()
		n += int(rec.NumRows())
		if n > meta.Rows {
			return BlockMeta{}, blockErr(key, ErrRowCount, "metadata says %d rows, file holds more", meta.Rows)
		}
		if err := fn(rec, meta); err != nil {
			return BlockMeta{}, err
		}
	}
	if err := rr.Err(); err != nil {
		return BlockMeta{}, blockErr(key, ErrCorruptBlock, "read rows: %v", err)
	}
	if n != meta.Rows {
		return BlockMeta{}, blockErr(key, ErrRowCount, "metadata says %d rows, file holds %d", meta.Rows, n)
	}
	return meta, nil
}

// recoverAsCorrupt turns a panic inside the Parquet or Arrow libraries (which
// do panic on some malformed inputs) into a corrupt-block error, so a bad file in
// the bucket can never take a reader down.
func recoverAsCorrupt(key string, err *error) {
	if r := recover(); r != nil {
		*err = blockErr(key, ErrCorruptBlock, "decoder failed: %v", r)
	}
}

func openParquet(key string, data []byte) (*file.Reader, error) {
	if len(data) == 0 {
		return nil, blockErr(key, ErrEmptyBlock, "0 bytes")
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, blockErr(key, ErrCorruptBlock, "%d bytes: %v", len(data), err)
	}
	return rdr, nil
}

func checkMeta(key string, rdr *file.Reader) (BlockMeta, error) {
	kv := rdr.MetaData().KeyValueMetadata()
	get := func(k string) string {
		if v := kv.FindValue(k); v != nil {
			return *v
		}
		return ""
	}
	vs := get(metaSchemaVersion)
	if vs == "" {
		return BlockMeta{}, blockErr(key, ErrSchemaVersion, "no %s in the footer (not a costfed block)", metaSchemaVersion)
	}
	version, err := strconv.Atoi(vs)
	if err != nil || version < 1 || version > SchemaVersion {
		return BlockMeta{}, blockErr(key, ErrSchemaVersion, "version %q, this build reads 1..%d", vs, SchemaVersion)
	}
	m := BlockMeta{
		SchemaVersion:    version,
		Cluster:          get(metaCluster),
		Resolution:       Resolution(get(metaResolution)),
		ProducerVersion:  get(metaProducerVersion),
		ProducerInstance: get(metaProducerInstance),
	}
	var errs []error
	parseTime := func(k string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, get(k))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
		return t.UTC()
	}
	m.Window = allocation.Window{Start: parseTime(metaWindowStart), End: parseTime(metaWindowEnd)}
	m.BuildTime = parseTime(metaBuildTime)
	if m.Complete, err = strconv.ParseBool(get(metaComplete)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", metaComplete, err))
	}
	m.BuiltFrom = get(metaBuiltFrom)
	if m.Sources, err = decodeSources(get(metaSources)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", metaSources, err))
	}
	if m.Rows, err = strconv.Atoi(get(metaRows)); err != nil || m.Rows < 0 {
		errs = append(errs, fmt.Errorf("%s: %q is not a row count", metaRows, get(metaRows)))
	}
	if len(errs) > 0 {
		return BlockMeta{}, blockErr(key, ErrInvalidBlock, "metadata: %v", errors.Join(errs...))
	}
	ref, err := ParseBlockKey(key)
	if err != nil {
		return BlockMeta{}, blockErr(key, ErrForeignBlock, "%v", err)
	}
	if m.Cluster != ref.Cluster {
		return BlockMeta{}, blockErr(key, ErrForeignBlock, "file says cluster %q, key says %q", m.Cluster, ref.Cluster)
	}
	if m.Resolution != ref.Resolution || !m.Window.Start.Equal(ref.Window.Start) || !m.Window.End.Equal(ref.Window.End) {
		return BlockMeta{}, blockErr(key, ErrForeignBlock, "file says %s window %s, key says %s window %s", m.Resolution, m.Window, ref.Resolution, ref.Window)
	}
	if n := rdr.NumRows(); n != int64(m.Rows) {
		return BlockMeta{}, blockErr(key, ErrRowCount, "metadata says %d rows, footer says %d", m.Rows, n)
	}
	return m, nil
}

// sameColumns compares names, types and nullability, ignoring field metadata
// (the Parquet reader adds PARQUET:field_id). A string column read as a
// dictionary of strings is a string column.
func sameColumns(got, want *arrow.Schema) bool {
	if got.NumFields() != want.NumFields() {
		return false
	}
	for i, w := range want.Fields() {
		g := got.Field(i)
		gt := g.Type
		if d, ok := gt.(*arrow.DictionaryType); ok && dictionaryColumns[g.Name] {
			gt = d.ValueType
		}
		if g.Name != w.Name || g.Nullable != w.Nullable || !arrow.TypeEqual(gt, w.Type) {
			return false
		}
	}
	return true
}

// dictionaryColumns are the columns written dictionary-encoded (writerProps),
// and so read as Arrow dictionaries: the string properties but the pod name,
// which is nearly unique per row (a pod has one or a few containers). Its
// dictionary never paid: it hashed every value (an allocation each, in the
// Parquet library) into a dictionary as large as the values, and the plain
// encoding compresses as well. Blocks written when pod was dictionary-encoded
// read the same.
var dictionaryColumns = func() map[string]bool {
	m := map[string]bool{colPriceSrc: true}
	for _, c := range stringColumns {
		if c.name != colPod {
			m[c.name] = true
		}
	}
	return m
}()
