package allocation

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ShareMode says whether and how a cost is shared out.
type ShareMode uint8

// Share modes.
const (
	ShareNone     ShareMode = iota // not shared
	ShareWeighted                  // in proportion to cost
	ShareEven                      // in equal parts
)

func (m ShareMode) String() string {
	switch m {
	case ShareNone:
		return "none"
	case ShareWeighted:
		return "weighted"
	case ShareEven:
		return "even"
	}
	return fmt.Sprintf("ShareMode(%d)", uint8(m))
}

// ParseShareMode accepts the API's spellings: "", "false", "none", "__none__" for
// ShareNone; "true", "weighted", "__weighted__" for ShareWeighted; "even",
// "__even__" for ShareEven. Case is ignored.
func ParseShareMode(s string) (ShareMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "none", "__none__":
		return ShareNone, nil
	case "true", "weighted", "__weighted__":
		return ShareWeighted, nil
	case "even", "__even__":
		return ShareEven, nil
	}
	return ShareNone, fmt.Errorf("share mode %q: want weighted, even or none", s)
}

// IdleOptions say what becomes of idle rows (rows named …/__idle__).
type IdleOptions struct {
	// Include keeps unshared idle in the answer as idle rows (includeIdle).
	// Without it and without Share, idle rows are dropped.
	Include bool
	// Share distributes idle into the rows it belongs to (shareIdle). Idle is
	// grouped by cluster, or by node with ByNode; within a group, each of CPU, GPU
	// and RAM is shared over the non-idle rows, weighted (coefficient = the row's
	// cost of that resource / the group's) or even (an equal part per output key,
	// split equally over that key's rows). A resource no row in the group was
	// charged for cannot be shared and stays in an idle row. Sharing implies idle
	// takes part whatever Include says. Shared idle is added to the resource's
	// cost and hours, and recorded in its CostIdle field.
	Share ShareMode
	// ByNode groups idle by node instead of by cluster (idleByNode).
	ByNode bool
	// Split keeps idle rows apart per cluster ("<cluster>/__idle__"), or per node
	// with ByNode ("<cluster>/<node>/__idle__"), instead of merging them into one
	// "__idle__" row (splitIdle). With an empty AggregateBy idle rows keep their
	// own names.
	Split bool
}

// LabelValue is a label=value pair, as in shareLabels.
type LabelValue struct {
	Name  string
	Value string
}

func (lv LabelValue) String() string { return lv.Name + "=" + lv.Value }

// ParseLabelValues parses a comma-separated list of label=value (or label:value)
// pairs such as "app=infra,team:platform".
func ParseLabelValues(s string) ([]LabelValue, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []LabelValue
	for _, part := range strings.Split(s, ",") {
		i := strings.IndexAny(part, "=:")
		if i < 0 {
			return nil, fmt.Errorf("label pair %q: want NAME=VALUE", part)
		}
		lv := LabelValue{Name: strings.TrimSpace(part[:i]), Value: strings.TrimSpace(part[i+1:])}
		if lv.Name == "" {
			return nil, fmt.Errorf("label pair %q: empty label name", part)
		}
		out = append(out, lv)
	}
	return out, nil
}

// ShareOptions say which costs are shared out over the other rows (Kubecost's
// shareNamespaces, shareLabels, shareCost and shareSplit).
//
// Rows of a shared namespace or carrying a shared label value leave the answer;
// their total cost (with any idle shared into them) plus the fixed overhead,
// CostPerHour × the set's window hours, is added to the SharedCost of the
// remaining workload rows (not idle, not unmounted). Weighted, a row receives in
// proportion to its total cost less its own shared cost; even, every output key
// receives an equal part, split equally over that key's rows. Coefficients are
// taken over all rows, before any filter, so filtering does not change what a
// row receives. When no row can receive (nothing left, or nothing costs
// anything) the amount stays in a "__shared__" row.
type ShareOptions struct {
	Namespaces []string
	Labels     []LabelValue
	// CostPerHour is at most MaxShareCostPerHour.
	CostPerHour float64
	// Split is ShareWeighted (also meant by the zero value) or ShareEven.
	Split ShareMode
}

