package federator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/store"
)

// passAssets federates one resolution's asset blocks, after its allocation
// blocks in the same pass, with the same plan (Plan over the asset
// indexes) and the same merge of each input (inputRows): a combined asset
// window is merged when its (cluster, digest) inputs changed. An unreadable
// cluster asset block is quarantined and the cluster's previous combined
// assets are kept, as for allocations. A cluster whose asset prefix holds
// blocks but whose asset index is missing or unreadable is damaged, as for
// allocations (checkDamage): its combined assets are kept, the windows
// without them are marked incomplete with the reason in the lineage, and
// status names it. A cluster without an asset index or asset blocks (a
// store written before assets) simply has no assets. Combined asset windows
// past retention are expired with the allocation windows' horizon (the
// share bound is the allocation pass's: it ran first and would have
// halted). The combined asset blocks are checked like the allocation ones
// (checkCombined) and a damaged one's window merged again; an unreadable
// combined asset index is rebuilt from the combined asset blocks
// (repairCombined).
func (f *Federator) passAssets(ctx context.Context, res store.Resolution, clusters []string, status map[string]*ClusterStatus, rep *Report) error {
	indexes := f.readIndexes(ctx, store.PipelineAssets, res, clusters)
	for _, ci := range indexes {
		if ci.Damaged != "" {
			st := status[ci.Cluster]
			st.Damaged = append(st.Damaged, fmt.Sprintf("%s assets: %s (%d blocks under %s)", res, ci.Damaged, len(ci.Blocks), store.AssetPrefix(ci.Cluster, res)))
		}
	}
	combined, err := f.st.ReadAssetIndex(ctx, store.CombinedID, res)
	repaired := false
	if repairable(err) {
		combined, err = f.repairCombined(ctx, store.PipelineAssets, res, err, rep)
		repaired = true
	}
	if err != nil {
		return fmt.Errorf("federate %s assets: %w", res, err)
	}
	retainFrom := f.retainFrom(res)
	var errs []error
	var damaged map[int64]string
	if !repaired && !f.opts.SkipCombinedCheck {
		// A rebuilt index was verified block by block just now.
		damaged, err = f.checkCombined(ctx, store.PipelineAssets, res, combined, retainFrom, rep)
		if err != nil {
			errs = append(errs, err)
		}
	}
	plan, _ := Plan(indexes, combined, PlanOptions{Cutoff: f.opts.Cutoff, RetainFrom: retainFrom, Damaged: damaged})
	for _, wp := range plan {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		q, err := f.mergeAssetWindow(ctx, res, wp, combined)
		rep.Quarantined = append(rep.Quarantined, q...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rep.MergedAssets == nil {
			rep.MergedAssets = map[store.Resolution]int{}
		}
		rep.MergedAssets[res]++
	}
	if !retainFrom.IsZero() && ctx.Err() == nil {
		expired, err := f.st.ExpireAssets(ctx, store.CombinedID, res, retainFrom, store.ExpireOptions{})
		if len(expired) > 0 {
			f.logger.Info("combined asset windows expired", "resolution", string(res), "windows", len(expired), "retain_from", retainFrom.UTC())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("federate %s assets: %w", res, err))
		}
	}
	return errors.Join(errs...)
}

// mergeAssetWindow is mergeWindow for the asset pipeline: it merges one
// window's asset inputs and commits the combined asset block.
func (f *Federator) mergeAssetWindow(ctx context.Context, res store.Resolution, wp WindowPlan, combined store.Index) ([]Quarantined, error) {
	w := allocation.Window{Start: time.Unix(wp.Start, 0).UTC(), End: time.Unix(wp.End, 0).UTC()}
	prev := previousBlock[asset.Asset]{combined: combined, start: wp.Start, read: func(ctx context.Context, e store.IndexEntry) ([]asset.Asset, store.BlockMeta, error) {
		b, err := f.st.ReadAssetBlock(ctx, store.CombinedID, res, e)
		return b.Assets, b.Meta, err
	}}
	read := func(ctx context.Context, in Input) ([]asset.Asset, store.BlockMeta, error) {
		blk, err := f.st.ReadAssetBlock(ctx, in.Cluster, res, in.Entry)
		if err != nil {
			return nil, store.BlockMeta{}, err
		}
		for _, a := range blk.Assets {
			if a.Properties.Cluster != in.Cluster {
				return nil, store.BlockMeta{}, &store.BlockError{Key: store.AssetBlockKey(in.Cluster, res, w), Reason: store.ErrForeignBlock,
					Detail: fmt.Sprintf("asset %q belongs to cluster %q", a.Key(), a.Properties.Cluster)}
			}
		}
		return blk.Assets, blk.Meta, nil
	}
	clusterOf := func(a asset.Asset) string { return a.Properties.Cluster }
	out := store.AssetBlock{Meta: store.BlockMeta{
		Cluster: store.CombinedID, Resolution: res, Window: w, Complete: true,
		ProducerVersion: f.opts.Version, ProducerInstance: ProducerInstance,
	}}
	var quarantined []Quarantined
	for _, in := range wp.Inputs {
		assets, src, complete, built, q, err := inputRows(ctx, f, res, in, read, &prev, clusterOf)
		if err != nil {
			return quarantined, fmt.Errorf("federate %s assets window %s: %w", res, w, err)
		}
		if q != nil {
			quarantined = append(quarantined, *q)
		}
		out.Assets = append(out.Assets, assets...)
		out.Meta.Sources = append(out.Meta.Sources, src)
		// A quarantined input marks the asset window incomplete even when
		// the cluster's previous assets are kept (as this pipeline did
		// before it shared inputRows; allocations keep the previous
		// block's flag).
		out.Meta.Complete = out.Meta.Complete && complete && q == nil
		if built.After(out.Meta.BuildTime) {
			out.Meta.BuildTime = built
		}
	}
	if out.Meta.BuildTime.IsZero() {
		out.Meta.BuildTime = w.End
	}
	// A damaged block's assets are gone already: an empty merge may replace it.
	if _, err := f.st.CommitAssets(ctx, []store.AssetBlock{out}, store.CommitOptions{AllowEmptyOverwrite: len(wp.Inputs) == 0 || wp.Rewrite, Rewrite: wp.Rewrite}); err != nil {
		return quarantined, fmt.Errorf("federate %s assets window %s: %w", res, w, err)
	}
	f.logger.Debug("asset window federated", "resolution", string(res), "window", w.String(), "reason", wp.Reason, "clusters", len(wp.Inputs), "assets", len(out.Assets))
	return quarantined, nil
}
