package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/store"
)

// Source reads committed blocks. *store.Store implements it.
type Source interface {
	ReadIndex(ctx context.Context, cluster string, res store.Resolution) (store.Index, error)
	// ScanBlock verifies the block of an index entry and hands its rows to fn
	// in batches.
	ScanBlock(ctx context.Context, cluster string, res store.Resolution, e store.IndexEntry, opts store.ScanOptions, fn func([]allocation.Allocation) error) (store.BlockMeta, error)
	// AggregateBlock verifies the block of an index entry and sums its rows
	// by g's output rows, column by column.
	AggregateBlock(ctx context.Context, cluster string, res store.Resolution, e store.IndexEntry, opts store.ScanOptions, g *allocation.Grouper) (allocation.Set, error)
}

// Query is one cost question: a window, how to split or sum it over time, and
// what to ask of each set (aggregation, filter, idle, sharing).
type Query struct {
	Window allocation.Window
	// Step splits the window into sets of this length (a whole number of
	// hours); zero answers with one set for the whole window.
	Step time.Duration
	// Accumulate, when not AccumulateNone, sums the window into calendar
	// periods (or into one set with AccumulateAll) and Step is ignored.
	Accumulate allocation.Accumulation
	Options    allocation.AggregateOptions
}

// Answer is the sets that answer a query, one per step or period, and what
// the caller should know about them.
type Answer struct {
	Sets []allocation.Set
	// Warnings say which parts of the window have no data, which blocks could
	// not be read, which clusters are stale, and how the window was rounded.
	Warnings []string
}

// EngineOptions configure an Engine. Zero values take the defaults.
type EngineOptions struct {
	// Cluster is the prefix read: store.CombinedID (default) or one cluster.
	Cluster string
	// CacheBytes bounds the cache of per-block answers (approximately); 0
	// caches nothing. An entry is one block aggregated for one set of
	// options, so it holds an answer's rows, not a block's.
	CacheBytes int64
	// Concurrency bounds the blocks read and aggregated at once per query
	// (default GOMAXPROCS).
	Concurrency int
	// ScanBatchRows is how many rows of a block are decoded at a time
	// (default 16,384). Memory per block being read is the object plus one
	// batch, and for options that need the whole set (sharing, idle scaled
	// to a filter) every row.
	ScanBatchRows int
	// StaleClusters, when set, lists the clusters whose data is stale; their
	// names go into the answer's warnings.
	StaleClusters func(ctx context.Context) ([]string, error)
	Logger        *slog.Logger
	Registerer    prometheus.Registerer

	// rowPath makes decomposable questions decode rows and aggregate them
	// batch by batch, as before the columnar path: for tests comparing the
	// two.
	rowPath bool
}

// Engine answers queries from committed blocks. It is safe for concurrent use.
type Engine struct {
	src Source
	// buffers lends the columnar path's Arrow buffers from batch to batch.
	buffers *store.BufferPool
	opts    EngineOptions
	logger  *slog.Logger
	cache   *blockCache
	metrics engineMetrics
}

type engineMetrics struct {
	hits, misses prometheus.Counter
	readErrors   prometheus.Counter
}

// NewEngine returns an Engine reading blocks from src.
func NewEngine(src Source, opts EngineOptions) (*Engine, error) {
	if src == nil {
		return nil, errors.New("new engine: no source")
	}
	if opts.Cluster == "" {
		opts.Cluster = store.CombinedID
	}
	if err := store.ValidateClusterID(opts.Cluster); err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = runtime.GOMAXPROCS(0)
	}
	if opts.ScanBatchRows <= 0 {
		opts.ScanBatchRows = defaultScanBatchRows
	}
	e := &Engine{src: src, opts: opts, logger: opts.Logger, cache: newBlockCache(opts.CacheBytes),
		buffers: store.NewBufferPool(columnBufferBytes)}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(opts.Registerer)
	e.metrics = engineMetrics{
		hits:       f.NewCounter(prometheus.CounterOpts{Name: "costfed_api_block_cache_hits_total", Help: "Per-block answers taken from the cache."}),
		misses:     f.NewCounter(prometheus.CounterOpts{Name: "costfed_api_block_cache_misses_total", Help: "Per-block answers computed from a block read from the store."}),
		readErrors: f.NewCounter(prometheus.CounterOpts{Name: "costfed_api_block_read_errors_total", Help: "Blocks (or indexes) that could not be read and were left out of an answer."}),
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "costfed_api_block_cache_bytes", Help: "Approximate memory held by the cache of per-block answers."},
		func() float64 { b, _ := e.cache.stats(); return float64(b) })
	return e, nil
}

