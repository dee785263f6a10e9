package federator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	gokitlog "github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/s3"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/internal/faultbucket"
	"github.com/costfed/costfed/internal/testinfra"
	"github.com/costfed/costfed/store"
)

func dayWindow(d int) allocation.Window {
	s := day0.Add(time.Duration(d) * 24 * time.Hour)
	return allocation.Window{Start: s, End: s.Add(24 * time.Hour)}
}

// clusterBlock is cluster's daily block for day d with n rows; seed varies the
// content (a "rebuild" uses another seed).
func clusterBlock(cluster string, d, n int, seed uint64) store.Block {
	w := dayWindow(d)
	return store.Block{
		Meta: store.BlockMeta{Cluster: cluster, Resolution: store.Daily, Window: w, Complete: true,
			BuildTime: w.End.Add(10 * time.Minute), ProducerVersion: "test", ProducerInstance: cluster + "-agent"},
		Rows: blocktest.Rows(cluster, w, n, seed),
	}
}

func commit(t testing.TB, st *store.Store, blocks ...store.Block) {
	t.Helper()
	_, err := st.Commit(context.Background(), blocks, store.CommitOptions{})
	require.NoError(t, err)
}

func newFederator(st *store.Store, reg prometheus.Registerer) *Federator {
	return New(st, Options{Resolutions: []store.Resolution{store.Daily}, Version: "test", Registerer: reg,
		Now: func() time.Time { return day0.Add(10 * 24 * time.Hour) }})
}

// combinedRows reads the combined block of day d and returns its rows by name.
func combinedRows(t testing.TB, st *store.Store, d int) map[string]allocation.Allocation {
	t.Helper()
	ix, err := st.ReadIndex(context.Background(), store.CombinedID, store.Daily)
	require.NoError(t, err)
	e, ok := ix.Find(dayWindow(d).Start)
	require.True(t, ok, "no combined block for day %d", d)
	b, err := st.ReadBlock(context.Background(), store.CombinedID, store.Daily, e)
	require.NoError(t, err)
	out := map[string]allocation.Allocation{}
	for _, r := range b.Rows {
		out[r.Name] = r
	}
	return out
}

// unionRows is what the combined block of day d must hold: every committed
// cluster block's rows.
func unionRows(t testing.TB, st *store.Store, clusters []string, d int) map[string]allocation.Allocation {
	t.Helper()
	out := map[string]allocation.Allocation{}
	for _, c := range clusters {
		ix, err := st.ReadIndex(context.Background(), c, store.Daily)
		require.NoError(t, err)
		e, ok := ix.Find(dayWindow(d).Start)
		if !ok {
			continue
		}
		b, err := st.ReadBlock(context.Background(), c, store.Daily, e)
		require.NoError(t, err)
		for _, r := range b.Rows {
			out[r.Name] = r
		}
	}
	return out
}

// bucketKinds runs f with a bucket factory per kind: in-memory, and a real S3
// server (versitygw on loopback) where every call gets a fresh prefix.
func bucketKinds(t *testing.T, f func(t *testing.T, newBucket func() objstore.Bucket)) {
	t.Run("inmem", func(t *testing.T) {
		f(t, func() objstore.Bucket { return objstore.NewInMemBucket() })
	})
	t.Run("s3-versitygw", func(t *testing.T) {
		srv := testinfra.StartVersityGW(t)
		bkt, err := s3.NewBucket(gokitlog.NewNopLogger(), srv.S3ConfigYAML(""), "costfed-test", nil)
		require.NoError(t, err)
		n := 0
		f(t, func() objstore.Bucket {
			n++
			return objstore.NewPrefixedBucket(bkt, fmt.Sprintf("run-%04d", n))
		})
	})
}

func TestFederatorMergesIncrementally(t *testing.T) {
	bucketKinds(t, testMergesIncrementally)
}

