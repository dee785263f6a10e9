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
	"github.com/costfed/costfed/store"
)

// Agent runs the scheduled ticks of one cluster: plan every resolution, build
// what is due, and keep a status for /status.
type Agent struct {
	Builder     *Builder
	Policies    []Policy
	SettleDelay time.Duration
	// Oldest returns the oldest sample the source holds. A tick whose call
	// fails builds nothing: without it the agent cannot tell a window the
	// source never covered from one it lost.
	Oldest func(ctx context.Context) (time.Time, error)
	Now    func() time.Time

	mu     sync.Mutex
	status Status
}

// Status is the agent's view for /status.
type Status struct {
	Cluster     string             `json:"cluster"`
	LastTick    time.Time          `json:"lastTick,omitzero"`
	LastError   string             `json:"lastError,omitempty"`
	Resolutions []ResolutionStatus `json:"resolutions"`
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
	s.Resolutions = append([]ResolutionStatus(nil), s.Resolutions...)
	return s
}

// Tick plans and builds every resolution once.
func (a *Agent) Tick(ctx context.Context) error {
	now := a.Now()
	st := Status{Cluster: a.Builder.Cluster, LastTick: now}
	var oldest time.Time
	if a.Oldest != nil {
		var err error
		if oldest, err = a.Oldest(ctx); err != nil {
			err = fmt.Errorf("tick: find the source's oldest sample: %w", err)
			st.LastError = err.Error()
			a.setStatus(st)
			return err
		}
	}
	var errs []error
	// Hourly first: a day can then be summed from the hours just built.
	policies := slices.Clone(a.Policies)
	slices.SortStableFunc(policies, func(x, y Policy) int { return cmp.Compare(x.Resolution.Duration(), y.Resolution.Duration()) })
	for _, p := range policies {
		rs, err := a.tickResolution(ctx, now, oldest, p)
		if err != nil {
			rs.LastError = err.Error()
			errs = append(errs, err)
		}
		st.Resolutions = append(st.Resolutions, rs)
	}
	if err := errors.Join(errs...); err != nil {
		st.LastError = err.Error()
	}
	a.setStatus(st)
	return errors.Join(errs...)
}

func (a *Agent) tickResolution(ctx context.Context, now, oldest time.Time, p Policy) (ResolutionStatus, error) {
	rs := ResolutionStatus{Resolution: p.Resolution}
	ix, err := a.Builder.Store.ReadIndex(ctx, a.Builder.Cluster, p.Resolution)
	if err != nil {
		return rs, err
	}
	tasks, skips, err := Plan(PlanInput{Mode: ModeAgent, Now: now, Policy: p, SettleDelay: a.SettleDelay, OldestSample: oldest, Committed: ix})
	if err != nil {
		return rs, err
	}
	rs.NoSourceData = len(skips)
	results, buildErr := a.Builder.Build(ctx, tasks, BuildOptions{}, nil)
	for _, r := range results {
		if r.Committed {
			rs.LastBuilt = now
		}
	}
	// Coverage after the builds.
	if ix, err = a.Builder.Store.ReadIndex(ctx, a.Builder.Cluster, p.Resolution); err == nil {
		describeCoverage(&rs, ix, now, oldest, p)
	}
	return rs, buildErr
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
