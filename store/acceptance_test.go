package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gokitlog "github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/filesystem"
	"github.com/thanos-io/objstore/providers/s3"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/internal/testinfra"
)

// seekableUploads fails any upload whose body could not be re-sent: every
// retry layer (ours, minio-go's, the SDK's) rewinds the body, so a one-shot
// reader would upload a truncated object on the second try.
type seekableUploads struct{ objstore.Bucket }

func (b seekableUploads) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	if _, ok := r.(io.ReadSeeker); !ok {
		return fmt.Errorf("upload %s: body %T is not re-readable", name, r)
	}
	return b.Bucket.Upload(ctx, name, r, opts...)
}

// forEachBucket runs f against every bucket kind costfed supports here:
// in-memory first (fails fast), filesystem plain and prefixed, and a real S3
// server (versitygw on loopback; skipped locally when it is not installed,
// failing under CI=true).
func forEachBucket(t *testing.T, f func(t *testing.T, bkt objstore.Bucket)) {
	t.Run("inmem", func(t *testing.T) {
		f(t, seekableUploads{objstore.NewInMemBucket()})
	})
	t.Run("filesystem", func(t *testing.T) {
		fs, err := NewFilesystemBucket(t.TempDir())
		require.NoError(t, err)
		f(t, seekableUploads{fs})
	})
	t.Run("filesystem-inplace", func(t *testing.T) {
		// objstore's provider unwrapped: the store must work on it too.
		fs, err := filesystem.NewBucket(t.TempDir())
		require.NoError(t, err)
		f(t, seekableUploads{fs})
	})
	t.Run("filesystem-prefixed", func(t *testing.T) {
		dir := t.TempDir()
		fs, err := NewFilesystemBucket(dir)
		require.NoError(t, err)
		f(t, seekableUploads{objstore.NewPrefixedBucket(fs, "tenant-a/costfed")})
		_, err = os.Stat(filepath.Join(dir, "tenant-a", "costfed", "federated"))
		require.NoError(t, err, "prefix was not applied on disk")
	})
	t.Run("s3-versitygw", func(t *testing.T) {
		srv := testinfra.StartVersityGW(t)
		bkt, err := s3.NewBucket(gokitlog.NewNopLogger(), srv.S3ConfigYAML(""), "costfed-test", nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = bkt.Close() })
		f(t, seekableUploads{bkt})
	})
}

func hourWindow(h int) allocation.Window {
	s := testDay.Start.Add(time.Duration(h) * time.Hour)
	return allocation.Window{Start: s, End: s.Add(time.Hour)}
}

func hourlyBlock(cluster string, h, n int) Block {
	b := testBlock(cluster, n, uint64(h+1))
	w := hourWindow(h)
	b.Meta.Resolution, b.Meta.Window = Hourly, w
	for i := range b.Rows {
		b.Rows[i].Window, b.Rows[i].Start, b.Rows[i].End = w, w.Start.Add(time.Duration(i)*time.Millisecond), w.End
	}
	return b
}

