package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/costfed/costfed/allocation"
)

// AggregateBlockData reads a block as ScanBlockData does and sums its rows
// into the output rows of g, column by column: each batch's rows are
// assigned their output row once, then every numeric column is added into
// per-output sums in one loop, and properties, volumes and load balancers
// are merged by the summing rules. No Allocation is built per input row, so
// memory holds one batch of columns and the answer. The answer is
// Aggregate's over the block's rows (up to float rounding: sums are taken in
// row order over the whole block instead of per batch).
func AggregateBlockData(ctx context.Context, key string, data []byte, opts ScanOptions, g *allocation.Grouper) (allocation.Set, error) {
	var agg *columnAggregator
	var mem memory.Allocator = memory.DefaultAllocator
	if opts.Buffers != nil {
		mem = opts.Buffers
	}
	meta, err := scanRecords(ctx, key, data, opts, mem, func(rec arrow.RecordBatch, meta BlockMeta) error {
		if agg == nil {
			agg = newColumnAggregator(g, meta.Window)
		}
		if err := agg.add(rec); err != nil {
			return blockErr(key, ErrCorruptBlock, "%v", err)
		}
		return nil
	})
	if err != nil {
		return allocation.Set{}, err
	}
	if agg == nil {
		return allocation.Set{Window: meta.Window, Allocations: []allocation.Allocation{}}, nil
	}
	return allocation.Set{Window: meta.Window, Allocations: agg.finish()}, nil
}

// Float columns summed other than by addition.
var (
	// averageColumns are request and usage averages: summed as
	// average × minutes and divided by the merged row's minutes.
	averageColumns = []string{"cpuCoreRequestAverage", "cpuCoreUsageAverage", "gpuRequestAverage", "gpuUsageAverage", "ramByteRequestAverage", "ramByteUsageAverage"}
	// maxColumns are usage maxima.
	maxColumns = []string{"cpuCoreUsageMax", "ramByteUsageMax"}
)

// columnAggregator sums batches of a block into the output rows of a
// Grouper. Output row k's floats are floats[k*len(floatColumns):], in
// floatColumns order; its other fields are groups[k].
type columnAggregator struct {
	g      *allocation.Grouper
	window allocation.Window
	groups []columnGroup
	floats []float64
	avgs   []float64 // Σ average × minutes: avgs[k*len(averageColumns)+a]

	floatKind []floatKind // per floatColumns entry
	avgSlot   []int       // per floatColumns entry: its averageColumns index, or -1

	// Per batch, reused.
	gid     []int32 // output row of each row, -1 when left out
	first   []bool  // the row is its output row's first
	minutes []float64
	row     allocation.Allocation // what the Grouper reads
	maps    [4]map[string]string  // the row's label, annotation and namespace maps
	svcBuf  []string

	// keepMaps says which of mapColumns the answer shows: labels and
	// annotations not when the Grouper drops them.
	keepMaps [4]bool
}

type floatKind uint8

const (
	floatAdd floatKind = iota
	floatAverage
	floatMax
)

// columnGroup is an output row's state besides its floats.
type columnGroup struct {
	out            allocation.Allocation // strings own their memory
	n              int
	startMs, endMs int64
	// Label and annotation intersections (see allocation's summer), in
	// mapColumns order.
	maps [4][]labelKV
	// metaSet says maps hold a row's entries: false until the first row
	// that is not unmounted (unmounted rows are left out of the
	// intersections, as in OpenCost); keepMaps is init's.
	metaSet        bool
	keepMaps       [4]bool
	pvIndex        map[string]int
	lbIndex        map[string]int
	ownPVs, ownLBs bool
}

type labelKV struct{ k, v string }

func newColumnAggregator(g *allocation.Grouper, w allocation.Window) *columnAggregator {
	c := &columnAggregator{g: g, window: w}
	for _, f := range floatColumns {
		kind, slot := floatAdd, -1
		if i := slices.Index(averageColumns, f.name); i >= 0 {
			kind, slot = floatAverage, i
		} else if slices.Contains(maxColumns, f.name) {
			kind = floatMax
		}
		c.floatKind = append(c.floatKind, kind)
		c.avgSlot = append(c.avgSlot, slot)
	}
	for i := range c.maps {
		c.maps[i] = map[string]string{}
		c.keepMaps[i] = i >= 2 || !g.DropsMetadata()
	}
	return c
}

