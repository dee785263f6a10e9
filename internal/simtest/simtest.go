// Package simtest puts a simulated fleet where tests need it: a TSDB
// directory, or a real Prometheus serving it. It lives apart from testinfra
// because sim's own tests use testinfra.
package simtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/internal/testinfra"
	"github.com/costfed/costfed/sim"
)

// Fleet builds the fleet of cfg, failing the test on a bad config.
func Fleet(t testing.TB, cfg sim.Config) *sim.Fleet {
	t.Helper()
	f, err := sim.New(cfg)
	require.NoError(t, err)
	return f
}

// TSDB writes the fleet's metrics as TSDB blocks into a new temporary
// directory and returns it.
func TSDB(t testing.TB, f *sim.Fleet) string {
	t.Helper()
	dir := t.TempDir()
	_, err := f.WriteTSDB(context.Background(), dir, sim.TSDBOptions{})
	require.NoError(t, err)
	return dir
}

// Prometheus starts a real Prometheus (Debian's 2.42) serving the fleet's
// blocks, which it loads as they are; it skips locally, and fails under
// CI=true, when the binary is missing. (promtool's OpenMetrics path is
// tested in sim and internal/accuracy.)
func Prometheus(t testing.TB, f *sim.Fleet) *testinfra.PromServer {
	t.Helper()
	testinfra.NeedBinary(t, "prometheus")
	return testinfra.StartPrometheus(t, TSDB(t, f))
}
