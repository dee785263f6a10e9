// Package testinfra starts real servers for integration tests: an S3 server
// (versitygw with its posix backend) and a Prometheus server whose TSDB is
// filled by promtool from an OpenMetrics file.
//
// # Basics
//
// Every helper takes a testing.TB, calls t.Helper and ties the lifetime of
// what it starts to the test through t.Cleanup:
//
//	s3 := testinfra.StartVersityGW(t)
//	storeYAML := s3.StoreYAML("") // a federated-store.yaml for the code under test
//
//	dir := t.TempDir()
//	testinfra.BackfillOpenMetrics(t, "fleet.om", dir)
//	prom := testinfra.StartPrometheus(t, dir)
//	// query prom.URL + "/api/v1/query_range"
//
// The binaries (versitygw, prometheus, promtool) are installed by
// scripts/install-test-deps.sh, which `make test` and .ci/run call first.
// The recipes and their measurements are in the project's infra reference.
//
// # Caveats
//
//   - A missing binary skips the test locally, so `go test ./...` stays usable
//     on a laptop without the servers, but fails it when the environment has
//     CI=true: a CI run can never be green because nothing ran.
//   - Servers listen on 127.0.0.1 only, on a port chosen by FreePort. A port
//     can be taken by another process between FreePort and the server's bind;
//     the Start helpers then retry on a fresh port a few times.
//   - Processes are stopped by the PID this package started, never by name:
//     SIGINT, up to 10 s to exit, then SIGKILL. On Linux a child also gets
//     SIGKILL when the test binary dies (a -timeout panic), so no server
//     outlives its test run.
//   - Each process writes stdout and stderr to a log file in t.TempDir(); the
//     tail of that log is printed when the test failed.
//   - Prometheus writes wal/, chunks_head/ and a lock file into its TSDB
//     directory and compacts small blocks about a minute after start: pass a
//     copy in t.TempDir(), never a checked-in directory. Retention counts from
//     the newest block, not the wall clock, and no scrape config is written,
//     so old fixture data stays queryable.
//   - OpenMetrics input for promtool needs timestamps in seconds, one
//     contiguous family per metric, samples in time order and a final
//     "# EOF"; millisecond timestamps and out-of-order samples are accepted
//     silently and give wrong data.
//   - The posix backend of versitygw is a real filesystem: objects "x" and
//     "x/y" cannot coexist. Object metadata lives in user xattrs; where they
//     do not work the server keeps it in a sidecar directory instead
//     (not --nometa, with which versitygw v1.8.0 fails multipart uploads).
package testinfra
