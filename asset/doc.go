// Package asset is costfed's asset domain: what the infrastructure of a
// cluster cost over a window, one row per node, persistent volume (disk),
// load balancer, cluster network egress and cluster management fee, as
// opposed to package allocation's rows, which say who used it.
//
// # Basics
//
// An Asset is one flat row whatever its Kind, so a window's assets are one
// table (one Parquet schema, one JSON shape per kind). Fields that do not
// apply to a kind are zero. Field names follow OpenCost's asset model
// (cpuCoreHours, ramByteHours, byteHours, claimName, …). Only measured
// quantities are stored; averages (CPUCores, RAMBytes, Bytes, …) and the
// total cost are methods over them, so they cannot disagree.
//
// Assets are computed by allocation.ComputeWindow in the same pass, from the
// same query results, as the allocations of the window: a node asset's cost
// is the integral that allocation's idle rows are computed from, so for every
// node and resource
//
//	node cost = cost allocated to its containers + idle cost
//
// up to float rounding (exactly what the idle row holds, unless allocations
// exceeded capacity, which Compute reports as a warning and clamps).
//
// # Caveats
//
// The package does no I/O and reads no clock. Disk cost is the volume's
// capacity (kube_persistentvolume_capacity_bytes) at its price, the bill;
// allocations charge claims their requested bytes, so when a claim requests
// less than its volume holds, disk assets exceed the volume cost allocations
// carry. A disk is Local when kube_persistentvolume_info names a local or
// hostPath path for it (local_path, host_path); any other volume, and one
// without that series, counts as network storage. Adjustment and Discount are never
// set by Compute either (there is no billing reconciliation); they exist so
// that rows can carry them later without a schema change.
package asset