func testMergesIncrementally(t *testing.T, newBucket func() objstore.Bucket) {
	ctx := context.Background()
	fb := faultbucket.New(newBucket(), nil)
	st := store.New(fb, store.Options{})
	commit(t, st, clusterBlock("a", 0, 30, 1), clusterBlock("a", 1, 20, 2))
	commit(t, st, clusterBlock("b", 0, 25, 3))

	reg := prometheus.NewPedanticRegistry()
	f := newFederator(st, reg)
	rep, err := f.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, rep.Merged[store.Daily])
	require.Equal(t, unionRows(t, st, []string{"a", "b"}, 0), combinedRows(t, st, 0))
	require.Equal(t, unionRows(t, st, []string{"a", "b"}, 1), combinedRows(t, st, 1))
	require.Equal(t, 2.0, testutil.ToFloat64(f.metrics.merged.WithLabelValues("1d")))

	t.Run("a pass with nothing changed reads only indexes and writes nothing", func(t *testing.T) {
		before := len(fb.Calls())
		rep, err := f.RunOnce(ctx)
		require.NoError(t, err)
		require.Zero(t, rep.Merged[store.Daily])
		for _, c := range fb.Calls()[before:] {
			require.NotEqual(t, faultbucket.OpUpload, c.Op, "no-op pass wrote %s", c.Name)
			require.NotEqual(t, faultbucket.OpDelete, c.Op, "no-op pass deleted %s", c.Name)
			if c.Op == faultbucket.OpGet {
				require.True(t, strings.HasSuffix(c.Name, "/index.json"), "no-op pass read %s", c.Name)
			}
		}
	})

	t.Run("a late cluster re-merges exactly its window", func(t *testing.T) {
		commit(t, st, clusterBlock("c", 1, 10, 4))
		rep, err := f.RunOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Merged[store.Daily])
		require.Equal(t, unionRows(t, st, []string{"a", "b", "c"}, 1), combinedRows(t, st, 1))
	})

	t.Run("a rebuilt block re-merges its window", func(t *testing.T) {
		commit(t, st, clusterBlock("b", 0, 26, 99))
		rep, err := f.RunOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Merged[store.Daily])
		require.Equal(t, unionRows(t, st, []string{"a", "b"}, 0), combinedRows(t, st, 0))
	})

	t.Run("a denied cluster leaves the combined store; its own data stays", func(t *testing.T) {
		clusterData := snapshot(t, fb, "federated/c/")
		fd := New(st, Options{Resolutions: []store.Resolution{store.Daily}, Version: "test", Allowed: func(c string) bool { return c != "c" }})
		_, err := fd.RunOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, unionRows(t, st, []string{"a"}, 1), combinedRows(t, st, 1))
		require.Equal(t, clusterData, snapshot(t, fb, "federated/c/"))
	})
}

func snapshot(t testing.TB, bkt objstore.Bucket, prefix string) map[string]string {
	t.Helper()
	objs, err := blocktest.Objects(context.Background(), bkt, prefix)
	require.NoError(t, err)
	return objs
}

func TestFederatorQuarantinesBadBlocks(t *testing.T) {
	bucketKinds(t, testQuarantinesBadBlocks)
}

func testQuarantinesBadBlocks(t *testing.T, newBucket func() objstore.Bucket) {
	ctx := context.Background()
	mem := newBucket()
	st := store.New(mem, store.Options{})
	commit(t, st, clusterBlock("a", 0, 30, 1))
	commit(t, st, clusterBlock("b", 0, 25, 3))
	f := newFederator(st, nil)
	_, err := f.RunOnce(ctx)
	require.NoError(t, err)
	good := combinedRows(t, st, 0)

	// b's agent commits a rebuild, then the object is damaged (a full volume
	// writing 0 bytes); a third cluster's first block is foreign data.
	commit(t, st, clusterBlock("b", 0, 25, 7))
	require.NoError(t, mem.Upload(ctx, store.BlockKey("b", store.Daily, dayWindow(0)), strings.NewReader("")))
	foreign := clusterBlock("d", 0, 5, 8)
	commit(t, st, foreign)
	data, err := store.EncodeBlock(clusterBlock("a", 0, 5, 8))
	require.NoError(t, err)
	require.NoError(t, mem.Upload(ctx, store.BlockKey("d", store.Daily, dayWindow(0)), strings.NewReader(string(data))))
	commit(t, st, clusterBlock("e", 0, 4, 9))
	clusterData := snapshot(t, mem, "federated/b/")

	rep, err := f.RunOnce(ctx)
	require.NoError(t, err, "bad inputs are quarantined, not fatal")
	require.Len(t, rep.Quarantined, 2)
	reasons := map[string]string{}
	for _, q := range rep.Quarantined {
		reasons[q.Cluster] = q.Reason
	}
	require.Contains(t, reasons["b"], "empty object")
	require.Contains(t, reasons["d"], "does not list")

	got := combinedRows(t, st, 0)
	want := maps.Clone(good) // a's and b's previous rows are kept…
	for k, v := range unionRows(t, st, []string{"e"}, 0) {
		want[k] = v // …and the healthy newcomer is merged
	}
	require.Equal(t, want, got)
	require.Equal(t, clusterData, snapshot(t, mem, "federated/b/"), "the federator never touches a cluster's data")
	require.Equal(t, 2.0, testutil.ToFloat64(f.metrics.quarantined))

	// The next pass does not re-read the same bad blocks.
	rep, err = f.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.Merged[store.Daily])

	// b uploads a good block again: its window re-merges with it.
	commit(t, st, clusterBlock("b", 0, 25, 11))
	rep, err = f.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Merged[store.Daily])
	require.Contains(t, combinedRows(t, st, 0), unionRowsName(t, st, "b"))
}

