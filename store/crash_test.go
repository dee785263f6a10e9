package store

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/internal/faultbucket"
)

func snapshot(t *testing.T, bkt objstore.Bucket) map[string]string {
	t.Helper()
	objs, err := blocktest.Objects(context.Background(), bkt, "")
	require.NoError(t, err)
	return objs
}

// TestCommitCrashMatrix fails every bucket call of a commit in turn, before and
// after it lands, and checks that (1) the committed state stays readable with
// each window holding its old or its new content, and (2) a clean rerun ends
// byte for byte where a fault-free commit ends.
func TestCommitCrashMatrix(t *testing.T) {
	ctx := context.Background()
	v1 := testBlock("cluster-a", 40, 1)
	v2 := testBlock("cluster-a", 45, 2) // replaces v1's window
	v2.Meta.BuildTime = v1.Meta.BuildTime.Add(time.Hour)
	nextDay := testBlock("cluster-a", 10, 3)
	nextDay.Meta.Window.Start, nextDay.Meta.Window.End = testDay.End, testDay.End.Add(24*time.Hour)
	for i := range nextDay.Rows {
		nextDay.Rows[i].Window = nextDay.Meta.Window
		nextDay.Rows[i].Start = nextDay.Rows[i].Start.Add(24 * time.Hour)
		nextDay.Rows[i].End = nextDay.Rows[i].End.Add(24 * time.Hour)
	}
	second := []Block{v2, nextDay}

	setup := func(t *testing.T) *objstore.InMemBucket {
		mem := objstore.NewInMemBucket()
		_, err := New(mem, Options{}).Commit(ctx, []Block{v1}, CommitOptions{})
		require.NoError(t, err)
		return mem
	}
	ref := setup(t)
	refBkt := faultbucket.New(ref, nil)
	_, err := New(refBkt, Options{}).Commit(ctx, second, CommitOptions{})
	require.NoError(t, err)
	want := snapshot(t, ref)
	ncalls := len(refBkt.Calls())
	require.GreaterOrEqual(t, ncalls, 5, "read index, announce, two uploads, confirm")

	validContent := map[int64][]int{v1.Meta.Window.Start.Unix(): {40, 45}, nextDay.Meta.Window.Start.Unix(): {10}}
	for n := 0; n < ncalls; n++ {
		for _, f := range []faultbucket.Fault{faultbucket.Before, faultbucket.After} {
			mem := setup(t)
			fb := faultbucket.New(mem, faultbucket.FailNth(n, f))
			_, err := New(fb, Options{}).Commit(ctx, second, CommitOptions{})
			call := fb.Calls()[n]
			if err == nil {
				// Only a failed read can go unnoticed… and none may.
				t.Fatalf("call %d (%s %s, %s): commit reported success despite the fault", n, call.Op, call.Name, f)
			}

			st := New(mem, Options{})
			ix, err := st.ReadIndex(ctx, "cluster-a", Daily)
			require.NoError(t, err, "call %d %s", n, f)
			require.NotEmpty(t, ix.Blocks, "call %d %s: the committed window vanished", n, f)
			for _, e := range ix.Blocks {
				b, err := st.ReadBlock(ctx, "cluster-a", Daily, e)
				require.NoError(t, err, "call %d (%s %s, %s): committed window unreadable", n, call.Op, call.Name, f)
				require.Contains(t, validContent[e.Start], len(b.Rows), "call %d %s", n, f)
			}

			_, err = st.Commit(ctx, second, CommitOptions{})
			require.NoError(t, err, "rerun after call %d %s", n, f)
			require.Equal(t, want, snapshot(t, mem), "rerun after a fault at call %d (%s %s, %s) did not converge", n, call.Op, call.Name, f)
		}
	}
}

func TestCommitSkipsIdenticalBytes(t *testing.T) {
	ctx := context.Background()
	fb := faultbucket.New(objstore.NewInMemBucket(), nil)
	st := New(fb, Options{})
	b := testBlock("c", 20, 1)
	_, err := st.Commit(ctx, []Block{b}, CommitOptions{})
	require.NoError(t, err)
	before := len(fb.Calls())
	_, err = st.Commit(ctx, []Block{b}, CommitOptions{})
	require.NoError(t, err)
	for _, c := range fb.Calls()[before:] {
		require.NotEqual(t, faultbucket.OpUpload, c.Op, "re-committing identical bytes wrote %s", c.Name)
	}
}

// CheckBlock finds a missing, emptied or truncated object by its size and
// a same-size change only by its digest; Commit with Rewrite writes the
// listed content again over it (without it, identical bytes are skipped).
func TestCheckBlockAndRewrite(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewInMemBucket()
	st := New(mem, Options{})
	b := testBlock("c", 20, 1)
	entries, err := st.Commit(ctx, []Block{b}, CommitOptions{})
	require.NoError(t, err)
	e := entries[0]
	key := BlockKey("c", Daily, testDay)
	good := snapshot(t, mem)[key]
	require.NoError(t, st.CheckBlock(ctx, "c", Daily, e, CheckSize))
	require.NoError(t, st.CheckBlock(ctx, "c", Daily, e, CheckDigest))

	flipped := []byte(good)
	flipped[len(flipped)/2] ^= 0xff
	for _, tc := range []struct {
		name         string
		damage       func()
		size, digest error
	}{
		{"truncated", func() { require.NoError(t, mem.Upload(ctx, key, strings.NewReader(good[:10]))) }, ErrSizeMismatch, ErrHashMismatch},
		{"empty", func() { require.NoError(t, mem.Upload(ctx, key, strings.NewReader(""))) }, ErrEmptyBlock, ErrEmptyBlock},
		{"missing", func() { require.NoError(t, mem.Delete(ctx, key)) }, ErrMissingBlock, ErrMissingBlock},
		{"same size", func() { require.NoError(t, mem.Upload(ctx, key, bytes.NewReader(flipped))) }, nil, ErrHashMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.damage()
			for mode, want := range map[CheckMode]error{CheckSize: tc.size, CheckDigest: tc.digest} {
				err := st.CheckBlock(ctx, "c", Daily, e, mode)
				if want == nil {
					require.NoError(t, err)
					continue
				}
				var be *BlockError
				require.ErrorAs(t, err, &be)
				require.ErrorIs(t, err, want)
				require.Equal(t, key, be.Key)
			}
			_, err := st.Commit(ctx, []Block{b}, CommitOptions{})
			require.NoError(t, err)
			require.Error(t, st.CheckBlock(ctx, "c", Daily, e, CheckDigest), "identical bytes are not written again")
			_, err = st.Commit(ctx, []Block{b}, CommitOptions{Rewrite: true})
			require.NoError(t, err)
			require.NoError(t, st.CheckBlock(ctx, "c", Daily, e, CheckDigest))
			require.Equal(t, good, snapshot(t, mem)[key])
		})
	}
}
