package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/thanos-io/objstore"
)

// RepairOptions change what RepairIndex does.
type RepairOptions struct {
	// DryRun builds the index and reports it without writing anything.
	DryRun bool
}

// IndexState is what a prefix held under its index key before a repair.
type IndexState string

// The states RepairReport.Previous takes.
const (
	IndexMissing    IndexState = "missing"
	IndexReadable   IndexState = "readable"
	IndexUnreadable IndexState = "unreadable"
)

// RepairReport says what RepairIndex found in one prefix and what it wrote
// (or, in a dry run, would write).
type RepairReport struct {
	// Pipeline is the pipeline of the prefix: PipelineAllocations for
	// RepairIndex, PipelineAssets for RepairAssetIndex.
	Pipeline   Pipeline
	Cluster    string
	Resolution Resolution
	// Previous is the state of the index object before the repair;
	// PreviousErr the *IndexError when it was unreadable, and
	// PreviousEntries the number of entries when it was readable.
	Previous        IndexState
	PreviousErr     error
	PreviousEntries int
	// Found counts the block objects (names ending in .parquet) listed under
	// the prefix.
	Found int
	// Index is the rebuilt index: one entry per block that verified.
	Index Index
	// SetAside are the block objects that failed verification, each a
	// *BlockError naming the key and the reason. They are left where they
	// are, unlisted: nothing reads them, and the next commit of their window
	// writes over them (and Expire's sweep deletes them once past retention).
	SetAside []*BlockError
	// Dropped are the windows the previous (readable) index listed that the
	// rebuilt one does not: their object is missing or was set aside.
	Dropped []IndexEntry
	// Ignored are the other names under the prefix: temporary upload files,
	// subdirectories, foreign objects.
	Ignored []string
	// Unchanged is true when the index object already held exactly the
	// rebuilt index; nothing is written then.
	Unchanged bool
	// Empty is true when the prefix held no index and no block object:
	// there is nothing to repair and nothing is written.
	Empty bool
	// Written is true when the rebuilt index was written (never in a dry run).
	Written bool
}

// RepairIndex rebuilds the index of one prefix (cluster, or the combined
// store, and resolution) from the block objects under it, which are
// self-describing. Each block is downloaded and verified as a reader would
// (DecodeBlock: footer, schema, key, row count); its entry is computed from
// its bytes and rows exactly as Commit computes it (size, SHA-256, rows, total
// cost, footer metadata), so repairing a prefix whose index was lost gives
// back the index Commit wrote, pending replacements aside. When the previous
// index is readable, an entry whose size and digest match the object is kept
// as it is. A block that fails
// is set aside: reported with its *BlockError and left out of the index, never
// deleted or moved. The index is then written with the same atomic write the
// commit protocol uses, unless opts.DryRun is set or the object already holds
// exactly these bytes.
//
// A transport or context error aborts the repair before anything is written:
// an index is never rebuilt from a partial listing or a failed download.
//
// RepairIndex reads, lists and writes without a lock, like every change to a
// prefix: nothing else may write the prefix while it runs. Stop the agent of
// that cluster (or the federator, for the combined store) first.
func (s *Store) RepairIndex(ctx context.Context, cluster string, res Resolution, opts RepairOptions) (RepairReport, error) {
	return s.repairIndex(ctx, PipelineAllocations, cluster, res, opts)
}

// RepairAssetIndex is RepairIndex for the asset prefix of a cluster (or of
// the combined store) and resolution: its blocks are verified as asset
// blocks (DecodeAssetBlock) and the rebuilt index is an asset index.
func (s *Store) RepairAssetIndex(ctx context.Context, cluster string, res Resolution, opts RepairOptions) (RepairReport, error) {
	return s.repairIndex(ctx, PipelineAssets, cluster, res, opts)
}

