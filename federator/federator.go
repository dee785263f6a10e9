package federator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/store"
)

// Options configure a Federator.
type Options struct {
	// Allowed filters cluster ids (allow and deny lists); nil allows all.
	Allowed func(cluster string) bool
	// Cutoff ignores windows that end at or before it (zero: none).
	Cutoff time.Time
	// Retention keeps combined windows of a resolution for this long before
	// now; zero keeps them forever.
	Retention map[store.Resolution]time.Duration
	// MaxExpireShare halts a pass (HaltError, nothing written) that would
	// expire more than this fraction of a resolution's combined windows;
	// zero or Force lifts the limit.
	MaxExpireShare float64
	// Force expires whatever retention says, however large a share.
	Force bool
	// Resolutions to federate; default hourly and daily.
	Resolutions []store.Resolution
	// StaleAfter marks a cluster stale when its newest block was built longer
	// ago (default 3h).
	StaleAfter time.Duration
	// IndexConcurrency bounds parallel index reads and combined block
	// checks (default 16).
	IndexConcurrency int
	// CheckCombined is how a pass verifies the combined blocks its index
	// lists before planning: store.CheckSize (the default: one attributes
	// call per window, no download; finds missing, truncated and grown
	// blocks) or store.CheckDigest (downloads every block: the bytes of the
	// whole combined store on every pass). A window whose block fails is
	// merged again. SkipCombinedCheck trusts the index (no call at all).
	CheckCombined     store.CheckMode
	SkipCombinedCheck bool
	// Version is written as the combined blocks' producer version.
	Version string
	// Now is the clock; only retention and staleness read it.
	Now func() time.Time
	// Logger and Registerer; nil disables them.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// ProducerInstance is the producer instance written into combined blocks. It is
// the same for every federator so that two racing federators write the same
// bytes.
const ProducerInstance = "costfed-federator"

// Federator merges cluster blocks into the combined store.
type Federator struct {
	st      *store.Store
	opts    Options
	logger  *slog.Logger
	metrics *metrics

	mu   sync.Mutex
	last Report
	halt *HaltError // set by the first pass that halts; see HaltError
	// foreign are the prefixes the last pass ignored (noteForeign).
	foreign []string
	// lastExpired is Report.LastExpired, carried from pass to pass.
	lastExpired map[store.Resolution]ExpiredSpan
}

// New returns a Federator writing through st.
func New(st *store.Store, opts Options) *Federator {
	if opts.Allowed == nil {
		opts.Allowed = func(string) bool { return true }
	}
	if len(opts.Resolutions) == 0 {
		opts.Resolutions = store.Resolutions
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 3 * time.Hour
	}
	if opts.IndexConcurrency <= 0 {
		opts.IndexConcurrency = 16
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Federator{st: st, opts: opts, logger: logger, metrics: newMetrics(opts.Registerer, opts.Resolutions)}
}

// Report is what one pass did and saw.
type Report struct {
	Started  time.Time       `json:"started"`
	Duration time.Duration   `json:"durationNs"`
	Clusters []ClusterStatus `json:"clusters"`
	// Merged counts the combined windows written, per resolution;
	// MergedAssets the combined asset windows.
	Merged       map[store.Resolution]int `json:"merged"`
	MergedAssets map[store.Resolution]int `json:"mergedAssets,omitempty"`
	// Expired counts combined windows dropped by retention.
	Expired     map[store.Resolution]int `json:"expired"`
	Quarantined []Quarantined            `json:"quarantined"`
	Errors      []string                 `json:"errors,omitempty"`
	// RepairedIndexes are the combined index keys this pass found
	// unreadable and rebuilt from the combined blocks.
	RepairedIndexes []string `json:"repairedIndexes,omitempty"`
	// DamagedCombined are the combined blocks this pass found missing,
	// truncated or changed (not the content their index lists); their
	// windows are merged again in the same pass.
	DamagedCombined []Quarantined `json:"damagedCombined,omitempty"`
	// LastExpired is, per resolution, the last expiry this federator made
	// (in this pass or an earlier one since it started).
	LastExpired map[store.Resolution]ExpiredSpan `json:"lastExpired,omitempty"`
	// Ignored are the prefixes under federated/ that hold nothing costfed
	// writes (no index, no block under etl/parquet/), such as Kubecost's
	// etl/bingen tree: not clusters, so never stale or damaged.
	Ignored []string `json:"ignored,omitempty"`
	// Halted is set when the federator is halted (see HaltError): the
	// reason and how to proceed.
	Halted string `json:"halted,omitempty"`
}

// ExpiredSpan is one expiry of combined windows: when, how many, and the
// span from the oldest window's start to the newest one's end.
type ExpiredSpan struct {
	At      time.Time `json:"at"`
	Windows int       `json:"windows"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}

// ClusterStatus is one cluster as the last pass saw it.
type ClusterStatus struct {
	Cluster string `json:"cluster"`
	// NewestBuild is the newest build time among its blocks.
	NewestBuild time.Time `json:"newestBuild"`
	Stale       bool      `json:"stale"`
	// DuplicateProducers lists producer instances that alternate writing
	// this cluster id: two agents configured with the same cluster id.
	DuplicateProducers []string `json:"duplicateProducers,omitempty"`
	IndexError         string   `json:"indexError,omitempty"`
	// Damaged says, per resolution, why the cluster is damaged: its prefix
	// holds blocks but its index is missing or unreadable. Its combined rows
	// are kept and the windows without them are marked incomplete.
	Damaged []string `json:"damaged,omitempty"`
}

// Quarantined is an input block that could not be used.
type Quarantined struct {
	Cluster    string           `json:"cluster"`
	Resolution store.Resolution `json:"resolution"`
	Key        string           `json:"key"`
	Reason     string           `json:"reason"`
	cause      error            // BlockError.Reason: the short reason for the lineage
}

// short is the reason recorded in the combined lineage: the kind of fault
// ("empty object", "not a readable parquet file"), not its details.
func (q *Quarantined) short() string {
	if q == nil {
		return ""
	}
	if q.cause != nil {
		return q.cause.Error()
	}
	return "unreadable block"
}

// LastReport returns the report of the last finished pass.
func (f *Federator) LastReport() Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// RunOnce runs one federation pass: list cluster prefixes, read their indexes
// and the combined index, merge the windows whose inputs changed, drop expired
// combined windows. A pass where nothing changed reads only index objects and
// writes nothing. Errors in one window or cluster do not stop the others; they
// are collected in the report and joined into the returned error, except a
// halt (*HaltError), which ends the pass and every later one (see HaltError).
func (f *Federator) RunOnce(ctx context.Context) (Report, error) {
	start := f.opts.Now()
	if h := f.halted(); h != nil {
		// One log line and no bucket call per tick; the report stays the
		// halting pass's, which says what happened.
		f.logger.Warn("federation pass skipped: the federator is halted until it is restarted", "reason", h.Reason, "remedy", h.Remedy)
		f.metrics.skipped()
		return f.LastReport(), h
	}
	rep := Report{Started: start, Merged: map[store.Resolution]int{}, Expired: map[store.Resolution]int{}}
	list, err := f.st.ListClusters(ctx)
	if err != nil {
		return f.finish(rep, start, err)
	}
	rep.Ignored = f.noteForeign(list.Foreign)
	var clusters []string
	for _, c := range list.Clusters {
		if f.opts.Allowed(c) {
			clusters = append(clusters, c)
		}
	}
	status := map[string]*ClusterStatus{}
	for _, c := range clusters {
		status[c] = &ClusterStatus{Cluster: c}
	}
	var errs []error
	for _, res := range f.opts.Resolutions {
		err := f.passResolution(ctx, res, clusters, status, &rep)
		if h := asHalt(err); h != nil {
			errs = append(errs, h)
			f.mu.Lock()
			f.halt = h
			f.mu.Unlock()
			f.logger.Error("federator halted: later passes are skipped until it is restarted", "reason", h.Reason, "remedy", h.Remedy, "resolution", string(res), "err", h.Err)
			break
		}
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
		if err := f.passAssets(ctx, res, clusters, status, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	now := f.opts.Now()
	for _, c := range clusters {
		st := status[c]
		st.Stale = st.NewestBuild.IsZero() || now.Sub(st.NewestBuild) > f.opts.StaleAfter
		rep.Clusters = append(rep.Clusters, *st)
	}
	return f.finish(rep, start, errors.Join(errs...))
}

// noteForeign logs the prefixes under federated/ that are not costfed
// clusters (a Kubecost etl/bingen tree) once, and again only when they
// change, and returns their key prefixes for the report.
func (f *Federator) noteForeign(ids []string) []string {
	prefixes := make([]string, 0, len(ids))
	for _, id := range ids {
		prefixes = append(prefixes, store.ForeignPrefix(id))
	}
	f.mu.Lock()
	changed := !slices.Equal(f.foreign, prefixes)
	f.foreign = prefixes
	f.mu.Unlock()
	if changed && len(prefixes) > 0 {
		f.logger.Info("ignoring prefixes without a costfed index or blocks (not costfed clusters, e.g. Kubecost's etl/bingen)",
			"prefixes", strings.Join(prefixes, ","), "count", len(prefixes))
	}
	if len(prefixes) == 0 {
		return nil
	}
	return prefixes
}

// halted returns the halt of an earlier pass, if any.
func (f *Federator) halted() *HaltError {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.halt
}

func (f *Federator) finish(rep Report, start time.Time, err error) (Report, error) {
	rep.Duration = f.opts.Now().Sub(start)
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
	if h := f.halted(); h != nil {
		rep.Halted = h.Reason + ": " + h.Remedy
	}
	f.mu.Lock()
	rep.LastExpired = maps.Clone(f.lastExpired)
	f.mu.Unlock()
	f.metrics.observe(rep, err)
	f.mu.Lock()
	f.last = rep
	f.mu.Unlock()
	switch {
	case rep.Halted != "":
	case err != nil:
		f.logger.Warn("federation pass finished with errors", "duration", rep.Duration, "err", err)
	default:
		f.logger.Info("federation pass finished", "duration", rep.Duration, "clusters", len(rep.Clusters), "merged_1h", rep.Merged[store.Hourly], "merged_1d", rep.Merged[store.Daily])
	}
	return rep, err
}

func (f *Federator) passResolution(ctx context.Context, res store.Resolution, clusters []string, status map[string]*ClusterStatus, rep *Report) error {
	indexes := f.readIndexes(ctx, store.PipelineAllocations, res, clusters)
	for _, ci := range indexes {
		st := status[ci.Cluster]
		if ci.Damaged != "" {
			st.Damaged = append(st.Damaged, fmt.Sprintf("%s: %s (%d blocks under %s)", res, ci.Damaged, len(ci.Blocks), store.Prefix(ci.Cluster, res)))
		}
		if ci.Err != nil {
			st.IndexError = ci.Err.Error()
			continue
		}
		for _, e := range ci.Index.Blocks {
			if e.BuildTime.After(st.NewestBuild) {
				st.NewestBuild = e.BuildTime
			}
		}
		st.DuplicateProducers = mergeUnique(st.DuplicateProducers, duplicateProducers(ci.Index))
	}
	for _, ci := range indexes {
		if errors.Is(ci.Err, store.ErrIndexVersion) {
			return fmt.Errorf("federate %s: cluster %s: %w", res, ci.Cluster, ci.Err)
		}
	}
	combined, err := f.st.ReadIndex(ctx, store.CombinedID, res)
	repaired := false
	if repairable(err) {
		combined, err = f.repairCombined(ctx, store.PipelineAllocations, res, err, rep)
		repaired = true
	}
	if err != nil {
		return fmt.Errorf("federate %s: %w", res, err)
	}
	retainFrom := f.retainFrom(res)
	var errs []error
	var damaged map[int64]string
	if !repaired && !f.opts.SkipCombinedCheck {
		// A rebuilt index was verified block by block just now.
		var err error
		damaged, err = f.checkCombined(ctx, store.PipelineAllocations, res, combined, retainFrom, rep)
		if err != nil {
			errs = append(errs, err)
		}
	}
	plan, expired := Plan(indexes, combined, PlanOptions{Cutoff: f.opts.Cutoff, RetainFrom: retainFrom, Damaged: damaged})
	maxShare := f.opts.MaxExpireShare
	if f.opts.Force {
		maxShare = 0
	}
	n := len(combined.Blocks) // the windows the combined store will hold before expiry
	for _, wp := range plan {
		if _, ok := combined.Find(time.Unix(wp.Start, 0)); !ok {
			n++
		}
	}
	if maxShare > 0 && float64(len(expired)) > maxShare*float64(n) {
		// Checked before any merge, so the halting pass writes nothing.
		return fmt.Errorf("federate %s: retention %s (windows ending at or before %s) would expire %d of the %d combined %s windows (%.0f %%) in one pass, more than retention.max_expire_share (%.0f %%): %w",
			res, fmtRetention(f.opts.Retention[res]), retainFrom.UTC().Format(time.RFC3339), len(expired), n, res, 100*float64(len(expired))/float64(n), 100*maxShare, store.ErrExpireShare)
	}

	for _, wp := range plan {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		q, err := f.mergeWindow(ctx, res, wp, combined)
		rep.Quarantined = append(rep.Quarantined, q...)
		if h := asHalt(err); h != nil {
			return h // no further writes
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Merged[res]++
	}
	if !retainFrom.IsZero() && ctx.Err() == nil {
		// Every pass with a retention calls Expire, even when the plan found
		// nothing to drop: it also finishes deletions an interrupted pass left.
		expired, err := f.st.Expire(ctx, store.CombinedID, res, retainFrom, store.ExpireOptions{MaxShare: maxShare})
		rep.Expired[res] += len(expired)
		if len(expired) > 0 {
			f.mu.Lock()
			if f.lastExpired == nil {
				f.lastExpired = map[store.Resolution]ExpiredSpan{}
			}
			f.lastExpired[res] = ExpiredSpan{At: f.opts.Now().UTC(), Windows: len(expired),
				First: expired[0].Window().Start, Last: expired[len(expired)-1].Window().End}
			f.mu.Unlock()
			f.logger.Info("combined windows expired", "resolution", string(res), "windows", len(expired),
				"first", expired[0].Window().Start, "last", expired[len(expired)-1].Window().End, "retain_from", retainFrom.UTC())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("federate %s: %w", res, err))
		}
	}
	return errors.Join(errs...)
}

// repairable reports whether a combined index read failed because the object
// is damaged (truncated, empty, garbage), which the blocks can repair. An
// index written by a newer costfed, or too large to read, is not rebuilt: a
// rebuild would downgrade the one or write the other again.
func repairable(err error) bool {
	var ie *store.IndexError
	return errors.As(err, &ie) && !errors.Is(err, store.ErrIndexVersion) && !errors.Is(err, store.ErrIndexTooLarge)
}

// repairCombined rebuilds an unreadable combined index from the combined
// blocks (store.RepairIndex) and returns it. Blocks that fail verification
// are left out and reported as quarantined, so the plan re-merges their
// windows in this pass; intact blocks keep their lineage and are not merged
// again. The federator is the combined store's only writer, so the repair
// needs no other process stopped.
func (f *Federator) repairCombined(ctx context.Context, p store.Pipeline, res store.Resolution, readErr error, rep *Report) (store.Index, error) {
	repair, key := f.st.RepairIndex, store.IndexKey(store.CombinedID, res)
	if p == store.PipelineAssets {
		repair, key = f.st.RepairAssetIndex, store.AssetIndexKey(store.CombinedID, res)
	}
	f.logger.Warn("combined index unreadable: rebuilding it from the combined blocks", "pipeline", string(p), "resolution", string(res), "err", readErr)
	rr, err := repair(ctx, store.CombinedID, res, store.RepairOptions{})
	if err != nil {
		return store.Index{}, fmt.Errorf("combined index unreadable (%v), and rebuilding it failed: %w", readErr, err)
	}
	for _, be := range rr.SetAside {
		rep.Quarantined = append(rep.Quarantined, Quarantined{Cluster: store.CombinedID, Resolution: res, Key: be.Key, Reason: be.Error()})
		f.logger.Warn("combined block set aside while rebuilding the index; its window is merged again", "key", be.Key, "reason", be.Reason, "detail", be.Detail)
	}
	rep.RepairedIndexes = append(rep.RepairedIndexes, key)
	f.logger.Warn("combined index rebuilt from the combined blocks", "pipeline", string(p), "resolution", string(res),
		"blocks", rr.Found, "entries", len(rr.Index.Blocks), "set_aside", len(rr.SetAside))
	return rr.Index, nil
}

// checkCombined verifies the combined blocks the index lists (those
// retention keeps) with Options.CheckCombined, in parallel, and returns the
// damaged ones by window start with a short reason, reporting each in
// rep.DamagedCombined. A block that cannot be checked (a transport error)
// is not damaged; the errors are returned joined.
func (f *Federator) checkCombined(ctx context.Context, p store.Pipeline, res store.Resolution, combined store.Index, retainFrom time.Time, rep *Report) (map[int64]string, error) {
	check := f.st.CheckBlock
	if p == store.PipelineAssets {
		check = f.st.CheckAssetBlock
	}
	retain := unixOrMin(retainFrom)
	errs := make([]error, len(combined.Blocks))
	var g errgroup.Group
	g.SetLimit(f.opts.IndexConcurrency)
	for i, e := range combined.Blocks {
		if e.End <= retain {
			continue
		}
		g.Go(func() error {
			errs[i] = check(ctx, store.CombinedID, res, e, f.opts.CheckCombined)
			return nil
		})
	}
	_ = g.Wait()
	var damaged map[int64]string
	var failed []error
	for i, err := range errs {
		var be *store.BlockError
		switch {
		case err == nil:
		case errors.As(err, &be):
			if damaged == nil {
				damaged = map[int64]string{}
			}
			damaged[combined.Blocks[i].Start] = be.Reason.Error()
			rep.DamagedCombined = append(rep.DamagedCombined, Quarantined{Cluster: store.CombinedID, Resolution: res, Key: be.Key, Reason: be.Error(), cause: be.Reason})
			f.logger.Warn("combined block damaged: merging its window again", "pipeline", string(p), "resolution", string(res), "key", be.Key, "reason", be.Reason.Error(), "detail", be.Detail)
		default:
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return damaged, fmt.Errorf("federate %s: check combined blocks: %w", res, errors.Join(failed...))
	}
	return damaged, nil
}

// Reasons a cluster is damaged, recorded in the combined lineage.
const (
	DamageIndexMissing    = "index missing"
	DamageIndexUnreadable = "index unreadable"
	// DamagePreviousLost: the cluster's index did not list the window, and
	// the combined block that kept its rows was found damaged.
	DamagePreviousLost = "combined rows lost with a damaged combined block"
)

// readIndexes reads every cluster's index with bounded concurrency. A missing
// index is an empty one, unless the prefix holds blocks: then the cluster is
// damaged, as it is when its index cannot be decoded. Any other failure is
// recorded on the cluster.
func (f *Federator) readIndexes(ctx context.Context, p store.Pipeline, res store.Resolution, clusters []string) []ClusterIndex {
	read, what := f.st.ReadIndex, "index"
	if p == store.PipelineAssets {
		read, what = f.st.ReadAssetIndex, "asset index"
	}
	out := make([]ClusterIndex, len(clusters))
	var g errgroup.Group // failures are recorded per cluster, not returned
	g.SetLimit(f.opts.IndexConcurrency)
	for i, c := range clusters {
		g.Go(func() error {
			ix, err := read(ctx, c, res)
			out[i] = ClusterIndex{Cluster: c, Index: ix, Err: err}
			f.checkDamage(ctx, p, res, &out[i])
			if err != nil {
				f.logger.Warn("cluster "+what+" unreadable; keeping its combined rows", "cluster", c, "resolution", string(res), "err", err)
			}
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// checkDamage marks a cluster damaged when its index is unreadable, or
// missing while its prefix holds blocks. A failure to find out is recorded as
// the cluster's index error, so nothing of the cluster is dropped.
func (f *Federator) checkDamage(ctx context.Context, p store.Pipeline, res store.Resolution, ci *ClusterIndex) {
	list, indexExists := f.st.ListBlocks, f.st.IndexExists
	if p == store.PipelineAssets {
		list, indexExists = f.st.ListAssetBlocks, f.st.AssetIndexExists
	}
	var reason string
	var ie *store.IndexError
	switch {
	case errors.As(ci.Err, &ie) && !errors.Is(ci.Err, store.ErrIndexVersion):
		reason = DamageIndexUnreadable
	case ci.Err == nil && len(ci.Index.Blocks) == 0:
		reason = DamageIndexMissing
	default:
		return
	}
	blocks, err := list(ctx, ci.Cluster, res)
	if err == nil && len(blocks) > 0 && reason == DamageIndexMissing {
		// An index that exists and lists nothing is the cluster's word (its
		// blocks may be expired ones whose deletion was interrupted).
		var exists bool
		if exists, err = indexExists(ctx, ci.Cluster, res); err == nil && exists {
			return
		}
	}
	if err != nil {
		if ci.Err == nil {
			ci.Err = err
		}
		return
	}
	if len(blocks) == 0 {
		return
	}
	ci.Damaged, ci.Blocks = reason, blocks
	f.logger.Warn("cluster damaged: its prefix holds blocks but its index is "+strings.TrimPrefix(reason, "index ")+"; keeping its combined rows, marking windows without them incomplete",
		"pipeline", string(p), "cluster", ci.Cluster, "resolution", string(res), "blocks", len(blocks), "err", ci.Err)
}

// fmtRetention writes whole days as config does ("91d").
func fmtRetention(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func (f *Federator) retainFrom(res store.Resolution) time.Time {
	d := f.opts.Retention[res]
	if d <= 0 {
		return time.Time{}
	}
	return f.opts.Now().Add(-d)
}

// mergeWindow merges one window's inputs and commits the combined block.
// Unreadable inputs are quarantined: the rows the combined block already had
// for that cluster are kept, so a bad upload never erases a cluster's costs.
// A transport error (not a bad block) fails the window, to be retried on the
// next pass.
func (f *Federator) mergeWindow(ctx context.Context, res store.Resolution, wp WindowPlan, combined store.Index) ([]Quarantined, error) {
	w := allocation.Window{Start: time.Unix(wp.Start, 0).UTC(), End: time.Unix(wp.End, 0).UTC()}
	prev := previousBlock[allocation.Allocation]{combined: combined, start: wp.Start, read: func(ctx context.Context, e store.IndexEntry) ([]allocation.Allocation, store.BlockMeta, error) {
		b, err := f.st.ReadBlock(ctx, store.CombinedID, res, e)
		return b.Rows, b.Meta, err
	}}
	read := func(ctx context.Context, in Input) ([]allocation.Allocation, store.BlockMeta, error) {
		blk, err := f.st.ReadBlock(ctx, in.Cluster, res, in.Entry)
		if err != nil {
			return nil, store.BlockMeta{}, err
		}
		rows, err := clusterRows(in.Cluster, blk.Rows)
		return rows, blk.Meta, err
	}
	clusterOf := func(r allocation.Allocation) string { return r.Properties.Cluster }
	out := store.Block{Meta: store.BlockMeta{
		Cluster: store.CombinedID, Resolution: res, Window: w, Complete: true,
		ProducerVersion: f.opts.Version, ProducerInstance: ProducerInstance,
	}}
	var quarantined []Quarantined
	for _, in := range wp.Inputs {
		rows, src, complete, built, q, err := inputRows(ctx, f, res, in, read, &prev, clusterOf)
		if err != nil {
			return quarantined, fmt.Errorf("federate %s window %s: %w", res, w, err)
		}
		if q != nil {
			quarantined = append(quarantined, *q)
		}
		out.Rows = append(out.Rows, rows...)
		out.Meta.Sources = append(out.Meta.Sources, src)
		out.Meta.Complete = out.Meta.Complete && complete
		if built.After(out.Meta.BuildTime) {
			out.Meta.BuildTime = built
		}
	}
	if out.Meta.BuildTime.IsZero() {
		// No input with rows (all removed, quarantined or damaged).
		out.Meta.BuildTime = time.Unix(wp.End, 0).UTC()
	}
	// A damaged block's rows are gone already: an empty merge may replace it.
	_, err := f.st.Commit(ctx, []store.Block{out}, store.CommitOptions{AllowEmptyOverwrite: len(wp.Inputs) == 0 || wp.Rewrite, Rewrite: wp.Rewrite})
	if err != nil {
		return quarantined, fmt.Errorf("federate %s window %s: %w", res, w, err)
	}
	f.logger.Debug("window federated", "resolution", string(res), "window", w.String(), "reason", wp.Reason, "clusters", len(wp.Inputs), "rows", len(out.Rows))
	return quarantined, nil
}

// inputRows returns one input's rows (allocations or assets, R) for the
// combined block and the source to record for it. read reads the input's
// cluster block and checks its rows belong to the cluster; prev holds the
// window's current combined block, whose rows of the cluster (clusterOf) are
// kept when the input is quarantined, carried or damaged.
func inputRows[R any](ctx context.Context, f *Federator, res store.Resolution, in Input, read func(context.Context, Input) ([]R, store.BlockMeta, error), prev *previousBlock[R], clusterOf func(R) string) (rows []R, src store.Source, complete bool, built time.Time, q *Quarantined, err error) {
	if !in.Carried {
		blkRows, meta, err := read(ctx, in)
		if err == nil {
			return blkRows, store.Source{Cluster: in.Cluster, SHA256: in.Entry.SHA256}, meta.Complete, meta.BuildTime, nil, nil
		}
		var be *store.BlockError
		if !errors.As(err, &be) {
			return nil, store.Source{}, false, time.Time{}, nil, err
		}
		q = &Quarantined{Cluster: in.Cluster, Resolution: res, Key: be.Key, Reason: be.Error(), cause: be.Reason}
		f.logger.Warn("block quarantined; keeping the cluster's previous combined rows", "cluster", in.Cluster, "resolution", string(res), "key", be.Key, "reason", be.Reason.Error(), "err", err)
	}
	if in.Damage != "" {
		src = store.Source{Cluster: in.Cluster, Reason: in.Damage}
		if in.Previous == nil || in.Previous.SHA256 == "" {
			return nil, src, false, time.Time{}, nil, nil
		}
		src.SHA256 = in.Previous.SHA256
	}
	if in.Previous == nil {
		// Nothing to keep: the cluster contributes no rows until it uploads a
		// readable block.
		return nil, store.Source{Cluster: in.Cluster, Quarantined: in.Entry.SHA256, Reason: q.short()}, false, time.Time{}, q, nil
	}
	pbRows, pbMeta, err := prev.get(ctx)
	var lost *store.BlockError
	if errors.As(err, &lost) {
		// The combined block that held the cluster's rows is damaged too:
		// they are lost until the cluster's index lists a readable block
		// again. The window is incomplete and its lineage says why.
		f.logger.Warn("previous combined block damaged: the cluster's rows it held are lost; the window is marked incomplete",
			"cluster", in.Cluster, "resolution", string(res), "key", lost.Key, "reason", lost.Reason.Error())
		switch {
		case q != nil:
			return nil, store.Source{Cluster: in.Cluster, Quarantined: in.Entry.SHA256, Reason: q.short()}, false, time.Time{}, q, nil
		case in.Damage != "":
			return nil, store.Source{Cluster: in.Cluster, Reason: in.Damage}, false, time.Time{}, nil, nil
		}
		return nil, store.Source{Cluster: in.Cluster, Reason: DamagePreviousLost}, false, time.Time{}, nil, nil
	}
	if err != nil {
		return nil, store.Source{}, false, time.Time{}, q, fmt.Errorf("read previous combined block to keep %s's rows: %w", in.Cluster, err)
	}
	for _, r := range pbRows {
		if clusterOf(r) == in.Cluster {
			rows = append(rows, r)
		}
	}
	switch {
	case in.Damage != "":
		return rows, src, false, pbMeta.BuildTime, nil, nil
	case q != nil:
		src = *in.Previous
		src.Quarantined, src.Reason = in.Entry.SHA256, q.short()
	default:
		src = *in.Previous
	}
	return rows, src, pbMeta.Complete, pbMeta.BuildTime, q, nil
}

// clusterRows checks that a cluster block's rows belong to it and makes their
// names unique across clusters (names are "<cluster>/…" as in OpenCost).
func clusterRows(cluster string, rows []allocation.Allocation) ([]allocation.Allocation, error) {
	for i := range rows {
		r := &rows[i]
		switch r.Properties.Cluster {
		case "":
			r.Properties.Cluster = cluster
		case cluster:
		default:
			return nil, &store.BlockError{Key: cluster, Reason: store.ErrForeignBlock, Detail: fmt.Sprintf("row %q belongs to cluster %q", r.Name, r.Properties.Cluster)}
		}
		if !strings.HasPrefix(r.Name, cluster+"/") {
			r.Name = cluster + "/" + r.Name
		}
	}
	return rows, nil
}

// previousBlock lazily reads the current combined block of a window (of
// allocations or assets, R), once.
type previousBlock[R any] struct {
	read     func(context.Context, store.IndexEntry) ([]R, store.BlockMeta, error)
	combined store.Index
	start    int64
	done     bool
	rows     []R
	meta     store.BlockMeta
}

func (p *previousBlock[R]) get(ctx context.Context) ([]R, store.BlockMeta, error) {
	if p.done {
		return p.rows, p.meta, nil
	}
	e, ok := p.combined.Find(time.Unix(p.start, 0))
	if !ok {
		return nil, store.BlockMeta{}, errors.New("no combined block for the window")
	}
	rows, meta, err := p.read(ctx, e)
	if err != nil {
		return nil, store.BlockMeta{}, err
	}
	p.done, p.rows, p.meta = true, rows, meta
	return rows, meta, nil
}

// duplicateProducers returns the producer instances of an index when they
// interleave: ordered by build time, the writer changes at least three times
// among the newest 48 blocks (A, B, A, B). A pod replaced once (A then B) or a
// one-off rebuild from elsewhere (A, B, A) is not flagged.
func duplicateProducers(ix store.Index) []string {
	entries := slices.Clone(ix.Blocks)
	slices.SortFunc(entries, func(a, b store.IndexEntry) int { return a.BuildTime.Compare(b.BuildTime) })
	if len(entries) > 48 {
		entries = entries[len(entries)-48:]
	}
	changes := 0
	var names []string
	for i, e := range entries {
		if e.ProducerInstance == "" {
			continue
		}
		if !slices.Contains(names, e.ProducerInstance) {
			names = append(names, e.ProducerInstance)
		}
		if i > 0 && entries[i-1].ProducerInstance != "" && entries[i-1].ProducerInstance != e.ProducerInstance {
			changes++
		}
	}
	if changes < 3 {
		return nil
	}
	slices.Sort(names)
	return names
}

func mergeUnique(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	slices.Sort(a)
	return a
}