// Cluster is the prefix the engine reads.
func (e *Engine) Cluster() string { return e.opts.Cluster }

// Answer answers q: it plans the blocks that cover the window (1d blocks for
// whole days, 1h blocks elsewhere), aggregates each, and sums them per step or
// period. Parts of the window without data, unreadable blocks and stale
// clusters are reported as warnings, not errors.
func (e *Engine) Answer(ctx context.Context, q Query) (Answer, error) {
	if err := validateQuery(q); err != nil {
		return Answer{}, err
	}
	daily, hourly, indexWarns, err := e.readIndexes(ctx)
	if err != nil {
		return Answer{}, err
	}
	var ans Answer
	w := hourWindow(q.Window)
	switch {
	case q.Window.Duration() < time.Hour:
		w = subHourWindow(q.Window, hourly, &ans)
	case w != q.Window:
		ans.warnf("window %s was widened to whole hours, %s, the blocks' resolution", spanOf(q.Window), spanOf(w))
	}
	ans.Warnings = append(ans.Warnings, indexWarns...)
	plan := planBlocks(w, daily, hourly, dayUsableFor(w, q.Step, q.Accumulate))
	if err := finestStepError(plan.dailyOnly, q); err != nil {
		// Never an empty answer where data exists: say which step would
		// read it.
		return Answer{}, err
	}
	acc, err := newAccumulator(w, q)
	if err != nil {
		return Answer{}, fmt.Errorf("answer: %w", err)
	}
	unread, err := e.aggregateBlocks(ctx, plan.blocks, q.Options, acc)
	if err != nil {
		return Answer{}, err
	}
	ans.Warnings = append(ans.Warnings, unread...)
	ans.warnMissing(plan.missing)
	ans.warnIncomplete(plan.blocks)
	e.warnStale(ctx, &ans)
	ans.Sets = acc.Sets()
	return ans, nil
}

// finestStepError is the 400 for a query whose step (or accumulate=hour)
// splits days that are kept only as 1d blocks.
func finestStepError(dailyOnly []allocation.Window, q Query) error {
	if len(dailyOnly) == 0 {
		return nil
	}
	span := spanOf(dailyOnly[0])
	if n := len(dailyOnly); n > 1 {
		span = fmt.Sprintf("%s (and %d more days up to %s)", span, n-1, dailyOnly[n-1].End.UTC().Format(time.RFC3339))
	}
	param, what := "step", q.Step.String()
	if q.Accumulate == allocation.AccumulateHour {
		param, what = "accumulate", "hour"
	}
	return paramErr(param, "%s splits days whose hourly blocks are gone (past hourly retention) though their daily blocks exist: %s. "+
		"The finest step there is 1d: use step=1d (or accumulate=day), or a window inside the hourly retention", what, span)
}

// maxWindow bounds a query's window (ten years), so one request cannot plan
// millions of hours.
const maxWindow = 3660 * day

// validateQuery checks what the engine relies on; errors name the parameter.
func validateQuery(q Query) error {
	if !q.Window.End.After(q.Window.Start) {
		return &ParamError{Param: "window", Err: fmt.Errorf("%s: end is not after start", q.Window)}
	}
	if d := q.Window.Duration(); d > maxWindow {
		return &ParamError{Param: "window", Err: fmt.Errorf("%s is longer than %d days", spanOf(q.Window), maxWindow/day)}
	}
	if q.Step < 0 || q.Step%time.Hour != 0 {
		return &ParamError{Param: "step", Err: fmt.Errorf("%s is not a whole number of hours (blocks are hourly at finest)", q.Step)}
	}
	if err := q.Options.Validate(); err != nil {
		return &ParamError{Param: paramOf(err), Err: err}
	}
	return nil
}

