package store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/thanos-io/objstore"
	"golang.org/x/sync/errgroup"

	"github.com/costfed/costfed/allocation"
)

// Store reads and commits blocks and indexes in a bucket. It is safe for
// concurrent reads; commits to one cluster and resolution must come from one
// writer at a time (one agent per cluster id, one federator per bucket), as the
// index is read, changed and written back.
type Store struct {
	bkt           objstore.Bucket
	logger        *slog.Logger
	maxBlockBytes int64
	commitTimeout time.Duration
}

// Options tune a Store. Zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	// MaxBlockBytes refuses to download larger block objects (default 1 GiB), so
	// a wrong object cannot exhaust memory.
	MaxBlockBytes int64
	// CommitTimeout bounds the final index write, which runs even when the
	// caller's context is cancelled so a shutdown cannot cut a commit in half
	// (default 1 minute).
	CommitTimeout time.Duration
}

// New returns a Store over bkt.
func New(bkt objstore.Bucket, opts Options) *Store {
	s := &Store{bkt: bkt, logger: opts.Logger, maxBlockBytes: opts.MaxBlockBytes, commitTimeout: opts.CommitTimeout}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.maxBlockBytes <= 0 {
		s.maxBlockBytes = 1 << 30
	}
	if s.commitTimeout <= 0 {
		s.commitTimeout = time.Minute
	}
	return s
}

// Bucket returns the underlying bucket.
func (s *Store) Bucket() objstore.Bucket { return s.bkt }

// ReadIndex returns the committed index of a cluster and resolution. A missing
// index is an empty index, not an error: nothing has been committed yet.
func (s *Store) ReadIndex(ctx context.Context, cluster string, res Resolution) (Index, error) {
	return s.readIndex(ctx, PipelineAllocations, cluster, res)
}

// ReadAssetIndex is ReadIndex for the assets pipeline: a store written
// before assets existed has no asset index, which reads as empty.
func (s *Store) ReadAssetIndex(ctx context.Context, cluster string, res Resolution) (Index, error) {
	return s.readIndex(ctx, PipelineAssets, cluster, res)
}

func (s *Store) readIndex(ctx context.Context, p Pipeline, cluster string, res Resolution) (Index, error) {
	if err := ValidateClusterID(cluster); err != nil {
		return Index{}, fmt.Errorf("read index: %w", err)
	}
	empty := Index{Version: IndexVersion, Cluster: cluster, Resolution: res}
	if p == PipelineAssets {
		empty.Pipeline = PipelineAssets
	}
	key := empty.key()
	data, err := s.get(ctx, key, 64<<20, 0)
	if err != nil {
		if s.bkt.IsObjNotFoundErr(err) {
			return empty, nil
		}
		return Index{}, fmt.Errorf("read index %s: %w", key, err)
	}
	return decodePipelineIndex(key, data, p, cluster, res, MaxIndexSize)
}

// ErrWouldEraseData is returned when a commit would replace a block that has
// data with one that has none. Rebuilding after the source's retention ran out
// is how users of other tools lost months of history; it takes an explicit
// AllowEmptyOverwrite.
var ErrWouldEraseData = errors.New("refusing to replace a block that has data with an empty one")

// CommitOptions change what Commit accepts.
type CommitOptions struct {
	// AllowEmptyOverwrite lets an empty block (no rows, or zero total cost)
	// replace a committed block with data.
	AllowEmptyOverwrite bool
	// Rewrite uploads a block even when the index already lists its exact
	// content: the caller found the object damaged (CheckBlock) and writes
	// it again.
	Rewrite bool
}

// Commit uploads blocks of one cluster and resolution and then, last, the index
// listing them. Until the index lists a block it is not committed.
//
// A block that replaces a committed one is written over the same key, so the
// commit first announces the new content in the index (PendingSHA256), then
// uploads, then confirms; a crash anywhere in between leaves every committed
// window readable, holding either its old or its new content. A block whose
// bytes equal the committed object is not uploaded again.
//
// Bodies are uploaded from byte readers, so an S3 client retry re-sends the
// whole body. Index writes that follow an upload run on a context detached from
// ctx's cancellation and bounded by CommitTimeout, so a shutdown cannot leave
// uploaded data unconfirmed.
func (s *Store) Commit(ctx context.Context, blocks []Block, opts CommitOptions) ([]IndexEntry, error) {
	if len(blocks) == 0 {
		return nil, nil
	}
	metas := make([]BlockMeta, len(blocks))
	for i := range blocks {
		metas[i] = blocks[i].Meta
	}
	return s.commit(ctx, PipelineAllocations, metas, func(i int) ([]byte, IndexEntry, error) {
		data, err := EncodeBlock(blocks[i])
		if err != nil {
			return nil, IndexEntry{}, err
		}
		return data, entryFor(blocks[i], data), nil
	}, opts)
}

