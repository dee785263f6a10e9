package federator

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/store"
)

// clusterAssets is cluster's daily asset block for day d: a node costing
// cost and a disk.
func clusterAssets(cluster string, d int, cost float64) store.AssetBlock {
	w := dayWindow(d)
	aw := asset.Window{Start: w.Start, End: w.End}
	return store.AssetBlock{
		Meta: store.BlockMeta{Cluster: cluster, Resolution: store.Daily, Window: w, Complete: true,
			BuildTime: w.End.Add(10 * time.Minute), ProducerVersion: "test", ProducerInstance: cluster + "-agent"},
		Assets: []asset.Asset{
			{Kind: asset.KindNode, Properties: asset.Properties{Cluster: cluster, Name: "n1"}, Window: aw, Start: w.Start, End: w.End,
				Hours: 24, CPUCoreHours: 96, CPUCost: cost, RAMCost: 1},
			{Kind: asset.KindDisk, Properties: asset.Properties{Cluster: cluster, Name: "pv1"}, Window: aw, Start: w.Start, End: w.End,
				Hours: 24, ByteHours: 24e9, Cost: 0.5},
		},
	}
}

func combinedAssets(t *testing.T, st *store.Store, d int) (store.AssetBlock, map[string]asset.Asset) {
	t.Helper()
	ix, err := st.ReadAssetIndex(context.Background(), store.CombinedID, store.Daily)
	require.NoError(t, err)
	e, ok := ix.Find(dayWindow(d).Start)
	require.True(t, ok, "no combined asset block for day %d", d)
	b, err := st.ReadAssetBlock(context.Background(), store.CombinedID, store.Daily, e)
	require.NoError(t, err)
	out := map[string]asset.Asset{}
	for _, a := range b.Assets {
		out[a.Key()] = a
	}
	return b, out
}

// TestFederateAssets: asset blocks are merged beside allocation blocks in
// the same pass; a pass with nothing new writes nothing; a rebuilt cluster
// block is re-merged; a damaged one is quarantined and the cluster's
// previous combined assets kept; a cluster without assets (an old store)
// contributes none and breaks nothing.
func TestFederateAssets(t *testing.T) {
	ctx := context.Background()
	bkt := objstore.NewInMemBucket()
	st := store.New(bkt, store.Options{})
	commit(t, st, clusterBlock("a", 0, 3, 1))
	commit(t, st, clusterBlock("b", 0, 3, 2))
	commit(t, st, clusterBlock("old", 0, 3, 3))
	for _, b := range []store.AssetBlock{clusterAssets("a", 0, 2), clusterAssets("b", 0, 3)} {
		_, err := st.CommitAssets(ctx, []store.AssetBlock{b}, store.CommitOptions{})
		require.NoError(t, err)
	}
	f := newFederator(st, nil)
	rep, err := f.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Merged[store.Daily])
	require.Equal(t, 1, rep.MergedAssets[store.Daily])
	blk, got := combinedAssets(t, st, 0)
	require.Len(t, got, 4)
	require.Equal(t, 2.0, got["a/Node/n1"].CPUCost)
	require.Equal(t, 3.0, got["b/Node/n1"].CPUCost)
	require.True(t, blk.Meta.Complete)
	require.Len(t, blk.Meta.Sources, 2, "the cluster without assets is no input")
	require.Len(t, combinedRows(t, st, 0), 9, "allocations are merged as before")

	rep, err = f.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.MergedAssets[store.Daily], "nothing changed")

	_, err = st.CommitAssets(ctx, []store.AssetBlock{clusterAssets("a", 0, 5)}, store.CommitOptions{})
	require.NoError(t, err)
	rep, err = f.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.MergedAssets[store.Daily])
	_, got = combinedAssets(t, st, 0)
	require.Equal(t, 5.0, got["a/Node/n1"].CPUCost)

	// b rebuilds, and its new object is damaged after the index lists it.
	entries, err := st.CommitAssets(ctx, []store.AssetBlock{clusterAssets("b", 0, 7)}, store.CommitOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	require.NoError(t, bkt.Upload(ctx, store.AssetBlockKey("b", store.Daily, dayWindow(0)), bytes.NewReader([]byte("garbage"))))
	rep, err = f.RunOnce(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Quarantined, 1)
	require.Equal(t, "b", rep.Quarantined[0].Cluster)
	blk, got = combinedAssets(t, st, 0)
	require.Equal(t, 3.0, got["b/Node/n1"].CPUCost, "b's previous combined assets are kept")
	require.False(t, blk.Meta.Complete)
	rep, err = f.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.MergedAssets[store.Daily], "a quarantined digest does not trigger a merge again")
}

