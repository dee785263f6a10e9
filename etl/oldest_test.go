package etl

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/internal/testinfra"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
)

// TestOldestSampleOnASimulatedSource runs the search against a simulated
// fleet's TSDB evaluated by the in-process engine.
func TestOldestSampleOnASimulatedSource(t *testing.T) {
	ctx := context.Background()
	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster = 1, 2
	cfg.Start = cfg.End.Add(-30 * time.Hour)
	fleet, err := sim.New(cfg)
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = fleet.WriteTSDB(ctx, dir, sim.TSDBOptions{})
	require.NoError(t, err)
	src, err := prom.OpenLocal(dir, prom.LocalSandboxDir(t.TempDir()))
	require.NoError(t, err)
	defer src.Close()

	now := cfg.End.Add(20 * time.Minute)
	got, err := OldestSample(ctx, src, now, 7*24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, cfg.Start, got, "the data starts at the simulation's start")

	got, err = OldestSample(ctx, src, now, 5*time.Hour)
	require.NoError(t, err)
	require.Equal(t, now.Add(-5*time.Hour).Truncate(time.Hour), got, "covered beyond the lookback")

	_, err = OldestSample(ctx, src, cfg.End.Add(3*time.Hour), time.Hour)
	require.ErrorContains(t, err, "no pod activity")
}

// TestOldestSampleOnRealPrometheus runs the same search against a real
// Prometheus 2.42 (closed ranges) loaded with the same fleet.
func TestOldestSampleOnRealPrometheus(t *testing.T) {
	testinfra.NeedBinary(t, "promtool")
	testinfra.NeedBinary(t, "prometheus")
	ctx := context.Background()
	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster = 1, 2
	cfg.Start = cfg.End.Add(-30 * time.Hour)
	fleet, err := sim.New(cfg)
	require.NoError(t, err)
	om := filepath.Join(t.TempDir(), "metrics.om")
	f, err := os.Create(om)
	require.NoError(t, err)
	_, err = fleet.WriteOpenMetrics(ctx, f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	dir := t.TempDir()
	testinfra.BackfillOpenMetrics(t, om, dir)
	srv := testinfra.StartPrometheus(t, dir)
	src, err := prom.NewHTTP(ctx, prom.HTTPConfig{URL: srv.URL})
	require.NoError(t, err)
	defer src.Close()

	got, err := OldestSample(ctx, src, cfg.End.Add(20*time.Minute), 7*24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, cfg.Start, got)
}