// CommitAssets is Commit for asset blocks, under the assets prefix and its
// own index, with the same protocol.
func (s *Store) CommitAssets(ctx context.Context, blocks []AssetBlock, opts CommitOptions) ([]IndexEntry, error) {
	if len(blocks) == 0 {
		return nil, nil
	}
	metas := make([]BlockMeta, len(blocks))
	for i := range blocks {
		metas[i] = blocks[i].Meta
	}
	return s.commit(ctx, PipelineAssets, metas, func(i int) ([]byte, IndexEntry, error) {
		data, err := EncodeAssetBlock(blocks[i])
		if err != nil {
			return nil, IndexEntry{}, err
		}
		return data, assetEntryFor(blocks[i], data), nil
	}, opts)
}

// commit runs the commit protocol for the blocks of one pipeline whose
// metadata are metas; encode(i) gives block i's bytes and index entry.
func (s *Store) commit(ctx context.Context, p Pipeline, metas []BlockMeta, encode func(i int) ([]byte, IndexEntry, error), opts CommitOptions) ([]IndexEntry, error) {
	cluster, res := metas[0].Cluster, metas[0].Resolution
	for _, m := range metas[1:] {
		if m.Cluster != cluster || m.Resolution != res {
			return nil, fmt.Errorf("commit: blocks of %s/%s and %s/%s in one commit", cluster, res, m.Cluster, m.Resolution)
		}
	}
	ix, err := s.readIndex(ctx, p, cluster, res)
	if err != nil {
		return nil, fmt.Errorf("commit %s/%s: %w", cluster, res, err)
	}
	type upload struct {
		key   string
		data  []byte
		entry IndexEntry
	}
	var uploads []upload
	entries := make([]IndexEntry, 0, len(metas))
	replacing := false
	for i, m := range metas {
		data, e, err := encode(i)
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		entries = append(entries, e)
		key := ix.BlockKey(e)
		old, exists := ix.Find(m.Window.Start)
		if exists && !opts.AllowEmptyOverwrite && hasData(old) && !hasData(e) {
			return nil, fmt.Errorf("commit %s: committed block has %d rows costing %.2f: %w", key, old.Rows, old.TotalCost, ErrWouldEraseData)
		}
		sameContent := exists && old.PendingSHA256 == "" && old.SHA256 == e.SHA256
		if sameContent && !opts.Rewrite {
			continue // the committed object already holds these bytes
		}
		// Rewriting the listed content needs no announcement: the index
		// already accepts those bytes.
		if exists && !sameContent {
			replacing = true
			old.PendingSize, old.PendingSHA256 = e.Size, e.SHA256
			ix.Put(old)
		}
		uploads = append(uploads, upload{key: key, data: data, entry: e})
	}
	if len(uploads) == 0 {
		return entries, nil
	}
	if replacing {
		if err := s.uploadIndex(ctx, ix); err != nil {
			return nil, fmt.Errorf("commit %s/%s: announce replacements: %w", cluster, res, err)
		}
	}
	for _, u := range uploads {
		if err := s.bkt.Upload(ctx, u.key, bytes.NewReader(u.data)); err != nil {
			return nil, fmt.Errorf("commit: upload block %s: %w", u.key, err)
		}
		ix.Put(u.entry)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.commitTimeout)
	defer cancel()
	if err := s.uploadIndex(wctx, ix); err != nil {
		return nil, fmt.Errorf("commit %s/%s: %w", cluster, res, err)
	}
	for _, u := range uploads {
		s.logger.Debug("block committed", "cluster", cluster, "resolution", string(res), "window", u.entry.Window().String(), "rows", u.entry.Rows, "bytes", u.entry.Size)
	}
	return entries, nil
}

// WriteIndex replaces the index of ix's cluster and resolution as it is,
// outside the commit protocol: for tools and tests that build an index by
// hand. Dropping windows is Expire's job, which orders the index write and the
// deletes.
func (s *Store) WriteIndex(ctx context.Context, ix Index) error {
	return s.uploadIndex(ctx, ix)
}

