// Package federator merges every cluster's committed blocks into the
// combined store (federated/combined), window by window, incrementally and
// idempotently: one pass (Federator.RunOnce) reads the cluster indexes and the
// combined index, plans the windows whose inputs changed (Plan, a pure
// function of the indexes: a window is re-merged when its (cluster, digest)
// inputs differ from the lineage its combined block records), merges and
// commits them through store.Commit, and expires combined windows past
// retention through store.Expire. A pass where nothing changed reads only
// index objects and writes nothing.
//
// # What may surprise
//
//   - Combined blocks are deterministic: rows sorted by name, build time the
//     newest input's, the same producer instance for every federator, so two
//     racing federators write the same bytes and converge.
//   - A cluster block that cannot be read is quarantined with a reason: the
//     rows the combined block already had for that cluster are kept, so a bad
//     upload never erases a cluster's costs. The federator never writes to a
//     cluster's own prefix.
//   - A cluster whose index cannot be read keeps its combined rows; only a
//     cluster that is gone (or denied) leaves the combined store.
//   - A combined index that cannot be read (truncated, empty, garbage) is
//     rebuilt from the combined blocks at the start of the pass
//     (store.RepairIndex), logged as a warning and listed in
//     Report.RepairedIndexes. Intact blocks keep their lineage and are not
//     merged again; a combined block that fails verification is reported as
//     quarantined, left out of the index, and its window merged again in the
//     same pass. An index of a newer version is a halt, not rebuilt.
//   - Some failures are halts (*HaltError): an index of an unknown version, a
//     merge that would erase data, or a pass that would expire more than
//     retention.max_expire_share of a resolution. A halted federator stops
//     writing, reports costfed_federator_halted, and stays halted until it is
//     restarted (each --once run checks afresh); --force lifts the expiry
//     bound.
//   - Two processes writing one cluster id (duplicate producers) are reported
//     when their blocks interleave, not prevented.
package federator
