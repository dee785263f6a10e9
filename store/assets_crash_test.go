package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/internal/faultbucket"
)

func crashAssetBlock(day int, nodes int, cost float64) AssetBlock {
	s := time.Date(2024, 1, 7+day, 0, 0, 0, 0, time.UTC)
	w := allocation.Window{Start: s, End: s.Add(24 * time.Hour)}
	b := AssetBlock{Meta: BlockMeta{Cluster: "cluster-a", Resolution: Daily, Window: w, Complete: true, BuildTime: w.End.Add(time.Duration(cost) * time.Minute)}}
	for i := 0; i < nodes; i++ {
		b.Assets = append(b.Assets, asset.Asset{Kind: asset.KindNode, Properties: asset.Properties{Cluster: "cluster-a", Name: string(rune('a' + i))},
			Window: asset.Window{Start: w.Start, End: w.End}, Start: w.Start, End: w.End, Hours: 24, CPUCost: cost})
	}
	return b
}

// TestCommitAssetsCrashMatrix is TestCommitCrashMatrix for asset blocks:
// every bucket call of a commit fails in turn, before and after landing;
// committed asset windows stay readable with their old or new content, and a
// clean rerun converges byte for byte.
func TestCommitAssetsCrashMatrix(t *testing.T) {
	ctx := context.Background()
	v1 := crashAssetBlock(0, 3, 1)
	v2 := crashAssetBlock(0, 4, 2) // replaces v1's window
	next := crashAssetBlock(1, 2, 3)
	second := []AssetBlock{v2, next}
	setup := func(t *testing.T) *objstore.InMemBucket {
		mem := objstore.NewInMemBucket()
		_, err := New(mem, Options{}).CommitAssets(ctx, []AssetBlock{v1}, CommitOptions{})
		require.NoError(t, err)
		return mem
	}
	ref := setup(t)
	refBkt := faultbucket.New(ref, nil)
	_, err := New(refBkt, Options{}).CommitAssets(ctx, second, CommitOptions{})
	require.NoError(t, err)
	want := snapshot(t, ref)
	ncalls := len(refBkt.Calls())
	require.GreaterOrEqual(t, ncalls, 5, "read index, announce, two uploads, confirm")
	valid := map[int64][]int{v1.Meta.Window.Start.Unix(): {3, 4}, next.Meta.Window.Start.Unix(): {2}}
	for n := 0; n < ncalls; n++ {
		for _, f := range []faultbucket.Fault{faultbucket.Before, faultbucket.After} {
			mem := setup(t)
			fb := faultbucket.New(mem, faultbucket.FailNth(n, f))
			_, err := New(fb, Options{}).CommitAssets(ctx, second, CommitOptions{})
			require.Error(t, err, "call %d %s: success despite the fault", n, f)
			st := New(mem, Options{})
			ix, err := st.ReadAssetIndex(ctx, "cluster-a", Daily)
			require.NoError(t, err, "call %d %s", n, f)
			require.NotEmpty(t, ix.Blocks, "call %d %s: the committed window vanished", n, f)
			for _, e := range ix.Blocks {
				b, err := st.ReadAssetBlock(ctx, "cluster-a", Daily, e)
				require.NoError(t, err, "call %d %s: committed window unreadable", n, f)
				require.Contains(t, valid[e.Start], len(b.Assets), "call %d %s", n, f)
			}
			_, err = st.CommitAssets(ctx, second, CommitOptions{})
			require.NoError(t, err, "rerun after call %d %s", n, f)
			require.Equal(t, want, snapshot(t, mem), "rerun after a fault at call %d %s did not converge", n, f)
		}
	}
}