func (s *Store) uploadIndex(ctx context.Context, ix Index) error {
	data, err := EncodeIndex(ix)
	if err != nil {
		return err
	}
	key := ix.key()
	if err := s.bkt.Upload(ctx, key, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("upload index %s: %w", key, err)
	}
	return nil
}

func hasData(e IndexEntry) bool { return e.Rows > 0 && e.TotalCost != 0 }

// entryFor is the index entry of block b encoded as data. Commit and
// RepairIndex both build entries here, so an index rebuilt from the objects
// equals the one the commits wrote.
func entryFor(b Block, data []byte) IndexEntry {
	sum := sha256.Sum256(data)
	// Sum in the order the file holds the rows (by name), so the total of a
	// block is the same float whether computed before encoding or after
	// decoding it.
	var total float64
	if slices.IsSortedFunc(b.Rows, func(x, y allocation.Allocation) int { return cmp.Compare(x.Name, y.Name) }) {
		for i := range b.Rows {
			total += b.Rows[i].TotalCost()
		}
	} else {
		for _, r := range sortedRows(b.Rows) {
			total += r.TotalCost()
		}
	}
	return metaEntry(b.Meta, sum, int64(len(data)), len(b.Rows), total)
}

// metaEntry is the index entry of a block of either pipeline: its
// metadata, the object's digest and size, and its row count and cost.
func metaEntry(m BlockMeta, sum [sha256.Size]byte, size int64, rows int, total float64) IndexEntry {
	return IndexEntry{
		Start:            m.Window.Start.Unix(),
		End:              m.Window.End.Unix(),
		Size:             size,
		SHA256:           hex.EncodeToString(sum[:]),
		Rows:             rows,
		TotalCost:        total,
		Complete:         m.Complete,
		BuildTime:        m.BuildTime.UTC(),
		ProducerVersion:  m.ProducerVersion,
		ProducerInstance: m.ProducerInstance,
		Sources:          m.Sources,
	}
}

// ReadBlock downloads the block an index entry names and verifies it against
// the entry (size and content hash) and against its key (footer, schema,
// cluster, window, rows). Failures are *BlockError values.
func (s *Store) ReadBlock(ctx context.Context, cluster string, res Resolution, e IndexEntry) (Block, error) {
	key, data, err := s.verifiedBlock(ctx, cluster, res, e)
	if err != nil {
		return Block{}, err
	}
	return DecodeBlock(ctx, key, data)
}

// ReadAssetBlock is ReadBlock for an entry of an asset index.
func (s *Store) ReadAssetBlock(ctx context.Context, cluster string, res Resolution, e IndexEntry) (AssetBlock, error) {
	key, data, err := s.verifiedObject(ctx, AssetBlockKey(cluster, res, e.Window()), e)
	if err != nil {
		return AssetBlock{}, err
	}
	return DecodeAssetBlock(ctx, key, data)
}

// ScanBlock reads the block of an index entry with the checks of ReadBlock
// and hands its rows to fn in batches (see ScanBlockData): memory holds the
// object and one batch, not every row.
func (s *Store) ScanBlock(ctx context.Context, cluster string, res Resolution, e IndexEntry, opts ScanOptions, fn func(rows []allocation.Allocation) error) (BlockMeta, error) {
	key, data, err := s.verifiedBlock(ctx, cluster, res, e)
	if err != nil {
		return BlockMeta{}, err
	}
	return ScanBlockData(ctx, key, data, opts, fn)
}

// AggregateBlock reads the block of an index entry with the checks of
// ReadBlock and sums its rows by g's output rows, column by column (see
// AggregateBlockData).
func (s *Store) AggregateBlock(ctx context.Context, cluster string, res Resolution, e IndexEntry, opts ScanOptions, g *allocation.Grouper) (allocation.Set, error) {
	key, data, err := s.verifiedBlock(ctx, cluster, res, e)
	if err != nil {
		return allocation.Set{}, err
	}
	return AggregateBlockData(ctx, key, data, opts, g)
}

// verifiedBlock fetches the object of an index entry and checks it is the
// content the index lists.
func (s *Store) verifiedBlock(ctx context.Context, cluster string, res Resolution, e IndexEntry) (string, []byte, error) {
	return s.verifiedObject(ctx, BlockKey(cluster, res, e.Window()), e)
}