// batchColumns are one record batch's columns, found by name; nil when the
// batch lacks one (left out of the scan).
type batchColumns struct {
	name       *array.String
	start, end *array.Timestamp
	strs       []stringReader // stringColumns order
	services   *array.List
	maps       [4]*array.Map // mapColumns order
	floats     []*array.Float64
	pvs, lbs   *array.List
	priceSrc   stringReader
}

// stringReader reads a plain or dictionary-encoded string column,
// dictionary values looked up once per batch.
type stringReader struct {
	present bool
	plain   *array.String
	dict    *array.Dictionary
	idx     []int32 // the dictionary's indices, when they are int32 (as pqarrow reads them)
	values  []string
}

func newStringReader(rec arrow.RecordBatch, j int) (stringReader, error) {
	switch col := rec.Column(j).(type) {
	case *array.String:
		return stringReader{present: true, plain: col}, nil
	case *array.Dictionary:
		dict, ok := col.Dictionary().(*array.String)
		if !ok {
			return stringReader{}, fmt.Errorf("column %s: dictionary of %s", rec.Schema().Field(j).Name, col.Dictionary().DataType())
		}
		values := make([]string, dict.Len())
		for k := range values {
			values[k] = dict.Value(k)
		}
		r := stringReader{present: true, dict: col, values: values}
		if ix, ok := col.Indices().(*array.Int32); ok && ix.NullN() == 0 {
			r.idx = ix.Int32Values()
		}
		for i := range col.Len() {
			if k := col.GetValueIndex(i); k < 0 || k >= len(values) {
				return stringReader{}, fmt.Errorf("column %s: dictionary index %d out of range", rec.Schema().Field(j).Name, k)
			}
		}
		return r, nil
	}
	return stringReader{}, fmt.Errorf("column %s has type %s", rec.Schema().Field(j).Name, rec.Column(j).DataType())
}

func (r *stringReader) value(i int) string {
	switch {
	case r.idx != nil:
		return r.values[r.idx[i]]
	case r.plain != nil:
		return r.plain.Value(i)
	case r.dict != nil:
		return r.values[r.dict.GetValueIndex(i)]
	}
	return ""
}

func readBatchColumns(rec arrow.RecordBatch) (*batchColumns, error) {
	schema := rec.Schema()
	index := func(name string) (int, bool) {
		if is := schema.FieldIndices(name); len(is) == 1 {
			return is[0], true
		}
		return 0, false
	}
	var b batchColumns
	var err error
	if b.name, err = requiredColumn[*array.String](rec, index, colName); err != nil {
		return nil, err
	}
	if b.start, err = requiredColumn[*array.Timestamp](rec, index, colStart); err != nil {
		return nil, err
	}
	if b.end, err = requiredColumn[*array.Timestamp](rec, index, colEnd); err != nil {
		return nil, err
	}
	b.strs = make([]stringReader, len(stringColumns))
	for k, c := range stringColumns {
		if j, ok := index(c.name); ok {
			if b.strs[k], err = newStringReader(rec, j); err != nil {
				return nil, err
			}
		}
	}
	if j, ok := index(colServices); ok {
		if b.services, err = columnAs[*array.List](rec, j); err != nil {
			return nil, err
		}
		if _, ok := b.services.ListValues().(*array.String); !ok {
			return nil, fmt.Errorf("column %s: values are %s", colServices, b.services.ListValues().DataType())
		}
	}
	for k, c := range mapColumns {
		if j, ok := index(c.name); ok {
			if b.maps[k], err = columnAs[*array.Map](rec, j); err != nil {
				return nil, err
			}
			_, ok1 := b.maps[k].Keys().(*array.String)
			_, ok2 := b.maps[k].Items().(*array.String)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("column %s: not a string map", c.name)
			}
		}
	}
	b.floats = make([]*array.Float64, len(floatColumns))
	for k, c := range floatColumns {
		if j, ok := index(c.name); ok {
			if b.floats[k], err = columnAs[*array.Float64](rec, j); err != nil {
				return nil, err
			}
		}
	}
	if j, ok := index(colPVs); ok {
		if b.pvs, err = columnAs[*array.List](rec, j); err != nil {
			return nil, err
		}
		if err := checkStructFields(b.pvs, colPVs, pvStructType); err != nil {
			return nil, err
		}
	}
	if j, ok := index(colLBs); ok {
		if b.lbs, err = columnAs[*array.List](rec, j); err != nil {
			return nil, err
		}
		if err := checkStructFields(b.lbs, colLBs, lbStructType); err != nil {
			return nil, err
		}
	}
	if j, ok := index(colPriceSrc); ok {
		if b.priceSrc, err = newStringReader(rec, j); err != nil {
			return nil, err
		}
	}
	return &b, nil
}

