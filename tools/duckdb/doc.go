// Package duckdb reads costfed's combined store with DuckDB, outside the
// costfed binary: it holds the SQL the README documents (by cluster, by
// namespace, by label, with a namespace filter), a test that runs that SQL on
// the demo's store and checks it against costfed's own query engine, and
// benchmarks of the same SQL for comparison with `costfed query` and `serve`.
//
// It is a separate Go module because DuckDB needs cgo, and the costfed binary
// stays pure Go and static. Its tests run from `make test` (target
// test-duckdb); the first run downloads DuckDB's prebuilt library from the Go
// module proxy and links it, which takes a while.
package duckdb
