// Package store is costfed's object-storage layer: the bucket built from a
// thanos-objstore federated-store.yaml, the key layout, the Parquet block format,
// the per-prefix index, and the commit protocol.
//
// # Basics
//
// Keys follow Kubecost's federated ETL layout with an open format:
//
//	federated/<cluster>/etl/parquet/allocations/<1h|1d>/<startUnix>-<endUnix>.parquet
//	federated/<cluster>/etl/parquet/allocations/<1h|1d>/index.json
//	federated/combined/etl/parquet/allocations/<1h|1d>/…   (the federator's output)
//	federated/<cluster>/etl/parquet/assets/<1h|1d>/…       (asset blocks, see assets.go)
//
// Asset blocks (AssetBlock: nodes, disks, load balancers, network, cluster
// management; package asset) sit under etl/parquet/assets/ with their own
// index ("pipeline": "assets" in it), the same footer metadata plus
// costfed.pipeline=assets, and the same commit protocol (CommitAssets,
// ReadAssetIndex, ReadAssetBlock). A store written before assets existed
// has no asset index, which reads as empty. Expire and RepairIndex handle
// the allocation pipeline only.
//
// A block is one ZSTD-compressed Parquet file: one row per allocation, columns
// named as OpenCost's allocation fields (see schema.go), labels and annotations
// as MAP columns, volumes and load balancers as lists of structs. Its footer
// key-value metadata (costfed.schema_version, costfed.cluster, costfed.window_start,
// …) describes it, so a file is self-describing without the index.
//
// The index lists committed blocks with size, rows, total cost and SHA-256, and
// is written after the data: a block that is not in the index is not committed.
// Readers (the federator, the API) read indexes, never listings.
//
// An index object is compact JSON compressed with gzip (the key keeps its
// index.json name; read one with zcat or gunzip -c), written with a fixed
// header (no name, no time) and level so that equal indexes give equal bytes.
// Compressed, a no-op federator pass over 1,000 clusters × 90 days reads
// about 7.6 MiB instead of 35.8 MiB of indented JSON (see BENCHMARKS.md).
// DecodeIndex tells the encodings apart by the gzip magic bytes and still
// reads the plain JSON earlier builds wrote; the index version did not change.
// Decompressed JSON is capped at MaxIndexSize (ErrIndexTooLarge).
//
// # Commit protocol
//
// Every change to a prefix (one cluster, or the combined store, and one
// resolution) goes through Commit or Expire, which order bucket calls so that
// a crash after any one of them (the call failing before or after it landed)
// leaves every window the index lists readable, and rerunning the same call
// ends byte for byte where an uninterrupted one ends. crash_test.go fails each
// call of each operation in turn and checks both.
//
//   - Write (a new window): upload the block, then write the index listing
//     it. A crash in between leaves an object no index lists; it is not
//     committed, readers never see it, and the rerun overwrites it.
//   - Replace (a rebuilt window; one object per window, so in place): write
//     the index with the new digest announced beside the old one
//     (pendingSize, pendingSha256), upload the block, then write the index
//     with only the new digest. ReadBlock accepts either digest, so between
//     the steps the window reads as its old or its new content. A digest
//     matching neither means another writer or damage, and is an error. A
//     commit refuses to replace a block that has data with an empty one
//     (ErrWouldEraseData) unless told to.
//   - Delete (Expire: windows past retention): write the index without the
//     entries, then delete their objects. A crash in between leaves objects
//     no index lists; each Expire also lists the prefix (the one place the
//     store lists, and only for windows at or before the horizon) and deletes
//     those, so the rerun converges. Expire can refuse to drop more than a
//     share of the prefix at once (ExpireOptions.MaxShare, ErrExpireShare).
//
// The final index write of Commit runs on a context detached from the
// caller's cancellation (bounded by Options.CommitTimeout), so a shutdown
// does not leave uploaded data unconfirmed.
//
// # Repair
//
// RepairIndex rebuilds a prefix's index from its block objects (costfed
// repair): it lists the prefix, verifies each block with DecodeBlock,
// computes its entry with the code Commit uses (so intact blocks give back
// the lost index exactly), sets aside blocks that fail (reported with their
// *BlockError, left unlisted, never deleted or moved) and writes the index
// with the atomic index write above, unless it is a dry run or the index
// already holds those bytes. It takes no lock: the prefix's writer (agent or
// federator) must be stopped while it runs.
//
// # Caveats
//
//   - One object per window: a rebuild overwrites the block in place (see
//     Replace above).
//   - Parquet engines that glob the prefix directly (DuckDB, Athena) see
//     uncommitted blocks too: after a crash, a new window's block may be
//     visible to them before it is in the index.
//   - Times are stored in milliseconds; EncodeBlock refuses finer times, NaN
//     and ±Inf, duplicate row names and rows outside the window, rather than
//     silently changing them.
//   - One writer per cluster prefix and resolution: the index is read, changed
//     and written back without a lock (S3 has none). Two agents with one
//     cluster id are detectable through the producer instance in block
//     metadata, not prevented.
//   - objstore's S3 provider fails Get of a 0-byte object with io.EOF; the
//     store turns that into an empty object so it is classified (ErrEmptyBlock),
//     not retried as a transport error.
//   - costfed builds older than the gzip index cannot read an index written
//     by this one (they fail with "invalid character"). Upgrade serve, then
//     the federator, then the agents; a downgrade after a new build has
//     written indexes needs those indexes rewritten as plain JSON.
//   - The FILESYSTEM provider does not write atomically (create, then copy): a
//     crash can leave a truncated object. Readers catch it through the digest.
package store