// checkStructFields checks a list-of-struct column has the fields of want.
func checkStructFields(l *array.List, name string, want *arrow.StructType) error {
	s, err := structFields(l, name)
	if err != nil {
		return err
	}
	if !arrow.TypeEqual(s.DataType(), want) {
		return fmt.Errorf("column %s: values are %s, want %s", name, s.DataType(), want)
	}
	return nil
}

// add sums one record batch.
func (c *columnAggregator) add(rec arrow.RecordBatch) error {
	b, err := readBatchColumns(rec)
	if err != nil {
		return err
	}
	n := int(rec.NumRows())
	c.gid = slices.Grow(c.gid[:0], n)[:n]
	c.first = slices.Grow(c.first[:0], n)[:n]
	c.minutes = slices.Grow(c.minutes[:0], n)[:n]
	readsNSMaps := c.g.ReadsNamespaceMetadata()
	readsServices := c.g.ReadsServices()
	for i := range n {
		c.fillRow(b, i, readsNSMaps, readsServices)
		k := c.g.Group(&c.row)
		c.gid[i] = k
		c.first[i] = false
		if k < 0 {
			continue
		}
		startMs, endMs := int64(b.start.Value(i)), int64(b.end.Value(i))
		c.minutes[i] = (time.Duration(endMs-startMs) * time.Millisecond).Minutes()
		for int(k) >= len(c.groups) {
			c.groups = append(c.groups, columnGroup{})
			c.floats = append(c.floats, make([]float64, len(floatColumns))...)
			c.avgs = append(c.avgs, make([]float64, len(averageColumns))...)
		}
		grp := &c.groups[k]
		if grp.n == 0 {
			c.first[i] = true
			grp.init(b, i, c.window, startMs, endMs, c.keepMaps)
		} else {
			grp.merge(b, i, startMs, endMs)
		}
		grp.n++
	}
	c.addFloats(b, n)
	return nil
}

// fillRow sets what the Grouper reads of row i: its name and properties,
// the maps only when their columns were read. Strings point into the batch.
func (c *columnAggregator) fillRow(b *batchColumns, i int, readsNSMaps, readsServices bool) {
	a := &c.row
	a.Name = b.name.Value(i)
	for k, col := range stringColumns {
		*col.ref(a) = b.strs[k].value(i)
	}
	a.Properties.Services = nil
	if readsServices && b.services != nil && !b.services.IsNull(i) {
		vals := b.services.ListValues().(*array.String)
		lo, hi := b.services.ValueOffsets(i)
		c.svcBuf = c.svcBuf[:0]
		for j := lo; j < hi; j++ {
			c.svcBuf = append(c.svcBuf, vals.Value(int(j)))
		}
		a.Properties.Services = c.svcBuf
	}
	for k, col := range mapColumns {
		m := b.maps[k]
		*col.ref(a) = nil
		if m == nil || (k >= 2 && !readsNSMaps) {
			continue
		}
		dst := c.maps[k]
		clear(dst)
		if !m.IsNull(i) {
			keys, items := m.Keys().(*array.String), m.Items().(*array.String)
			lo, hi := m.ValueOffsets(i)
			for j := lo; j < hi; j++ {
				dst[keys.Value(int(j))] = items.Value(int(j))
			}
		}
		*col.ref(a) = dst
	}
}

// addFloats adds the batch's float columns into the sums of its rows'
// output rows: one tight loop per column.
func (c *columnAggregator) addFloats(b *batchColumns, n int) {
	nf, na := len(floatColumns), len(averageColumns)
	for f, col := range b.floats {
		if col == nil {
			continue
		}
		vals := col.Float64Values()[:n]
		switch c.floatKind[f] {
		case floatAdd:
			for i, k := range c.gid {
				if k < 0 {
					continue
				}
				if s := &c.floats[int(k)*nf+f]; c.first[i] {
					*s = vals[i]
				} else {
					*s += vals[i]
				}
			}
		case floatMax:
			for i, k := range c.gid {
				if k < 0 {
					continue
				}
				if s := &c.floats[int(k)*nf+f]; c.first[i] {
					*s = vals[i]
				} else {
					*s = max(*s, vals[i])
				}
			}
		case floatAverage:
			slot := c.avgSlot[f]
			for i, k := range c.gid {
				if k < 0 {
					continue
				}
				if c.first[i] {
					c.floats[int(k)*nf+f] = vals[i] // kept when the row merges with nothing
				}
				c.avgs[int(k)*na+slot] += vals[i] * c.minutes[i]
			}
		}
	}
}

