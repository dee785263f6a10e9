package etl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/store"
)

// Agent runs the scheduled ticks of one cluster: plan every resolution, build
// what is due, and keep a status for /status.
//
// The agent outlives its source: a tick that cannot reach it builds nothing,
// reports the source down (Status.Source, Ready, costfed_agent_source_up) and
// counts the failure; the next tick, or the retry RetryDelay schedules, tries
// again.
type Agent struct {
	Builder     *Builder
	Policies    []Policy
	SettleDelay time.Duration
	// Prepare, when set, is the agent's first contact with the source (the
	// command probes the store's range semantics with it). Every tick calls it
	// until it succeeds once; a tick whose call fails builds nothing and
	// reports the source down.
	Prepare func(ctx context.Context) error
	// Oldest returns the oldest sample the source holds. A tick whose call
	// fails builds nothing: without it the agent cannot tell a window the
	// source never covered from one it lost.
	Oldest func(ctx context.Context) (time.Time, error)
	Now    func() time.Time
	// RetryBase and RetryMax bound RetryDelay: RetryBase after the first tick
	// that could not reach the source, doubled for each consecutive one,
	// capped at RetryMax. Zero means DefaultRetryBase and DefaultRetryMax.
	RetryBase, RetryMax time.Duration
	// PlanAssets plans the asset pipeline too (PlanInput.Assets): windows
	// whose allocation block is done but whose asset block is missing, in a
	// store written before assets existed, get their asset block built. Set
	// it only with a Computer that computes assets.
	PlanAssets bool

	tickMu   sync.Mutex // one tick at a time
	prepared bool       // Prepare succeeded; guarded by tickMu

	mu     sync.Mutex
	status Status
	source SourceStatus
}

// Default retry delays of an agent whose source is down.
const (
	DefaultRetryBase = 15 * time.Second
	DefaultRetryMax  = 5 * time.Minute
)

// Tick failure reasons: the reason label of costfed_agent_ticks_failed_total.
// A failed tick is counted once, with the reason of its first error.
const (
	// FailSourceUnreachable: the source gave no answer, or 503, 504 or a
	// timeout, past its retries.
	FailSourceUnreachable = "source_unreachable"
	// FailThrottled: the source throttled (429, AMP's ThrottlingException)
	// past its retries.
	FailThrottled = "throttled"
	// FailQuery: the source answered, but refused a query (4xx, 422 too many
	// samples, a denied signature) or gave an answer the agent cannot use.
	FailQuery = "query_error"
	// FailStore: reading an index or committing a block failed.
	FailStore = "store_error"
	// FailOther: anything else (a plan the policies make impossible).
	FailOther = "other"
)

// TickFailureReasons lists every tick failure reason, in a fixed order.
func TickFailureReasons() []string {
	return []string{FailSourceUnreachable, FailThrottled, FailQuery, FailStore, FailOther}
}

// sourceFailure classifies the error of a source call.
func sourceFailure(err error) string {
	if r, ok := prom.RetryReasonOf(err); ok {
		if r == prom.RetryThrottled {
			return FailThrottled
		}
		return FailSourceUnreachable
	}
	return FailQuery
}

// Status is the agent's view for /status.
type Status struct {
	Cluster  string    `json:"cluster"`
	LastTick time.Time `json:"lastTick,omitzero"`
	// LastError is the last tick's error, "" when it succeeded.
	LastError string `json:"lastError,omitempty"`
	// LastErrorReason is its reason (see TickFailureReasons).
	LastErrorReason string       `json:"lastErrorReason,omitempty"`
	Source          SourceStatus `json:"source"`
	// Resolutions is the coverage after the last tick that reached the
	// source.
	Resolutions []ResolutionStatus `json:"resolutions"`
}

// SourceStatus is whether the agent can reach its Prometheus source.
type SourceStatus struct {
	// Up: the last tick reached the source. False before the first tick.
	Up bool `json:"up"`
	// Since is when the source was first seen in its current state.
	Since time.Time `json:"since,omitzero"`
	// LastError is the last error that made the source down, kept after it
	// comes back up; LastErrorTime is when it happened.
	LastError       string    `json:"lastError,omitempty"`
	LastErrorReason string    `json:"lastErrorReason,omitempty"`
	LastErrorTime   time.Time `json:"lastErrorTime,omitzero"`
	// ConsecutiveFailures counts the ticks since the source was last up.
	ConsecutiveFailures int `json:"consecutiveFailures,omitempty"`
	// RetryAt is when the next attempt is due while the source is down (the
	// schedule may run one earlier).
	RetryAt time.Time `json:"retryAt,omitzero"`
}