// paramOf guesses the parameter an allocation error is about from its
// prefix ("shareCost: …").
func paramOf(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, ':'); i > 0 && !strings.ContainsAny(msg[:i], " \n") {
		return msg[:i]
	}
	return "query"
}

// readIndexes reads the daily and hourly indexes' entries. An index that
// exists but cannot be decoded (*store.IndexError) does not fail the query:
// it reads as empty, so the answer comes from the other resolution, with a
// warning naming the index, and what only it covered becomes "no data". Any
// other error reading an index (the store unreachable) fails the query.
func (e *Engine) readIndexes(ctx context.Context) (daily, hourly []store.IndexEntry, warns []string, err error) {
	var blocks [2][]store.IndexEntry
	for i, res := range []store.Resolution{store.Daily, store.Hourly} {
		ix, err := e.src.ReadIndex(ctx, e.opts.Cluster, res)
		var ie *store.IndexError
		switch {
		case errors.As(err, &ie):
			e.metrics.readErrors.Inc()
			e.logger.Warn("index unreadable; answering from the other resolution", "cluster", e.opts.Cluster, "resolution", string(res), "err", err)
			other := store.Hourly
			if res == store.Hourly {
				other = store.Daily
			}
			warns = append(warns, fmt.Sprintf("the %s index %s could not be read (%v); answering from %s blocks only", res, ie.Key, ie.Err, other))
		case err != nil:
			return nil, nil, nil, fmt.Errorf("answer: %w", err)
		default:
			blocks[i] = ix.Blocks
		}
	}
	return blocks[0], blocks[1], warns, nil
}

// subHourWindow is the one whole hour that answers a window shorter than an
// hour, the blocks' resolution (OpenCost likewise rounds a window to its
// resolution): the hour holding the larger part of the window (on a tie the
// later one), or, when that hour has no block yet (the current hour before
// the agent's first build of it) and the other hour the window touches has
// one, that other hour. The answer says which hour it is.
func subHourWindow(w allocation.Window, hourly []store.IndexEntry, ans *Answer) allocation.Window {
	hourOf := func(t time.Time) allocation.Window {
		h := t.Truncate(time.Hour)
		return allocation.Window{Start: h, End: h.Add(time.Hour)}
	}
	first, last := hourOf(w.Start), hourOf(w.End.Add(-time.Nanosecond))
	if first == last {
		ans.warnf("window %s is shorter than an hour, the blocks' resolution; answered from the hour that contains it, %s", spanOf(w), spanOf(first))
		return first
	}
	hasBlock := func(h allocation.Window) bool {
		for _, e := range hourly {
			if e.Start == h.Start.Unix() && e.End == h.End.Unix() {
				return true
			}
		}
		return false
	}
	pick, other := last, first
	if last.Start.Sub(w.Start) > w.End.Sub(last.Start) {
		pick, other = first, last
	}
	if !hasBlock(pick) && hasBlock(other) {
		ans.warnf("window %s is shorter than an hour, the blocks' resolution; answered from the hour %s (the hour %s, which holds more of it, has no block yet)", spanOf(w), spanOf(other), spanOf(pick))
		return other
	}
	ans.warnf("window %s is shorter than an hour, the blocks' resolution; answered from the hour that holds most of it, %s", spanOf(w), spanOf(pick))
	return pick
}

// aggregateBlocks reads and aggregates every planned block, Concurrency at a
// time, and sums the answers into acc in plan (window) order as they come,
// so the sums are taken in one order whatever finishes first, and memory
// holds the running sums and the few answers waiting for an earlier block,
// not every block's answer. Blocks that fail verification are left out with
// a warning; any other error fails the query.
func (e *Engine) aggregateBlocks(ctx context.Context, blocks []plannedBlock, opts allocation.AggregateOptions, acc *allocation.Accumulator) ([]string, error) {
	sets := make([]allocation.Set, len(blocks))
	warns := make([]string, len(blocks))
	done := make([]bool, len(blocks))
	var (
		mu      sync.Mutex
		next    int // the first block not yet summed
		foldErr error
	)
	// ahead bounds the blocks read but not yet summed: a slow block holds
	// back at most this many answers behind it.
	ahead := make(chan struct{}, 2*e.opts.Concurrency)
	fold := func() {
		for next < len(blocks) && done[next] {
			if warns[next] == "" && foldErr == nil {
				foldErr = acc.Add(sets[next])
			}
			sets[next] = allocation.Set{}
			next++
			<-ahead
		}
	}
	optsKey := opts.Key()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.Concurrency)
