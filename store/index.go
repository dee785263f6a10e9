package store

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	Version    int        `json:"version"`
	Cluster    string     `json:"cluster"`
	Resolution Resolution `json:"resolution"`
	// Pipeline is "assets" in an asset index, empty in an allocation index
	// (so allocation indexes keep the bytes of earlier builds).
	Pipeline Pipeline     `json:"pipeline,omitempty"`
	Blocks   []IndexEntry `json:"blocks"`
}

// key is the index's object key.
func (ix *Index) key() string {
	if ix.Pipeline == PipelineAssets {
		return AssetIndexKey(ix.Cluster, ix.Resolution)
	}
	return IndexKey(ix.Cluster, ix.Resolution)
}

// BlockKey is the object key of an entry's block.
func (ix *Index) BlockKey(e IndexEntry) string {
	if ix.Pipeline == PipelineAssets {
		return AssetBlockKey(ix.Cluster, ix.Resolution, e.Window())
	}
	return BlockKey(ix.Cluster, ix.Resolution, e.Window())
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

// MaxIndexSize caps the JSON of one index after decompression, so a small
// gzip object cannot expand into unbounded memory. Decoding holds at most this
// much JSON at once (plus the growth of the read buffer). 256 MiB is thousands
// of times a 90-day index of a thousand-cluster combined store.
const MaxIndexSize = 256 << 20

// ErrIndexTooLarge reports an index whose JSON exceeds MaxIndexSize.
var ErrIndexTooLarge = errors.New("index exceeds MaxIndexSize")

// Index objects are gzip with a fixed header and level, so that equal indexes
// give equal bytes (the federator's convergence and crash tests compare
// objects byte for byte). The deflate output of one level is fixed for a Go
// release; another release may compress differently, which changes bytes but
// not meaning.
const (
	indexGzipLevel = gzip.BestCompression
	gzipOSUnknown  = 255 // RFC 1952 "unknown"; Go's default, set explicitly
)

// EncodeIndex serialises ix as compact JSON compressed with gzip (read it with
// zcat or gunzip -c). Entries are sorted and the gzip header carries no name
// or time, so equal indexes give equal bytes.
func EncodeIndex(ix Index) ([]byte, error) {
	if err := validateIndex(ix); err != nil {
		return nil, fmt.Errorf("encode index %s/%s: %w", ix.Cluster, ix.Resolution, err)
	}
	ix.Version = IndexVersion
	if ix.Blocks == nil {
		ix.Blocks = []IndexEntry{}
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, indexGzipLevel)
	if err != nil {
		return nil, fmt.Errorf("encode index %s/%s: %w", ix.Cluster, ix.Resolution, err)
	}
	zw.Header = gzip.Header{OS: gzipOSUnknown} // no Name, Comment, Extra or ModTime
	if err := json.NewEncoder(zw).Encode(ix); err != nil {
		return nil, fmt.Errorf("encode index %s/%s: %w", ix.Cluster, ix.Resolution, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("encode index %s/%s: %w", ix.Cluster, ix.Resolution, err)
	}
	return buf.Bytes(), nil
}

// ErrIndexVersion reports an index written by a newer costfed.
var ErrIndexVersion = errors.New("unsupported index version")

// IndexError is an index object that exists but cannot be decoded: not gzip
// or JSON, truncated, too large, of a newer version, or inconsistent. A
// transport error reading it is not an IndexError. errors.Is reaches the
// cause (ErrIndexVersion, ErrIndexTooLarge).
type IndexError struct {
	Key string
	Err error
}

func (e *IndexError) Error() string { return "decode index " + e.Key + ": " + e.Err.Error() }

// Unwrap exposes the cause.
func (e *IndexError) Unwrap() error { return e.Err }

func indexErr(key, format string, args ...any) error {
	return &IndexError{Key: key, Err: fmt.Errorf(format, args...)}
}

// DecodeIndex parses an index strictly (errors are *IndexError): unknown fields, a newer version, a
// cluster or resolution other than the key's, unsorted or overlapping entries
// are all errors. It reads both encodings: gzip (what EncodeIndex writes),
// recognised by its magic bytes, and the plain JSON of earlier builds. A gzip
// index must be a single, complete member with nothing after it, and its JSON
// no larger than MaxIndexSize (ErrIndexTooLarge).
func DecodeIndex(key string, data []byte, cluster string, res Resolution) (Index, error) {
	return decodeIndex(key, data, cluster, res, MaxIndexSize)
}

// DecodeAssetIndex is DecodeIndex for an asset index.
func DecodeAssetIndex(key string, data []byte, cluster string, res Resolution) (Index, error) {
	return decodePipelineIndex(key, data, PipelineAssets, cluster, res, MaxIndexSize)
}

func isGzip(data []byte) bool { return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b }

func decodeIndex(key string, data []byte, cluster string, res Resolution, limit int64) (Index, error) {
	return decodePipelineIndex(key, data, PipelineAllocations, cluster, res, limit)
}

func decodePipelineIndex(key string, data []byte, p Pipeline, cluster string, res Resolution, limit int64) (Index, error) {
	if isGzip(data) {
		plain, err := gunzipIndex(data, limit)
		if err != nil {
			return Index{}, indexErr(key, "%w", err)
		}
		data = plain
	} else if int64(len(data)) > limit {
		return Index{}, indexErr(key, "%d bytes of JSON: %w", len(data), ErrIndexTooLarge)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var ix Index
	if err := dec.Decode(&ix); err != nil {
		return Index{}, indexErr(key, "%w", err)
	}
	if dec.More() {
		return Index{}, indexErr(key, "trailing data after the JSON object")
	}
	if ix.Version < 1 || ix.Version > IndexVersion {
		return Index{}, indexErr(key, "version %d, this build reads 1..%d: %w", ix.Version, IndexVersion, ErrIndexVersion)
	}
	if ix.Cluster != cluster || ix.Resolution != res {
		return Index{}, indexErr(key, "index says %s/%s, key says %s/%s", ix.Cluster, ix.Resolution, cluster, res)
	}
	if want := map[Pipeline]Pipeline{PipelineAllocations: "", PipelineAssets: PipelineAssets}[p]; ix.Pipeline != want {
		return Index{}, indexErr(key, "index of pipeline %q under the %s prefix", ix.Pipeline, p)
	}
	if err := validateIndex(ix); err != nil {
		return Index{}, indexErr(key, "%w", err)
	}
	return ix, nil
}

// gunzipIndex decompresses one gzip member of at most limit bytes, checking
// its CRC and length.
func gunzipIndex(data []byte, limit int64) ([]byte, error) {
	br := bytes.NewReader(data)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("gzip header: %w", unexpectedEOF(err))
	}
	zr.Multistream(false)
	// Reading to EOF makes the gzip reader verify the CRC-32 and length trailer.
	plain, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w (truncated or corrupt)", unexpectedEOF(err))
	}
	if int64(len(plain)) > limit {
		return nil, fmt.Errorf("gzip: more than %d bytes of JSON: %w", limit, ErrIndexTooLarge)
	}
	if br.Len() > 0 {
		return nil, fmt.Errorf("gzip: %d bytes of trailing data after the compressed index", br.Len())
	}
	return plain, nil
}

// unexpectedEOF turns io.EOF inside a gzip stream (a header cut short) into
// io.ErrUnexpectedEOF, which says what happened.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
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
