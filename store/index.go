package store

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/costfed/costfed/allocation"
)

// IndexVersion is the index format written by this build.
const IndexVersion = 1

// Index lists the committed blocks of one cluster (or the combined store) and
// resolution. It is written after the blocks it lists, so a block that is not in
// the index is not committed, whatever the bucket holds under its key.
type Index struct {
	Version    int          `json:"version"`
	Cluster    string       `json:"cluster"`
	Resolution Resolution   `json:"resolution"`
	Blocks     []IndexEntry `json:"blocks"`
}

// IndexEntry describes one committed block.
type IndexEntry struct {
	// Start and End are the window in Unix seconds, as in the block key.
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	// Size is the object size in bytes and SHA256 the hex digest of its content.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Rows   int    `json:"rows"`
	// TotalCost is the sum of the rows' total cost, so status and rebuild
	// dry-runs can compare blocks without reading them.
	TotalCost        float64   `json:"totalCost"`
	Complete         bool      `json:"complete"`
	BuildTime        time.Time `json:"buildTime"`
	ProducerVersion  string    `json:"producerVersion,omitempty"`
	ProducerInstance string    `json:"producerInstance,omitempty"`
	// PendingSize and PendingSHA256 describe a replacement of the object that
	// was announced but not yet confirmed. Blocks are rewritten in place (the key
	// layout has one object per window), so a commit that replaces a block first
	// records the new content here, then uploads it, then writes the entry
	// without it. Readers accept either content, so a crash at any point leaves
	// the window readable.
	PendingSize   int64  `json:"pendingSize,omitempty"`
	PendingSHA256 string `json:"pendingSha256,omitempty"`
	// Sources is the lineage of a combined block (see BlockMeta.Sources), so
	// the federator can tell which windows' inputs changed from indexes alone.
	Sources []Source `json:"sources,omitempty"`
}

// accepts reports whether an object of this size and digest is committed
// content for the entry.
func (e IndexEntry) accepts(size int64, sha string) bool {
	return (size == e.Size && sha == e.SHA256) || (e.PendingSHA256 != "" && size == e.PendingSize && sha == e.PendingSHA256)
}

// Window returns the entry's window.
func (e IndexEntry) Window() allocation.Window {
	return allocation.Window{Start: time.Unix(e.Start, 0).UTC(), End: time.Unix(e.End, 0).UTC()}
}

// Find returns the entry for the window starting at start, if any.
func (ix *Index) Find(start time.Time) (IndexEntry, bool) {
	i, ok := slices.BinarySearchFunc(ix.Blocks, start.Unix(), func(e IndexEntry, s int64) int { return cmp.Compare(e.Start, s) })
	if !ok {
		return IndexEntry{}, false
	}
	return ix.Blocks[i], true
}

// Put inserts or replaces the entry of e's window, keeping entries sorted.
func (ix *Index) Put(e IndexEntry) {
	i, ok := slices.BinarySearchFunc(ix.Blocks, e.Start, func(x IndexEntry, s int64) int { return cmp.Compare(x.Start, s) })
	if ok {
		ix.Blocks[i] = e
		return
	}
	ix.Blocks = slices.Insert(ix.Blocks, i, e)
}

// Remove drops the entry of the window starting at start; it reports whether
// there was one.
func (ix *Index) Remove(start time.Time) bool {
	i, ok := slices.BinarySearchFunc(ix.Blocks, start.Unix(), func(x IndexEntry, s int64) int { return cmp.Compare(x.Start, s) })
	if ok {
		ix.Blocks = slices.Delete(ix.Blocks, i, i+1)
	}
	return ok
}

// EncodeIndex serialises ix as indented JSON (small, and readable with cat).
// Entries are sorted, so equal indexes give equal bytes.
func EncodeIndex(ix Index) ([]byte, error) {
	if err := validateIndex(ix); err != nil {
		return nil, fmt.Errorf("encode index %s/%s: %w", ix.Cluster, ix.Resolution, err)
	}
	ix.Version = IndexVersion
	if ix.Blocks == nil {
		ix.Blocks = []IndexEntry{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(ix); err != nil {
		return nil, fmt.Errorf("encode index %s/%s: %w", ix.Cluster, ix.Resolution, err)
	}
	return buf.Bytes(), nil
}

// ErrIndexVersion reports an index written by a newer costfed.
var ErrIndexVersion = errors.New("unsupported index version")

// DecodeIndex parses an index strictly: unknown fields, a newer version, a
// cluster or resolution other than the key's, unsorted or overlapping entries
// are all errors.
func DecodeIndex(key string, data []byte, cluster string, res Resolution) (Index, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var ix Index
	if err := dec.Decode(&ix); err != nil {
		return Index{}, fmt.Errorf("decode index %s: %w", key, err)
	}
	if dec.More() {
		return Index{}, fmt.Errorf("decode index %s: trailing data after the JSON object", key)
	}
	if ix.Version < 1 || ix.Version > IndexVersion {
		return Index{}, fmt.Errorf("decode index %s: version %d, this build reads 1..%d: %w", key, ix.Version, IndexVersion, ErrIndexVersion)
	}
	if ix.Cluster != cluster || ix.Resolution != res {
		return Index{}, fmt.Errorf("decode index %s: index says %s/%s, key says %s/%s", key, ix.Cluster, ix.Resolution, cluster, res)
	}
	if err := validateIndex(ix); err != nil {
		return Index{}, fmt.Errorf("decode index %s: %w", key, err)
	}
	return ix, nil
}

func validateIndex(ix Index) error {
	if err := ValidateClusterID(ix.Cluster); err != nil {
		return err
	}
	if _, err := ParseResolution(string(ix.Resolution)); err != nil {
		return err
	}
	for i, e := range ix.Blocks {
		if !ix.Resolution.AlignedWindow(e.Window()) {
			return fmt.Errorf("entry %d: window %s is not one aligned %s window", i, e.Window(), ix.Resolution)
		}
		if i > 0 && e.Start < ix.Blocks[i-1].End {
			return fmt.Errorf("entry %d: window %s is out of order or overlaps the previous one", i, e.Window())
		}
		if e.Size < 0 || e.Rows < 0 || len(e.SHA256) != 64 || e.PendingSize < 0 || (e.PendingSHA256 != "" && len(e.PendingSHA256) != 64) {
			return fmt.Errorf("entry %d: bad size, rows or sha256", i)
		}
	}
	return nil
}
