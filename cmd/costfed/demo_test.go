package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDemo runs the README's first command, smaller: simulate, backfill every
// cluster, federate, report; the report's worst cluster difference from the
// ground truth must be within 0.1 % and every namespace within 1 %.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, "demo", "--dir", dir, "--clusters", "2", "--nodes", "2", "--days", "1")
	require.Equal(t, 0, code, errOut)
	m := regexp.MustCompile(`Worst difference: ([0-9.]+) % per cluster, ([0-9.]+) % per namespace`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	cluster, _ := strconv.ParseFloat(m[1], 64)
	namespace, _ := strconv.ParseFloat(m[2], 64)
	require.Less(t, cluster, 0.1, out)
	require.Less(t, namespace, 1.0, out)
	require.Contains(t, out, "cluster-02/__idle__")
	_, err := os.Stat(filepath.Join(dir, "store", "federated", "combined", "etl", "parquet", "allocations", "1d", "index.json"))
	require.NoError(t, err, "the combined store is left in --dir")

	code, out, _ = runCmd(t, "status", "--store", filepath.Join(dir, "federated-store.yaml"))
	require.Equal(t, 0, code)
	require.Contains(t, out, "cluster-01")

	code, _, _ = runCmd(t, "demo", "--clusters", "0")
	require.Equal(t, 2, code)
}