func unionRowsName(t testing.TB, st *store.Store, cluster string) string {
	for name := range unionRows(t, st, []string{cluster}, 0) {
		return name
	}
	t.Fatalf("cluster %s has no rows", cluster)
	return ""
}

func TestFederatorReportsStaleAndDuplicateClusters(t *testing.T) {
	ctx := context.Background()
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	for d := 0; d < 6; d++ {
		b := clusterBlock("twin", d, 3, uint64(d))
		b.Meta.ProducerInstance = []string{"agent-x", "agent-y"}[d%2]
		commit(t, st, b)
	}
	commit(t, st, clusterBlock("fresh", 9, 3, 1))
	f := newFederator(st, nil)
	rep, err := f.RunOnce(ctx)
	require.NoError(t, err)
	byID := map[string]ClusterStatus{}
	for _, c := range rep.Clusters {
		byID[c.Cluster] = c
	}
	require.Equal(t, []string{"agent-x", "agent-y"}, byID["twin"].DuplicateProducers)
	require.True(t, byID["twin"].Stale, "newest block is days old")
	require.False(t, byID["fresh"].Stale)
	require.Empty(t, byID["fresh"].DuplicateProducers)
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.duplicateIDs))
}

// TestFederatorCrashMatrix fails every bucket call of a pass in turn, before
// and after it lands. The pass merges a rebuilt block, a new cluster and a new
// day, and expires the oldest day by retention. After each faulty pass every
// committed combined window is readable and every window inside retention
// still holds every cluster it held before the pass; a clean rerun then ends
// byte for byte where a fault-free pass ends.
func TestFederatorCrashMatrix(t *testing.T) {
	bucketKinds(t, testCrashMatrix)
}