// ResolutionStatus is the coverage of one resolution inside its retention.
type ResolutionStatus struct {
	Resolution store.Resolution `json:"resolution"`
	Present    int              `json:"present"`
	Complete   int              `json:"complete"`
	Open       int              `json:"open"`
	// Missing are the windows inside retention (and after the source's oldest
	// sample) that have no block.
	Missing      []allocation.Window `json:"missing,omitempty"`
	NoSourceData int                 `json:"noSourceData"`
	LastBuilt    time.Time           `json:"lastBuilt,omitzero"`
	LastError    string              `json:"lastError,omitempty"`
}

// Status returns a copy of the last tick's status.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.status
	if s.Cluster == "" && a.Builder != nil {
		s.Cluster = a.Builder.Cluster
	}
	s.Source = a.source
	s.Resolutions = append([]ResolutionStatus(nil), s.Resolutions...)
	return s
}

// Ready reports whether the last tick reached the source, and if not, why:
// the agent's readiness.
func (a *Agent) Ready() (bool, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.source.Up:
		return true, "source up"
	case a.source.LastError == "":
		return false, "source not reached yet (the first tick is running)"
	default:
		return false, fmt.Sprintf("source down since %s (%s): %s",
			a.source.Since.UTC().Format(time.RFC3339), a.source.LastErrorReason, a.source.LastError)
	}
}

// RetryDelay is how long after the last tick the next attempt is due, when
// that tick could not reach the source: RetryBase doubled for each
// consecutive such tick, capped at RetryMax. ok is false when the source is
// up (the schedule alone drives the ticks).
func (a *Agent) RetryDelay() (d time.Duration, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.source.Up || a.source.ConsecutiveFailures == 0 {
		return 0, false
	}
	return a.retryDelay(a.source.ConsecutiveFailures), true
}

