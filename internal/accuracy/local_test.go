package accuracy

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
)

// TestAccuracyLocal computes every hourly and daily window of the
// simulated fleet from the in-process Prometheus 3 engine and compares the
// rows with the ground truth at issue 4's tolerances.
func TestAccuracyLocal(t *testing.T) {
	cfg := fleetConfig()
	f, err := sim.New(cfg)
	require.NoError(t, err)
	dir := t.TempDir()
	start := time.Now()
	st, err := f.WriteTSDB(context.Background(), dir, sim.TSDBOptions{})
	require.NoError(t, err)
	t.Logf("fleet: %d series, %d samples, written in %v", st.Series, st.Samples, time.Since(start).Round(time.Millisecond))
	tr := collectTruth(t, f)
	src, err := prom.OpenLocal(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = src.Close() })

	opts := allocation.QueryOptions{Step: cfg.ScrapeInterval, LeftOpen: src.RangeSemantics() == prom.RangeLeftOpen}
	start = time.Now()
	comp := computeAll(t, src, tr.windows(), opts)
	t.Logf("computed %d windows in %v", len(comp), time.Since(start).Round(time.Millisecond))
	checkWindows(t, comp)
	r := compare(tr, comp, cfg.ScrapeInterval, false)
	r.log(t, "ours, local Prometheus 3 engine")
	r.assert(t)
	ar := compareAssets(tr, comp)
	ar.log(t, "assets, local Prometheus 3 engine")
	ar.assert(t)
	compare(tr, comp, cfg.ScrapeInterval, true).log(t, "ours, CPU+RAM+GPU only (as the classic comparison)")

	classic := classicAll(t, src, tr, cfg.ScrapeInterval, src.RangeSemantics())
	classic.log(t, "classic OpenCost method, local Prometheus 3 engine")
}
