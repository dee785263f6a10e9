package federator

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/internal/faultbucket"
	"github.com/costfed/costfed/store"
)

// haltedFederator runs one pass that must halt with reason, then checks the
// halt's gauge, log line and report, and that a second pass touches nothing.
func requireHalts(t *testing.T, fb *faultbucket.Bucket, f *Federator, logs *bytes.Buffer, reason string, cause error) {
	t.Helper()
	ctx := context.Background()
	rep, err := f.RunOnce(ctx)
	var h *HaltError
	require.ErrorAs(t, err, &h)
	require.Equal(t, reason, h.Reason)
	require.ErrorIs(t, err, cause)
	require.Contains(t, rep.Halted, reason)
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.halted))
	require.Contains(t, logs.String(), "federator halted")
	require.Contains(t, logs.String(), "reason=\""+reason+"\"")

	// No retry storm: later passes return the halt without a bucket call.
	calls := len(fb.Calls())
	for i := 0; i < 3; i++ {
		rep2, err := f.RunOnce(ctx)
		require.ErrorAs(t, err, &h)
		require.Equal(t, rep.Started, rep2.Started, "the report stays the halting pass's")
	}
	require.Len(t, fb.Calls(), calls, "a halted federator touched the store")
	require.Equal(t, 4.0, testutil.ToFloat64(f.metrics.passes.WithLabelValues("halted")))
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.halted))
	require.Equal(t, 1, strings.Count(logs.String(), "federator halted"), "one halt line, then one skip line per tick")
}

func haltFixture(t *testing.T) (*faultbucket.Bucket, *store.Store, *bytes.Buffer, func() *Federator) {
	fb := faultbucket.New(objstore.NewInMemBucket(), nil)
	st := store.New(fb, store.Options{})
	var logs bytes.Buffer
	newFed := func() *Federator {
		f := newFederator(st, prometheus.NewPedanticRegistry())
		f.logger = slog.New(slog.NewTextHandler(&logs, nil))
		return f
	}
	return fb, st, &logs, newFed
}

func TestFederatorHaltsOnUnknownIndexVersion(t *testing.T) {
	ctx := context.Background()
	newer := func(cluster string) string {
		return `{"version":99,"cluster":"` + cluster + `","resolution":"1d","blocks":[]}`
	}
	t.Run("combined index", func(t *testing.T) {
		fb, st, logs, newFed := haltFixture(t)
		commit(t, st, clusterBlock("a", 0, 5, 1))
		require.NoError(t, fb.Upload(ctx, store.IndexKey(store.CombinedID, store.Daily), strings.NewReader(newer(store.CombinedID))))
		f := newFed()
		requireHalts(t, fb, f, logs, "unknown index version", store.ErrIndexVersion)
		require.NotContains(t, snapshot(t, fb, ""), store.BlockKey(store.CombinedID, store.Daily, dayWindow(0)), "a halted pass wrote a window")

		// A new process (a restart after the upgrade) checks again.
		_, err := newFed().RunOnce(ctx)
		require.ErrorIs(t, err, store.ErrIndexVersion)
	})
	t.Run("cluster index", func(t *testing.T) {
		fb, st, logs, newFed := haltFixture(t)
		commit(t, st, clusterBlock("a", 0, 5, 1))
		require.NoError(t, fb.Upload(ctx, store.IndexKey("b", store.Daily), strings.NewReader(newer("b"))))
		before := len(fb.Calls())
		f := newFed()
		requireHalts(t, fb, f, logs, "unknown index version", store.ErrIndexVersion)
		for _, c := range fb.Calls()[before:] {
			require.NotEqual(t, faultbucket.OpUpload, c.Op, "a halted pass wrote %s", c.Name)
		}
	})
}

func TestFederatorHaltsRatherThanEraseData(t *testing.T) {
	ctx := context.Background()
	fb, st, logs, newFed := haltFixture(t)
	commit(t, st, clusterBlock("a", 0, 5, 1))
	_, err := newFed().RunOnce(ctx)
	require.NoError(t, err)
	had := combinedRows(t, st, 0)

	// The cluster's block is rebuilt empty (its source lost the data).
	_, err = st.Commit(ctx, []store.Block{clusterBlock("a", 0, 0, 2)}, store.CommitOptions{AllowEmptyOverwrite: true})
	require.NoError(t, err)
	requireHalts(t, fb, newFed(), logs, "would erase data", store.ErrWouldEraseData)
	require.Equal(t, had, combinedRows(t, st, 0), "the combined window keeps its costs")
	require.Nil(t, asHalt(errors.New("a transport error is retried, not a halt")))
}

func TestFederatorHaltsBeforeExpiringTooMuch(t *testing.T) {
	ctx := context.Background()
	fb, st, logs, newFed := haltFixture(t)
	for d := 0; d < 4; d++ {
		commit(t, st, clusterBlock("a", d, 3, uint64(d)))
	}
	_, err := newFed().RunOnce(ctx)
	require.NoError(t, err)
	// The clock is day0+10d: a 7-day retention expires days 0..2, 3 of 4.
	retaining := func(force bool) *Federator {
		f := newFed()
		f.opts.Retention = map[store.Resolution]time.Duration{store.Daily: 7 * 24 * time.Hour}
		f.opts.MaxExpireShare = 0.5
		f.opts.Force = force
		return f
	}
	before := snapshot(t, fb, "")
	f := retaining(false)
	requireHalts(t, fb, f, logs, "expire share", store.ErrExpireShare)
	_, err = f.RunOnce(ctx)
	require.ErrorContains(t, err, "retention 7d (windows ending at or before 2024-01-04T00:00:00Z) would expire 3 of the 4 combined 1d windows (75 %) in one pass, more than retention.max_expire_share (50 %)")
	require.ErrorContains(t, err, "--force")
	require.Equal(t, before, snapshot(t, fb, ""), "the halting pass wrote or deleted something")

	rep, err := retaining(true).RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, rep.Expired[store.Daily])
	require.Equal(t, ExpiredSpan{At: day0.Add(10 * 24 * time.Hour), Windows: 3, First: dayWindow(0).Start, Last: dayWindow(2).End}, rep.LastExpired[store.Daily])
	ix, err := st.ReadIndex(ctx, store.CombinedID, store.Daily)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 1)

	// Routine aging (one window of several) is not a halt.
	commit(t, st, clusterBlock("a", 4, 3, 9))
	f = retaining(false)
	f.opts.Retention[store.Daily] = 6 * 24 * time.Hour
	rep, err = f.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Expired[store.Daily])
}