func testCrashMatrix(t *testing.T, newBucket func() objstore.Bucket) {
	ctx := context.Background()
	setup := func(t *testing.T) objstore.Bucket {
		mem := newBucket()
		st := store.New(mem, store.Options{})
		commit(t, st, clusterBlock("a", 0, 12, 1), clusterBlock("a", 1, 10, 2))
		commit(t, st, clusterBlock("b", 0, 8, 3))
		_, err := newFederator(st, nil).RunOnce(ctx)
		require.NoError(t, err)
		// Changes for the pass under test: a rebuilt block, a new cluster, a
		// new day; and day 0 falls out of retention.
		commit(t, st, clusterBlock("a", 1, 11, 4))
		commit(t, st, clusterBlock("c", 1, 5, 5), clusterBlock("c", 2, 6, 6))
		return mem
	}
	clustersOf := func(t *testing.T, st *store.Store) map[int64][]string {
		ix, err := st.ReadIndex(ctx, store.CombinedID, store.Daily)
		require.NoError(t, err)
		out := map[int64][]string{}
		for _, e := range ix.Blocks {
			b, err := st.ReadBlock(ctx, store.CombinedID, store.Daily, e)
			require.NoError(t, err, "combined window %d unreadable", e.Start)
			set := map[string]bool{}
			for _, r := range b.Rows {
				set[r.Properties.Cluster] = true
			}
			out[e.Start] = slices.Sorted(maps.Keys(set))
		}
		return out
	}

	// The pass under test keeps 9 of the 10 days before its clock: day 0 expires.
	retaining := func(st *store.Store) *Federator {
		f := newFederator(st, nil)
		f.opts.Retention = map[store.Resolution]time.Duration{store.Daily: 9 * 24 * time.Hour}
		return f
	}
	horizon := dayWindow(0).End.Unix()
	ref := setup(t)
	before := clustersOf(t, store.New(ref, store.Options{}))
	require.Contains(t, before, dayWindow(0).Start.Unix())
	counting := faultbucket.New(ref, nil)
	rep, err := retaining(store.New(counting, store.Options{})).RunOnce(ctx)
	require.Equal(t, 1, rep.Expired[store.Daily])
	require.NoError(t, err)
	want := snapshot(t, ref, "")
	ncalls := len(counting.Calls())
	t.Logf("a pass makes %d bucket calls", ncalls)

	for n := 0; n < ncalls; n++ {
		for _, fault := range []faultbucket.Fault{faultbucket.Before, faultbucket.After} {
			mem := setup(t)
			fb := faultbucket.New(mem, faultbucket.FailNth(n, fault))
			_, _ = retaining(store.New(fb, store.Options{})).RunOnce(ctx)
			call := fb.Calls()[n]
			what := fmt.Sprintf("fault %s call %d (%s %s)", fault, n, call.Op, call.Name)

			after := clustersOf(t, store.New(mem, store.Options{}))
			for start, had := range before {
				if start+24*3600 <= horizon {
					continue // expired: it may be gone
				}
				for _, c := range had {
					require.Contains(t, after[start], c, "%s: window %d lost cluster %s", what, start, c)
				}
			}
			_, err := retaining(store.New(mem, store.Options{})).RunOnce(ctx)
			require.NoError(t, err, what)
			require.Equal(t, want, snapshot(t, mem, ""), "%s: rerun did not converge", what)
		}
	}
}

// TestFederatorDeterministic runs two federators, at different times, over the
// same inputs: they write the same bytes, so racing federators converge.
func TestFederatorDeterministic(t *testing.T) {
	ctx := context.Background()
	var results []map[string]string
	for i := 0; i < 2; i++ {
		mem := objstore.NewInMemBucket()
		st := store.New(mem, store.Options{})
		commit(t, st, clusterBlock("a", 0, 40, 1))
		commit(t, st, clusterBlock("b", 0, 30, 2))
		_, err := New(st, Options{Resolutions: []store.Resolution{store.Daily}, Version: "test",
			Now: func() time.Time { return day0.Add(time.Duration(i+1) * 1000 * time.Hour) }}).RunOnce(ctx)
		require.NoError(t, err)
		results = append(results, snapshot(t, mem, "federated/combined/"))
	}
	require.Equal(t, results[0], results[1], "the combined store depends on something other than its inputs")
}

func TestFederatorAgainstS3(t *testing.T) {
	ctx := context.Background()
	srv := testinfra.StartVersityGW(t)
	bkt, err := s3.NewBucket(gokitlog.NewNopLogger(), srv.S3ConfigYAML(""), "costfed-test", nil)
	require.NoError(t, err)
	st := store.New(bkt, store.Options{})
	f := newFederator(st, nil)

	ids := func(n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("cluster-%02d", i))
		}
		return out
	}
	committed := 0
	for _, n := range []int{2, 20} {
		for i := committed; i < n; i++ {
			commit(t, st, clusterBlock(ids(n)[i], 0, 50, uint64(i)), clusterBlock(ids(n)[i], 1, 40, uint64(i+100)))
		}
		committed = n
		rep, err := f.RunOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, rep.Merged[store.Daily], "%d clusters", n)
		for d := 0; d < 2; d++ {
			require.Equal(t, unionRows(t, st, ids(n), d), combinedRows(t, st, d), "%d clusters, day %d", n, d)
		}
	}
	// A late block for one cluster re-merges its window only, over real S3.
	commit(t, st, clusterBlock("cluster-07", 2, 10, 5))
	rep, err := f.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Merged[store.Daily])
	require.Len(t, combinedRows(t, st, 2), 10)
}

