package etl

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/store"
)

// genComputer computes deterministic rows for a window: what the cluster
// "ran" depends on the window and on a version that tests bump to model a
// source whose data changed. Windows before dataFrom have no rows (the source
// lost them). It counts calls per window and can fail or cancel on cue.
type genComputer struct {
	mu       sync.Mutex
	cluster  string
	version  uint64
	dataFrom time.Time
	calls    map[time.Time]int
	failAt   map[time.Time]error
	onCall   func(w allocation.Window)
}

func (g *genComputer) ComputeWindow(ctx context.Context, w allocation.Window) (Computed, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[time.Time]int{}
	}
	g.calls[w.Start]++
	err := g.failAt[w.Start]
	version, dataFrom, onCall := g.version, g.dataFrom, g.onCall
	g.mu.Unlock()
	if onCall != nil {
		onCall(w)
	}
	if err != nil {
		return Computed{}, err
	}
	if err := ctx.Err(); err != nil {
		return Computed{}, err
	}
	if w.Start.Before(dataFrom) {
		return Computed{Queries: 12}, nil
	}
	return Computed{Rows: blocktest.Rows(g.cluster, w, 5, uint64(w.Start.Unix())+version), Queries: 12, SamplesProcessed: 1000}, nil
}

func (g *genComputer) callsFor(s time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[s]
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func newTestAgent(t *testing.T, clock *fakeClock, comp *genComputer, reg prometheus.Registerer) (*Agent, *store.Store) {
	t.Helper()
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	b := &Builder{Cluster: "c1", ProducerVersion: "test", ProducerInstance: "agent-0", Store: st, Computer: comp, Now: clock.Now, Metrics: NewMetrics(reg)}
	return &Agent{
		Builder:     b,
		Policies:    []Policy{{Resolution: store.Hourly, Retention: 3 * time.Hour}, {Resolution: store.Daily, Retention: 2 * 24 * time.Hour}},
		SettleDelay: 10 * time.Minute,
		Oldest:      func(context.Context) (time.Time, error) { return at("-48:00"), nil },
		Now:         clock.Now,
	}, st
}

func entryAt(t *testing.T, st *store.Store, res store.Resolution, s time.Time) (store.IndexEntry, bool) {
	t.Helper()
	ix, err := st.ReadIndex(context.Background(), "c1", res)
	require.NoError(t, err)
	return ix.Find(s)
}

func TestAgentTicksRefreshThenFinalizeOnce(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: at("02:20")}
	comp := &genComputer{cluster: "c1"}
	reg := prometheus.NewPedanticRegistry()
	a, st := newTestAgent(t, clock, comp, reg)

	require.NoError(t, a.Tick(ctx))
	open, ok := entryAt(t, st, store.Hourly, at("02:00"))
	require.True(t, ok)
	require.False(t, open.Complete)
	for _, h := range []string{"00:00", "01:00"} {
		e, ok := entryAt(t, st, store.Hourly, at(h))
		require.True(t, ok, h)
		require.True(t, e.Complete, "%s closed and settled: built final at once", h)
	}
	status := a.Status()
	require.Equal(t, 3, status.Resolutions[0].Present)
	require.Empty(t, status.Resolutions[0].Missing)

	// The open window's data grows: the next tick refreshes it.
	comp.version = 1
	clock.t = at("02:50")
	require.NoError(t, a.Tick(ctx))
	refreshed, _ := entryAt(t, st, store.Hourly, at("02:00"))
	require.NotEqual(t, open.SHA256, refreshed.SHA256)
	require.False(t, refreshed.Complete)

	// Closed, within the settle delay: rebuilt, still not final.
	clock.t = at("03:05")
	require.NoError(t, a.Tick(ctx))
	settling, _ := entryAt(t, st, store.Hourly, at("02:00"))
	require.False(t, settling.Complete)

	// Settled: built once more, final; then never again.
	clock.t = at("03:15")
	require.NoError(t, a.Tick(ctx))
	final, _ := entryAt(t, st, store.Hourly, at("02:00"))
	require.True(t, final.Complete)
	calls := comp.callsFor(at("02:00"))
	clock.t = at("03:40")
	require.NoError(t, a.Tick(ctx))
	require.Equal(t, calls, comp.callsFor(at("02:00")), "a complete window is not rebuilt by the agent")

	require.Equal(t, 0.0, testutil.ToFloat64(a.Builder.Metrics.failed.WithLabelValues("1h", "query")))
	require.Greater(t, testutil.ToFloat64(a.Builder.Metrics.built.WithLabelValues("1h")), 5.0)
	require.Greater(t, testutil.ToFloat64(a.Builder.Metrics.samples), 0.0)
	require.Equal(t, float64(clock.t.Unix()), testutil.ToFloat64(a.Builder.Metrics.lastSuccess.WithLabelValues("1h")), "timestamps come from the injected clock")
}

