package etl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/store"
)

// Computer turns one window of one cluster's metrics into allocations. The
// production implementation runs the allocation query set against a
// prom.Source and calls allocation.Compute.
type Computer interface {
	ComputeWindow(ctx context.Context, w allocation.Window) (Computed, error)
}

// Computed is a window's allocations, its assets, and what computing them
// cost.
type Computed struct {
	Rows []allocation.Allocation
	// Assets are the window's assets when HasAssets (a Computer that does not
	// compute assets leaves it false, and no asset block is written).
	Assets           []asset.Asset
	HasAssets        bool
	Queries          int
	SamplesProcessed int64
	Warnings         []string
}

// Builder builds planned windows and commits them, one commit per window so
// that a run cut short leaves every finished window committed and a rerun
// does only what is left. A window's allocation block is committed first,
// then its asset block (same pass, same queries); the window is complete
// when both are.
//
// A daily window whose 24 hourly blocks are committed and complete, in both
// pipelines, is summed from them (allocation.MergeSets, the summing rules;
// asset.Sum) instead of queried: no
// queries, and the memory of one day's rows rather than a day of samples.
// Otherwise (hourly blocks off, an hour missing, incomplete or unreadable, or
// BuildOptions.FromSource) it is queried. The block's metadata says which
// (store.BlockMeta.BuiltFrom). Build runs hourly tasks before daily ones, so
// a day whose hours are built in the same call can use them.
type Builder struct {
	Cluster          string
	ProducerVersion  string
	ProducerInstance string
	Store            *store.Store
	Computer         Computer
	// Concurrency bounds windows computed at once (default 2). Commits to one
	// resolution's index are serialised.
	Concurrency int
	Now         func() time.Time
	Logger      *slog.Logger
	Metrics     *Metrics
}

// BuildOptions change how Build commits.
type BuildOptions struct {
	// Force lets an empty result replace a committed block that has data.
	Force bool
	// DryRun computes and reports without committing.
	DryRun bool
	// FromSource queries the source for daily windows too, even where the
	// day's 24 hourly blocks are committed and complete (see Builder).
	FromSource bool
	// SkipAssets commits allocation blocks only (--pipeline allocations).
	SkipAssets bool
}

// Result is what happened to one task.
type Result struct {
	Task     Task
	Rows     int
	Cost     float64
	Duration time.Duration
	Computed Computed
	// Before is the committed entry the build replaced or would replace.
	Before    *store.IndexEntry
	Committed bool
	Err       error
	// Stage is where Err happened: StageQuery or StageCommit.
	Stage Stage
	// BuiltFrom is how the rows were computed: store.BuiltFromSource or
	// store.BuiltFromHourly.
	BuiltFrom string
}

// Stage names a step of a build.
type Stage string

// Stages.
const (
	StageQuery  Stage = "query"
	StageCommit Stage = "commit"
)

