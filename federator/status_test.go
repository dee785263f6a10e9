package federator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/store"
)

func TestReadCoverage(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewInMemBucket()
	st := store.New(mem, store.Options{})
	commit(t, st, clusterBlock("a", 0, 5, 1), clusterBlock("a", 1, 5, 2), clusterBlock("a", 4, 5, 3))
	commit(t, st, clusterBlock("b", 0, 5, 4))
	_, err := newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err)
	// b's new day 0 arrives damaged and is quarantined; then a rebuilds day 4
	// after the pass.
	commit(t, st, clusterBlock("b", 0, 5, 10))
	require.NoError(t, mem.Upload(ctx, store.BlockKey("b", store.Daily, dayWindow(0)), strings.NewReader("junk")))
	rep, err := newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Quarantined, 1)
	commit(t, st, clusterBlock("a", 4, 6, 9))

	now := dayWindow(4).End.Add(2 * time.Hour)
	cov, err := ReadCoverage(ctx, st, now, 3*time.Hour)
	require.NoError(t, err)
	require.Len(t, cov.Clusters, 2)
	a, b := cov.Clusters[0], cov.Clusters[1]
	require.Equal(t, "a", a.Cluster)
	ad := a.Resolutions[1]
	require.Equal(t, store.Daily, ad.Resolution)
	require.Equal(t, 3, ad.Windows)
	require.Equal(t, []Gap{{Start: dayWindow(2).Start, End: dayWindow(4).Start}}, ad.Gaps)
	require.Equal(t, 2, ad.Federated, "day 4 was rebuilt after the pass")
	require.False(t, a.Stale)
	require.True(t, b.Stale, "b's newest block is four days old")
	require.Equal(t, 1, b.Resolutions[1].Quarantined)
	require.Zero(t, a.Resolutions[0].Windows, "no hourly blocks")
	require.Equal(t, 3, cov.Combined[1].Windows)
}
