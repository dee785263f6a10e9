package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/store"
)

var assetWin = allocation.Window{Start: time.Date(2024, 1, 7, 10, 0, 0, 0, time.UTC), End: time.Date(2024, 1, 7, 11, 0, 0, 0, time.UTC)}

func assetBlock(cluster string, cost float64) store.AssetBlock {
	w := asset.Window{Start: assetWin.Start, End: assetWin.End}
	return store.AssetBlock{
		Meta: store.BlockMeta{Cluster: cluster, Resolution: store.Hourly, Window: assetWin, Complete: true,
			BuildTime: assetWin.End.Add(10 * time.Minute), ProducerVersion: "test"},
		Assets: []asset.Asset{
			{Kind: asset.KindNode, Properties: asset.Properties{Cluster: cluster, Name: "n1", ProviderID: "aws:///i-1"},
				Labels: map[string]string{"zone": "a", "arch": "amd64"}, Window: w, Start: assetWin.Start.Add(20*time.Minute + 17*time.Second), End: assetWin.End,
				Hours: 0.66, NodeType: "m5.xlarge", Preemptible: true, CPUCoreHours: 2.64, RAMByteHours: 1e10, CPUCost: cost, RAMCost: 0.01,
				CPUCostAllocated: cost / 2, PriceSource: "metrics"},
			{Kind: asset.KindDisk, Properties: asset.Properties{Cluster: cluster, Name: "pv1"}, Window: w, Start: assetWin.Start, End: assetWin.End,
				Hours: 1, ByteHours: 1e10, Cost: 0.002, StorageClass: "gp3", VolumeName: "pv1", ClaimName: "data", ClaimNamespace: "db", Local: true},
			{Kind: asset.KindLoadBalancer, Properties: asset.Properties{Cluster: cluster, Name: "web/front"}, Window: w, Start: assetWin.Start, End: assetWin.End,
				Hours: 1, Cost: 0.025, IP: "10.0.0.1", Private: true},
		},
	}
}

func TestAssetBlockRoundTripIsDeterministic(t *testing.T) {
	b := assetBlock("c1", 0.1)
	data, err := store.EncodeAssetBlock(b)
	require.NoError(t, err)
	// Reordered input gives the same bytes.
	r := b
	r.Assets = []asset.Asset{b.Assets[2], b.Assets[0], b.Assets[1]}
	again, err := store.EncodeAssetBlock(r)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, again))

	key := store.AssetBlockKey("c1", store.Hourly, assetWin)
	require.Equal(t, "federated/c1/etl/parquet/assets/1h/1704621600-1704625200.parquet", key)
	got, err := store.DecodeAssetBlock(context.Background(), key, data)
	require.NoError(t, err)
	require.Equal(t, 3, got.Meta.Rows)
	require.Equal(t, "c1", got.Meta.Cluster)
	byKey := map[string]asset.Asset{}
	for _, a := range got.Assets {
		byKey[a.Key()] = a
	}
	for _, want := range b.Assets {
		require.Equal(t, want, byKey[want.Key()])
	}

	// The same bytes under the allocation layout, another cluster's key or as
	// an allocation block are refused.
	_, err = store.DecodeAssetBlock(context.Background(), store.AssetBlockKey("c2", store.Hourly, assetWin), data)
	require.ErrorIs(t, err, store.ErrForeignBlock)
	_, err = store.DecodeAssetBlock(context.Background(), store.BlockKey("c1", store.Hourly, assetWin), data)
	require.ErrorIs(t, err, store.ErrForeignBlock)
	_, err = store.DecodeBlock(context.Background(), store.BlockKey("c1", store.Hourly, assetWin), data)
	require.Error(t, err)
	_, err = store.DecodeAssetBlock(context.Background(), key, data[:len(data)/2])
	require.ErrorIs(t, err, store.ErrCorruptBlock)
}

func TestAssetBlockValidation(t *testing.T) {
	b := assetBlock("c1", 0.1)
	b.Assets[0].Properties.Cluster = "other"
	_, err := store.EncodeAssetBlock(b)
	require.ErrorContains(t, err, `cluster "other"`)
	b = assetBlock("c1", 0.1)
	b.Assets = append(b.Assets, b.Assets[1])
	_, err = store.EncodeAssetBlock(b)
	require.ErrorContains(t, err, "duplicate key")
	b = assetBlock("c1", 0.1)
	b.Assets[0].End = assetWin.End.Add(time.Second)
	_, err = store.EncodeAssetBlock(b)
	require.ErrorContains(t, err, "not inside window")
}