func (a *Agent) retryDelay(failures int) time.Duration {
	base, ceiling := cmp.Or(a.RetryBase, DefaultRetryBase), cmp.Or(a.RetryMax, DefaultRetryMax)
	d := base
	for i := 1; i < failures && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// Tick plans and builds every resolution once.
func (a *Agent) Tick(ctx context.Context) error {
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	now := a.Now()
	st := Status{Cluster: a.Builder.Cluster, LastTick: now}
	oldest, err := a.reachSource(ctx)
	if err != nil {
		a.mu.Lock()
		st.Resolutions = a.status.Resolutions // the store's coverage has not changed
		a.mu.Unlock()
		a.failTick(ctx, now, &st, err, sourceFailure(err), true)
		return err
	}
	a.sourceUp(now)
	var errs []error
	firstReason, sourceDown := "", error(nil)
	// Hourly first: a day can then be summed from the hours just built.
	policies := slices.Clone(a.Policies)
	slices.SortStableFunc(policies, func(x, y Policy) int { return cmp.Compare(x.Resolution.Duration(), y.Resolution.Duration()) })
	for _, p := range policies {
		rs, reason, err := a.tickResolution(ctx, now, oldest, p)
		if err != nil {
			rs.LastError = err.Error()
			errs = append(errs, err)
			firstReason = cmp.Or(firstReason, reason)
			if reason == FailSourceUnreachable && sourceDown == nil {
				sourceDown = err
			}
		}
		st.Resolutions = append(st.Resolutions, rs)
	}
	err = errors.Join(errs...)
	if err != nil {
		// Builds that lost the source mark it down, so readiness and the
		// retry follow the outage rather than wait for the next tick.
		a.failTick(ctx, now, &st, err, firstReason, false)
		if sourceDown != nil && ctx.Err() == nil {
			a.sourceDownAt(now, sourceDown, FailSourceUnreachable)
		}
	} else {
		a.setStatus(st)
	}
	return err
}

// reachSource runs Prepare (until it has succeeded once) and Oldest.
func (a *Agent) reachSource(ctx context.Context) (time.Time, error) {
	if a.Prepare != nil && !a.prepared {
		if err := a.Prepare(ctx); err != nil {
			return time.Time{}, fmt.Errorf("tick: reach the source: %w", err)
		}
		a.prepared = true
	}
	if a.Oldest == nil {
		return time.Time{}, nil
	}
	oldest, err := a.Oldest(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("tick: find the source's oldest sample: %w", err)
	}
	return oldest, nil
}

// failTick records a failed tick: its status, and, unless the agent is
// shutting down (a canceled tick is no failure), the counter and, when the
// source could not be reached, the source's state.
func (a *Agent) failTick(ctx context.Context, now time.Time, st *Status, err error, reason string, sourceDown bool) {
	if ctx.Err() != nil {
		st.LastError = err.Error()
		a.setStatus(*st)
		return
	}
	st.LastError, st.LastErrorReason = err.Error(), reason
	a.setStatus(*st)
	a.Builder.Metrics.tickFailed(reason)
	if sourceDown {
		a.sourceDownAt(now, err, reason)
	}
}

func (a *Agent) sourceUp(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.source.Up {
		a.source.Since = now
	}
	a.source.Up, a.source.ConsecutiveFailures, a.source.RetryAt = true, 0, time.Time{}
	a.Builder.Metrics.setSourceUp(true)
}

func (a *Agent) sourceDownAt(now time.Time, err error, reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.source.Up || a.source.Since.IsZero() {
		a.source.Since = now
	}
	a.source.Up = false
	a.source.LastError, a.source.LastErrorReason, a.source.LastErrorTime = err.Error(), reason, now
	a.source.ConsecutiveFailures++
	a.source.RetryAt = now.Add(a.retryDelay(a.source.ConsecutiveFailures))
	a.Builder.Metrics.setSourceUp(false)
}

// tickResolution plans and builds one resolution; on error, reason says
// what failed (see TickFailureReasons).
func (a *Agent) tickResolution(ctx context.Context, now, oldest time.Time, p Policy) (ResolutionStatus, string, error) {
	rs := ResolutionStatus{Resolution: p.Resolution}
	ix, err := a.Builder.Store.ReadIndex(ctx, a.Builder.Cluster, p.Resolution)
	if err != nil {
		return rs, FailStore, err
	}
	in := PlanInput{Mode: ModeAgent, Now: now, Policy: p, SettleDelay: a.SettleDelay, OldestSample: oldest, Committed: ix}
	if a.PlanAssets {
		aix, err := a.Builder.Store.ReadAssetIndex(ctx, a.Builder.Cluster, p.Resolution)
		if err != nil {
			return rs, FailStore, err
		}
		in.Assets = &aix
	}
	tasks, skips, err := Plan(in)
	if err != nil {
		return rs, FailOther, err
	}
	rs.NoSourceData = len(skips)
	results, buildErr := a.Builder.Build(ctx, tasks, BuildOptions{}, nil)
	reason := ""
	for _, r := range results {
		if r.Committed {
			rs.LastBuilt = now
		}
		if r.Err != nil && reason == "" {
			reason = FailStore
			if r.Stage != StageCommit {
				reason = sourceFailure(r.Err)
			}
		}
	}
	// Coverage after the builds.
	if ix, err = a.Builder.Store.ReadIndex(ctx, a.Builder.Cluster, p.Resolution); err == nil {
		describeCoverage(&rs, ix, now, oldest, p)
		a.Builder.Metrics.setCoverage(rs)
	}
	return rs, cmp.Or(reason, FailOther), buildErr
}

func describeCoverage(rs *ResolutionStatus, ix store.Index, now, oldest time.Time, p Policy) {
	step := p.Resolution.Duration()
	from := now.Truncate(step).Add(step).Add(-p.Retention).Truncate(step)
	for s := from; s.Before(now); s = s.Add(step) {
		w := allocation.Window{Start: s, End: s.Add(step)}
		if !oldest.IsZero() && !w.End.After(oldest) {
			continue
		}
		e, ok := ix.Find(s)
		switch {
		case !ok:
			rs.Missing = append(rs.Missing, w)
		case e.Complete:
			rs.Present++
			rs.Complete++
		default:
			rs.Present++
			rs.Open++
		}
	}
}

func (a *Agent) setStatus(s Status) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status = s
}
