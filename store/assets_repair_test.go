package store_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/store"
)

// assetRepairFixture commits three hourly asset blocks of cluster to a
// FILESYSTEM store and returns the store, its bucket, the committed asset
// index and its bytes.
func assetRepairFixture(t *testing.T, cluster string) (*store.Store, objstore.Bucket, store.Index, []byte) {
	t.Helper()
	ctx := context.Background()
	bkt, err := store.NewFilesystemBucket(t.TempDir())
	require.NoError(t, err)
	st := store.New(bkt, store.Options{})
	var blocks []store.AssetBlock
	for h := range 3 {
		b := assetBlock(cluster, 0.1*float64(h+1))
		shift := time.Duration(h) * time.Hour
		b.Meta.Window = allocation.Window{Start: assetWin.Start.Add(shift), End: assetWin.End.Add(shift)}
		b.Meta.BuildTime = b.Meta.BuildTime.Add(shift)
		for i := range b.Assets {
			a := &b.Assets[i]
			a.Window = asset.Window{Start: b.Meta.Window.Start, End: b.Meta.Window.End}
			a.Start, a.End = a.Start.Add(shift), a.End.Add(shift)
		}
		blocks = append(blocks, b)
	}
	_, err = st.CommitAssets(ctx, blocks, store.CommitOptions{})
	require.NoError(t, err)
	ix, err := st.ReadAssetIndex(ctx, cluster, store.Hourly)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 3)
	data := objectBytes(t, bkt, store.AssetIndexKey(cluster, store.Hourly))
	return st, bkt, ix, data
}

func objectBytes(t *testing.T, bkt objstore.Bucket, key string) []byte {
	t.Helper()
	rc, err := bkt.Get(context.Background(), key)
	require.NoError(t, err)
	defer rc.Close()
	var sb strings.Builder
	_, err = io.Copy(&sb, rc)
	require.NoError(t, err)
	return []byte(sb.String())
}

// Issue 16 item 2 for the asset pipeline: a lost or garbage asset index is
// rebuilt from the asset blocks, byte for byte the index the commits wrote,
// and the allocation prefix of the same cluster is left alone.
func TestRepairAssetIndexRestoresLostIndex(t *testing.T) {
	for _, cluster := range []string{"cluster-a", store.CombinedID} {
		t.Run(cluster, func(t *testing.T) {
			ctx := context.Background()
			st, bkt, want, wantBytes := assetRepairFixture(t, cluster)
			key := store.AssetIndexKey(cluster, store.Hourly)
			require.NoError(t, bkt.Delete(ctx, key))

			rep, err := st.RepairAssetIndex(ctx, cluster, store.Hourly, store.RepairOptions{})
			require.NoError(t, err)
			require.Equal(t, store.PipelineAssets, rep.Pipeline)
			require.Equal(t, store.IndexMissing, rep.Previous)
			require.Equal(t, 3, rep.Found)
			require.Empty(t, rep.SetAside)
			require.True(t, rep.Written)
			require.Equal(t, want.Blocks, rep.Index.Blocks)
			require.Equal(t, wantBytes, objectBytes(t, bkt, key))
			got, err := st.ReadAssetIndex(ctx, cluster, store.Hourly)
			require.NoError(t, err)
			require.Equal(t, want, got)
			for _, e := range got.Blocks {
				_, err := st.ReadAssetBlock(ctx, cluster, store.Hourly, e)
				require.NoError(t, err)
			}
			ok, err := bkt.Exists(ctx, store.IndexKey(cluster, store.Hourly))
			require.NoError(t, err)
			require.False(t, ok, "no allocation index is written")

			// Garbage: unreadable, rebuilt the same.
			require.NoError(t, bkt.Upload(ctx, key, strings.NewReader("garbage")))
			rep, err = st.RepairAssetIndex(ctx, cluster, store.Hourly, store.RepairOptions{})
			require.NoError(t, err)
			require.Equal(t, store.IndexUnreadable, rep.Previous)
			require.True(t, rep.Written)
			require.Equal(t, wantBytes, objectBytes(t, bkt, key))

			// Right already: nothing written.
			rep, err = st.RepairAssetIndex(ctx, cluster, store.Hourly, store.RepairOptions{})
			require.NoError(t, err)
			require.True(t, rep.Unchanged)
			require.False(t, rep.Written)

			// The allocation prefix holds nothing: nothing to repair there,
			// and an asset block is never taken for an allocation one.
			rep, err = st.RepairIndex(ctx, cluster, store.Hourly, store.RepairOptions{})
			require.NoError(t, err)
			require.True(t, rep.Empty)
		})
	}
}

// A damaged asset block is set aside (left where it is, unlisted); an
// allocation index under the asset key is unreadable; a dry run writes
// nothing.
func TestRepairAssetIndexSetsAsideDamagedBlocks(t *testing.T) {
	ctx := context.Background()
	st, bkt, want, _ := assetRepairFixture(t, "cluster-a")
	key := store.AssetIndexKey("cluster-a", store.Hourly)
	badKey := store.AssetBlockKey("cluster-a", store.Hourly, want.Blocks[1].Window())
	truncated := objectBytes(t, bkt, badKey)
	truncated = truncated[:len(truncated)/2]
	require.NoError(t, bkt.Upload(ctx, badKey, strings.NewReader(string(truncated))))
	alloc, err := store.EncodeIndex(store.Index{Version: store.IndexVersion, Cluster: "cluster-a", Resolution: store.Hourly})
	require.NoError(t, err)
	require.NoError(t, bkt.Upload(ctx, key, strings.NewReader(string(alloc))))

	rep, err := st.RepairAssetIndex(ctx, "cluster-a", store.Hourly, store.RepairOptions{DryRun: true})
	require.NoError(t, err)
	require.Equal(t, store.IndexUnreadable, rep.Previous)
	require.Len(t, rep.SetAside, 1)
	require.Equal(t, badKey, rep.SetAside[0].Key)
	require.ErrorIs(t, rep.SetAside[0], store.ErrCorruptBlock)
	require.False(t, rep.Written)
	require.Equal(t, alloc, objectBytes(t, bkt, key), "a dry run writes nothing")

	rep, err = st.RepairAssetIndex(ctx, "cluster-a", store.Hourly, store.RepairOptions{})
	require.NoError(t, err)
	require.True(t, rep.Written)
	got, err := st.ReadAssetIndex(ctx, "cluster-a", store.Hourly)
	require.NoError(t, err)
	require.Equal(t, []store.IndexEntry{want.Blocks[0], want.Blocks[2]}, got.Blocks)
	require.Equal(t, truncated, objectBytes(t, bkt, badKey), "a set-aside object is never changed")
}
