package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/internal/faultbucket"
)

// dayBlock is cluster's daily block d days after testDay.
func dayBlock(cluster string, d, n int, seed uint64) Block {
	b := testBlock(cluster, n, seed)
	s := testDay.Start.Add(time.Duration(d) * 24 * time.Hour)
	b.Meta.Window = allocation.Window{Start: s, End: s.Add(24 * time.Hour)}
	b.Meta.BuildTime = b.Meta.Window.End.Add(20 * time.Minute)
	b.Rows = blocktest.Rows(cluster, b.Meta.Window, n, seed)
	return b
}

// expireSetup commits days 0..3 of cluster-a.
func expireSetup(t *testing.T) *objstore.InMemBucket {
	t.Helper()
	mem := objstore.NewInMemBucket()
	st := New(mem, Options{})
	for d := 0; d < 4; d++ {
		_, err := st.Commit(context.Background(), []Block{dayBlock("cluster-a", d, 5+d, uint64(d))}, CommitOptions{})
		require.NoError(t, err)
	}
	return mem
}

func TestExpire(t *testing.T) {
	ctx := context.Background()
	mem := expireSetup(t)
	st := New(mem, Options{})
	horizon := testDay.Start.Add(2 * 24 * time.Hour) // days 0 and 1 end at or before it

	// An uncommitted object of a newer window (a crashed commit) is not
	// expiry's business.
	newer := dayBlock("cluster-a", 5, 3, 9)
	data, err := EncodeBlock(newer)
	require.NoError(t, err)
	require.NoError(t, mem.Upload(ctx, newer.Meta.Ref().Key(), strings.NewReader(string(data))))

	t.Run("a share above MaxShare is refused and nothing is written", func(t *testing.T) {
		before := snapshot(t, mem)
		_, err := st.Expire(ctx, "cluster-a", Daily, horizon, ExpireOptions{MaxShare: 0.25})
		require.ErrorIs(t, err, ErrExpireShare)
		require.Contains(t, err.Error(), "2 of 4 windows (50 %)")
		require.Equal(t, before, snapshot(t, mem))
	})

	expired, err := st.Expire(ctx, "cluster-a", Daily, horizon, ExpireOptions{MaxShare: 0.5})
	require.NoError(t, err)
	require.Len(t, expired, 2)
	require.Equal(t, testDay.Start.Unix(), expired[0].Start)
	ix, err := st.ReadIndex(ctx, "cluster-a", Daily)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 2)
	require.Equal(t, horizon.Unix(), ix.Blocks[0].Start)
	var keys []string
	require.NoError(t, mem.Iter(ctx, Prefix("cluster-a", Daily), func(name string) error { keys = append(keys, name); return nil }))
	require.Len(t, keys, 4, "index, two kept blocks and the newer uncommitted object: %v", keys)
	require.Contains(t, keys, newer.Meta.Ref().Key())

	again, err := st.Expire(ctx, "cluster-a", Daily, horizon, ExpireOptions{})
	require.NoError(t, err)
	require.Empty(t, again, "nothing left to expire")
}

// TestExpireCrashMatrix fails every bucket call of an expiry in turn, before
// and after it lands, and checks that (1) every window the index still lists
// is readable and no window after the horizon left it, and (2) a clean rerun
// ends byte for byte where a fault-free expiry ends.
func TestExpireCrashMatrix(t *testing.T) {
	ctx := context.Background()
	horizon := testDay.Start.Add(2 * 24 * time.Hour)
	ref := expireSetup(t)
	refBkt := faultbucket.New(ref, nil)
	_, err := New(refBkt, Options{}).Expire(ctx, "cluster-a", Daily, horizon, ExpireOptions{})
	require.NoError(t, err)
	want := snapshot(t, ref)
	ncalls := len(refBkt.Calls())
	require.GreaterOrEqual(t, ncalls, 5, "read index, write index, two deletes, list")

	for n := 0; n < ncalls; n++ {
		for _, f := range []faultbucket.Fault{faultbucket.Before, faultbucket.After} {
			mem := expireSetup(t)
			fb := faultbucket.New(mem, faultbucket.FailNth(n, f))
			_, err := New(fb, Options{}).Expire(ctx, "cluster-a", Daily, horizon, ExpireOptions{})
			call := fb.Calls()[n]
			what := call.Op + " " + faultbucket.Op(call.Name) + " " + faultbucket.Op(f.String())
			require.Error(t, err, "call %d (%s): expiry reported success despite the fault", n, what)
			require.True(t, errors.Is(err, faultbucket.ErrInjected), "call %d (%s): %v", n, what, err)

			st := New(mem, Options{})
			ix, err := st.ReadIndex(ctx, "cluster-a", Daily)
			require.NoError(t, err, "call %d (%s)", n, what)
			kept := 0
			for _, e := range ix.Blocks {
				_, err := st.ReadBlock(ctx, "cluster-a", Daily, e)
				require.NoError(t, err, "call %d (%s): a listed window is unreadable", n, what)
				if e.End > horizon.Unix() {
					kept++
				}
			}
			require.Equal(t, 2, kept, "call %d (%s): a window after the horizon left the index", n, what)

			_, err = st.Expire(ctx, "cluster-a", Daily, horizon, ExpireOptions{})
			require.NoError(t, err, "rerun after call %d (%s)", n, what)
			require.Equal(t, want, snapshot(t, mem), "rerun after a fault at call %d (%s) did not converge", n, what)
		}
	}
}