func TestAgentTickNeedsTheSourceFloor(t *testing.T) {
	clock := &fakeClock{t: at("02:20")}
	comp := &genComputer{cluster: "c1"}
	a, st := newTestAgent(t, clock, comp, nil)
	a.Oldest = func(context.Context) (time.Time, error) { return time.Time{}, errors.New("source down") }
	require.ErrorContains(t, a.Tick(context.Background()), "source down")
	ix, err := st.ReadIndex(context.Background(), "c1", store.Hourly)
	require.NoError(t, err)
	require.Empty(t, ix.Blocks, "nothing is built when the agent cannot tell lost data from none")
	require.Contains(t, a.Status().LastError, "oldest sample")
}

func TestBackfillIsResumable(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: at("30:00")}
	comp := &genComputer{cluster: "c1"}
	a, st := newTestAgent(t, clock, comp, nil)
	b := a.Builder
	b.Concurrency = 1
	plan := func() []Task {
		ix, err := st.ReadIndex(ctx, "c1", store.Hourly)
		require.NoError(t, err)
		tasks, _, err := Plan(PlanInput{Mode: ModeBackfill, Now: clock.t, Policy: a.Policies[0], SettleDelay: a.SettleDelay, From: at("00:00"), To: at("24:00"), Committed: ix})
		require.NoError(t, err)
		return tasks
	}
	// Killed after the 9th window starts: its compute sees the cancellation.
	kctx, kill := context.WithCancel(ctx)
	n := 0
	comp.onCall = func(allocation.Window) {
		if n++; n == 9 {
			kill()
		}
	}
	_, err := b.Build(kctx, plan(), BuildOptions{}, nil)
	require.ErrorIs(t, err, context.Canceled)
	comp.onCall = nil

	left := plan()
	require.Len(t, left, 16, "the first 8 windows were committed")
	results, err := b.Build(ctx, left, BuildOptions{}, nil)
	require.NoError(t, err)
	require.Len(t, results, 16)
	ix, err := st.ReadIndex(ctx, "c1", store.Hourly)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 24)
	for i, e := range ix.Blocks {
		require.Equal(t, at("00:00").Add(time.Duration(i)*time.Hour).Unix(), e.Start, "no gap, no duplicate")
		_, err := st.ReadBlock(ctx, "c1", store.Hourly, e)
		require.NoError(t, err)
	}
	require.Empty(t, plan(), "a third run has nothing left")
}

func TestRebuildNeverErasesData(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: at("30:00")}
	comp := &genComputer{cluster: "c1"}
	a, st := newTestAgent(t, clock, comp, nil)
	b := a.Builder
	tasks, _, err := Plan(PlanInput{Mode: ModeBackfill, Now: clock.t, Policy: a.Policies[0], SettleDelay: a.SettleDelay, From: at("00:00"), To: at("03:00")})
	require.NoError(t, err)
	_, err = b.Build(ctx, tasks, BuildOptions{}, nil)
	require.NoError(t, err)
	before, _ := entryAt(t, st, store.Hourly, at("01:00"))

	// The source lost everything before 02:00, but does not know its floor.
	comp.dataFrom = at("02:00")
	rebuild, _, err := Plan(PlanInput{Mode: ModeRebuild, Now: clock.t, Policy: a.Policies[0], From: at("00:00"), To: at("03:00")})
	require.NoError(t, err)

	dry, err := b.Build(ctx, rebuild, BuildOptions{DryRun: true}, nil)
	require.NoError(t, err)
	require.Equal(t, 0, dry[1].Rows)
	require.Equal(t, before.Rows, dry[1].Before.Rows, "dry run reports before and after")
	after, _ := entryAt(t, st, store.Hourly, at("01:00"))
	require.Equal(t, before, after, "a dry run commits nothing")

	results, err := b.Build(ctx, rebuild, BuildOptions{}, nil)
	require.ErrorIs(t, err, store.ErrWouldEraseData)
	require.ErrorIs(t, results[0].Err, store.ErrWouldEraseData)
	require.NoError(t, results[2].Err, "02:00 still has data and is rebuilt")
	after, _ = entryAt(t, st, store.Hourly, at("01:00"))
	require.Equal(t, before, after, "the old block stays")

	// When the source reports its floor, those windows are not even planned.
	rebuild, skips, err := Plan(PlanInput{Mode: ModeRebuild, Now: clock.t, Policy: a.Policies[0], From: at("00:00"), To: at("03:00"), OldestSample: at("02:00")})
	require.NoError(t, err)
	require.Len(t, rebuild, 1)
	require.Len(t, skips, 2)

	// --force replaces it, as asked.
	_, err = b.Build(ctx, []Task{{Resolution: store.Hourly, Window: allocation.Window{Start: at("01:00"), End: at("02:00")}, Reason: ReasonRequested, Final: true}}, BuildOptions{Force: true}, nil)
	require.NoError(t, err)
	after, _ = entryAt(t, st, store.Hourly, at("01:00"))
	require.Equal(t, 0, after.Rows)
}
