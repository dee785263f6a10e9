package federator

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/store"
)

// combinedEntryOf returns the combined index entry of day d.
func combinedEntryOf(t testing.TB, st *store.Store, d int) store.IndexEntry {
	t.Helper()
	ix, err := st.ReadIndex(context.Background(), store.CombinedID, store.Daily)
	require.NoError(t, err)
	e, ok := ix.Find(dayWindow(d).Start)
	require.True(t, ok, "no combined block for day %d", d)
	return e
}

func sourceOf(t testing.TB, e store.IndexEntry, cluster string) store.Source {
	t.Helper()
	src, ok := findSource(e.Sources, cluster)
	require.True(t, ok, "no source for %s in %v", cluster, e.Sources)
	return src
}

// Issue 16 row 3: a cluster whose index is deleted (or truncated) while its
// blocks remain is damaged, not gone: its combined rows are kept, windows
// without them are written incomplete with the damage in their lineage, the
// report names it, and once its index is back everything converges.
func TestFederatorDamagedClusterKeepsItsRows(t *testing.T) {
	for _, damage := range []string{"deleted", "truncated"} {
		t.Run(damage, func(t *testing.T) {
			ctx := context.Background()
			mem := objstore.NewInMemBucket()
			st := store.New(mem, store.Options{})
			a0, a1, b0, b1 := clusterBlock("a", 0, 20, 1), clusterBlock("a", 1, 20, 2), clusterBlock("b", 0, 15, 3), clusterBlock("b", 1, 15, 4)
			commit(t, st, a0, a1)
			commit(t, st, b0, b1)
			reg := prometheus.NewRegistry()
			f := newFederator(st, reg)
			_, err := f.RunOnce(ctx)
			require.NoError(t, err)
			good0, good1 := combinedRows(t, st, 0), combinedRows(t, st, 1)

			// b's index is lost; its agent still uploads day 2's block. a
			// rebuilds day 1 and adds day 2.
			key := store.IndexKey("b", store.Daily)
			if damage == "deleted" {
				require.NoError(t, mem.Delete(ctx, key))
			} else {
				require.NoError(t, mem.Upload(ctx, key, strings.NewReader("")))
			}
			b2 := clusterBlock("b", 2, 15, 5)
			data, err := store.EncodeBlock(b2)
			require.NoError(t, err)
			require.NoError(t, mem.Upload(ctx, store.BlockKey("b", store.Daily, dayWindow(2)), strings.NewReader(string(data))))
			a1r := clusterBlock("a", 1, 20, 9)
			commit(t, st, a1r, clusterBlock("a", 2, 20, 6))

			rep, err := f.RunOnce(ctx)
			require.NoError(t, err)
			reason := DamageIndexMissing
			if damage == "truncated" {
				reason = DamageIndexUnreadable
			}
			var bStatus ClusterStatus
			for _, c := range rep.Clusters {
				if c.Cluster == "b" {
					bStatus = c
				}
			}
			require.Len(t, bStatus.Damaged, 1, "the report names b damaged: %+v", rep.Clusters)
			require.Contains(t, bStatus.Damaged[0], reason)
			require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.damaged))
			cov, err := ReadCoverage(ctx, st, f.opts.Now(), f.opts.StaleAfter)
			require.NoError(t, err)
			for _, c := range cov.Clusters {
				for _, r := range c.Resolutions {
					if c.Cluster == "b" && r.Resolution == store.Daily {
						require.Contains(t, r.Damaged, reason, "status shows b damaged")
					} else {
						require.Empty(t, r.Damaged, "%s %s", c.Cluster, r.Resolution)
					}
				}
			}

			// Day 0: b's rows kept, the damage recorded, not complete.
			require.Equal(t, good0, combinedRows(t, st, 0))
			e0 := combinedEntryOf(t, st, 0)
			require.False(t, e0.Complete)
			require.Equal(t, store.Source{Cluster: "b", SHA256: sourceOf(t, e0, "b").SHA256, Reason: reason}, sourceOf(t, e0, "b"))
			require.NotEmpty(t, sourceOf(t, e0, "b").SHA256)
			// Day 1: a's rebuild merged, b's previous rows kept.
			got1 := combinedRows(t, st, 1)
			want1 := unionRows(t, st, []string{"a"}, 1)
			for k, v := range good1 {
				if strings.HasPrefix(k, "b/") {
					want1[k] = v
				}
			}
			require.Equal(t, want1, got1)
			require.False(t, combinedEntryOf(t, st, 1).Complete)
			// Day 2: new, without b's rows (its index does not list the
			// block), so incomplete, naming b and the reason.
			require.Equal(t, unionRows(t, st, []string{"a"}, 2), combinedRows(t, st, 2))
			e2 := combinedEntryOf(t, st, 2)
			require.False(t, e2.Complete)
			require.Equal(t, store.Source{Cluster: "b", Reason: reason}, sourceOf(t, e2, "b"))

			// The next pass changes nothing.
			combined := snapshot(t, mem, "federated/combined/")
			rep, err = f.RunOnce(ctx)
			require.NoError(t, err)
			require.Zero(t, rep.Merged[store.Daily])
			require.Equal(t, combined, snapshot(t, mem, "federated/combined/"))

			// The index comes back (the agent re-commits its blocks): every
			// window converges to the merge of the current inputs.
			// (An unreadable index is repaired by removing it first.)
			if damage == "truncated" {
				require.NoError(t, mem.Delete(ctx, key))
			}
			commit(t, st, b0, b1, b2)
			rep, err = f.RunOnce(ctx)
			require.NoError(t, err)
			require.Equal(t, 3, rep.Merged[store.Daily])
			for d := range 3 {
				want := unionRows(t, st, []string{"a", "b"}, d)
				require.Equal(t, want, combinedRows(t, st, d), "day %d", d)
				e := combinedEntryOf(t, st, d)
				require.True(t, e.Complete, "day %d", d)
				for _, s := range e.Sources {
					require.False(t, s.Missing(), "day %d: %+v", d, s)
				}
			}
			require.Zero(t, testutil.ToFloat64(f.metrics.damaged))
		})
	}
}