// init starts an output row with row i of the batch.
func (g *columnGroup) init(b *batchColumns, i int, w allocation.Window, startMs, endMs int64, keepMaps [4]bool) {
	o := &g.out
	o.Window = w
	g.startMs, g.endMs = startMs, endMs
	for k, col := range stringColumns {
		*col.ref(o) = strings.Clone(b.strs[k].value(i))
	}
	o.PriceSource = strings.Clone(b.priceSrc.value(i))
	if b.services != nil && !b.services.IsNull(i) {
		vals := b.services.ListValues().(*array.String)
		lo, hi := b.services.ValueOffsets(i)
		o.Properties.Services = make([]string, 0, hi-lo)
		for j := lo; j < hi; j++ {
			o.Properties.Services = append(o.Properties.Services, strings.Clone(vals.Value(int(j))))
		}
	}
	g.keepMaps, g.metaSet = keepMaps, false
	for k := range g.maps {
		g.maps[k] = g.maps[k][:0]
	}
	if !unmountedRow(b, i) {
		g.initMaps(b, i)
	}
	if b.pvs != nil && !b.pvs.IsNull(i) {
		lo, hi := b.pvs.ValueOffsets(i)
		o.PVs = make([]allocation.PVAllocation, 0, hi-lo)
		for j := int(lo); j < int(hi); j++ {
			o.PVs = append(o.PVs, pvAt(b.pvs, j, true))
		}
	}
	if b.lbs != nil && !b.lbs.IsNull(i) {
		lo, hi := b.lbs.ValueOffsets(i)
		o.LoadBalancers = make([]allocation.LBAllocation, 0, hi-lo)
		for j := int(lo); j < int(hi); j++ {
			lb := lbAt(b.lbs, j, true)
			// Older blocks' keys lack the cluster (see allocation.LBKey);
			// a qualified key makes the list the summer's own, sorted.
			if k := allocation.LBKey(o.Properties.Cluster, lb.Key); k != lb.Key {
				lb.Key, g.ownLBs = k, true
			}
			o.LoadBalancers = append(o.LoadBalancers, lb)
		}
	}
}

// merge adds the non-float parts of row i of the batch.
func (g *columnGroup) merge(b *batchColumns, i int, startMs, endMs int64) {
	o := &g.out
	g.startMs, g.endMs = min(g.startMs, startMs), max(g.endMs, endMs)
	for k, col := range stringColumns {
		if s := col.ref(o); *s != "" && *s != b.strs[k].value(i) {
			*s = ""
		}
	}
	if o.PriceSource != "" && o.PriceSource != b.priceSrc.value(i) {
		o.PriceSource = ""
	}
	if len(o.Properties.Services) > 0 {
		o.Properties.Services = intersectServices(o.Properties.Services, b.services, i)
	}
	switch {
	case unmountedRow(b, i):
	case !g.metaSet:
		g.initMaps(b, i)
	default:
		for k, m := range b.maps {
			if len(g.maps[k]) > 0 {
				g.maps[k] = intersectEntries(g.maps[k], m, i)
			}
		}
	}
	if b.pvs != nil && !b.pvs.IsNull(i) {
		if lo, hi := b.pvs.ValueOffsets(i); hi > lo {
			g.mergePVs(b.pvs, int(lo), int(hi))
		}
	}
	if b.lbs != nil && !b.lbs.IsNull(i) {
		if lo, hi := b.lbs.ValueOffsets(i); hi > lo {
			g.mergeLBs(b.lbs, int(lo), int(hi), b.strs[clusterColumn].value(i))
		}
	}
}