func TestAcceptance(t *testing.T) {
	ctx := context.Background()
	forEachBucket(t, func(t *testing.T, bkt objstore.Bucket) {
		t.Run("commit and read back", func(t *testing.T) {
			st := New(bkt, Options{})
			daily := testBlock("cluster-a", 300, 1)
			entries, err := st.Commit(ctx, []Block{daily}, CommitOptions{})
			require.NoError(t, err)
			require.Len(t, entries, 1)

			hourly := []Block{hourlyBlock("cluster-a", 0, 20), hourlyBlock("cluster-a", 1, 30), hourlyBlock("cluster-a", 5, 1)}
			_, err = st.Commit(ctx, hourly, CommitOptions{})
			require.NoError(t, err)

			ix, err := st.ReadIndex(ctx, "cluster-a", Daily)
			require.NoError(t, err)
			require.Len(t, ix.Blocks, 1)
			require.Equal(t, entries[0], ix.Blocks[0])
			got, err := st.ReadBlock(ctx, "cluster-a", Daily, ix.Blocks[0])
			require.NoError(t, err)
			require.Equal(t, sortedCopy(daily.Rows), got.Rows)

			hix, err := st.ReadIndex(ctx, "cluster-a", Hourly)
			require.NoError(t, err)
			require.Len(t, hix.Blocks, 3)
			for i, e := range hix.Blocks {
				b, err := st.ReadBlock(ctx, "cluster-a", Hourly, e)
				require.NoError(t, err)
				require.Equal(t, hourly[i].Meta.Window, b.Meta.Window)
				require.Len(t, b.Rows, len(hourly[i].Rows))
			}

			// A second cluster, and the cluster listing.
			_, err = st.Commit(ctx, []Block{testBlock("cluster-b", 10, 2)}, CommitOptions{})
			require.NoError(t, err)
			clusters, err := st.Clusters(ctx)
			require.NoError(t, err)
			require.ElementsMatch(t, []string{"cluster-a", "cluster-b"}, clusters)
		})

		t.Run("a block without an index entry is not committed", func(t *testing.T) {
			st := New(bkt, Options{})
			b := testBlock("cluster-u", 5, 1)
			data, err := EncodeBlock(b)
			require.NoError(t, err)
			require.NoError(t, bkt.Upload(ctx, b.Meta.Ref().Key(), strings.NewReader(string(data))))
			ix, err := st.ReadIndex(ctx, "cluster-u", Daily)
			require.NoError(t, err)
			require.Empty(t, ix.Blocks)
		})

		t.Run("an empty block never silently replaces data", func(t *testing.T) {
			st := New(bkt, Options{})
			full := testBlock("cluster-e", 40, 1)
			_, err := st.Commit(ctx, []Block{full}, CommitOptions{})
			require.NoError(t, err)
			empty := full
			empty.Rows = nil
			_, err = st.Commit(ctx, []Block{empty}, CommitOptions{})
			require.ErrorIs(t, err, ErrWouldEraseData)

			ix, err := st.ReadIndex(ctx, "cluster-e", Daily)
			require.NoError(t, err)
			got, err := st.ReadBlock(ctx, "cluster-e", Daily, ix.Blocks[0])
			require.NoError(t, err, "the refused commit must not have touched the committed block")
			require.Len(t, got.Rows, 40)

			_, err = st.Commit(ctx, []Block{empty}, CommitOptions{AllowEmptyOverwrite: true})
			require.NoError(t, err)
			ix, err = st.ReadIndex(ctx, "cluster-e", Daily)
			require.NoError(t, err)
			require.Equal(t, 0, ix.Blocks[0].Rows)
		})

		t.Run("damaged objects are typed errors", func(t *testing.T) {
			st := New(bkt, Options{})
			b := testBlock("cluster-d", 30, 1)
			entries, err := st.Commit(ctx, []Block{b}, CommitOptions{})
			require.NoError(t, err)
			key := b.Meta.Ref().Key()
			data, err := EncodeBlock(b)
			require.NoError(t, err)

			for name, tc := range map[string]struct {
				body   string
				reason error
			}{
				"zero bytes": {"", ErrEmptyBlock},
				"truncated":  {string(data[:len(data)-100]), ErrHashMismatch},
				"rewritten":  {string(mustEncode(t, testBlock("cluster-d", 31, 9))), ErrHashMismatch},
			} {
				require.NoError(t, bkt.Upload(ctx, key, strings.NewReader(tc.body)), name)
				_, err := st.ReadBlock(ctx, "cluster-d", Daily, entries[0])
				var be *BlockError
				require.True(t, errors.As(err, &be), "%s: %v", name, err)
				require.ErrorIs(t, err, tc.reason, name)
				require.Equal(t, key, be.Key)
			}
			require.NoError(t, bkt.Delete(ctx, key))
			_, err = st.ReadBlock(ctx, "cluster-d", Daily, entries[0])
			require.ErrorIs(t, err, ErrMissingBlock)
		})

		t.Run("a block larger than the multipart part size", func(t *testing.T) {
			st := New(bkt, Options{})
			b := testBlock("cluster-big", 60000, 11)
			for i := range b.Rows {
				b.Rows[i].Properties.Annotations = map[string]string{"note": fmt.Sprintf("%x-%d", b.Rows[i].RAMByteHours, i)}
			}
			entries, err := st.Commit(ctx, []Block{b}, CommitOptions{})
			require.NoError(t, err)
			require.Greater(t, entries[0].Size, int64(5<<20), "the block must exceed the 5 MiB part size to take the multipart path")
			got, err := st.ReadBlock(ctx, "cluster-big", Daily, entries[0])
			require.NoError(t, err)
			require.Len(t, got.Rows, 60000)
		})
	})
}