// A prefix with an index listing nothing and no blocks is not damaged, and a
// missing index with no blocks is not either.
func TestFederatorEmptyClusterIsNotDamaged(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewInMemBucket()
	st := store.New(mem, store.Options{})
	commit(t, st, clusterBlock("a", 0, 5, 1))
	require.NoError(t, st.WriteIndex(ctx, store.Index{Cluster: "b", Resolution: store.Daily}))
	f := newFederator(st, nil)
	rep, err := f.RunOnce(ctx)
	require.NoError(t, err)
	for _, c := range rep.Clusters {
		require.Empty(t, c.Damaged, c.Cluster)
	}
	require.True(t, combinedEntryOf(t, st, 0).Complete)
}

// A damaged cluster's agent writes a new index listing only its new blocks
// (it read the missing index as empty): the windows recorded damaged stay so,
// with the rows kept, until the index lists them again; the new window merges
// normally, and passes converge.
func TestFederatorDamageStaysUntilTheIndexListsTheWindow(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewInMemBucket()
	st := store.New(mem, store.Options{})
	commit(t, st, clusterBlock("a", 0, 20, 1), clusterBlock("a", 1, 20, 2))
	commit(t, st, clusterBlock("b", 0, 15, 3))
	f := newFederator(st, nil)
	_, err := f.RunOnce(ctx)
	require.NoError(t, err)
	good0 := combinedRows(t, st, 0)

	require.NoError(t, mem.Delete(ctx, store.IndexKey("b", store.Daily)))
	_, err = f.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, store.Source{Cluster: "b", SHA256: sourceOf(t, combinedEntryOf(t, st, 0), "b").SHA256, Reason: DamageIndexMissing}, sourceOf(t, combinedEntryOf(t, st, 0), "b"))

	commit(t, st, clusterBlock("b", 1, 15, 4)) // a new index, listing day 1 only
	rep, err := f.RunOnce(ctx)
	require.NoError(t, err)
	for _, c := range rep.Clusters {
		require.Empty(t, c.Damaged, c.Cluster)
	}
	require.Equal(t, good0, combinedRows(t, st, 0), "b's rows of day 0 are kept")
	e0 := combinedEntryOf(t, st, 0)
	require.False(t, e0.Complete)
	require.Equal(t, DamageIndexMissing, sourceOf(t, e0, "b").Reason, "day 0 stays marked: b's index does not list it")
	require.Equal(t, unionRows(t, st, []string{"a", "b"}, 1), combinedRows(t, st, 1))
	require.True(t, combinedEntryOf(t, st, 1).Complete)

	rep, err = f.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.Merged[store.Daily])
}

// Issue 16 item 8: a prefix with only Kubecost's etl/bingen tree is not a
// cluster: it is named once in the log (again only when the set changes),
// listed in the report as ignored, and never stale or damaged.
func TestFederatorIgnoresForeignPrefixes(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewInMemBucket()
	st := store.New(mem, store.Options{})
	commit(t, st, clusterBlock("a", 0, 5, 1))
	require.NoError(t, mem.Upload(ctx, "federated/legacy/etl/bingen/allocations/1d/1704585600-1704672000", strings.NewReader("bingen")))
	var logs strings.Builder
	reg := prometheus.NewRegistry()
	f := New(st, Options{Resolutions: []store.Resolution{store.Daily}, Version: "test", Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return dayWindow(0).End.Add(time.Hour) }})
	for range 2 {
		rep, err := f.RunOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"federated/legacy/"}, rep.Ignored)
		require.Len(t, rep.Clusters, 1)
		require.Equal(t, "a", rep.Clusters[0].Cluster)
		require.False(t, rep.Clusters[0].Stale)
	}
	require.Equal(t, 1, strings.Count(logs.String(), "ignoring prefixes"), logs.String())
	require.Zero(t, testutil.ToFloat64(f.metrics.stale))

	require.NoError(t, mem.Upload(ctx, "federated/old-b/etl/bingen/allocations/1d/1704585600-1704672000", strings.NewReader("bingen")))
	rep, err := f.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"federated/legacy/", "federated/old-b/"}, rep.Ignored)
	require.Equal(t, 2, strings.Count(logs.String(), "ignoring prefixes"), "a new foreign prefix is noted")
}