func (s *Store) repairIndex(ctx context.Context, p Pipeline, cluster string, res Resolution, opts RepairOptions) (RepairReport, error) {
	rep := RepairReport{Pipeline: p, Cluster: cluster, Resolution: res}
	if err := ValidateClusterID(cluster); err != nil {
		return rep, fmt.Errorf("repair index: %w", err)
	}
	if _, err := ParseResolution(string(res)); err != nil {
		return rep, fmt.Errorf("repair index: %w", err)
	}
	ix := Index{Version: IndexVersion, Cluster: cluster, Resolution: res, Blocks: []IndexEntry{}}
	prefix, key := Prefix(cluster, res), IndexKey(cluster, res)
	if p == PipelineAssets {
		ix.Pipeline = PipelineAssets
		prefix, key = AssetPrefix(cluster, res), AssetIndexKey(cluster, res)
	}

	oldData, err := s.get(ctx, key, 64<<20, 0)
	var old Index
	switch {
	case err != nil && s.bkt.IsObjNotFoundErr(err):
		rep.Previous = IndexMissing
	case err != nil && !errors.Is(err, ErrBlockTooLarge):
		return rep, fmt.Errorf("repair %s: read index: %w", prefix, err)
	case err != nil:
		rep.Previous, rep.PreviousErr = IndexUnreadable, &IndexError{Key: key, Err: err}
	default:
		if old, err = decodePipelineIndex(key, oldData, p, cluster, res, MaxIndexSize); err != nil {
			rep.Previous, rep.PreviousErr = IndexUnreadable, err
		} else {
			rep.Previous, rep.PreviousEntries = IndexReadable, len(old.Blocks)
		}
	}

	var blockKeys []string
	err = s.bkt.Iter(ctx, prefix, func(name string) error {
		switch {
		case name == key:
		case strings.HasSuffix(name, objstore.DirDelim) || IsTempName(name) || !strings.HasSuffix(name, blockSuffix):
			rep.Ignored = append(rep.Ignored, name)
		default:
			blockKeys = append(blockKeys, name)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("repair %s: list: %w", prefix, err)
	}
	rep.Found = len(blockKeys)

	for _, name := range blockKeys {
		e, err := s.verifyObject(ctx, p, name)
		var be *BlockError
		switch {
		case errors.As(err, &be):
			rep.SetAside = append(rep.SetAside, be)
			continue
		case err != nil:
			return rep, fmt.Errorf("repair %s: %w", prefix, err)
		}
		if prev, ok := old.Find(e.Window().Start); ok && prev.End == e.End && prev.PendingSHA256 == "" && prev.Size == e.Size && prev.SHA256 == e.SHA256 {
			// The readable index already has the entry of these very bytes:
			// keep it as its commit wrote it (an earlier build may have
			// summed the total in another order, a last-bit difference).
			e = prev
		}
		ix.Put(e)
	}
	for _, e := range old.Blocks {
		if got, ok := ix.Find(e.Window().Start); !ok || got.End != e.End {
			rep.Dropped = append(rep.Dropped, e)
		}
	}
	rep.Index = ix

	if rep.Previous == IndexMissing && rep.Found == 0 {
		rep.Empty = true
		return rep, nil
	}
	data, err := EncodeIndex(ix)
	if err != nil {
		return rep, fmt.Errorf("repair %s: %w", prefix, err)
	}
	if rep.Previous != IndexMissing && bytes.Equal(data, oldData) {
		rep.Unchanged = true
		return rep, nil
	}
	if opts.DryRun {
		return rep, nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.commitTimeout)
	defer cancel()
	if err := s.uploadIndex(wctx, ix); err != nil {
		return rep, fmt.Errorf("repair %s: %w", prefix, err)
	}
	rep.Written = true
	s.logger.Info("index repaired", "pipeline", string(p), "cluster", cluster, "resolution", string(res), "previous", string(rep.Previous),
		"entries", len(ix.Blocks), "set_aside", len(rep.SetAside), "dropped", len(rep.Dropped))
	return rep, nil
}

// verifyObject downloads a block object of pipeline p, decodes and checks
// it against its key, and returns the index entry Commit would write for
// it. Damage is a *BlockError; any other error is a transport or context
// failure.
func (s *Store) verifyObject(ctx context.Context, p Pipeline, key string) (IndexEntry, error) {
	parse, canonical := ParseBlockKey, BlockRef.Key
	if p == PipelineAssets {
		parse = ParseAssetBlockKey
		canonical = func(r BlockRef) string { return AssetBlockKey(r.Cluster, r.Resolution, r.Window) }
	}
	ref, err := parse(key)
	if err != nil {
		return IndexEntry{}, blockErr(key, ErrForeignBlock, "%v", err)
	}
	if canonical(ref) != key {
		// Readers find a block by the key its window gives (BlockKey), so
		// an object under another spelling of it (leading zeros) is never read.
		return IndexEntry{}, blockErr(key, ErrForeignBlock, "not the block key of its window (%s)", canonical(ref))
	}
	data, err := s.get(ctx, key, s.maxBlockBytes, 0)
	switch {
	case err != nil && s.bkt.IsObjNotFoundErr(err):
		return IndexEntry{}, blockErr(key, ErrMissingBlock, "listed, then gone before it was read")
	case errors.Is(err, ErrBlockTooLarge):
		return IndexEntry{}, blockErr(key, ErrBlockTooLarge, "limit %d bytes", s.maxBlockBytes)
	case err != nil:
		return IndexEntry{}, fmt.Errorf("read block %s: %w", key, err)
	}
	if p == PipelineAssets {
		b, err := DecodeAssetBlock(ctx, key, data)
		if err != nil {
			return IndexEntry{}, err
		}
		return assetEntryFor(b, data), nil
	}
	b, err := DecodeBlock(ctx, key, data)
	if err != nil {
		return IndexEntry{}, err
	}
	return entryFor(b, data), nil
}