// MaxShareCostPerHour bounds ShareOptions.CostPerHour: a trillion dollars an
// hour, times the hours of the longest window (ten years, 87,840 h) and summed
// over rows, stays far from overflowing. Larger values (1e308) made the shared
// and total costs infinite, answered as null.
const MaxShareCostPerHour = 1e12

func (o ShareOptions) active() bool {
	return len(o.Namespaces) > 0 || len(o.Labels) > 0 || o.CostPerHour != 0
}

// AggregateOptions is everything a query asks of one set.
//
// The steps run in this order, each over the rows of the whole set:
//  1. classify rows: idle, shared (namespace or label), unmounted, workload;
//  2. share idle into the non-idle rows (Idle.Share), per group;
//  3. gather the shared pool and share it into the workload rows (Share);
//  4. drop the rows the Filter does not match; unshared idle is scaled to the
//     share of its group's cost the kept rows have, per resource (a group with no
//     cost for a resource keeps its idle only when the idle row itself matches);
//  5. sum rows with one key (By) by the summing rules, idle rows into "__idle__"
//     (or per cluster or node with Idle.Split).
type AggregateOptions struct {
	By     AggregateBy
	Filter Filter
	// Labels names the labels behind the department, environment, owner, product
	// and team properties; nil means DefaultLabelConfig.
	Labels *LabelConfig
	Idle   IdleOptions
	Share  ShareOptions
	// IncludeAggregatedMetadata keeps on rows summed by a key the labels and
	// annotations all their rows share (the API's includeAggregatedMetadata).
	// Without it such rows carry none, as in OpenCost, and a query need not
	// read them. Rows of an empty By keep theirs either way.
	IncludeAggregatedMetadata bool
}

// UsesPodMetadata reports whether the answer depends on the rows' labels or
// annotations: their values key, filter or share rows, or the answer shows
// them. When it does not, a reader may leave those columns unread.
func (o AggregateOptions) UsesPodMetadata() bool {
	if len(o.By) == 0 || o.IncludeAggregatedMetadata || len(o.Share.Labels) > 0 {
		return true
	}
	for _, k := range o.By {
		switch k.Property {
		case PropertyLabel, PropertyAnnotation, PropertyDepartment, PropertyEnvironment, PropertyOwner, PropertyProduct, PropertyTeam:
			return true
		}
	}
	return o.Filter.uses(func(f FilterField) bool { return f == FieldLabel || f == FieldAnnotation })
}

// Validate reports every invalid option.
func (o AggregateOptions) Validate() error {
	var errs []error
	for _, k := range o.By {
		if k.Property < PropertyCluster || k.Property > PropertyProviderID {
			errs = append(errs, fmt.Errorf("aggregate: unknown property %v", k.Property))
		}
		if (k.Property == PropertyLabel || k.Property == PropertyAnnotation) && k.Name == "" {
			errs = append(errs, fmt.Errorf("aggregate: %v needs a name", k.Property))
		}
	}
	if o.Idle.Share > ShareEven {
		errs = append(errs, fmt.Errorf("shareIdle: unknown mode %v", o.Idle.Share))
	}
	if o.Share.Split > ShareEven {
		errs = append(errs, fmt.Errorf("shareSplit: unknown mode %v", o.Share.Split))
	}
	if c := o.Share.CostPerHour; math.IsNaN(c) || math.IsInf(c, 0) || c < 0 {
		errs = append(errs, fmt.Errorf("shareCost: %v is not a non-negative number of dollars per hour", c))
	} else if c > MaxShareCostPerHour {
		errs = append(errs, fmt.Errorf("shareCost: %v dollars per hour is more than the limit, %v", c, MaxShareCostPerHour))
	}
	for _, ns := range o.Share.Namespaces {
		if strings.TrimSpace(ns) == "" {
			errs = append(errs, errors.New("shareNamespaces: empty namespace name"))
		}
	}
	for _, lv := range o.Share.Labels {
		if strings.TrimSpace(lv.Name) == "" {
			errs = append(errs, fmt.Errorf("shareLabels: %q has an empty label name", lv.String()))
		}
	}
	return errors.Join(errs...)
}

