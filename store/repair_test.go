package store

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/internal/faultbucket"
)

// repairFixture commits three daily blocks of cluster (rows deliberately out
// of name order, so the entry's total is computed after sorting) and returns
// the store, its bucket and the committed index.
func repairFixture(t *testing.T, cluster string) (*Store, objstore.Bucket, Index) {
	t.Helper()
	ctx := context.Background()
	bkt, err := NewFilesystemBucket(t.TempDir())
	require.NoError(t, err)
	st := New(bkt, Options{})
	var blocks []Block
	for d := range 3 {
		b := dayBlock(cluster, d, 30+d, uint64(d+1))
		for i, j := 0, len(b.Rows)-1; i < j; i, j = i+1, j-1 {
			b.Rows[i], b.Rows[j] = b.Rows[j], b.Rows[i]
		}
		if cluster == CombinedID {
			b.Meta.Sources = []Source{{Cluster: "a", SHA256: strings.Repeat("1f", 32)}, {Cluster: "b", SHA256: strings.Repeat("2e", 32), Quarantined: strings.Repeat("3d", 32)}}
		}
		blocks = append(blocks, b)
	}
	_, err = st.Commit(ctx, blocks, CommitOptions{})
	require.NoError(t, err)
	ix, err := st.ReadIndex(ctx, cluster, Daily)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 3)
	return st, bkt, ix
}

func readIndexBytes(t *testing.T, bkt objstore.Bucket, cluster string, res Resolution) []byte {
	t.Helper()
	objs := snapshot(t, bkt)
	data, ok := objs[IndexKey(cluster, res)]
	require.True(t, ok, "no index object")
	return []byte(data)
}

// Issue 16 item 2: an operator who lost an index loses nothing. Deleting the
// index and repairing gives back the index the commits wrote, byte for byte.
func TestRepairIndexRestoresDeletedIndex(t *testing.T) {
	for _, cluster := range []string{"cluster-a", CombinedID} {
		t.Run(cluster, func(t *testing.T) {
			ctx := context.Background()
			st, bkt, want := repairFixture(t, cluster)
			wantBytes := readIndexBytes(t, bkt, cluster, Daily)
			require.NoError(t, bkt.Delete(ctx, IndexKey(cluster, Daily)))

			rep, err := st.RepairIndex(ctx, cluster, Daily, RepairOptions{})
			require.NoError(t, err)
			require.Equal(t, IndexMissing, rep.Previous)
			require.Equal(t, 3, rep.Found)
			require.Empty(t, rep.SetAside)
			require.True(t, rep.Written)
			require.Equal(t, want.Blocks, rep.Index.Blocks)

			got, err := st.ReadIndex(ctx, cluster, Daily)
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.Equal(t, wantBytes, readIndexBytes(t, bkt, cluster, Daily))
			for _, e := range got.Blocks {
				_, err := st.ReadBlock(ctx, cluster, Daily, e)
				require.NoError(t, err)
			}

			// A second repair finds the index right and writes nothing.
			rep, err = st.RepairIndex(ctx, cluster, Daily, RepairOptions{})
			require.NoError(t, err)
			require.Equal(t, IndexReadable, rep.Previous)
			require.True(t, rep.Unchanged)
			require.False(t, rep.Written)
		})
	}
}