// Issue 16 item 2 (table rows 1, 2 and 7): an unreadable combined index is
// rebuilt from the combined blocks at the start of a pass. Intact blocks keep
// their lineage and are not merged again; a damaged one is set aside and its
// window re-merged, so the store ends where an undamaged one is.
func TestFederatorRepairsUnreadableCombinedIndex(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewInMemBucket()
	st := store.New(mem, store.Options{})
	commit(t, st, clusterBlock("a", 0, 30, 1), clusterBlock("a", 1, 20, 2))
	commit(t, st, clusterBlock("b", 0, 25, 3), clusterBlock("b", 1, 15, 4))
	f := newFederator(st, nil)
	_, err := f.RunOnce(ctx)
	require.NoError(t, err)
	want := snapshot(t, mem, "federated/combined/")
	indexKey := store.IndexKey(store.CombinedID, store.Daily)
	ix, err := st.ReadIndex(ctx, store.CombinedID, store.Daily)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 2)

	for _, garbage := range []string{"garbage\n", "", want[indexKey][:len(want[indexKey])/2]} {
		require.NoError(t, mem.Upload(ctx, indexKey, strings.NewReader(garbage)))
		rep, err := newFederator(st, nil).RunOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{indexKey}, rep.RepairedIndexes)
		require.Zero(t, rep.Merged[store.Daily], "intact combined blocks are not merged again")
		require.Empty(t, rep.Quarantined)
		require.Equal(t, want, snapshot(t, mem, "federated/combined/"))
	}

	// A truncated combined block as well: set aside, and its window merged
	// again in the same pass.
	badKey := store.BlockKey(store.CombinedID, store.Daily, dayWindow(1))
	require.NoError(t, mem.Upload(ctx, badKey, strings.NewReader(want[badKey][:len(want[badKey])/3])))
	require.NoError(t, mem.Upload(ctx, indexKey, strings.NewReader("garbage\n")))
	rep, err := newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{indexKey}, rep.RepairedIndexes)
	require.Len(t, rep.Quarantined, 1)
	require.Equal(t, badKey, rep.Quarantined[0].Key)
	require.Equal(t, 1, rep.Merged[store.Daily])
	require.Equal(t, unionRows(t, st, []string{"a", "b"}, 1), combinedRows(t, st, 1))
	require.Equal(t, want, snapshot(t, mem, "federated/combined/"))

	// The next pass finds the store healthy.
	rep, err = newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.RepairedIndexes)
	require.Zero(t, rep.Merged[store.Daily])
}