// Key is a canonical text of the options: options with one Key give one
// answer on any set, so caches of answers key on it.
func (o AggregateOptions) Key() string {
	labels := DefaultLabelConfig()
	if o.Labels != nil {
		labels = *o.Labels
	}
	return fmt.Sprintf("by=%q filter=%q labels=%q idle=%+v shareNS=%q shareLabels=%q shareCost=%v shareSplit=%v metadata=%v",
		o.By.String(), o.Filter.String(), labels, o.Idle, o.Share.Namespaces, o.Share.Labels, o.Share.CostPerHour, o.Share.Split,
		o.IncludeAggregatedMetadata)
}

// Decomposable reports whether aggregating a set part by part and merging
// the parts with MergeSets gives the answer of aggregating it whole (up to
// float rounding): true unless idle or costs are shared, or idle is scaled to
// a filter, which all need totals over every row of the set.
func (o AggregateOptions) Decomposable() bool {
	return !(&query{opts: o}).needsPlan()
}

// Aggregate answers a query over the set: idle and shared costs distributed,
// filtered, and summed by key (see AggregateOptions for the order of the steps).
// The answer has the set's window and its rows sorted by name; the set itself is
// not modified.
func (s Set) Aggregate(opts AggregateOptions) (Set, error) {
	if err := opts.Validate(); err != nil {
		return Set{}, err
	}
	q := newQuery(s, opts)
	if q.needsPlan() {
		// Sharing and scaling need totals over every row before any row is
		// summed: two passes.
		for i := range q.rows {
			q.classify(i)
		}
		q.planIdle()
		q.planShare()
		for i := range q.rows {
			q.sum(i)
		}
	} else {
		// One pass, so each row is read from memory once.
		for i := range q.rows {
			q.classify(i)
			q.sum(i)
		}
	}
	q.addSharedRemainder()
	return Set{Window: s.Window, Allocations: q.answer()}, nil
}

// rowClass is what a row is to a query.
type rowClass uint8

const (
	rowWorkload  rowClass = iota // summed; receives idle and shared cost
	rowUnmounted                 // summed; receives nothing
	rowIdle                      // summed into idle rows, or shared out
	rowShared                    // shared out; leaves the answer
	rowDropped                   // idle not asked for
)

// query is one Aggregate call's working state. Per-row slices are indexed like
// rows; sums is indexed by output key.
type query struct {
	rows   []Allocation
	window Window
	opts   AggregateOptions
	keyer  keyer
	keys   *keyTable
	sums   []summer

	class   []rowClass
	key     []int32 // output key of every row that is not dropped
	pass    []bool  // filter verdict; nil when there is no filter
	hasIdle bool

	sharedNS map[string]bool
	idle     *idlePlan  // nil when idle needs no per-group accounting
	share    *sharePlan // nil when nothing is shared
}

func newQuery(s Set, opts AggregateOptions) *query {
	labels := opts.Labels
	if labels == nil {
		d := DefaultLabelConfig()
		labels = &d
	}
	n := len(s.Allocations)
	q := &query{
		rows:   s.Allocations,
		window: s.Window,
		opts:   opts,
		keyer:  keyer{by: opts.By, labels: labels},
		keys:   newKeyTable(),
		class:  make([]rowClass, n),
		key:    make([]int32, n),
	}
	if !opts.Filter.IsEmpty() {
		q.pass = make([]bool, n)
	}
	if len(opts.Share.Namespaces) > 0 {
		q.sharedNS = make(map[string]bool, len(opts.Share.Namespaces))
		for _, ns := range opts.Share.Namespaces {
			q.sharedNS[strings.TrimSpace(ns)] = true
		}
	}
	return q
}