// Issue 16 table row 2: a garbage index is rebuilt from the blocks.
func TestRepairIndexReplacesGarbageIndex(t *testing.T) {
	ctx := context.Background()
	st, bkt, want := repairFixture(t, "cluster-a")
	for _, garbage := range []string{"garbage\n", ""} {
		require.NoError(t, bkt.Upload(ctx, IndexKey("cluster-a", Daily), strings.NewReader(garbage)))
		_, err := st.ReadIndex(ctx, "cluster-a", Daily)
		require.Error(t, err)

		rep, err := st.RepairIndex(ctx, "cluster-a", Daily, RepairOptions{})
		require.NoError(t, err)
		require.Equal(t, IndexUnreadable, rep.Previous)
		var ie *IndexError
		require.ErrorAs(t, rep.PreviousErr, &ie)
		require.True(t, rep.Written)

		got, err := st.ReadIndex(ctx, "cluster-a", Daily)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}

// A truncated block is set aside with its reason, left in place, and left
// out of the index; the other windows stay listed.
func TestRepairIndexSetsAsideDamagedBlocks(t *testing.T) {
	ctx := context.Background()
	st, bkt, want := repairFixture(t, "cluster-a")
	bad := want.Blocks[1]
	badKey := BlockKey("cluster-a", Daily, bad.Window())
	objs := snapshot(t, bkt)
	truncated := objs[badKey][:len(objs[badKey])/2]
	require.NoError(t, bkt.Upload(ctx, badKey, strings.NewReader(truncated)))
	// Objects that are not blocks are ignored, and a block under a key that
	// is not its window's canonical key is set aside.
	prefix := Prefix("cluster-a", Daily)
	require.NoError(t, bkt.Upload(ctx, prefix+"README", strings.NewReader("hi")))
	odd := prefix + "0" + strings.TrimPrefix(BlockKey("cluster-a", Daily, want.Blocks[0].Window()), prefix)
	require.NoError(t, bkt.Upload(ctx, odd, strings.NewReader(objs[BlockKey("cluster-a", Daily, want.Blocks[0].Window())])))

	rep, err := st.RepairIndex(ctx, "cluster-a", Daily, RepairOptions{})
	require.NoError(t, err)
	require.Equal(t, IndexReadable, rep.Previous)
	require.Equal(t, 4, rep.Found)
	require.Len(t, rep.SetAside, 2)
	reasons := map[string]error{}
	for _, be := range rep.SetAside {
		reasons[be.Key] = be.Reason
	}
	require.ErrorIs(t, reasons[badKey], ErrCorruptBlock)
	require.ErrorIs(t, reasons[odd], ErrForeignBlock)
	require.Equal(t, []string{prefix + "README"}, rep.Ignored)
	require.Equal(t, []IndexEntry{bad}, rep.Dropped)
	require.True(t, rep.Written)

	got, err := st.ReadIndex(ctx, "cluster-a", Daily)
	require.NoError(t, err)
	require.Equal(t, []IndexEntry{want.Blocks[0], want.Blocks[2]}, got.Blocks)
	after := snapshot(t, bkt)
	require.Equal(t, truncated, after[badKey], "a set-aside object is never deleted or changed")
	require.Contains(t, after, odd)
}

// A dry run reports what it would write and writes nothing.
func TestRepairIndexDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	st, bkt, want := repairFixture(t, "cluster-a")
	require.NoError(t, bkt.Upload(ctx, IndexKey("cluster-a", Daily), strings.NewReader("garbage")))
	badKey := BlockKey("cluster-a", Daily, want.Blocks[2].Window())
	require.NoError(t, bkt.Upload(ctx, badKey, bytes.NewReader(nil)))
	before := snapshot(t, bkt)

	rep, err := st.RepairIndex(ctx, "cluster-a", Daily, RepairOptions{DryRun: true})
	require.NoError(t, err)
	require.False(t, rep.Written)
	require.False(t, rep.Unchanged)
	require.Equal(t, IndexUnreadable, rep.Previous)
	require.Len(t, rep.SetAside, 1)
	require.ErrorIs(t, rep.SetAside[0], ErrEmptyBlock)
	require.Equal(t, want.Blocks[:2], rep.Index.Blocks)
	require.Equal(t, before, snapshot(t, bkt))
}

// An empty prefix has nothing to repair; a transport error aborts before
// anything is written.
func TestRepairIndexEmptyPrefixAndTransportErrors(t *testing.T) {
	ctx := context.Background()
	st, bkt, want := repairFixture(t, "cluster-a")
	rep, err := st.RepairIndex(ctx, "cluster-a", Hourly, RepairOptions{})
	require.NoError(t, err)
	require.True(t, rep.Empty)
	require.False(t, rep.Written)
	require.NotContains(t, snapshot(t, bkt), IndexKey("cluster-a", Hourly))

	require.NoError(t, bkt.Delete(ctx, IndexKey("cluster-a", Daily)))
	before := snapshot(t, bkt)
	failKey := BlockKey("cluster-a", Daily, want.Blocks[1].Window())
	fb := faultbucket.New(bkt, func(c faultbucket.Call) faultbucket.Fault {
		if c.Op == faultbucket.OpGet && c.Name == failKey {
			return faultbucket.Before
		}
		return faultbucket.None
	})
	_, err = New(fb, Options{}).RepairIndex(ctx, "cluster-a", Daily, RepairOptions{})
	require.ErrorIs(t, err, faultbucket.ErrInjected)
	require.Equal(t, before, snapshot(t, bkt))

	_, err = st.RepairIndex(ctx, "../x", Daily, RepairOptions{})
	require.Error(t, err)
}

// A readable index whose entries match the objects' digests is kept as it
// is, even when an earlier build computed a total a last bit differently.
func TestRepairIndexKeepsMatchingEntries(t *testing.T) {
	ctx := context.Background()
	st, bkt, want := repairFixture(t, "cluster-a")
	want.Blocks[0].TotalCost += 1e-9
	require.NoError(t, st.WriteIndex(ctx, want))
	before := snapshot(t, bkt)
	rep, err := st.RepairIndex(ctx, "cluster-a", Daily, RepairOptions{})
	require.NoError(t, err)
	require.True(t, rep.Unchanged)
	require.False(t, rep.Written)
	require.Equal(t, want.Blocks, rep.Index.Blocks)
	require.Equal(t, before, snapshot(t, bkt))
}