func (s *Store) verifiedObject(ctx context.Context, key string, e IndexEntry) (string, []byte, error) {
	data, err := s.get(ctx, key, s.maxBlockBytes, max(e.Size, e.PendingSize))
	if err != nil {
		if s.bkt.IsObjNotFoundErr(err) {
			return key, nil, blockErr(key, ErrMissingBlock, "the index lists it but the bucket does not hold it")
		}
		if errors.Is(err, ErrBlockTooLarge) {
			return key, nil, blockErr(key, ErrBlockTooLarge, "limit %d bytes", s.maxBlockBytes)
		}
		return key, nil, fmt.Errorf("read block %s: %w", key, err)
	}
	if len(data) == 0 && e.Size != 0 {
		return key, nil, blockErr(key, ErrEmptyBlock, "0 bytes, index says %d", e.Size)
	}
	if sum := sha256.Sum256(data); !e.accepts(int64(len(data)), hex.EncodeToString(sum[:])) {
		return key, nil, blockErr(key, ErrHashMismatch, "%d bytes that the index does not list (changed by another writer, or damaged)", len(data))
	}
	return key, data, nil
}

// CheckMode says how CheckBlock verifies an object.
type CheckMode int

// Check modes.
const (
	// CheckSize compares the object's size (one attributes call, no
	// download) with the index: it finds missing, truncated and grown
	// objects, not a same-size change.
	CheckSize CheckMode = iota
	// CheckDigest downloads the object and compares size and SHA-256.
	CheckDigest
)

// CheckBlock verifies that the object of an index entry of the allocation
// pipeline is the content the index lists, by size or by digest. A missing
// or mismatching object is a *BlockError (ErrMissingBlock, ErrEmptyBlock,
// ErrSizeMismatch, ErrHashMismatch); a transport failure is another error.
func (s *Store) CheckBlock(ctx context.Context, cluster string, res Resolution, e IndexEntry, mode CheckMode) error {
	return s.checkObject(ctx, BlockKey(cluster, res, e.Window()), e, mode)
}

// CheckAssetBlock is CheckBlock for an entry of an asset index.
func (s *Store) CheckAssetBlock(ctx context.Context, cluster string, res Resolution, e IndexEntry, mode CheckMode) error {
	return s.checkObject(ctx, AssetBlockKey(cluster, res, e.Window()), e, mode)
}

func (s *Store) checkObject(ctx context.Context, key string, e IndexEntry, mode CheckMode) error {
	if mode == CheckDigest {
		_, _, err := s.verifiedObject(ctx, key, e)
		return err
	}
	attrs, err := s.bkt.Attributes(ctx, key)
	switch {
	case err != nil && s.bkt.IsObjNotFoundErr(err):
		return blockErr(key, ErrMissingBlock, "the index lists it but the bucket does not hold it")
	case err != nil:
		return fmt.Errorf("check block %s: %w", key, err)
	case attrs.Size == 0 && e.Size != 0:
		return blockErr(key, ErrEmptyBlock, "0 bytes, index says %d", e.Size)
	case attrs.Size != e.Size && (e.PendingSHA256 == "" || attrs.Size != e.PendingSize):
		return blockErr(key, ErrSizeMismatch, "%d bytes, index says %d", attrs.Size, e.Size)
	}
	return nil
}