// TestCommitAssetsBesideAllocations: asset blocks have their own prefix and
// index, the allocation index is untouched, an old store without assets
// reads as an empty asset index, and replacing a block with data by an
// empty one is refused as for allocations.
func TestCommitAssetsBesideAllocations(t *testing.T) {
	ctx := context.Background()
	bkt := objstore.NewInMemBucket()
	st := store.New(bkt, store.Options{})
	ix, err := st.ReadAssetIndex(ctx, "c1", store.Hourly)
	require.NoError(t, err)
	require.Empty(t, ix.Blocks)

	b := assetBlock("c1", 0.1)
	entries, err := st.CommitAssets(ctx, []store.AssetBlock{b}, store.CommitOptions{})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.InDelta(t, 0.1+0.01+0.002+0.025, entries[0].TotalCost, 1e-12)

	ok, err := bkt.Exists(ctx, store.AssetIndexKey("c1", store.Hourly))
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = bkt.Exists(ctx, store.IndexKey("c1", store.Hourly))
	require.NoError(t, err)
	require.False(t, ok, "the allocation index is not written")
	alloc, err := st.ReadIndex(ctx, "c1", store.Hourly)
	require.NoError(t, err)
	require.Empty(t, alloc.Blocks)

	ix, err = st.ReadAssetIndex(ctx, "c1", store.Hourly)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 1)
	got, err := st.ReadAssetBlock(ctx, "c1", store.Hourly, ix.Blocks[0])
	require.NoError(t, err)
	require.Len(t, got.Assets, 3)

	// Rebuild with other content: replaced in place, read back.
	entries, err = st.CommitAssets(ctx, []store.AssetBlock{assetBlock("c1", 0.2)}, store.CommitOptions{})
	require.NoError(t, err)
	ix, err = st.ReadAssetIndex(ctx, "c1", store.Hourly)
	require.NoError(t, err)
	require.Equal(t, entries[0].SHA256, ix.Blocks[0].SHA256)
	require.Empty(t, ix.Blocks[0].PendingSHA256)

	empty := assetBlock("c1", 0)
	empty.Assets = nil
	_, err = st.CommitAssets(ctx, []store.AssetBlock{empty}, store.CommitOptions{})
	require.True(t, errors.Is(err, store.ErrWouldEraseData), "%v", err)

	// An allocation index is not read as an asset index.
	data, err := store.EncodeIndex(store.Index{Version: store.IndexVersion, Cluster: "c1", Resolution: store.Hourly})
	require.NoError(t, err)
	_, err = store.DecodeAssetIndex(store.AssetIndexKey("c1", store.Hourly), data, "c1", store.Hourly)
	require.ErrorContains(t, err, "pipeline")
}

func TestParsePipelines(t *testing.T) {
	got, err := store.ParsePipelines("allocations, assets,assets")
	require.NoError(t, err)
	require.Equal(t, []store.Pipeline{store.PipelineAllocations, store.PipelineAssets}, got)
	_, err = store.ParsePipelines("allocation")
	require.ErrorContains(t, err, `"allocation"`)
}

// TestExpireAssetsLeavesAllocations: expiring asset windows drops them from
// the asset index and bucket, and sweeps unlisted asset objects, without
// touching allocation blocks.
func TestExpireAssetsLeavesAllocations(t *testing.T) {
	ctx := context.Background()
	bkt := objstore.NewInMemBucket()
	st := store.New(bkt, store.Options{})
	_, err := st.CommitAssets(ctx, []store.AssetBlock{assetBlock("c1", 0.1)}, store.CommitOptions{})
	require.NoError(t, err)
	later := assetBlock("c1", 0.1)
	later.Meta.Window = allocation.Window{Start: assetWin.End, End: assetWin.End.Add(time.Hour)}
	for i := range later.Assets {
		later.Assets[i].Start, later.Assets[i].End = later.Meta.Window.Start, later.Meta.Window.End
	}
	_, err = st.CommitAssets(ctx, []store.AssetBlock{later}, store.CommitOptions{})
	require.NoError(t, err)
	// An orphan the index does not list (an interrupted expiry's leftover).
	orphanWin := allocation.Window{Start: assetWin.Start.Add(-time.Hour), End: assetWin.Start}
	require.NoError(t, bkt.Upload(ctx, store.AssetBlockKey("c1", store.Hourly, orphanWin), bytes.NewReader([]byte("x"))))
	allocKey := store.BlockKey("c1", store.Hourly, assetWin)
	require.NoError(t, bkt.Upload(ctx, allocKey, bytes.NewReader([]byte("not ours"))))

	expired, err := st.ExpireAssets(ctx, "c1", store.Hourly, assetWin.End, store.ExpireOptions{})
	require.NoError(t, err)
	require.Len(t, expired, 1)
	ix, err := st.ReadAssetIndex(ctx, "c1", store.Hourly)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 1)
	for key, want := range map[string]bool{
		store.AssetBlockKey("c1", store.Hourly, assetWin):          false,
		store.AssetBlockKey("c1", store.Hourly, orphanWin):         false,
		store.AssetBlockKey("c1", store.Hourly, later.Meta.Window): true,
		allocKey: true,
	} {
		ok, err := bkt.Exists(ctx, key)
		require.NoError(t, err)
		require.Equal(t, want, ok, key)
	}
}