// initMaps starts the label and annotation intersections with row i's maps.
func (g *columnGroup) initMaps(b *batchColumns, i int) {
	g.metaSet = true
	for k, m := range b.maps {
		if m == nil || m.IsNull(i) || !g.keepMaps[k] {
			continue
		}
		keys, items := m.Keys().(*array.String), m.Items().(*array.String)
		lo, hi := m.ValueOffsets(i)
		for j := lo; j < hi; j++ {
			g.maps[k] = append(g.maps[k], labelKV{strings.Clone(keys.Value(int(j))), strings.Clone(items.Value(int(j)))})
		}
	}
}

// unmountedRow reports whether row i is an unmounted row: its container is
// allocation.UnmountedSuffix (the last segment of its name when the
// container column is not read).
func unmountedRow(b *batchColumns, i int) bool {
	if b.strs[containerColumn].present {
		return b.strs[containerColumn].value(i) == allocation.UnmountedSuffix
	}
	name := b.name.Value(i)
	return name == allocation.UnmountedSuffix || strings.HasSuffix(name, "/"+allocation.UnmountedSuffix)
}

// containerColumn is the container's index in stringColumns.
var containerColumn = slices.IndexFunc(stringColumns, func(c stringColumn) bool { return c.name == "container" })

// clusterColumn is the cluster's index in stringColumns.
var clusterColumn = slices.IndexFunc(stringColumns, func(c stringColumn) bool { return c.name == "cluster" })

// intersectServices keeps the services row i also lists, copying only
// when one goes (the summer's rule: an empty result is nil).
func intersectServices(have []string, l *array.List, i int) []string {
	var vals *array.String
	var lo, hi int64
	if l != nil && !l.IsNull(i) {
		vals = l.ListValues().(*array.String)
		lo, hi = l.ValueOffsets(i)
	}
	listed := func(s string) bool {
		for j := lo; j < hi; j++ {
			if vals.Value(int(j)) == s {
				return true
			}
		}
		return false
	}
	keep := 0
	for _, s := range have {
		if listed(s) {
			keep++
		}
	}
	switch keep {
	case len(have):
		return have
	case 0:
		return nil
	}
	out := make([]string, 0, keep)
	for _, s := range have {
		if listed(s) {
			out = append(out, s)
		}
	}
	return out
}

// intersectEntries keeps the entries map row i also has with the same value.
func intersectEntries(have []labelKV, m *array.Map, i int) []labelKV {
	if m == nil || m.IsNull(i) {
		return have[:0]
	}
	keys, items := m.Keys().(*array.String), m.Items().(*array.String)
	lo, hi := m.ValueOffsets(i)
	keep := have[:0]
	for _, kv := range have {
		for j := lo; j < hi; j++ {
			if keys.Value(int(j)) == kv.k {
				if items.Value(int(j)) == kv.v {
					keep = append(keep, kv)
				}
				break
			}
		}
	}
	return keep
}

// pvAt is entry j of a volumes column; clone gives its strings their own
// memory.
func pvAt(l *array.List, j int, clone bool) allocation.PVAllocation {
	s := l.ListValues().(*array.Struct)
	key, pid := s.Field(0).(*array.String).Value(j), s.Field(3).(*array.String).Value(j)
	if clone {
		key, pid = strings.Clone(key), strings.Clone(pid)
	}
	return allocation.PVAllocation{
		Key: key, ProviderID: pid,
		ByteHours:  s.Field(1).(*array.Float64).Value(j),
		Cost:       s.Field(2).(*array.Float64).Value(j),
		Adjustment: s.Field(4).(*array.Float64).Value(j),
	}
}

// lbAt is entry j of a load-balancer column; clone gives its strings their
// own memory.
func lbAt(l *array.List, j int, clone bool) allocation.LBAllocation {
	s := l.ListValues().(*array.Struct)
	key, svc, ip := s.Field(0).(*array.String).Value(j), s.Field(1).(*array.String).Value(j), s.Field(4).(*array.String).Value(j)
	if clone {
		key, svc, ip = strings.Clone(key), strings.Clone(svc), strings.Clone(ip)
	}
	return allocation.LBAllocation{
		Key: key, Service: svc, IP: ip,
		Cost:       s.Field(2).(*array.Float64).Value(j),
		Private:    s.Field(3).(*array.Boolean).Value(j),
		Hours:      s.Field(5).(*array.Float64).Value(j),
		Adjustment: s.Field(6).(*array.Float64).Value(j),
	}
}