// Issue 16 row 7 (point 2): a combined block whose object no longer is the
// content the combined index lists is merged again on the next pass. A
// truncated, emptied or deleted block is found by its size (one attributes
// call a window); a same-size change only by the digest check. The rebuilt
// store is the undamaged one, byte for byte, and the next pass finds it
// healthy.
func TestFederatorRemergesDamagedCombinedBlock(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewInMemBucket()
	st := store.New(mem, store.Options{})
	commit(t, st, clusterBlock("a", 0, 30, 1), clusterBlock("a", 1, 20, 2))
	commit(t, st, clusterBlock("b", 0, 25, 3), clusterBlock("b", 1, 15, 4))
	_, err := newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err)
	want := snapshot(t, mem, "federated/combined/")
	key := store.BlockKey(store.CombinedID, store.Daily, dayWindow(1))
	good := want[key]

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
		{"same size, other bytes", func() { require.NoError(t, mem.Upload(ctx, key, strings.NewReader(string(flipped)))) }, store.CheckDigest, store.ErrHashMismatch},
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
			require.Equal(t, 1, rep.Merged[store.Daily], "the damaged window, and only it, is merged again")
			require.Equal(t, unionRows(t, st, []string{"a", "b"}, 1), combinedRows(t, st, 1))
			require.Equal(t, want, snapshot(t, mem, "federated/combined/"))

			rep, err = f.RunOnce(ctx)
			require.NoError(t, err)
			require.Empty(t, rep.DamagedCombined)
			require.Zero(t, rep.Merged[store.Daily])
		})
	}

	t.Run("the size check does not see a same-size change", func(t *testing.T) {
		require.NoError(t, mem.Upload(ctx, key, strings.NewReader(string(flipped))))
		rep, err := newFederator(st, nil).RunOnce(ctx)
		require.NoError(t, err)
		require.Empty(t, rep.DamagedCombined)
		require.NoError(t, mem.Upload(ctx, key, strings.NewReader(good)))
	})

	t.Run("rows kept only in the damaged block are lost, and the window says so", func(t *testing.T) {
		// b's index is unreadable: its day-1 rows live only in the combined
		// block, which is then truncated.
		bIndex := store.IndexKey("b", store.Daily)
		saved := want[key]
		bIx, err := mem.Get(ctx, bIndex)
		require.NoError(t, err)
		bIxBytes, err := io.ReadAll(bIx)
		require.NoError(t, err)
		require.NoError(t, bIx.Close())
		require.NoError(t, mem.Upload(ctx, bIndex, strings.NewReader("garbage\n")))
		require.NoError(t, mem.Upload(ctx, key, strings.NewReader(saved[:len(saved)/2])))
		rep, err := newFederator(st, nil).RunOnce(ctx)
		require.NoError(t, err)
		require.Len(t, rep.DamagedCombined, 1)
		require.Equal(t, unionRows(t, st, []string{"a"}, 1), combinedRows(t, st, 1), "a's rows come back from its block")
		ix, err := st.ReadIndex(ctx, store.CombinedID, store.Daily)
		require.NoError(t, err)
		e, _ := ix.Find(dayWindow(1).Start)
		require.False(t, e.Complete, "b's rows are missing")
		src, ok := findSource(e.Sources, "b")
		require.True(t, ok, "b stays in the lineage")
		require.True(t, src.Missing())
		require.Equal(t, DamageIndexUnreadable, src.Reason)

		// b's index readable again: the window is whole.
		require.NoError(t, mem.Upload(ctx, bIndex, bytes.NewReader(bIxBytes)))
		_, err = newFederator(st, nil).RunOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, want, snapshot(t, mem, "federated/combined/"))
	})
}

// A cluster whose index cannot be read this pass (a transport error, not
// damage) keeps its rows from the combined block; when that block is
// damaged too, its rows are lost: the window is written incomplete with
// DamagePreviousLost in b's lineage, and merged whole once b's index reads.
func TestFederatorDamagedCombinedBlockLosesCarriedRows(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewInMemBucket()
	failB := false
	bIndex := store.IndexKey("b", store.Daily)
	fb := faultbucket.New(mem, func(c faultbucket.Call) faultbucket.Fault {
		if failB && c.Op == faultbucket.OpGet && c.Name == bIndex {
			return faultbucket.Before
		}
		return faultbucket.None
	})
	st := store.New(fb, store.Options{})
	commit(t, st, clusterBlock("a", 0, 30, 1))
	commit(t, st, clusterBlock("b", 0, 25, 3))
	_, err := newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err)
	want := snapshot(t, mem, "federated/combined/")
	key := store.BlockKey(store.CombinedID, store.Daily, dayWindow(0))

	failB = true
	require.NoError(t, mem.Upload(ctx, key, strings.NewReader(want[key][:len(want[key])/2])))
	rep, err := newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err, "an unreadable cluster index is reported on the cluster")
	require.NotEmpty(t, rep.Clusters[1].IndexError)
	require.Len(t, rep.DamagedCombined, 1)
	require.Equal(t, 1, rep.Merged[store.Daily])
	require.Equal(t, unionRows(t, st, []string{"a"}, 0), combinedRows(t, st, 0))
	ix, err := st.ReadIndex(ctx, store.CombinedID, store.Daily)
	require.NoError(t, err)
	e, _ := ix.Find(dayWindow(0).Start)
	require.False(t, e.Complete)
	src, ok := findSource(e.Sources, "b")
	require.True(t, ok)
	require.Equal(t, DamagePreviousLost, src.Reason)

	// Stable while b's index stays unreadable; whole once it reads.
	rep, err = newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.Merged[store.Daily])
	failB = false
	rep, err = newFederator(st, nil).RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Merged[store.Daily])
	require.Equal(t, want, snapshot(t, mem, "federated/combined/"))
}