// TestFederateAssetsExpires: combined asset windows past retention go with
// the allocation windows.
func TestFederateAssetsExpires(t *testing.T) {
	ctx := context.Background()
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	for _, d := range []int{0, 8} {
		commit(t, st, clusterBlock("a", d, 2, 1))
		_, err := st.CommitAssets(ctx, []store.AssetBlock{clusterAssets("a", d, 1)}, store.CommitOptions{})
		require.NoError(t, err)
	}
	_, err := newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err)
	ix, err := st.ReadAssetIndex(ctx, store.CombinedID, store.Daily)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 2, "no retention: both days merged")
	f := New(st, Options{Resolutions: []store.Resolution{store.Daily}, Version: "test",
		Retention: map[store.Resolution]time.Duration{store.Daily: 5 * 24 * time.Hour},
		Now:       func() time.Time { return day0.Add(10 * 24 * time.Hour) }})
	_, err = f.RunOnce(ctx)
	require.NoError(t, err)
	ix, err = st.ReadAssetIndex(ctx, store.CombinedID, store.Daily)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 1)
	require.Equal(t, dayWindow(8).Start.Unix(), ix.Blocks[0].Start, "day 0 is past retention: expired")
	ok, err := st.Bucket().Exists(ctx, store.AssetBlockKey(store.CombinedID, store.Daily, dayWindow(0)))
	require.NoError(t, err)
	require.False(t, ok)
}

// TestFederateAssetsDeterministic: two federators over equal inputs write
// the same combined asset bytes (so racing federators converge).
func TestFederateAssetsDeterministic(t *testing.T) {
	ctx := context.Background()
	var snaps []map[string]string
	for range 2 {
		bkt := objstore.NewInMemBucket()
		st := store.New(bkt, store.Options{})
		for i, c := range []string{"b", "a"} {
			commit(t, st, clusterBlock(c, 0, 2, uint64(i)))
			_, err := st.CommitAssets(ctx, []store.AssetBlock{clusterAssets(c, 0, float64(i+1))}, store.CommitOptions{})
			require.NoError(t, err)
		}
		_, err := newFederator(st, nil).RunOnce(ctx)
		require.NoError(t, err)
		objs := map[string]string{}
		require.NoError(t, bkt.Iter(ctx, "federated/combined/etl/parquet/assets/", func(name string) error {
			r, err := bkt.Get(ctx, name)
			if err != nil {
				return err
			}
			defer r.Close()
			var b bytes.Buffer
			_, err = b.ReadFrom(r)
			objs[name] = b.String()
			return err
		}, objstore.WithRecursiveIter()))
		require.Len(t, objs, 2, "block and index")
		snaps = append(snaps, objs)
	}
	require.Equal(t, snaps[0], snaps[1])
}

func combinedAssetEntry(t *testing.T, st *store.Store, d int) store.IndexEntry {
	t.Helper()
	ix, err := st.ReadAssetIndex(context.Background(), store.CombinedID, store.Daily)
	require.NoError(t, err)
	e, ok := ix.Find(dayWindow(d).Start)
	require.True(t, ok, "no combined asset block for day %d", d)
	return e
}

