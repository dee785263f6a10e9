package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrExpireShare is returned when an expiry would drop more than
// ExpireOptions.MaxShare of a prefix's committed windows at once: usually a
// clock, retention or data far from what the operator expects (a demo store
// from 2024, a retention typed in hours instead of days), not routine aging.
var ErrExpireShare = errors.New("refusing to expire that large a share of the store at once")

// ExpireOptions change what Expire accepts.
type ExpireOptions struct {
	// MaxShare, when above 0, refuses (ErrExpireShare, nothing written) to drop
	// more than this fraction of the committed windows in one call.
	MaxShare float64
}

// Expire drops the committed windows of a cluster (or the combined store) and
// resolution that end at or before before, and returns the entries it
// dropped. It is the delete step of the commit protocol (see the package
// documentation): first the index is written without the entries, then their
// objects are deleted, so a reader never finds a committed entry whose object
// is gone. A crash between the steps leaves objects that no index lists;
// every call therefore also lists the prefix and deletes block objects whose
// window ends at or before before and that the index does not list, so a
// rerun converges to the state of an uninterrupted one. Objects of windows
// that end after before are never touched, listed or not.
func (s *Store) Expire(ctx context.Context, cluster string, res Resolution, before time.Time, opts ExpireOptions) ([]IndexEntry, error) {
	return s.expire(ctx, PipelineAllocations, cluster, res, before, opts)
}

// ExpireAssets is Expire for the asset blocks of a cluster (or the
// combined store) and resolution.
func (s *Store) ExpireAssets(ctx context.Context, cluster string, res Resolution, before time.Time, opts ExpireOptions) ([]IndexEntry, error) {
	return s.expire(ctx, PipelineAssets, cluster, res, before, opts)
}

func (s *Store) expire(ctx context.Context, p Pipeline, cluster string, res Resolution, before time.Time, opts ExpireOptions) ([]IndexEntry, error) {
	ix, err := s.readIndex(ctx, p, cluster, res)
	if err != nil {
		return nil, fmt.Errorf("expire %s/%s: %w", cluster, res, err)
	}
	horizon := before.Unix()
	var expired, kept []IndexEntry
	for _, e := range ix.Blocks {
		if e.End <= horizon {
			expired = append(expired, e)
		} else {
			kept = append(kept, e)
		}
	}
	if n := len(ix.Blocks); opts.MaxShare > 0 && n > 0 && float64(len(expired)) > opts.MaxShare*float64(n) {
		return nil, fmt.Errorf("expire %s/%s: %d of %d windows (%.0f %%) end at or before %s, more than %.0f %%: %w",
			cluster, res, len(expired), n, 100*float64(len(expired))/float64(n), before.UTC().Format(time.RFC3339), 100*opts.MaxShare, ErrExpireShare)
	}
	if len(expired) > 0 {
		ix.Blocks = kept
		if err := s.uploadIndex(ctx, ix); err != nil {
			return nil, fmt.Errorf("expire %s/%s: %w", cluster, res, err)
		}
	}
	var errs []error
	for _, e := range expired {
		key := ix.BlockKey(e)
		if err := s.bkt.Delete(ctx, key); err != nil && !s.bkt.IsObjNotFoundErr(err) {
			errs = append(errs, fmt.Errorf("delete block %s: %w", key, err))
		}
	}
	if err := s.sweepExpired(ctx, p, cluster, res, ix, horizon); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return expired, fmt.Errorf("expire %s/%s: %w", cluster, res, err)
	}
	for _, e := range expired {
		s.logger.Debug("block expired", "cluster", cluster, "resolution", string(res), "window", e.Window().String())
	}
	return expired, nil
}

// sweepExpired deletes the block objects of a prefix whose window ends at or
// before horizon and that ix does not list: what an interrupted Expire left.
func (s *Store) sweepExpired(ctx context.Context, p Pipeline, cluster string, res Resolution, ix Index, horizon int64) error {
	var stale []string
	prefix, parse := Prefix(cluster, res), ParseBlockKey
	if p == PipelineAssets {
		prefix, parse = AssetPrefix(cluster, res), ParseAssetBlockKey
	}
	err := s.bkt.Iter(ctx, prefix, func(name string) error {
		if !strings.HasSuffix(name, blockSuffix) {
			return nil
		}
		ref, err := parse(name)
		if err != nil || ref.Cluster != cluster || ref.Resolution != res || ref.Window.End.Unix() > horizon {
			return nil
		}
		if _, listed := ix.Find(ref.Window.Start); !listed {
			stale = append(stale, name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	var errs []error
	for _, key := range stale {
		if err := s.bkt.Delete(ctx, key); err != nil && !s.bkt.IsObjNotFoundErr(err) {
			errs = append(errs, fmt.Errorf("delete block %s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}