func mustEncode(t *testing.T, b Block) []byte {
	t.Helper()
	data, err := EncodeBlock(b)
	require.NoError(t, err)
	return data
}

// Issue 16 item 8: a prefix holding only Kubecost's etl/bingen tree is
// foreign, not a cluster; a prefix with blocks and no index is a (damaged)
// cluster, as is one whose index lists nothing.
func TestListClustersSortsOutForeignPrefixes(t *testing.T) {
	ctx := context.Background()
	forEachBucket(t, func(t *testing.T, bkt objstore.Bucket) {
		st := New(bkt, Options{})
		_, err := st.Commit(ctx, []Block{testBlock("cluster-a", 5, 1)}, CommitOptions{})
		require.NoError(t, err)
		orphan := testBlock("cluster-d", 5, 2)
		require.NoError(t, bkt.Upload(ctx, orphan.Meta.Ref().Key(), strings.NewReader(string(mustEncode(t, orphan)))))
		require.NoError(t, st.WriteIndex(ctx, Index{Cluster: "cluster-e", Resolution: Hourly}))
		for _, key := range []string{
			"federated/legacy/etl/bingen/allocations/1d/1704585600-1704672000",
			"federated/legacy/etl/bingen/assets/1h/1704585600-1704589200",
			"federated/old-b/etl/bingen/allocations/1d/1704585600-1704672000",
		} {
			require.NoError(t, bkt.Upload(ctx, key, strings.NewReader("kubecost bingen")))
		}

		l, err := st.ListClusters(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"cluster-a", "cluster-d", "cluster-e"}, l.Clusters)
		require.Equal(t, []string{"legacy", "old-b"}, l.Foreign)
		require.Equal(t, "federated/legacy/", ForeignPrefix("legacy"))

		all, err := st.Clusters(ctx)
		require.NoError(t, err)
		require.Len(t, all, 5, "Clusters lists every prefix")
	})
}

// ListClusters counts no failed bucket operation (objstore's metrics
// wrapper counts an iteration stopped by an error as one).
func TestListClustersCountsNoFailures(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.NewFilesystemStore(t.TempDir(), "")
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	bkt, err := NewBucket(ctx, nil, cfg, reg)
	require.NoError(t, err)
	st := New(bkt, Options{})
	_, err = st.Commit(ctx, []Block{testBlock("cluster-a", 5, 1)}, CommitOptions{})
	require.NoError(t, err)
	require.NoError(t, bkt.Upload(ctx, "federated/legacy/etl/bingen/allocations/1d/1704585600-1704672000", strings.NewReader("bingen")))
	l, err := st.ListClusters(ctx)
	require.NoError(t, err)
	require.Equal(t, ClusterList{Clusters: []string{"cluster-a"}, Foreign: []string{"legacy"}}, l)
	require.Zero(t, iterFailures(t, reg))
}

// iterFailures is objstore's count of failed iterations in reg.
func iterFailures(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "objstore_bucket_operation_failures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "operation" && lp.GetValue() == "iter" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatal(`no objstore_bucket_operation_failures_total{operation="iter"}`)
	return 0
}
