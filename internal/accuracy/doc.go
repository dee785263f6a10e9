// Package accuracy holds the end-to-end accuracy tests of the allocation
// engine: a simulated fleet (sim) is written as a TSDB, the query set of
// every hourly and daily window is evaluated against it (in-process, and
// against a real Prometheus server), allocation.Compute turns the answers
// into rows, and the rows are compared with the simulation's exact ground
// truth. The classic OpenCost method is measured on the same fleet. The
// package has no non-test code.
package accuracy
