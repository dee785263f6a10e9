package federator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/store"
)

// passAssets federates one resolution's asset blocks, after its allocation
// blocks in the same pass, with the same plan (Plan over the asset
// indexes): a combined asset window is merged when its (cluster, digest)
// inputs changed. An unreadable cluster asset block is quarantined and the
// cluster's previous combined assets are kept, as for allocations; a
// cluster whose asset index cannot be read keeps its combined assets. A
// cluster without an asset index (a store written before assets) simply
// has no assets. Combined asset windows past retention are expired with
// the allocation windows' horizon (the share bound is the allocation
// pass's: it ran first and would have halted). Not done for assets: damage
// detection from listings and combined-index repair.
func (f *Federator) passAssets(ctx context.Context, res store.Resolution, clusters []string, rep *Report) error {
	indexes := make([]ClusterIndex, len(clusters))
	var g errgroup.Group
	g.SetLimit(f.opts.IndexConcurrency)
	for i, c := range clusters {
		g.Go(func() error {
			ix, err := f.st.ReadAssetIndex(ctx, c, res)
			indexes[i] = ClusterIndex{Cluster: c, Index: ix, Err: err}
			if err != nil {
				f.logger.Warn("cluster asset index unreadable; keeping its combined assets", "cluster", c, "resolution", string(res), "err", err)
			}
			return nil
		})
	}
	_ = g.Wait()
	combined, err := f.st.ReadAssetIndex(ctx, store.CombinedID, res)
	if err != nil {
		return fmt.Errorf("federate %s assets: %w", res, err)
	}
	retainFrom := f.retainFrom(res)
	plan, _ := Plan(indexes, combined, PlanOptions{Cutoff: f.opts.Cutoff, RetainFrom: retainFrom})
	var errs []error
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

// mergeAssetWindow merges one window's asset inputs and commits the
// combined asset block.
func (f *Federator) mergeAssetWindow(ctx context.Context, res store.Resolution, wp WindowPlan, combined store.Index) ([]Quarantined, error) {
	w := allocation.Window{Start: time.Unix(wp.Start, 0).UTC(), End: time.Unix(wp.End, 0).UTC()}
	out := store.AssetBlock{Meta: store.BlockMeta{
		Cluster: store.CombinedID, Resolution: res, Window: w, Complete: true,
		ProducerVersion: f.opts.Version, ProducerInstance: ProducerInstance,
	}}
	var prev *store.AssetBlock
	previous := func(cluster string) ([]asset.Asset, error) {
		if prev == nil {
			e, ok := combined.Find(w.Start)
			if !ok {
				return nil, errors.New("no combined asset block for the window")
			}
			b, err := f.st.ReadAssetBlock(ctx, store.CombinedID, res, e)
			if err != nil {
				return nil, err
			}
			prev = &b
		}
		var kept []asset.Asset
		for _, a := range prev.Assets {
			if a.Properties.Cluster == cluster {
				kept = append(kept, a)
			}
		}
		return kept, nil
	}
	var quarantined []Quarantined
	for _, in := range wp.Inputs {
		var q *Quarantined
		if !in.Carried {
			blk, err := f.st.ReadAssetBlock(ctx, in.Cluster, res, in.Entry)
			if err == nil {
				for _, a := range blk.Assets {
					if a.Properties.Cluster != in.Cluster {
						err = &store.BlockError{Key: store.AssetBlockKey(in.Cluster, res, w), Reason: store.ErrForeignBlock,
							Detail: fmt.Sprintf("asset %q belongs to cluster %q", a.Key(), a.Properties.Cluster)}
						break
					}
				}
			}
			if err == nil {
				out.Assets = append(out.Assets, blk.Assets...)
				out.Meta.Sources = append(out.Meta.Sources, store.Source{Cluster: in.Cluster, SHA256: in.Entry.SHA256})
				out.Meta.Complete = out.Meta.Complete && blk.Meta.Complete
				if blk.Meta.BuildTime.After(out.Meta.BuildTime) {
					out.Meta.BuildTime = blk.Meta.BuildTime
				}
				continue
			}
			var be *store.BlockError
			if !errors.As(err, &be) {
				return quarantined, fmt.Errorf("federate %s assets window %s: %w", res, w, err)
			}
			q = &Quarantined{Cluster: in.Cluster, Resolution: res, Key: be.Key, Reason: be.Error(), cause: be.Reason}
			quarantined = append(quarantined, *q)
			f.logger.Warn("asset block quarantined; keeping the cluster's previous combined assets", "cluster", in.Cluster, "resolution", string(res), "key", be.Key, "reason", be.Reason.Error())
		}
		if in.Previous == nil {
			out.Meta.Sources = append(out.Meta.Sources, store.Source{Cluster: in.Cluster, Quarantined: in.Entry.SHA256, Reason: q.short()})
			out.Meta.Complete = false
			continue
		}
		kept, err := previous(in.Cluster)
		if err != nil {
			return quarantined, fmt.Errorf("federate %s assets window %s: read previous combined block to keep %s's assets: %w", res, w, in.Cluster, err)
		}
		out.Assets = append(out.Assets, kept...)
		src := *in.Previous
		if q != nil {
			src.Quarantined, src.Reason = in.Entry.SHA256, q.short()
			out.Meta.Complete = false
		}
		out.Meta.Sources = append(out.Meta.Sources, src)
		if prev.Meta.BuildTime.After(out.Meta.BuildTime) {
			out.Meta.BuildTime = prev.Meta.BuildTime
		}
	}
	if out.Meta.BuildTime.IsZero() {
		out.Meta.BuildTime = w.End
	}
	if _, err := f.st.CommitAssets(ctx, []store.AssetBlock{out}, store.CommitOptions{AllowEmptyOverwrite: len(wp.Inputs) == 0}); err != nil {
		return quarantined, fmt.Errorf("federate %s assets window %s: %w", res, w, err)
	}
	f.logger.Debug("asset window federated", "resolution", string(res), "window", w.String(), "reason", wp.Reason, "clusters", len(wp.Inputs), "assets", len(out.Assets))
	return quarantined, nil
}
