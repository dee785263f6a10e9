// Package api answers OpenCost-compatible cost questions over the combined
// store (or one cluster's blocks): request parameters (window, aggregate,
// step, accumulate, filter, idle and sharing), the Engine that reads and sums
// blocks, and the HTTP handler with OpenCost's /allocation response shape.
//
// # Basics
//
// ParamsFromURL reads the query string: OpenCost's parameters, Kubecost's
// legacy filters (filterNamespaces=…, ANDed with filter=) and the parameters
// clients send that change nothing here (IgnoredParams); any other parameter
// is an error. QueryParams.Parse turns them into a Query; errors are
// *ParamError values that name the parameter (400 on the API, exit status 2
// on the CLI). Engine.Answer plans the blocks that cover the window: the 1d
// block of every whole UTC day, and 1h blocks for the partial days at the
// edges and for days whose 1d block is missing. Each block is aggregated on
// its own (filter, idle, sharing), then the aggregated sets are summed per
// step or accumulation period, as OpenCost sums per-step sets. A block is
// streamed a batch at a time, reading only the columns the question needs.
// When the options decompose (no sharing, no idle scaled to a filter), the
// block is summed column by column (store.AggregateBlock with an
// allocation.Grouper): no row is built, numeric columns are added into
// per-output sums in tight loops, and memory holds one batch of columns and
// the answer. Other questions decode rows (store.ScanBlock) and aggregate
// them whole. Per-block answers are cached by content hash
// (IndexEntry.SHA256) and the options' canonical text (AggregateOptions.Key)
// in an LRU bounded by an approximate byte count; concurrent loads of one
// key are joined.
//
// NewHandler serves GET /allocation, /allocation/compute, /model/allocation
// (Kubecost's path) and /allocation/summary with an optional bearer token,
// plus /status, /healthz and /metrics; NewServer sets timeouts so a slow
// client cannot hold a connection.
//
// # Caveats
//
//   - Relative windows are in UTC and end at now rounded up to their unit
//     ("7d" ends at tomorrow 00:00 and covers today), as OpenCost's do.
//   - Weeks start on Sunday.
//   - Blocks are hourly at finest: a window that does not fall on whole hours
//     is widened to whole hours, and steps are whole hours; the answer says
//     so in a warning. A window shorter than an hour is answered from one
//     whole hour, the one holding most of it (or the other hour it touches
//     when that one has no block yet), with a warning naming it. A step that
//     splits a day makes the day read from 1h blocks.
//   - Parts of the window without blocks, blocks that fail verification,
//     incomplete blocks and stale clusters are warnings in the answer, not
//     errors: the answer is what the store holds.
//   - Idle and shared costs are distributed per block (per day or hour), then
//     summed. Sharing, and idle scaled to a filter, need a block's every row
//     before any is summed: those questions hold a whole block decoded.
//   - Rows summed by an aggregate key carry no labels or annotations unless
//     includeAggregatedMetadata=true (as in OpenCost); such questions skip
//     those columns.
package api
