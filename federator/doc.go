// Package federator merges every cluster's committed blocks into the
// combined store (federated/combined), window by window, incrementally and
// idempotently: one pass (Federator.RunOnce) reads the cluster indexes and the
// combined index, plans the windows whose inputs changed (Plan, a pure
// function of the indexes: a window is re-merged when its (cluster, digest)
// inputs differ from the lineage its combined block records), merges and
// commits them through store.Commit, and expires combined windows past
// retention through store.Expire. A pass where nothing changed reads only
// index objects (and lists the prefix of a cluster whose index is empty or
// unreadable), checks the size of each combined block (one attributes call
// a window; Options.CheckCombined) and writes nothing.
//
// Asset blocks (store.AssetBlock) are federated in the same pass, after
// each resolution's allocation blocks, with the same Plan over the asset
// indexes and the same quarantine rule (see passAssets). Clusters without
// asset blocks (stores written before assets) simply contribute none.
//
// # What may surprise
//
//   - Combined blocks are deterministic: rows sorted by name, build time the
//     newest input's, the same producer instance for every federator, so two
//     racing federators write the same bytes and converge.
//   - The federator never writes to a cluster's own prefix.
//   - A cluster block that cannot be read is quarantined with a reason: the
//     rows the combined block already had for that cluster are kept, the
//     lineage records the quarantined digest and the reason, so answers over
//     it warn naming the cluster, the window and the reason.
//   - A cluster whose prefix holds blocks but whose index is missing or
//     unreadable is damaged, not gone: its combined rows are kept (its
//     windows are rewritten once to record the damage in their lineage),
//     the windows of its blocks without them are written incomplete, and the
//     report, status and costfed_federator_damaged_clusters name it. A
//     transport error reading an index changes nothing. Only a cluster that
//     is gone (its prefix empty) or denied leaves the combined store.
//   - A combined index that cannot be read (truncated, empty, garbage) is
//     rebuilt from the combined blocks at the start of the pass
//     (store.RepairIndex), logged as a warning and listed in
//     Report.RepairedIndexes. Intact blocks keep their lineage and are not
//     merged again; a combined block that fails verification is reported as
//     quarantined, left out of the index, and its window merged again in the
//     same pass. An index of a newer version is a halt, not rebuilt.
//   - A combined block whose object is not what the combined index lists
//     (missing, truncated, grown; with CheckDigest also a same-size change)
//     is found before planning and its window merged again in the same pass
//     (Report.DamagedCombined, costfed_federator_damaged_combined_blocks).
//     Rows the block alone held (a cluster whose index does not list the
//     window) are lost with it: the window is written incomplete and its
//     lineage names the cluster and why (DamagePreviousLost, or the
//     cluster's damage). Asset blocks are not checked yet.
//   - Some failures are halts (*HaltError): an index of an unknown version, a
//     merge that would erase data, or a pass that would expire more than
//     retention.max_expire_share of a resolution. A halted federator stops
//     writing, reports costfed_federator_halted, and stays halted until it is
//     restarted (each --once run checks afresh); --force lifts the expiry
//     bound.
//   - Two processes writing one cluster id (duplicate producers) are reported
//     when their blocks interleave, not prevented.
//   - For assets, damage detection from listings, combined-index repair and
//     the combined block check are not done yet; retention expiry is.
package federator