launch:
	for i, b := range blocks {
		select {
		case ahead <- struct{}{}:
		case <-gctx.Done():
			break launch
		}
		g.Go(func() error {
			set, warn, err := e.aggregateBlock(gctx, b, opts, optsKey)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			sets[i], warns[i], done[i] = set, warn, true
			fold()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if foldErr != nil {
		return nil, fmt.Errorf("answer: %w", foldErr)
	}
	var unread []string
	for _, w := range warns {
		if w != "" {
			unread = append(unread, w)
		}
	}
	return unread, nil
}

func (e *Engine) aggregateBlock(ctx context.Context, b plannedBlock, opts allocation.AggregateOptions, optsKey string) (allocation.Set, string, error) {
	set, err := e.blockAnswer(ctx, b, opts, optsKey)
	var be *store.BlockError
	var ae *aggregateError
	switch {
	case errors.As(err, &be):
		e.metrics.readErrors.Inc()
		e.logger.Warn("block left out of answer", "cluster", e.opts.Cluster, "resolution", string(b.res), "window", b.entry.Window().String(), "err", err)
		return allocation.Set{}, fmt.Sprintf("block %s could not be read (%v); its window is missing from the answer", spanOf(b.entry.Window()), be.Reason), nil
	case errors.As(err, &ae):
		return allocation.Set{}, "", &ParamError{Param: paramOf(ae.err), Err: ae.err}
	case err != nil:
		return allocation.Set{}, "", fmt.Errorf("read block %s/%s %s: %w", e.opts.Cluster, b.res, b.entry.Window(), err)
	}
	return set, "", nil
}

// aggregateError marks an error of Aggregate, as opposed to one of reading.
type aggregateError struct{ err error }

func (e *aggregateError) Error() string { return e.err.Error() }

// blockAnswer returns one block aggregated by opts, from the cache when the
// block's content hash is known. The cache keys on content and options, so an
// entry never goes stale; an entry whose replacement is pending may hold
// either content, so its answer is computed but not cached. Cached answers
// are shared: callers must not modify them (allocation's set operations never
// write to their inputs).
func (e *Engine) blockAnswer(ctx context.Context, b plannedBlock, opts allocation.AggregateOptions, optsKey string) (allocation.Set, error) {
	w := b.entry.Window()
	compute := func(ctx context.Context) ([]allocation.Allocation, error) {
		set, err := e.aggregateFromStore(ctx, b, opts)
		return set.Allocations, err
	}
	if b.entry.PendingSHA256 != "" || b.entry.SHA256 == "" {
		e.metrics.misses.Inc()
		rows, err := compute(ctx)
		return allocation.Set{Window: w, Allocations: rows}, err
	}
	rows, hit, err := e.cache.get(ctx, b.entry.SHA256+"\x00"+optsKey, compute)
	if hit {
		e.metrics.hits.Inc()
	} else {
		e.metrics.misses.Inc()
	}
	return allocation.Set{Window: w, Allocations: rows}, err
}

// detachStrings gives every string of the rows its own memory. Maps, label
// sets and lists are rebuilt rather than written to: rows may share them.
func detachStrings(rows []allocation.Allocation) {
	for i := range rows {
		a := &rows[i]
		a.Name = strings.Clone(a.Name)
		a.PriceSource = strings.Clone(a.PriceSource)
		p := &a.Properties
		for _, s := range []*string{&p.Cluster, &p.Node, &p.Namespace, &p.Pod, &p.Container, &p.Controller, &p.ControllerKind, &p.ProviderID} {
			*s = strings.Clone(*s)
		}
		if p.Services != nil {
			services := make([]string, len(p.Services))
			for j, s := range p.Services {
				services[j] = strings.Clone(s)
			}
			p.Services = services
		}
		p.Labels, p.Annotations = cloneMap(p.Labels), cloneMap(p.Annotations)
		p.NamespaceLabels, p.NamespaceAnnotations = cloneMap(p.NamespaceLabels), cloneMap(p.NamespaceAnnotations)
		if a.PVs != nil {
			pvs := make([]allocation.PVAllocation, len(a.PVs))
			for j, pv := range a.PVs {
				pv.Key, pv.ProviderID = strings.Clone(pv.Key), strings.Clone(pv.ProviderID)
				pvs[j] = pv
			}
			a.PVs = pvs
		}
		if a.LoadBalancers != nil {
			lbs := make([]allocation.LBAllocation, len(a.LoadBalancers))
			for j, lb := range a.LoadBalancers {
				lb.Key, lb.Service, lb.IP = strings.Clone(lb.Key), strings.Clone(lb.Service), strings.Clone(lb.IP)
				lbs[j] = lb
			}
			a.LoadBalancers = lbs
		}
	}
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.Clone(k)] = strings.Clone(v)
	}
	return out
}

