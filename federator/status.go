package federator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/costfed/costfed/store"
)

// Coverage is what the store holds, per cluster and resolution, read from
// index objects only.
type Coverage struct {
	Clusters []ClusterCoverage    `json:"clusters"`
	Combined []ResolutionCoverage `json:"combined"`
	// CombinedAssets describes the combined store's asset prefixes.
	CombinedAssets []ResolutionCoverage `json:"combinedAssets,omitempty"`
	// Ignored are the prefixes under federated/ that are not costfed
	// clusters (nothing under etl/parquet/, e.g. Kubecost's etl/bingen).
	Ignored []string `json:"ignored,omitempty"`
}

// ClusterCoverage is one cluster's blocks.
type ClusterCoverage struct {
	Cluster     string               `json:"cluster"`
	NewestBuild time.Time            `json:"newestBuild"`
	Stale       bool                 `json:"stale"`
	Resolutions []ResolutionCoverage `json:"resolutions"`
	// Assets describes the cluster's asset prefixes (none in a store
	// written before assets existed: Windows 0).
	Assets []ResolutionCoverage `json:"assets,omitempty"`
}

// ResolutionCoverage describes the committed windows of one prefix.
type ResolutionCoverage struct {
	Resolution store.Resolution `json:"resolution"`
	Windows    int              `json:"windows"`
	Complete   int              `json:"complete"`
	First      time.Time        `json:"first,omitzero"`
	Last       time.Time        `json:"last,omitzero"`
	// Gaps are the missing windows between First and Last.
	Gaps []Gap `json:"gaps,omitempty"`
	// Federated counts windows whose current block the combined store holds;
	// Quarantined those the federator had to set aside.
	Federated   int    `json:"federated"`
	Quarantined int    `json:"quarantined"`
	Pending     int    `json:"pending"`
	IndexError  string `json:"indexError,omitempty"`
	// Damaged is set when the prefix holds blocks but the index is missing
	// or unreadable: the federator keeps the cluster's combined rows and
	// marks the windows without them incomplete.
	Damaged string `json:"damaged,omitempty"`
	// Retention, Horizon and DueToExpire describe the combined store under a
	// federator config (see ApplyRetention): windows ending at or before
	// Horizon expire, DueToExpire of them on the next pass.
	Retention   time.Duration `json:"retentionNs,omitempty"`
	Horizon     time.Time     `json:"horizon,omitzero"`
	DueToExpire int           `json:"dueToExpire,omitempty"`
	// DamagedBlocks lists, for a combined resolution checked with
	// CheckCombined, the blocks whose object is not the content the index
	// lists ("key: reason"); the next federator pass merges them again.
	DamagedBlocks []string `json:"damagedBlocks,omitempty"`
	// ends are the windows' ends, for ApplyRetention.
	ends []int64
}

// ApplyRetention fills the combined resolutions' retention, horizon and the
// windows the next pass would expire at now.
func (c *Coverage) ApplyRetention(now time.Time, retention map[store.Resolution]time.Duration) {
	for i := range c.Combined {
		rc := &c.Combined[i]
		d := retention[rc.Resolution]
		if d <= 0 {
			continue
		}
		rc.Retention, rc.Horizon, rc.DueToExpire = d, now.Add(-d).UTC(), 0
		for _, end := range rc.ends {
			if end <= rc.Horizon.Unix() {
				rc.DueToExpire++
			}
		}
	}
}

// CheckCombined verifies every combined allocation block the combined
// indexes list (store.Store.CheckBlock with mode) and records the damaged
// ones in the combined resolutions' DamagedBlocks. It costs one attributes
// call a window (CheckSize) or a download (CheckDigest), so `costfed
// status` runs it and the query server's coverage does not.
func (c *Coverage) CheckCombined(ctx context.Context, st *store.Store, mode store.CheckMode, concurrency int) error {
	for i := range c.Combined {
		rc := &c.Combined[i]
		if rc.IndexError != "" || rc.Windows == 0 {
			continue
		}
		ix, err := st.ReadIndex(ctx, store.CombinedID, rc.Resolution)
		if err != nil {
			return fmt.Errorf("check combined %s blocks: %w", rc.Resolution, err)
		}
		errs := make([]error, len(ix.Blocks))
		var g errgroup.Group
		g.SetLimit(max(1, concurrency))
		for j, e := range ix.Blocks {
			g.Go(func() error {
				errs[j] = st.CheckBlock(ctx, store.CombinedID, rc.Resolution, e, mode)
				return nil
			})
		}
		_ = g.Wait()
		rc.DamagedBlocks = nil
		for _, err := range errs {
			var be *store.BlockError
			switch {
			case errors.As(err, &be):
				rc.DamagedBlocks = append(rc.DamagedBlocks, be.Error())
			case err != nil:
				return fmt.Errorf("check combined %s blocks: %w", rc.Resolution, err)
			}
		}
	}
	return nil
}

