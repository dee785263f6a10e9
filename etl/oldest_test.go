package etl

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/internal/simtest"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
)

// oldestFleetConfig is a small fleet whose data starts 30 hours before the
// simulation's end.
func oldestFleetConfig() sim.Config {
	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster = 1, 2
	cfg.Start = cfg.End.Add(-30 * time.Hour)
	return cfg
}

// TestOldestSampleOnASimulatedSource runs the search against a simulated
// fleet's TSDB evaluated by the in-process engine.
func TestOldestSampleOnASimulatedSource(t *testing.T) {
	ctx := context.Background()
	cfg := oldestFleetConfig()
	src, err := prom.OpenLocal(simtest.TSDB(t, simtest.Fleet(t, cfg)), prom.LocalSandboxDir(t.TempDir()))
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
	ctx := context.Background()
	cfg := oldestFleetConfig()
	srv := simtest.Prometheus(t, simtest.Fleet(t, cfg))
	src, err := prom.NewHTTP(ctx, prom.HTTPConfig{URL: srv.URL})
	require.NoError(t, err)
	defer src.Close()

	got, err := OldestSample(ctx, src, cfg.End.Add(20*time.Minute), 7*24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, cfg.Start, got)
}