// Issue 16 row 3 and issue 14 point 2 for assets: a cluster whose asset
// index is deleted or unreadable while its asset blocks remain is damaged,
// not gone: its combined assets are kept, windows without them are written
// incomplete naming the cluster and the reason, the report names it, and
// once its asset index is repaired (store.RepairAssetIndex) every window
// converges.
func TestFederateAssetsDamagedCluster(t *testing.T) {
	for _, damage := range []string{"deleted", "garbage"} {
		t.Run(damage, func(t *testing.T) {
			ctx := context.Background()
			mem, st := twoClusterAssets(t, 2)
			f := newFederator(st, nil)
			_, err := f.RunOnce(ctx)
			require.NoError(t, err)
			_, good0 := combinedAssets(t, st, 0)
			require.Len(t, good0, 4)

			// b's asset index is lost; its agent still uploads day 2's asset
			// block. a adds day 2.
			key := store.AssetIndexKey("b", store.Daily)
			reason := DamageIndexMissing
			if damage == "deleted" {
				require.NoError(t, mem.Delete(ctx, key))
			} else {
				reason = DamageIndexUnreadable
				require.NoError(t, mem.Upload(ctx, key, strings.NewReader("garbage")))
			}
			data, err := store.EncodeAssetBlock(clusterAssets("b", 2, 4))
			require.NoError(t, err)
			require.NoError(t, mem.Upload(ctx, store.AssetBlockKey("b", store.Daily, dayWindow(2)), bytes.NewReader(data)))
			_, err = st.CommitAssets(ctx, []store.AssetBlock{clusterAssets("a", 2, 4)}, store.CommitOptions{})
			require.NoError(t, err)

			rep, err := f.RunOnce(ctx)
			require.NoError(t, err)
			var bStatus ClusterStatus
			for _, c := range rep.Clusters {
				if c.Cluster == "b" {
					bStatus = c
				}
			}
			require.Len(t, bStatus.Damaged, 1, "the report names b's assets damaged: %+v", rep.Clusters)
			require.Contains(t, bStatus.Damaged[0], "1d assets: "+reason)
			require.Contains(t, bStatus.Damaged[0], store.AssetPrefix("b", store.Daily))
			cov, err := ReadCoverage(ctx, st, f.opts.Now(), f.opts.StaleAfter)
			require.NoError(t, err)
			for _, c := range cov.Clusters {
				for _, r := range c.Assets {
					if c.Cluster == "b" && r.Resolution == store.Daily {
						require.Contains(t, r.Damaged, reason, "status shows b's assets damaged")
					} else {
						require.Empty(t, r.Damaged, "%s %s", c.Cluster, r.Resolution)
					}
				}
				for _, r := range c.Resolutions {
					require.Empty(t, r.Damaged, "%s %s allocations", c.Cluster, r.Resolution)
				}
			}

			// Day 0: b's assets kept, the damage recorded, not complete.
			_, got0 := combinedAssets(t, st, 0)
			require.Equal(t, good0, got0)
			e0 := combinedAssetEntry(t, st, 0)
			require.False(t, e0.Complete)
			src := sourceOf(t, e0, "b")
			require.Equal(t, reason, src.Reason)
			require.NotEmpty(t, src.SHA256)
			// Day 2: a's assets only, incomplete, naming b and the reason.
			_, got2 := combinedAssets(t, st, 2)
			require.Len(t, got2, 2)
			require.Contains(t, got2, "a/Node/n1")
			e2 := combinedAssetEntry(t, st, 2)
			require.False(t, e2.Complete)
			require.Equal(t, store.Source{Cluster: "b", Reason: reason}, sourceOf(t, e2, "b"))

			// The next pass changes nothing.
			combined := snapshot(t, mem, "federated/combined/")
			rep, err = f.RunOnce(ctx)
			require.NoError(t, err)
			require.Zero(t, rep.MergedAssets[store.Daily])
			require.Equal(t, combined, snapshot(t, mem, "federated/combined/"))

			// costfed repair rebuilds b's asset index from its blocks: every
			// window converges to the merge of the current inputs.
			rr, err := st.RepairAssetIndex(ctx, "b", store.Daily, store.RepairOptions{})
			require.NoError(t, err)
			require.Len(t, rr.Index.Blocks, 3)
			rep, err = f.RunOnce(ctx)
			require.NoError(t, err)
			for _, c := range rep.Clusters {
				require.Empty(t, c.Damaged, c.Cluster)
			}
			for d := range 3 {
				e := combinedAssetEntry(t, st, d)
				require.True(t, e.Complete, "day %d", d)
				require.Empty(t, sourceOf(t, e, "b").Reason, "day %d", d)
				_, got := combinedAssets(t, st, d)
				require.Len(t, got, 4, "day %d", d)
			}
		})
	}
}

// A combined asset block that is not the content the combined asset index
// lists is merged again on the next pass, as a combined allocation block is
// (checkCombined): the rebuilt store is the undamaged one, byte for byte.
func TestFederateAssetsRemergesDamagedCombinedBlock(t *testing.T) {
	ctx := context.Background()
	mem, st := twoClusterAssets(t, 2)
	_, err := newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err)
	want := snapshot(t, mem, "federated/combined/")
	key := store.AssetBlockKey(store.CombinedID, store.Daily, dayWindow(1))
	good := want[key]
	require.NotEmpty(t, good)
	flipped := []byte(good)
	flipped[len(flipped)/2] ^= 0xff
	for _, tc := range []struct {
		name   string
		damage func()
		mode   store.CheckMode
		reason error
	}{
		{"truncated", func() { require.NoError(t, mem.Upload(ctx, key, strings.NewReader(good[:len(good)/3]))) }, store.CheckSize, store.ErrSizeMismatch},
		{"emptied", func() { require.NoError(t, mem.Upload(ctx, key, strings.NewReader(""))) }, store.CheckSize, store.ErrEmptyBlock},
		{"deleted", func() { require.NoError(t, mem.Delete(ctx, key)) }, store.CheckSize, store.ErrMissingBlock},
		{"same size, other bytes", func() { require.NoError(t, mem.Upload(ctx, key, bytes.NewReader(flipped))) }, store.CheckDigest, store.ErrHashMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.damage()
			f := New(st, Options{Resolutions: []store.Resolution{store.Daily}, Version: "test", CheckCombined: tc.mode,
				Now: func() time.Time { return day0.Add(10 * 24 * time.Hour) }})
			rep, err := f.RunOnce(ctx)
			require.NoError(t, err)
			require.Len(t, rep.DamagedCombined, 1)
			require.Equal(t, key, rep.DamagedCombined[0].Key)
			require.ErrorIs(t, rep.DamagedCombined[0].cause, tc.reason)
			require.Zero(t, rep.Merged[store.Daily])
			require.Equal(t, 1, rep.MergedAssets[store.Daily], "the damaged asset window, and only it, is merged again")
			require.Equal(t, want, snapshot(t, mem, "federated/combined/"))

			rep, err = f.RunOnce(ctx)
			require.NoError(t, err)
			require.Empty(t, rep.DamagedCombined)
			require.Zero(t, rep.MergedAssets[store.Daily])
		})
	}
}