// requiredColumns maps the columns of the filter's required plain-string
// fields to their values (see allocation.Filter.RequiredValues).
func requiredColumns(f allocation.Filter) map[string][]string {
	var out map[string][]string
	for field := allocation.FieldCluster; field <= allocation.FieldNamespaceAnnotation; field++ {
		col, ok := store.FilterColumn(field)
		if !ok {
			continue
		}
		if vals, ok := f.RequiredValues(field); ok {
			if out == nil {
				out = map[string][]string{}
			}
			out[col] = vals
		}
	}
	return out
}

// columnBufferBytes bounds the free Arrow buffers kept between batches:
// about what two blocks read at once use.
const columnBufferBytes = 32 << 20

// defaultScanBatchRows is EngineOptions.ScanBatchRows's default: a quarter
// of a row group, a few MB of decoded rows.
const defaultScanBatchRows = 16 * 1024

// aggregateFromStore reads a block and aggregates it. With decomposable
// options each batch of rows is aggregated as it is decoded and the batch
// dropped, so memory holds partial answers, not rows; options that share
// costs or scale idle to a filter need every row first.
func (e *Engine) aggregateFromStore(ctx context.Context, b plannedBlock, opts allocation.AggregateOptions) (allocation.Set, error) {
	w := b.entry.Window()
	scan := store.ScanOptions{BatchRows: e.opts.ScanBatchRows}
	if !opts.UsesPodMetadata() {
		// The dearest columns to decode, and this answer does not show them.
		scan.Omit = []string{store.ColumnLabels, store.ColumnAnnotations}
	}
	if opts.Decomposable() {
		// Rows the filter drops add nothing here (no idle is scaled to it,
		// nothing is shared), so row groups whose statistics rule out the
		// filter's required values need not be read.
		scan.Require = requiredColumns(opts.Filter)
		if !e.opts.rowPath {
			scan.Buffers = e.buffers
			g, err := allocation.NewGrouper(opts)
			if err != nil {
				return allocation.Set{}, &aggregateError{err}
			}
			set, err := e.src.AggregateBlock(ctx, e.opts.Cluster, b.res, b.entry, scan, g)
			set.Window = w
			return set, err
		}
		// Aggregate never keeps its input rows (its answer shares no memory
		// with them), so one batch buffer serves the whole scan.
		scan.ReuseBatch = true
		var parts []allocation.Set
		_, err := e.src.ScanBlock(ctx, e.opts.Cluster, b.res, b.entry, scan, func(rows []allocation.Allocation) error {
			part, err := allocation.NewSet(w, rows...).Aggregate(opts)
			if err != nil {
				return &aggregateError{err}
			}
			parts = append(parts, part)
			return nil
		})
		switch {
		case err != nil:
			return allocation.Set{}, err
		case len(parts) == 1:
			return detached(parts[0]), nil
		}
		return detached(allocation.MergeSets(w, parts...)), nil
	}
	var rows []allocation.Allocation
	_, err := e.src.ScanBlock(ctx, e.opts.Cluster, b.res, b.entry, scan, func(batch []allocation.Allocation) error {
		rows = append(rows, batch...)
		return nil
	})
	if err != nil {
		return allocation.Set{}, err
	}
	set, err := allocation.NewSet(w, rows...).Aggregate(opts)
	if err != nil {
		return allocation.Set{}, &aggregateError{err}
	}
	return detached(set), nil
}

