package store

import (
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/costfed/costfed/allocation"
)

// columnAs returns column i of rec as T, or an error naming the column.
func columnAs[T arrow.Array](rec arrow.RecordBatch, i int) (T, error) {
	c, ok := rec.Column(i).(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("column %s has type %s", rec.Schema().Field(i).Name, rec.Column(i).DataType())
	}
	return c, nil
}

// appendRecord converts one record batch to allocations. Columns are found
// by name, so a batch read with some columns left out (see ScanOptions.Omit)
// converts too: the fields of the missing columns stay zero.
func appendRecord(rows []allocation.Allocation, rec arrow.RecordBatch, w allocation.Window) ([]allocation.Allocation, error) {
	n := int(rec.NumRows())
	base := len(rows)
	rows = slices.Grow(rows, n)[:base+n]
	out := rows[base:]
	clear(out) // rows may be a reused batch: no field of an earlier row stays
	schema := rec.Schema()
	index := func(name string) (int, bool) {
		if is := schema.FieldIndices(name); len(is) == 1 {
			return is[0], true
		}
		return 0, false
	}
	name, err := requiredColumn[*array.String](rec, index, colName)
	if err != nil {
		return nil, err
	}
	start, err := requiredColumn[*array.Timestamp](rec, index, colStart)
	if err != nil {
		return nil, err
	}
	end, err := requiredColumn[*array.Timestamp](rec, index, colEnd)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Name = name.Value(i)
		out[i].Window = w
		out[i].Start = time.UnixMilli(int64(start.Value(i))).UTC()
		out[i].End = time.UnixMilli(int64(end.Value(i))).UTC()
	}
	for _, c := range stringColumns {
		if j, ok := index(c.name); ok {
			if err := readStrings(rec, j, out, c.ref); err != nil {
				return nil, err
			}
		}
	}
	if j, ok := index(colServices); ok {
		services, err := columnAs[*array.List](rec, j)
		if err != nil {
			return nil, err
		}
		if err := readServices(services, out); err != nil {
			return nil, err
		}
	}
	for _, c := range mapColumns {
		if j, ok := index(c.name); ok {
			m, err := columnAs[*array.Map](rec, j)
			if err != nil {
				return nil, err
			}
			if err := readMaps(m, out, c); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range floatColumns {
		if j, ok := index(c.name); ok {
			f, err := columnAs[*array.Float64](rec, j)
			if err != nil {
				return nil, err
			}
			for i := range out {
				*c.ref(&out[i]) = f.Value(i)
			}
		}
	}
	if j, ok := index(colPVs); ok {
		pvs, err := columnAs[*array.List](rec, j)
		if err != nil {
			return nil, err
		}
		if err := readPVs(pvs, out); err != nil {
			return nil, err
		}
	}
	if j, ok := index(colLBs); ok {
		lbs, err := columnAs[*array.List](rec, j)
		if err != nil {
			return nil, err
		}
		if err := readLBs(lbs, out); err != nil {
			return nil, err
		}
	}
	if j, ok := index(colPriceSrc); ok {
		if err := readStrings(rec, j, out, func(a *allocation.Allocation) *string { return &a.PriceSource }); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// readStrings sets a string field of every row from column j, a plain string
// column or a dictionary of strings (whose values are then looked up once
// each, not once per row).
func readStrings(rec arrow.RecordBatch, j int, out []allocation.Allocation, ref func(*allocation.Allocation) *string) error {
	switch col := rec.Column(j).(type) {
	case *array.String:
		for i := range out {
			*ref(&out[i]) = col.Value(i)
		}
		return nil
	case *array.Dictionary:
		dict, ok := col.Dictionary().(*array.String)
		if !ok {
			return fmt.Errorf("column %s: dictionary of %s", rec.Schema().Field(j).Name, col.Dictionary().DataType())
		}
		values := make([]string, dict.Len())
		for k := range values {
			values[k] = dict.Value(k)
		}
		for i := range out {
			k := col.GetValueIndex(i)
			if k < 0 || k >= len(values) {
				return fmt.Errorf("column %s: dictionary index %d out of range", rec.Schema().Field(j).Name, k)
			}
			*ref(&out[i]) = values[k]
		}
		return nil
	}
	return fmt.Errorf("column %s has type %s", rec.Schema().Field(j).Name, rec.Column(j).DataType())
}

// requiredColumn returns the column called name as T, or an error when the
// batch lacks it.
func requiredColumn[T arrow.Array](rec arrow.RecordBatch, index func(string) (int, bool), name string) (T, error) {
	j, ok := index(name)
	if !ok {
		var zero T
		return zero, fmt.Errorf("no column %s", name)
	}
	return columnAs[T](rec, j)
}

func readServices(l *array.List, out []allocation.Allocation) error {
	vals, ok := l.ListValues().(*array.String)
	if !ok {
		return fmt.Errorf("column %s: values are %s", colServices, l.ListValues().DataType())
	}
	for i := range out {
		if l.IsNull(i) {
			continue
		}
		lo, hi := l.ValueOffsets(i)
		s := make([]string, 0, hi-lo)
		for j := lo; j < hi; j++ {
			s = append(s, vals.Value(int(j)))
		}
		out[i].Properties.Services = s
	}
	return nil
}

func readMaps(m *array.Map, out []allocation.Allocation, c mapColumn) error {
	keys, ok1 := m.Keys().(*array.String)
	items, ok2 := m.Items().(*array.String)
	if !ok1 || !ok2 {
		return fmt.Errorf("column %s: not a string map", c.name)
	}
	// Rows sorted by name come pod by pod, so neighbours often carry the same
	// labels (a pod's containers) or namespace labels: such rows share the
	// map already built instead of each building its own, which was most of
	// the decoding's allocations.
	var prev map[string]string
	var plo, phi int64
	for i := range out {
		if m.IsNull(i) {
			continue
		}
		lo, hi := m.ValueOffsets(i)
		if prev != nil && sameEntries(keys, items, plo, phi, lo, hi) {
			*c.ref(&out[i]) = prev
			continue
		}
		mm := make(map[string]string, hi-lo)
		for j := lo; j < hi; j++ {
			mm[keys.Value(int(j))] = items.Value(int(j))
		}
		*c.ref(&out[i]) = mm
		prev, plo, phi = mm, lo, hi
	}
	return nil
}

// sameEntries reports whether map entries [alo, ahi) and [blo, bhi) of one
// map column are equal, in order.
func sameEntries(keys, items *array.String, alo, ahi, blo, bhi int64) bool {
	if ahi-alo != bhi-blo {
		return false
	}
	for d := int64(0); d < ahi-alo; d++ {
		a, b := int(alo+d), int(blo+d)
		if keys.Value(a) != keys.Value(b) || items.Value(a) != items.Value(b) {
			return false
		}
	}
	return true
}

// structFields returns the children of a list-of-struct column with the types
// the schema promises.
func structFields(l *array.List, name string) (*array.Struct, error) {
	s, ok := l.ListValues().(*array.Struct)
	if !ok {
		return nil, fmt.Errorf("column %s: values are %s", name, l.ListValues().DataType())
	}
	return s, nil
}

func fieldAs[T arrow.Array](s *array.Struct, i int, name string) (T, error) {
	f, ok := s.Field(i).(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("column %s field %d has type %s", name, i, s.Field(i).DataType())
	}
	return f, nil
}

func readPVs(l *array.List, out []allocation.Allocation) error {
	s, err := structFields(l, colPVs)
	if err != nil {
		return err
	}
	key, err1 := fieldAs[*array.String](s, 0, colPVs)
	bh, err2 := fieldAs[*array.Float64](s, 1, colPVs)
	cost, err3 := fieldAs[*array.Float64](s, 2, colPVs)
	pid, err4 := fieldAs[*array.String](s, 3, colPVs)
	adj, err5 := fieldAs[*array.Float64](s, 4, colPVs)
	if err := firstErr(err1, err2, err3, err4, err5); err != nil {
		return err
	}
	for i := range out {
		if l.IsNull(i) {
			continue
		}
		lo, hi := l.ValueOffsets(i)
		pvs := make([]allocation.PVAllocation, 0, hi-lo)
		for j := int(lo); j < int(hi); j++ {
			pvs = append(pvs, allocation.PVAllocation{Key: key.Value(j), ByteHours: bh.Value(j), Cost: cost.Value(j), ProviderID: pid.Value(j), Adjustment: adj.Value(j)})
		}
		out[i].PVs = pvs
	}
	return nil
}

func readLBs(l *array.List, out []allocation.Allocation) error {
	s, err := structFields(l, colLBs)
	if err != nil {
		return err
	}
	key, err1 := fieldAs[*array.String](s, 0, colLBs)
	svc, err2 := fieldAs[*array.String](s, 1, colLBs)
	cost, err3 := fieldAs[*array.Float64](s, 2, colLBs)
	priv, err4 := fieldAs[*array.Boolean](s, 3, colLBs)
	ip, err5 := fieldAs[*array.String](s, 4, colLBs)
	hours, err6 := fieldAs[*array.Float64](s, 5, colLBs)
	adj, err7 := fieldAs[*array.Float64](s, 6, colLBs)
	if err := firstErr(err1, err2, err3, err4, err5, err6, err7); err != nil {
		return err
	}
	for i := range out {
		if l.IsNull(i) {
			continue
		}
		lo, hi := l.ValueOffsets(i)
		lbs := make([]allocation.LBAllocation, 0, hi-lo)
		for j := int(lo); j < int(hi); j++ {
			lbs = append(lbs, allocation.LBAllocation{Key: key.Value(j), Service: svc.Value(j), Cost: cost.Value(j), Private: priv.Value(j), IP: ip.Value(j), Hours: hours.Value(j), Adjustment: adj.Value(j)})
		}
		out[i].LoadBalancers = lbs
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
