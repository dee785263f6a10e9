// Package allocation is costfed's cost-allocation domain: the Allocation row (one
// container, or an idle or unmounted row, over one window), its properties, and the
// pure functions over sets of rows.
//
// # Basics
//
// Field names follow OpenCost's allocation model (cpuCoreHours, ramByteHours,
// pvs, lbAllocations, …) so the block files and the API speak the vocabulary users
// already know. Only measured quantities are stored; derived ones (cores = core-hours
// / hours, efficiency, total cost) are methods, so they can never disagree with the
// quantities they come from.
//
// ComputeWindow computes a window's allocations and its assets (package
// asset: nodes, disks, load balancers, network, cluster management) in one
// pass over the same query results; Compute returns the allocations alone.
//
// # Questions over sets
//
// A Set is the rows of one window. Set.Aggregate answers a query over it: idle
// shared or kept (IdleOptions), shared namespaces, labels and overhead
// distributed (ShareOptions), a Filter (OpenCost's v2 filter language, see
// ParseFilter), and rows summed by an AggregateBy (ParseAggregateBy).
// Accumulate, AccumulateSteps and AccumulatePeriods sum sets of consecutive
// windows; the last two report the requested step or period. Options are
// typed structs; the Parse functions accept the /allocation API's spellings.
// Every operation returns new values sharing no memory with its inputs.
//
// Summing follows OpenCost: hours, byte-hours and costs add, maxima take the
// maximum, properties intersect, volumes and load balancers merge by key, and
// request and usage averages are weighted by running minutes over
// max(end) − min(start). A gap between summed rows therefore dilutes their
// averages (two 1-core hours with a 2-hour gap between them average 0.5 core over
// the 4-hour span), while average × hours stays the summed core-hours under any
// grouping.
//
// # Caveats
//
// The package does no I/O, reads no clock and logs nothing: callers pass windows
// and times explicitly. Special rows are recognised by their names' last segment
// (__idle__, __unmounted__), as in OpenCost.
package allocation