// Clusters lists the cluster ids that have a prefix under federated/, the
// combined store excluded. Prefixes that are not valid cluster ids are skipped.
func (s *Store) Clusters(ctx context.Context) ([]string, error) {
	var out []string
	err := s.bkt.Iter(ctx, rootPrefix+"/", func(name string) error {
		id := strings.TrimSuffix(strings.TrimPrefix(name, rootPrefix+"/"), "/")
		if id == CombinedID || ValidateClusterID(id) != nil || !strings.HasSuffix(name, "/") {
			return nil
		}
		out = append(out, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list clusters under %s/: %w", rootPrefix, err)
	}
	return out, nil
}

// ClusterList is federated/ split into costfed's cluster prefixes and the
// foreign prefixes beside them.
type ClusterList struct {
	// Clusters hold something costfed writes under etl/parquet/: an index or
	// a block, of allocations or assets (blocks without an index make a
	// damaged cluster, not a foreign prefix).
	Clusters []string
	// Foreign prefixes hold nothing under etl/parquet/, such as the
	// etl/bingen tree Kubecost's federated ETL writes under
	// federated/<cluster>/. They are not costfed clusters: readers ignore
	// them rather than report them as stale.
	Foreign []string
}

// foreignCheckConcurrency bounds the listings ListClusters runs at once.
const foreignCheckConcurrency = 16

// ListClusters lists the cluster prefixes under federated/ as Clusters does,
// and sorts out the foreign ones: a prefix is costfed's when it holds
// anything under <prefix>/etl/parquet/. That costs one listing per prefix
// (one level, so at most allocations/ and assets/), run a few at a time. The
// listing is not stopped early with an error: the metrics wrapper would
// count each one as a failed operation.
func (s *Store) ListClusters(ctx context.Context) (ClusterList, error) {
	ids, err := s.Clusters(ctx)
	if err != nil {
		return ClusterList{}, err
	}
	ours := make([]bool, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(foreignCheckConcurrency)
	for i, id := range ids {
		g.Go(func() error {
			dir := rootPrefix + "/" + id + "/" + parquetDir + "/"
			err := s.bkt.Iter(gctx, dir, func(string) error {
				ours[i] = true
				return nil
			})
			if err != nil {
				return fmt.Errorf("list %s: %w", dir, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return ClusterList{}, fmt.Errorf("list clusters under %s/: %w", rootPrefix, err)
	}
	var l ClusterList
	for i, id := range ids {
		if ours[i] {
			l.Clusters = append(l.Clusters, id)
		} else {
			l.Foreign = append(l.Foreign, id)
		}
	}
	return l, nil
}

// ForeignPrefix is the key prefix of a foreign prefix id from ClusterList.
func ForeignPrefix(id string) string { return rootPrefix + "/" + id + "/" }

// ListBlocks returns the blocks a cluster's prefix of one resolution holds,
// by their keys alone, whether or not an index lists them. Objects that are
// not block keys are skipped.
func (s *Store) ListBlocks(ctx context.Context, cluster string, res Resolution) ([]BlockRef, error) {
	return s.listBlocks(ctx, PipelineAllocations, cluster, res)
}

// ListAssetBlocks is ListBlocks for the asset prefix.
func (s *Store) ListAssetBlocks(ctx context.Context, cluster string, res Resolution) ([]BlockRef, error) {
	return s.listBlocks(ctx, PipelineAssets, cluster, res)
}

func (s *Store) listBlocks(ctx context.Context, p Pipeline, cluster string, res Resolution) ([]BlockRef, error) {
	if err := ValidateClusterID(cluster); err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	prefix, parse := Prefix(cluster, res), ParseBlockKey
	if p == PipelineAssets {
		prefix, parse = AssetPrefix(cluster, res), ParseAssetBlockKey
	}
	var out []BlockRef
	err := s.bkt.Iter(ctx, prefix, func(name string) error {
		if ref, err := parse(name); err == nil && ref.Cluster == cluster && ref.Resolution == res {
			out = append(out, ref)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list blocks under %s: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b BlockRef) int { return a.Window.Start.Compare(b.Window.Start) })
	return out, nil
}

// IndexExists reports whether the index object of a cluster and resolution
// exists (ReadIndex reads a missing index as an empty one).
func (s *Store) IndexExists(ctx context.Context, cluster string, res Resolution) (bool, error) {
	return s.indexExists(ctx, IndexKey(cluster, res))
}

// AssetIndexExists is IndexExists for the asset index.
func (s *Store) AssetIndexExists(ctx context.Context, cluster string, res Resolution) (bool, error) {
	return s.indexExists(ctx, AssetIndexKey(cluster, res))
}

func (s *Store) indexExists(ctx context.Context, key string) (bool, error) {
	ok, err := s.bkt.Exists(ctx, key)
	if err != nil {
		return false, fmt.Errorf("check index %s: %w", key, err)
	}
	return ok, nil
}

// get downloads an object whole, refusing objects larger than limit.
func (s *Store) get(ctx context.Context, key string, limit, sizeHint int64) ([]byte, error) {
	rc, err := s.bkt.Get(ctx, key)
	if errors.Is(err, io.EOF) {
		// objstore's S3 provider reads the first byte inside Get to surface
		// not-found errors, so a 0-byte object fails Get with io.EOF. It is an
		// empty object, which the caller classifies, not a transport error.
		return []byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if sizeHint > 0 && sizeHint <= limit {
		// One allocation of the expected size instead of ReadAll's doubling.
		buf.Grow(int(sizeHint) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(io.LimitReader(rc, limit+1))
	data := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", key, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("download %s: %w", key, ErrBlockTooLarge)
	}
	return data, nil
}