// needsPlan reports whether totals over all rows are needed before summing:
// to share idle or costs, or to scale idle to a filter.
func (q *query) needsPlan() bool {
	return q.opts.Idle.Share != ShareNone || q.opts.Share.active() ||
		(q.opts.Idle.Include && !q.opts.Filter.IsEmpty())
}

// classify sorts row i into its class, and computes its output key and the
// filter's verdict.
func (q *query) classify(i int) {
	a := &q.rows[i]
	c := q.classOf(a)
	q.class[i] = c
	switch c {
	case rowDropped:
		return
	case rowIdle:
		q.hasIdle = true
		q.key[i] = q.intern(q.idleKey(a))
		return
	}
	q.keyer.buf = q.keyer.appendKey(q.keyer.buf[:0], a)
	q.key[i] = q.grow(q.keys.intern(q.keyer.buf))
	if q.pass != nil && c != rowShared {
		q.pass[i] = q.opts.Filter.Matches(a)
	}
}

// intern returns the index of an output key, adding it (and its sum) if new.
func (q *query) intern(key string) int32 { return q.grow(q.keys.internString(key)) }

// grow makes room for the sum of key k, just interned.
func (q *query) grow(k int32) int32 {
	if int(k) == len(q.sums) {
		q.sums = append(q.sums, summer{})
	}
	return k
}

func (q *query) classOf(a *Allocation) rowClass {
	switch {
	case a.IsIdle():
		if !q.opts.Idle.Include && q.opts.Idle.Share == ShareNone {
			return rowDropped
		}
		return rowIdle
	case q.isShared(a):
		return rowShared
	case a.IsUnmounted():
		return rowUnmounted
	}
	return rowWorkload
}

func (q *query) isShared(a *Allocation) bool {
	if q.sharedNS[a.Properties.Namespace] {
		return true
	}
	for _, lv := range q.opts.Share.Labels {
		if v, ok := lookupLabel(a.Properties.Labels, lv.Name); ok && v == lv.Value {
			return true
		}
	}
	return false
}

// passes reports whether row i is kept by the filter.
func (q *query) passes(i int) bool { return q.pass == nil || q.pass[i] }

// sum adds row i to its output row.
func (q *query) sum(i int) {
	a := &q.rows[i]
	switch q.class[i] {
	case rowWorkload:
		if q.passes(i) {
			s := &q.sums[q.key[i]]
			s.add(a)
			q.addShares(&s.out, i)
		}
	case rowUnmounted:
		if q.passes(i) {
			q.sums[q.key[i]].add(a)
		}
	case rowIdle:
		q.addIdle(i)
	}
}

// answer is the summed rows, sorted by name.
func (q *query) answer() []Allocation {
	out := make([]Allocation, 0, len(q.sums))
	dropMetadata := len(q.opts.By) > 0 && !q.opts.IncludeAggregatedMetadata
	for k := range q.sums {
		if q.sums[k].n > 0 {
			a := q.sums[k].finish(q.keys.names[k])
			if dropMetadata {
				a.Properties.Labels, a.Properties.Annotations = nil, nil
			}
			out = append(out, a)
		}
	}
	sortByName(out)
	return out
}

// addShares adds to out (the sum row i went into) the idle and shared cost row i
// receives.
func (q *query) addShares(out *Allocation, i int) {
	if q.idle != nil && q.opts.Idle.Share != ShareNone {
		cost, hours := q.idle.shareOf(q, i)
		addIdleShare(out, cost, hours)
	}
	if q.share != nil {
		out.SharedCost += q.share.portion(q, i)
	}
}
