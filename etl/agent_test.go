package etl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/internal/faultbucket"
	"github.com/costfed/costfed/prom"
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

// sourceFault is a source answer the agent must outlive.
type sourceFault struct{ err error }

func (f *sourceFault) get() error { return f.err }

// TestAgentOutlivesItsSource: a tick that cannot reach the source builds
// nothing, counts a failed tick by reason, reports the source down and backs
// off (base doubled per failure, capped); once the source answers, the next
// tick prepares once, builds, and the source is up again.
func TestAgentOutlivesItsSource(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: at("02:20")}
	comp := &genComputer{cluster: "c1"}
	reg := prometheus.NewPedanticRegistry()
	a, st := newTestAgent(t, clock, comp, reg)
	a.RetryBase, a.RetryMax = 10*time.Second, 35*time.Second
	unavailable := &prom.HTTPError{StatusCode: 503, Message: "service unavailable"}
	fault := &sourceFault{err: fmt.Errorf("probe range semantics: %w (gave up after 5 retries)", unavailable)}
	prepares := 0
	a.Prepare = func(context.Context) error { prepares++; return fault.get() }
	m := a.Builder.Metrics
	failed := func(reason string) float64 { return testutil.ToFloat64(m.ticksFailed.WithLabelValues(reason)) }

	ready, why := a.Ready()
	require.False(t, ready)
	require.Contains(t, why, "not reached yet")
	require.Equal(t, 0.0, testutil.ToFloat64(m.sourceUp))
	_, retry := a.RetryDelay()
	require.False(t, retry, "no retry before a failure")

	var delays []time.Duration
	for range 4 {
		require.ErrorIs(t, a.Tick(ctx), unavailable)
		d, ok := a.RetryDelay()
		require.True(t, ok)
		delays = append(delays, d)
		clock.t = clock.t.Add(d)
	}
	require.Equal(t, []time.Duration{10 * time.Second, 20 * time.Second, 35 * time.Second, 35 * time.Second}, delays, "doubled, capped")
	ix, err := st.ReadIndex(ctx, "c1", store.Hourly)
	require.NoError(t, err)
	require.Empty(t, ix.Blocks)
	require.Equal(t, 4.0, failed(FailSourceUnreachable))
	require.Equal(t, 0.0, testutil.ToFloat64(m.sourceUp))
	s := a.Status()
	require.False(t, s.Source.Up)
	require.Equal(t, at("02:20"), s.Source.Since, "down since the first failed tick")
	require.Equal(t, 4, s.Source.ConsecutiveFailures)
	require.Equal(t, FailSourceUnreachable, s.Source.LastErrorReason)
	require.Contains(t, s.Source.LastError, "HTTP 503")
	require.Equal(t, clock.t, s.Source.RetryAt)
	require.Equal(t, FailSourceUnreachable, s.LastErrorReason)
	ready, why = a.Ready()
	require.False(t, ready)
	require.Contains(t, why, "HTTP 503")

	// Throttled and refused answers are told apart.
	fault.err = &prom.HTTPError{StatusCode: 429}
	require.Error(t, a.Tick(ctx))
	require.Equal(t, 1.0, failed(FailThrottled))
	fault.err = &prom.HTTPError{StatusCode: 403, Message: "denied"}
	require.Error(t, a.Tick(ctx))
	require.Equal(t, 1.0, failed(FailQuery))
	require.Equal(t, 6, a.Status().Source.ConsecutiveFailures)

	// The source is back: the next tick builds.
	fault.err = nil
	clock.t = at("02:30")
	require.NoError(t, a.Tick(ctx))
	require.Equal(t, 7, prepares)
	require.Equal(t, 1.0, testutil.ToFloat64(m.sourceUp))
	s = a.Status()
	require.True(t, s.Source.Up)
	require.Equal(t, at("02:30"), s.Source.Since)
	require.Zero(t, s.Source.ConsecutiveFailures)
	require.Empty(t, s.LastError)
	require.Contains(t, s.Source.LastError, "denied", "the last outage's error stays visible")
	require.Equal(t, 3, s.Resolutions[0].Present)
	ready, _ = a.Ready()
	require.True(t, ready)
	_, retry = a.RetryDelay()
	require.False(t, retry)
	require.NoError(t, a.Tick(ctx))
	require.Equal(t, 7, prepares, "prepared once")
}

// TestAgentTickFailureReasons: a build that loses the source marks it down;
// a store that fails is a store error and leaves the source up.
func TestAgentTickFailureReasons(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: at("02:20")}
	comp := &genComputer{cluster: "c1", failAt: map[time.Time]error{at("01:00"): &prom.HTTPError{StatusCode: 504}}}
	a, _ := newTestAgent(t, clock, comp, prometheus.NewPedanticRegistry())
	m := a.Builder.Metrics
	require.Error(t, a.Tick(ctx))
	require.Equal(t, 1.0, testutil.ToFloat64(m.ticksFailed.WithLabelValues(FailSourceUnreachable)), "one failed tick, counted once")
	require.Equal(t, 0.0, testutil.ToFloat64(m.sourceUp))
	require.False(t, a.Status().Source.Up)
	_, retry := a.RetryDelay()
	require.True(t, retry)

	comp.failAt = nil
	bkt := faultbucket.New(objstore.NewInMemBucket(), func(faultbucket.Call) faultbucket.Fault { return faultbucket.Before })
	a.Builder.Store = store.New(bkt, store.Options{})
	require.Error(t, a.Tick(ctx))
	require.Equal(t, 1.0, testutil.ToFloat64(m.ticksFailed.WithLabelValues(FailStore)))
	require.Equal(t, 1.0, testutil.ToFloat64(m.sourceUp), "the source answered")
	require.Equal(t, FailStore, a.Status().LastErrorReason)

	// Shutting down is no failure.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	a.Oldest = func(ctx context.Context) (time.Time, error) { return time.Time{}, ctx.Err() }
	require.ErrorIs(t, a.Tick(cctx), context.Canceled)
	for _, r := range TickFailureReasons() {
		require.LessOrEqual(t, testutil.ToFloat64(m.ticksFailed.WithLabelValues(r)), 1.0, r)
	}
	require.True(t, a.Status().Source.Up)
}
