package accuracy

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/testinfra"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
)

// TestAccuracyPrometheus runs the same comparison against a real
// Prometheus 2.42 server: the fleet (two clusters of three nodes over one
// day, smaller than the local test's to keep promtool's backfill short) is
// written as OpenMetrics, backfilled with promtool, served by Prometheus
// and queried over HTTP; the range semantics are probed, not assumed.
func TestAccuracyPrometheus(t *testing.T) {
	testinfra.NeedBinary(t, "prometheus")
	testinfra.NeedBinary(t, "promtool")
	if testing.Short() {
		t.Skip("short: skipping the real-Prometheus accuracy test")
	}
	cfg := fleetConfig()
	cfg.NodesPerCluster = 3
	cfg.Start = sim.DefaultEnd.Add(-24 * time.Hour)
	f, err := sim.New(cfg)
	require.NoError(t, err)
	ctx := context.Background()

	start := time.Now()
	file := filepath.Join(t.TempDir(), "fleet.om")
	out, err := os.Create(file)
	require.NoError(t, err)
	bw := bufio.NewWriterSize(out, 1<<20)
	st, err := f.WriteOpenMetrics(ctx, bw)
	require.NoError(t, err)
	require.NoError(t, bw.Flush())
	require.NoError(t, out.Close())
	dir := t.TempDir()
	testinfra.BackfillOpenMetrics(t, file, dir)
	require.NoError(t, os.Remove(file))
	srv := testinfra.StartPrometheus(t, dir)
	t.Logf("fleet: %d series, %d samples; OpenMetrics + promtool + start in %v", st.Series, st.Samples, time.Since(start).Round(time.Millisecond))

	src, err := prom.NewHTTP(ctx, prom.HTTPConfig{URL: srv.URL})
	require.NoError(t, err)
	t.Cleanup(src.Close)
	sem, err := prom.ProbeRangeSemantics(ctx, src, prom.ProbeAt(sim.DefaultEnd))
	require.NoError(t, err)
	require.Equal(t, prom.RangeClosed, sem, "Prometheus 2.42 has closed ranges")

	tr := collectTruth(t, f)
	opts := allocation.QueryOptions{Step: cfg.ScrapeInterval, LeftOpen: sem == prom.RangeLeftOpen}
	start = time.Now()
	comp := computeAll(t, src, tr.windows(), opts)
	t.Logf("computed %d windows in %v", len(comp), time.Since(start).Round(time.Millisecond))
	checkWindows(t, comp)
	r := compare(tr, comp, cfg.ScrapeInterval, false)
	r.log(t, "ours, Prometheus 2.42 over HTTP")
	r.assert(t)
	ar := compareAssets(tr, comp)
	ar.log(t, "assets, Prometheus 2.42 over HTTP")
	ar.assert(t)

	classicAll(t, src, tr, cfg.ScrapeInterval, sem).log(t, "classic OpenCost method, Prometheus 2.42 over HTTP")
}