// Build runs tasks, calling progress (if not nil) after each, in completion
// order, from one goroutine at a time. It returns the results in task order
// and the joined errors.
func (b *Builder) Build(ctx context.Context, tasks []Task, opts BuildOptions, progress func(Result)) ([]Result, error) {
	conc := b.Concurrency
	if conc <= 0 {
		conc = 2
	}
	results := make([]Result, len(tasks))
	var commitMu, progressMu sync.Mutex
	// Hourly tasks first, then the others: a day can then be summed from
	// hours built in this same call.
	for _, daily := range []bool{false, true} {
		// A failed window does not stop the others: errors are per result.
		var g errgroup.Group
		g.SetLimit(conc)
		for i, t := range tasks {
			if (t.Resolution == store.Daily) != daily {
				continue
			}
			if ctx.Err() != nil {
				results[i] = Result{Task: t, Err: ctx.Err()}
				continue
			}
			g.Go(func() error {
				r := b.buildOne(ctx, t, opts, &commitMu)
				results[i] = r
				b.Metrics.observe(r, b.now())
				if progress != nil {
					progressMu.Lock()
					progress(r)
					progressMu.Unlock()
				}
				return nil
			})
		}
		_ = g.Wait()
	}
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

func (b *Builder) buildOne(ctx context.Context, t Task, opts BuildOptions, commitMu *sync.Mutex) Result {
	if t.AssetsOnly {
		return b.buildAssets(ctx, t, opts, commitMu)
	}
	start := b.now()
	r := Result{Task: t}
	comp, builtFrom, err := b.compute(ctx, t, opts)
	r.BuiltFrom = builtFrom
	if err != nil {
		r.Err, r.Stage = fmt.Errorf("build %s window %s: %w", t.Resolution, t.Window, err), StageQuery
		r.Duration = b.now().Sub(start)
		return r
	}
	r.Computed, r.Rows = comp, len(comp.Rows)
	for i := range comp.Rows {
		r.Cost += comp.Rows[i].TotalCost()
	}
	blk := store.Block{
		Meta: store.BlockMeta{
			Cluster: b.Cluster, Resolution: t.Resolution, Window: t.Window, Complete: t.Final,
			BuildTime: b.now().UTC().Truncate(time.Millisecond), ProducerVersion: b.ProducerVersion, ProducerInstance: b.ProducerInstance,
			BuiltFrom: builtFrom,
		},
		Rows: comp.Rows,
	}
	commitMu.Lock()
	defer commitMu.Unlock()
	ix, err := b.Store.ReadIndex(ctx, b.Cluster, t.Resolution)
	if err != nil {
		r.Err, r.Stage = fmt.Errorf("build %s window %s: %w", t.Resolution, t.Window, err), StageCommit
		return r
	}
	if e, ok := ix.Find(t.Window.Start); ok {
		r.Before = &e
	}
	if opts.DryRun {
		r.Duration = b.now().Sub(start)
		return r
	}
	_, err = b.Store.Commit(ctx, []store.Block{blk}, store.CommitOptions{AllowEmptyOverwrite: opts.Force})
	if err == nil && comp.HasAssets && !opts.SkipAssets {
		ablk := store.AssetBlock{Meta: blk.Meta, Assets: comp.Assets}
		if _, err = b.Store.CommitAssets(ctx, []store.AssetBlock{ablk}, store.CommitOptions{AllowEmptyOverwrite: opts.Force}); err != nil {
			err = fmt.Errorf("assets: %w", err)
		}
	}
	if err != nil {
		r.Err, r.Stage = fmt.Errorf("build %s window %s: %w", t.Resolution, t.Window, err), StageCommit
	} else {
		r.Committed = true
		b.logger().Debug("window built", "cluster", b.Cluster, "resolution", string(t.Resolution), "window", t.Window.String(),
			"reason", string(t.Reason), "final", t.Final, "rows", r.Rows, "queries", comp.Queries, "samples", comp.SamplesProcessed)
	}
	r.Duration = b.now().Sub(start)
	return r
}

// buildAssets builds and commits a window's asset block alone: a day from
// its committed hourly asset blocks when it can be, else from the source.
// Result.Rows and Cost are the assets'.
func (b *Builder) buildAssets(ctx context.Context, t Task, opts BuildOptions, commitMu *sync.Mutex) Result {
	start := b.now()
	r := Result{Task: t, BuiltFrom: store.BuiltFromSource}
	fail := func(stage Stage, err error) Result {
		r.Err, r.Stage, r.Duration = fmt.Errorf("build %s assets window %s: %w", t.Resolution, t.Window, err), stage, b.now().Sub(start)
		return r
	}
	var comp Computed
	ok := false
	if t.Resolution == store.Daily && !opts.FromSource {
		assets, found, err := b.dailyAssetsFromHourly(ctx, t.Window)
		if err != nil {
			b.logger().Warn("cannot sum the day's assets from its hourly blocks; querying the source", "cluster", b.Cluster, "window", t.Window.String(), "err", err)
		}
		if found && err == nil {
			comp, ok, r.BuiltFrom = Computed{Assets: assets, HasAssets: true}, true, store.BuiltFromHourly
		}
	}
	if !ok {
		var err error
		if comp, err = b.Computer.ComputeWindow(ctx, t.Window); err != nil {
			return fail(StageQuery, err)
		}
		if !comp.HasAssets {
			return fail(StageQuery, errors.New("the computer does not compute assets"))
		}
	}
	r.Computed, r.Rows = comp, len(comp.Assets)
	for i := range comp.Assets {
		r.Cost += comp.Assets[i].TotalCost()
	}
	blk := store.AssetBlock{Meta: store.BlockMeta{
		Cluster: b.Cluster, Resolution: t.Resolution, Window: t.Window, Complete: t.Final,
		BuildTime: b.now().UTC().Truncate(time.Millisecond), ProducerVersion: b.ProducerVersion, ProducerInstance: b.ProducerInstance,
		BuiltFrom: r.BuiltFrom,
	}, Assets: comp.Assets}
	commitMu.Lock()
	defer commitMu.Unlock()
	ix, err := b.Store.ReadAssetIndex(ctx, b.Cluster, t.Resolution)
	if err != nil {
		return fail(StageCommit, err)
	}
	if e, found := ix.Find(t.Window.Start); found {
		r.Before = &e
	}
	if !opts.DryRun {
		if _, err := b.Store.CommitAssets(ctx, []store.AssetBlock{blk}, store.CommitOptions{AllowEmptyOverwrite: opts.Force}); err != nil {
			return fail(StageCommit, err)
		}
		r.Committed = true
	}
	r.Duration = b.now().Sub(start)
	return r
}

// compute returns a task's rows: a daily window summed from its hourly
// blocks when it can be, else from the source.
func (b *Builder) compute(ctx context.Context, t Task, opts BuildOptions) (Computed, string, error) {
	if t.Resolution == store.Daily && !opts.FromSource {
		rows, ok, err := b.dailyFromHourly(ctx, t.Window)
		var assets []asset.Asset
		if ok && err == nil {
			assets, ok, err = b.dailyAssetsFromHourly(ctx, t.Window)
		}
		switch {
		case err != nil:
			b.logger().Warn("cannot sum the day from its hourly blocks; querying the source", "cluster", b.Cluster, "window", t.Window.String(), "err", err)
		case ok:
			return Computed{Rows: rows, Assets: assets, HasAssets: true}, store.BuiltFromHourly, nil
		}
	}
	comp, err := b.Computer.ComputeWindow(ctx, t.Window)
	return comp, store.BuiltFromSource, err
}

// dailyFromHourly sums the day's hourly blocks, one hour at a time, when all
// 24 are committed, complete and not being replaced; ok is false when they
// are not.
func (b *Builder) dailyFromHourly(ctx context.Context, day allocation.Window) (rows []allocation.Allocation, ok bool, err error) {
	ix, err := b.Store.ReadIndex(ctx, b.Cluster, store.Hourly)
	if err != nil {
		return nil, false, err
	}
	var hours []store.IndexEntry
	for h := day.Start; h.Before(day.End); h = h.Add(time.Hour) {
		e, found := ix.Find(h)
		if !found || !e.Complete || e.PendingSHA256 != "" || !e.Window().End.Equal(h.Add(time.Hour)) {
			return nil, false, nil
		}
		hours = append(hours, e)
	}
	sum := allocation.Set{Window: day}
	for _, e := range hours {
		blk, err := b.Store.ReadBlock(ctx, b.Cluster, store.Hourly, e)
		if err != nil {
			return nil, false, fmt.Errorf("hourly block %s: %w", e.Window(), err)
		}
		sum = allocation.MergeSets(day, sum, allocation.NewSet(e.Window(), blk.Rows...))
	}
	rows = sum.Allocations
	for i := range rows {
		rows[i].Window = day // a row of some hours has their union; a daily row has the day
	}
	return rows, true, nil
}

// dailyAssetsFromHourly sums the day's hourly asset blocks when all 24 are
// committed, complete and not being replaced; ok is false when they are not
// (a store written before assets existed).
func (b *Builder) dailyAssetsFromHourly(ctx context.Context, day allocation.Window) (assets []asset.Asset, ok bool, err error) {
	ix, err := b.Store.ReadAssetIndex(ctx, b.Cluster, store.Hourly)
	if err != nil {
		return nil, false, err
	}
	var hours []store.IndexEntry
	for h := day.Start; h.Before(day.End); h = h.Add(time.Hour) {
		e, found := ix.Find(h)
		if !found || !e.Complete || e.PendingSHA256 != "" || !e.Window().End.Equal(h.Add(time.Hour)) {
			return nil, false, nil
		}
		hours = append(hours, e)
	}
	sets := make([][]asset.Asset, 0, len(hours))
	for _, e := range hours {
		blk, err := b.Store.ReadAssetBlock(ctx, b.Cluster, store.Hourly, e)
		if err != nil {
			return nil, false, fmt.Errorf("hourly asset block %s: %w", e.Window(), err)
		}
		sets = append(sets, blk.Assets)
	}
	return asset.Sum(asset.Window{Start: day.Start, End: day.End}, sets...), true, nil
}

func (b *Builder) now() time.Time {
	if b.Now == nil {
		return time.Now()
	}
	return b.Now()
}

func (b *Builder) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}
