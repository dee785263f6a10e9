package allocation

import "errors"

// Grouper is the part of Aggregate that decides which output row an input
// row goes into, for readers that sum rows themselves (a columnar reader
// adds a block's columns straight into per-output sums, never building an
// Allocation per input row). It serves decomposable options only
// (AggregateOptions.Decomposable): with idle or costs shared, or idle scaled
// to a filter, where a row goes and what it carries depend on totals over
// every row, and only Aggregate answers.
//
// The sums must follow the summing rules of summer (see its doc), then the
// output rows are named by Name, sorted by name, and stripped of labels and
// annotations when DropsMetadata; Aggregate over the same rows then gives
// the same answer, up to float rounding.
type Grouper struct {
	q *query
}

// ErrNotDecomposable is NewGrouper's error for options whose rows cannot be
// grouped one at a time.
var ErrNotDecomposable = errors.New("aggregation needs every row before any is summed (idle or costs shared, or idle scaled to a filter)")

// NewGrouper returns a Grouper for opts, or an error when opts are invalid
// or not decomposable.
func NewGrouper(opts AggregateOptions) (*Grouper, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if !opts.Decomposable() {
		return nil, ErrNotDecomposable
	}
	return &Grouper{q: newQuery(Set{}, opts)}, nil
}

// Group returns the output row a goes into, or -1 when a leaves the answer
// (idle not asked for, or dropped by the filter). Output rows are numbered
// from 0 in the order they are first returned. Group reads a's Name and
// Properties: the label and annotation maps only when the options use pod
// metadata (AggregateOptions.UsesPodMetadata), the namespace maps only when
// ReadsNamespaceMetadata. It keeps no reference to a, so a caller may reuse
// one Allocation (and its maps) for every row.
func (g *Grouper) Group(a *Allocation) int32 {
	q := g.q
	switch q.classOf(a) {
	case rowDropped:
		return -1
	case rowIdle:
		// Idle rows are never filtered here: with a filter, decomposable
		// options do not include idle (it would be scaled to the filter).
		return q.keys.internString(q.idleKey(a))
	}
	if !q.opts.Filter.Matches(a) {
		return -1
	}
	q.keyer.buf = q.keyer.appendKey(q.keyer.buf[:0], a)
	return q.keys.intern(q.keyer.buf)
}

// Name returns the name of output row k.
func (g *Grouper) Name(k int32) string { return g.q.keys.names[k] }

// Len is the number of output rows Group has returned so far.
func (g *Grouper) Len() int { return len(g.q.keys.names) }

// DropsMetadata reports whether output rows carry no labels or annotations
// (rows summed by a key, without IncludeAggregatedMetadata, as in OpenCost).
// Namespace labels and annotations are kept either way.
func (g *Grouper) DropsMetadata() bool {
	return len(g.q.opts.By) > 0 && !g.q.opts.IncludeAggregatedMetadata
}

// ReadsNamespaceMetadata reports whether Group reads the namespace label
// and annotation maps (the filter tests them).
func (g *Grouper) ReadsNamespaceMetadata() bool {
	return g.q.opts.Filter.uses(func(f FilterField) bool { return f == FieldNamespaceLabel || f == FieldNamespaceAnnotation })
}

// ReadsServices reports whether Group reads the services list (a key or
// the filter uses it).
func (g *Grouper) ReadsServices() bool {
	for _, k := range g.q.opts.By {
		if k.Property == PropertyService {
			return true
		}
	}
	return g.q.opts.Filter.uses(func(f FilterField) bool { return f == FieldServices })
}
