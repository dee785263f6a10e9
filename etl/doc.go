// Package etl is the agent's pipeline: which windows are due (Plan, a pure
// function of the clock, retention, the settle delay, the source's oldest
// sample and the committed index), building them (prom → allocation → store),
// scheduling, backfill and rebuild. An Agent builds one cluster; a Fleet is
// a central agent (the Quick-Start architecture) that discovers the clusters
// of a shared source once per tick (DiscoverClusters) and runs an Agent for
// each, as a per-cluster agent of it would.
//
// # Caveats
//
//   - Windows are UTC-aligned multiples of their resolution since the Unix
//     epoch (time.Truncate), as the block keys are.
//   - A window that ends at or before the source's oldest sample is never
//     built, in any mode: with Prometheus retention shorter than costfed's,
//     rebuilding such a window would replace a good block with an empty one.
//   - A window the source covers only in part (the cluster or its Prometheus
//     started inside it) is built and flagged Partial.
package etl