// detached is set with strings of its own (see detachStrings). Rows decoded
// by store.ScanBlock point into the decoded Arrow buffers (strings are read
// without copying); copied, a kept answer holds a few bytes per row instead
// of pinning whole buffers of every block the query read. The columnar path
// copies what it keeps as it goes.
func detached(set allocation.Set) allocation.Set {
	detachStrings(set.Allocations)
	return set
}

// newAccumulator sums the aggregated block sets into the answer's sets: one
// set for the window, one per step, or one per calendar period clipped to
// the window (periods without data included, as OpenCost answers).
func newAccumulator(w allocation.Window, q Query) (*allocation.Accumulator, error) {
	switch {
	case q.Accumulate == allocation.AccumulateNone && q.Step == 0:
		return allocation.NewStepAccumulator(w, w.Duration())
	case q.Accumulate == allocation.AccumulateNone:
		return allocation.NewStepAccumulator(w, q.Step)
	}
	return allocation.NewPeriodAccumulator(w, q.Accumulate)
}

func (a *Answer) warnf(format string, args ...any) {
	a.Warnings = append(a.Warnings, fmt.Sprintf(format, args...))
}

// maxListed bounds how many windows one warning lists.
const maxListed = 5

func (a *Answer) warnMissing(missing []allocation.Window) {
	if len(missing) == 0 {
		return
	}
	parts := make([]string, 0, maxListed+1)
	for i, m := range missing {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more", len(missing)-maxListed))
			break
		}
		parts = append(parts, spanOf(m))
	}
	a.warnf("no data for %s", strings.Join(parts, "; "))
}

// warnIncomplete warns about the blocks read that are not complete. A block
// that lacks a cluster's current data (the lineage records a quarantined
// input or a damaged cluster) gets a warning per cluster and reason naming
// the blocks' windows; the others are open or settling.
func (a *Answer) warnIncomplete(blocks []plannedBlock) {
	type gap struct{ cluster, reason string }
	var order []gap
	windows := map[gap][]string{}
	open := 0
	for _, b := range blocks {
		missing := false
		for _, src := range b.entry.Sources {
			if !src.Missing() {
				continue
			}
			missing = true
			g := gap{src.Cluster, "block quarantined: " + src.Reason}
			if src.Quarantined == "" {
				g.reason = "cluster damaged: " + src.Reason
			} else if src.Reason == "" {
				g.reason = "block quarantined"
			}
			kept := "its last federated costs kept"
			if src.SHA256 == "" {
				kept = "none of its costs"
			}
			if _, ok := windows[g]; !ok {
				order = append(order, g)
			}
			windows[g] = append(windows[g], fmt.Sprintf("%s block %s (%s)", b.res, spanOf(b.entry.Window()), kept))
		}
		if !missing && !b.entry.Complete {
			open++
		}
	}
	for _, g := range order {
		ws := windows[g]
		if len(ws) > maxListed {
			ws = append(ws[:maxListed:maxListed], fmt.Sprintf("and %d more", len(ws)-maxListed))
		}
		a.warnf("cluster %s's current costs are missing (%s) from %s", g.cluster, g.reason, strings.Join(ws, "; "))
	}
	if open > 0 {
		a.warnf("%d of %d blocks read are not complete yet (their window is open or settling); their costs may still grow", open, len(blocks))
	}
}

func (e *Engine) warnStale(ctx context.Context, a *Answer) {
	if e.opts.StaleClusters == nil {
		return
	}
	stale, err := e.opts.StaleClusters(ctx)
	if err != nil {
		e.logger.Warn("cannot read cluster staleness; answering without it", "err", err)
		a.warnf("cluster staleness could not be read")
		return
	}
	if e.opts.Cluster != store.CombinedID {
		stale = slices.DeleteFunc(slices.Clone(stale), func(c string) bool { return c != e.opts.Cluster })
	}
	if len(stale) > 0 {
		slices.Sort(stale)
		a.warnf("stale clusters (no recent block; their latest costs are missing): %s", strings.Join(stale, ", "))
	}
}

// spanOf writes a window for people: "<start> to <end>".
func spanOf(w allocation.Window) string {
	return w.Start.UTC().Format(time.RFC3339) + " to " + w.End.UTC().Format(time.RFC3339)
}