// Gap is a run of missing windows [Start, End).
type Gap struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ReadCoverage reads every cluster's indexes and the combined indexes. An
// unreadable index is reported on its cluster, not returned as an error.
func ReadCoverage(ctx context.Context, st *store.Store, now time.Time, staleAfter time.Duration) (Coverage, error) {
	list, err := st.ListClusters(ctx)
	if err != nil {
		return Coverage{}, fmt.Errorf("read coverage: %w", err)
	}
	clusters := list.Clusters
	var cov Coverage
	for _, id := range list.Foreign {
		cov.Ignored = append(cov.Ignored, store.ForeignPrefix(id))
	}
	combined := map[store.Resolution]store.Index{}
	for _, res := range store.Resolutions {
		ix, err := st.ReadIndex(ctx, store.CombinedID, res)
		rc := ResolutionCoverage{Resolution: res}
		if err != nil {
			rc.IndexError = err.Error()
		} else {
			combined[res] = ix
			rc = describe(ix, res)
		}
		cov.Combined = append(cov.Combined, rc)
	}
	combinedAssets := map[store.Resolution]store.Index{}
	for _, res := range store.Resolutions {
		ix, err := st.ReadAssetIndex(ctx, store.CombinedID, res)
		rc := ResolutionCoverage{Resolution: res}
		if err != nil {
			rc.IndexError = err.Error()
		} else {
			combinedAssets[res] = ix
			rc = describe(ix, res)
		}
		cov.CombinedAssets = append(cov.CombinedAssets, rc)
	}
	for _, c := range clusters {
		cc := ClusterCoverage{Cluster: c}
		for _, res := range store.Resolutions {
			rc, ix := prefixCoverage(ctx, st, store.PipelineAllocations, c, res, combined[res])
			cc.Resolutions = append(cc.Resolutions, rc)
			for _, e := range ix.Blocks {
				if e.BuildTime.After(cc.NewestBuild) {
					cc.NewestBuild = e.BuildTime
				}
			}
		}
		for _, res := range store.Resolutions {
			rc, _ := prefixCoverage(ctx, st, store.PipelineAssets, c, res, combinedAssets[res])
			cc.Assets = append(cc.Assets, rc)
		}
		cc.Stale = cc.NewestBuild.IsZero() || now.Sub(cc.NewestBuild) > staleAfter
		cov.Clusters = append(cov.Clusters, cc)
	}
	return cov, nil
}

// prefixCoverage describes one cluster prefix of pipeline p against the
// combined index of its resolution, and returns the cluster's index (empty
// when unreadable). A prefix holding blocks whose index is unreadable or
// missing is damaged, as the federator judges it.
func prefixCoverage(ctx context.Context, st *store.Store, p store.Pipeline, c string, res store.Resolution, combined store.Index) (ResolutionCoverage, store.Index) {
	read, list := st.ReadIndex, st.ListBlocks
	if p == store.PipelineAssets {
		read, list = st.ReadAssetIndex, st.ListAssetBlocks
	}
	ix, err := read(ctx, c, res)
	if err != nil {
		rc := ResolutionCoverage{Resolution: res, IndexError: err.Error()}
		if blocks, lerr := list(ctx, c, res); lerr == nil && len(blocks) > 0 {
			rc.Damaged = fmt.Sprintf("%s (%d blocks)", DamageIndexUnreadable, len(blocks))
		}
		return rc, store.Index{}
	}
	rc := describe(ix, res)
	if len(ix.Blocks) == 0 {
		if blocks, lerr := list(ctx, c, res); lerr == nil && len(blocks) > 0 {
			rc.Damaged = fmt.Sprintf("%s (%d blocks)", DamageIndexMissing, len(blocks))
		}
	}
	countFederated(&rc, c, ix, combined)
	return rc, ix
}

// describe summarises an index: counts, span and gaps.
func describe(ix store.Index, res store.Resolution) ResolutionCoverage {
	rc := ResolutionCoverage{Resolution: res, Windows: len(ix.Blocks)}
	for i, e := range ix.Blocks {
		rc.ends = append(rc.ends, e.End)
		if e.Complete {
			rc.Complete++
		}
		if e.PendingSHA256 != "" {
			rc.Pending++
		}
		if i > 0 && e.Start > ix.Blocks[i-1].End {
			rc.Gaps = append(rc.Gaps, Gap{Start: time.Unix(ix.Blocks[i-1].End, 0).UTC(), End: time.Unix(e.Start, 0).UTC()})
		}
	}
	if n := len(ix.Blocks); n > 0 {
		rc.First = ix.Blocks[0].Window().Start
		rc.Last = ix.Blocks[n-1].Window().End
	}
	return rc
}

// countFederated counts the cluster's windows whose current digest the
// combined index lists as merged or quarantined.
func countFederated(rc *ResolutionCoverage, cluster string, ix, combined store.Index) {
	for _, e := range ix.Blocks {
		ce, ok := combined.Find(e.Window().Start)
		if !ok {
			continue
		}
		src, ok := findSource(ce.Sources, cluster)
		switch {
		case !ok:
		case src.SHA256 == e.SHA256:
			rc.Federated++
		case src.Quarantined == e.SHA256:
			rc.Quarantined++
		}
	}
}
