package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
)

func runSimulateCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr}
	code := run(context.Background(), e, append([]string{"simulate"}, args...))
	return code, stdout.String(), stderr.String()
}

func TestSimulateWritesMetricsAndTruth(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fleet")
	code, stdout, stderr := runSimulateCmd(t, "--out", out, "--format", "both", "--nodes", "2", "--hours", "2", "--seed", "7")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^simulate: .*fleet: 1 clusters, 2 nodes, \d+ pods, \d+ containers; \d+ series, \d+ samples; metrics.om [0-9.]+ MiB, tsdb/ [0-9.]+ [KM]iB; truth \d+ records; [0-9.]+ s(, peak RSS \d+ MiB)?\n$`, stdout)
	require.Equal(t, 1, strings.Count(stdout, "\n"), "one line")

	om, err := os.ReadFile(filepath.Join(out, "metrics.om"))
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(om, []byte("# EOF\n")))

	truthFile, err := os.Open(filepath.Join(out, "truth.jsonl"))
	require.NoError(t, err)
	defer truthFile.Close()
	truth, err := sim.ReadTruth(truthFile)
	require.NoError(t, err)
	require.Len(t, truth.Clusters, 2, "two hourly windows, no whole day")
	require.NotEmpty(t, truth.Containers)

	src, err := prom.OpenLocal(filepath.Join(out, "tsdb"), prom.LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	defer src.Close()
	res, err := src.Query(context.Background(), `count(kube_node_labels)`, sim.DefaultEnd)
	require.NoError(t, err)
	require.Equal(t, model.SampleValue(2), res.Value.(model.Vector)[0].Value)

	// The same flags again: the TSDB directory is not overwritten.
	code, _, stderr = runSimulateCmd(t, "--out", out, "--format", "tsdb", "--nodes", "2", "--hours", "2")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "already holds data")
}

func TestSimulateDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		code, _, stderr := runSimulateCmd(t, "--out", dir, "--format", "openmetrics", "--nodes", "1", "--hours", "1", "--scrape-interval", "5m")
		require.Equal(t, 0, code, stderr)
	}
	for _, name := range []string{"metrics.om", "truth.jsonl"} {
		x, err := os.ReadFile(filepath.Join(a, name))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, name))
		require.NoError(t, err)
		require.Equal(t, x, y, name)
	}
}

func TestSimulateBadFlags(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]string{
		"--out is required":   {"--nodes", "1"},
		"--format":            {"--out", dir, "--format", "xml"},
		"--nodes":             {"--out", dir, "--nodes", "0"},
		"--clusters":          {"--out", dir, "--clusters", "1000"},
		"--days":              {"--out", dir, "--days", "0"},
		"--hours":             {"--out", dir, "--hours", "-1"},
		"--end":               {"--out", dir, "--end", "yesterday"},
		"not a whole hour":    {"--out", dir, "--end", "2024-01-08T00:30:00Z"},
		"--scrape-interval":   {"--out", dir, "--scrape-interval", "7s"},
		"unexpected argument": {"--out", dir, "extra"},
		"invalid value":       {"--out", dir, "--seed", "x"},
	}
	for want, args := range cases {
		code, _, stderr := runSimulateCmd(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Contains(t, stderr, want, args)
		require.NotContains(t, stderr, "goroutine", "no stack trace")
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing written on a usage error")
}

func TestSimulateHelp(t *testing.T) {
	code, stdout, stderr := runSimulateCmd(t, "--help")
	require.Equal(t, 0, code)
	require.Empty(t, stderr)
	require.Contains(t, stdout, "Usage: costfed simulate --out DIR")
	require.Contains(t, stdout, "-scrape-interval")
}