// Issue 16 row 2 for assets: an unreadable combined asset index is rebuilt
// from the combined asset blocks, a damaged one among them is set aside and
// its window merged again, and the store converges byte for byte.
func TestFederateAssetsRepairsCombinedIndex(t *testing.T) {
	ctx := context.Background()
	mem, st := twoClusterAssets(t, 2)
	f := newFederator(st, nil)
	_, err := f.RunOnce(ctx)
	require.NoError(t, err)
	want := snapshot(t, mem, "federated/combined/")
	indexKey := store.AssetIndexKey(store.CombinedID, store.Daily)
	blockKey := store.AssetBlockKey(store.CombinedID, store.Daily, dayWindow(1))
	require.NoError(t, mem.Upload(ctx, indexKey, strings.NewReader("garbage")))
	require.NoError(t, mem.Upload(ctx, blockKey, strings.NewReader(want[blockKey][:100])))

	rep, err := f.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{indexKey}, rep.RepairedIndexes)
	require.Len(t, rep.Quarantined, 1)
	require.Equal(t, blockKey, rep.Quarantined[0].Key)
	require.Equal(t, 1, rep.MergedAssets[store.Daily], "the set-aside window is merged again")
	require.Equal(t, want, snapshot(t, mem, "federated/combined/"))

	rep, err = f.RunOnce(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.RepairedIndexes)
	require.Zero(t, rep.MergedAssets[store.Daily])
}

// A quarantined asset block whose cluster's previous assets sat in a
// combined asset block that is damaged too: the window is merged without
// them, incomplete, its lineage naming the quarantine (an error on every
// pass before the asset merge shared inputRows).
func TestFederateAssetsQuarantinedWithDamagedPrevious(t *testing.T) {
	ctx := context.Background()
	mem, st := twoClusterAssets(t, 1)
	f := newFederator(st, nil)
	_, err := f.RunOnce(ctx)
	require.NoError(t, err)

	entries, err := st.CommitAssets(ctx, []store.AssetBlock{clusterAssets("b", 0, 7)}, store.CommitOptions{})
	require.NoError(t, err)
	require.NoError(t, mem.Upload(ctx, store.AssetBlockKey("b", store.Daily, dayWindow(0)), strings.NewReader("garbage")))
	require.NoError(t, mem.Upload(ctx, store.AssetBlockKey(store.CombinedID, store.Daily, dayWindow(0)), strings.NewReader("")))

	rep, err := f.RunOnce(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Quarantined, 1)
	require.Equal(t, "b", rep.Quarantined[0].Cluster)
	blk, got := combinedAssets(t, st, 0)
	require.False(t, blk.Meta.Complete)
	require.Len(t, got, 2)
	require.Contains(t, got, "a/Node/n1")
	src := sourceOf(t, combinedAssetEntry(t, st, 0), "b")
	require.Equal(t, entries[0].SHA256, src.Quarantined)
	require.NotEmpty(t, src.Reason)
}

// twoClusterAssets commits allocation and asset blocks of clusters a and b
// for days 0 to days-1 to an in-memory store.
func twoClusterAssets(t *testing.T, days int) (*objstore.InMemBucket, *store.Store) {
	t.Helper()
	mem := objstore.NewInMemBucket()
	st := store.New(mem, store.Options{})
	for _, c := range []string{"a", "b"} {
		for d := range days {
			commit(t, st, clusterBlock(c, d, 3, uint64(d+1)))
			_, err := st.CommitAssets(context.Background(), []store.AssetBlock{clusterAssets(c, d, float64(d+2))}, store.CommitOptions{})
			require.NoError(t, err)
		}
	}
	return mem, st
}