// mergePVs merges volume entries [lo, hi): by key, amounts add and the
// provider id is kept only when every entry agrees.
func (g *columnGroup) mergePVs(l *array.List, lo, hi int) {
	o := &g.out
	g.ownPVs = true
	if g.pvIndex == nil {
		g.pvIndex = make(map[string]int, len(o.PVs)+hi-lo)
		for p, pv := range o.PVs {
			if _, dup := g.pvIndex[pv.Key]; !dup {
				g.pvIndex[pv.Key] = p
			}
		}
	}
	for j := lo; j < hi; j++ {
		pv := pvAt(l, j, false)
		p, ok := g.pvIndex[pv.Key]
		if !ok {
			pv.Key, pv.ProviderID = strings.Clone(pv.Key), strings.Clone(pv.ProviderID)
			g.pvIndex[pv.Key] = len(o.PVs)
			o.PVs = append(o.PVs, pv)
			continue
		}
		have := &o.PVs[p]
		have.ByteHours += pv.ByteHours
		have.Cost += pv.Cost
		have.Adjustment += pv.Adjustment
		if have.ProviderID != pv.ProviderID {
			have.ProviderID = ""
		}
	}
}

// mergeLBs merges load-balancer entries [lo, hi) of a row of cluster: by
// cluster-qualified key, costs add and hours take the maximum (every row of
// a block has the block's window, so the rows ran side by side).
func (g *columnGroup) mergeLBs(l *array.List, lo, hi int, cluster string) {
	o := &g.out
	g.ownLBs = true
	if g.lbIndex == nil {
		g.lbIndex = make(map[string]int, len(o.LoadBalancers)+hi-lo)
		for p, lb := range o.LoadBalancers {
			if _, dup := g.lbIndex[lb.Key]; !dup {
				g.lbIndex[lb.Key] = p
			}
		}
	}
	for j := lo; j < hi; j++ {
		lb := lbAt(l, j, false)
		lb.Key = allocation.LBKey(cluster, lb.Key)
		p, ok := g.lbIndex[lb.Key]
		if !ok {
			lb.Key, lb.Service, lb.IP = strings.Clone(lb.Key), strings.Clone(lb.Service), strings.Clone(lb.IP)
			g.lbIndex[lb.Key] = len(o.LoadBalancers)
			o.LoadBalancers = append(o.LoadBalancers, lb)
			continue
		}
		have := &o.LoadBalancers[p]
		have.Cost += lb.Cost
		have.Adjustment += lb.Adjustment
		if have.Service != lb.Service {
			have.Service = ""
		}
		if have.IP != lb.IP {
			have.IP = ""
		}
		have.Private = have.Private && lb.Private
		have.Hours = max(have.Hours, lb.Hours)
	}
}

// finish returns the output rows, sorted by name.
func (c *columnAggregator) finish() []allocation.Allocation {
	out := make([]allocation.Allocation, 0, len(c.groups))
	nf, na := len(floatColumns), len(averageColumns)
	for k := range c.groups {
		g := &c.groups[k]
		if g.n == 0 {
			continue
		}
		a := g.out
		a.Name = c.g.Name(int32(k))
		a.Start, a.End = time.UnixMilli(g.startMs).UTC(), time.UnixMilli(g.endMs).UTC()
		for f, col := range floatColumns {
			*col.ref(&a) = c.floats[k*nf+f]
		}
		if g.n > 1 {
			m := a.Minutes()
			for f, col := range floatColumns {
				if slot := c.avgSlot[f]; slot >= 0 {
					*col.ref(&a) = perMinute(c.avgs[k*na+slot], m)
				}
			}
		}
		for j, col := range mapColumns {
			*col.ref(&a) = entriesMap(g.maps[j])
		}
		if g.ownPVs {
			slices.SortFunc(a.PVs, func(x, y allocation.PVAllocation) int { return cmp.Compare(x.Key, y.Key) })
		}
		if g.ownLBs {
			slices.SortFunc(a.LoadBalancers, func(x, y allocation.LBAllocation) int { return cmp.Compare(x.Key, y.Key) })
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y allocation.Allocation) int { return cmp.Compare(x.Name, y.Name) })
	return out
}

func perMinute(sum, minutes float64) float64 {
	if minutes <= 0 {
		return 0
	}
	return sum / minutes
}

// entriesMap is an intersection as a map, nil when empty.
func entriesMap(kvs []labelKV) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.k] = kv.v
	}
	return m
}
