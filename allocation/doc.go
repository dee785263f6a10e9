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
// # Caveats
//
// The package does no I/O, reads no clock and logs nothing: callers pass windows
// and times explicitly. Special rows are recognised by their names' last segment
// (__idle__, __unmounted__), as in OpenCost, and by Kind.
package allocation
