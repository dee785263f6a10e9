package etl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"

	"github.com/costfed/costfed/prom"
)

// Fleet is a central agent (the Quick-Start architecture): it builds the
// blocks of many clusters that share one source, each with its own Agent,
// built by NewAgent exactly as a per-cluster agent of that cluster would be.
//
// Every tick first runs Prepare (until it succeeds once) and one discovery
// query (DiscoverClusters over TickDiscoverySpan). With Discover, the
// clusters it finds are the fleet: new ones get an agent, and known ones it
// no longer finds become stale: they are not ticked, and their blocks are
// kept (nothing is ever deleted). With IDs, the listed clusters are the
// fleet, and a listed cluster the query does not find is reported stale (or
// absent, if never seen) and not ticked: a per-cluster agent of it would find
// no data to build from either. Present clusters are ticked, at most
// Concurrency at once; the queries of all of them share the source's bound
// (see prom.Limited).
//
// A tick whose Prepare or discovery fails builds nothing and records, for
// every active cluster, the failed tick a per-cluster agent would have
// recorded (source down, the failure counted by reason).
type Fleet struct {
	// Source is the shared, unfiltered source the discovery query runs on.
	Source prom.Source
	// ClusterLabel is the label carrying the cluster id.
	ClusterLabel string
	// IDs is the fixed list of clusters; nil with Discover.
	IDs      []string
	Discover bool
	// NewAgent returns the agent of one cluster; it is called once per
	// cluster, on the first tick that finds it.
	NewAgent func(id string) (*Agent, error)
	// Prepare, when set, is the fleet's first contact with the source, as
	// Agent.Prepare.
	Prepare func(ctx context.Context) error
	// Concurrency bounds the clusters ticked at once (default 2).
	Concurrency int
	Now         func() time.Time
	Logger      *slog.Logger
	Metrics     *FleetMetrics
	// RetryBase and RetryMax bound RetryDelay, as Agent's.
	RetryBase, RetryMax time.Duration

	tickMu   sync.Mutex
	prepared bool // guarded by tickMu

	mu      sync.Mutex
	members map[string]*member
	status  FleetStatus
}

// Cluster states in FleetStatus.
const (
	// ClusterActive: found by the last discovery and ticked.
	ClusterActive = "active"
	// ClusterStale: found before, not by the last discovery; not ticked, its
	// blocks kept.
	ClusterStale = "stale"
	// ClusterAbsent: listed in IDs but never found.
	ClusterAbsent = "absent"
)

type member struct {
	agent               *Agent // nil until created
	state               string
	firstSeen, lastSeen time.Time
	err                 string // NewAgent's error
}

// FleetStatus is a central agent's view for /status.
type FleetStatus struct {
	// Discover is true when the clusters are discovered, false when listed.
	Discover bool      `json:"discover"`
	LastTick time.Time `json:"lastTick,omitzero"`
	// LastError is the last tick's error, "" when it succeeded.
	LastError       string       `json:"lastError,omitempty"`
	LastErrorReason string       `json:"lastErrorReason,omitempty"`
	Source          SourceStatus `json:"source"`
	// InvalidClusterIDs are cluster label values the last discovery skipped
	// because they cannot be a cluster id.
	InvalidClusterIDs []string        `json:"invalidClusterIds,omitempty"`
	Clusters          []ClusterStatus `json:"clusters"`
}

// ClusterStatus is one cluster of a central agent: its state and its
// agent's status (coverage per resolution).
type ClusterStatus struct {
	State     string    `json:"state"`
	FirstSeen time.Time `json:"firstSeen,omitzero"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
	Status
}

// Status returns the fleet's status, clusters sorted by id.
func (f *Fleet) Status() FleetStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.status
	st.Discover = f.Discover
	st.InvalidClusterIDs = slices.Clone(st.InvalidClusterIDs)
	st.Clusters = make([]ClusterStatus, 0, len(f.members))
	for _, id := range sortedKeys(f.members) {
		m := f.members[id]
		cs := ClusterStatus{State: m.state, FirstSeen: m.firstSeen, LastSeen: m.lastSeen, Status: Status{Cluster: id}}
		if m.agent != nil {
			cs.Status = m.agent.Status()
		}
		if m.err != "" {
			cs.LastError = m.err
		}
		st.Clusters = append(st.Clusters, cs)
	}
	return st
}

// Ready reports whether the last tick reached the source (Prepare and the
// discovery query), and if not, why.
func (f *Fleet) Ready() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.status.Source
	switch {
	case s.Up:
		return true, "source up"
	case s.LastError == "":
		return false, "source not reached yet (the first tick is running)"
	default:
		return false, fmt.Sprintf("source down since %s (%s): %s", s.Since.UTC().Format(time.RFC3339), s.LastErrorReason, s.LastError)
	}
}

// RetryDelay is when the next attempt is due after a tick that could not
// reach the source, or after one in which a cluster could not (the
// shortest of their delays); ok is false when every part is up.
func (f *Fleet) RetryDelay() (time.Duration, bool) {
	f.mu.Lock()
	s := f.status.Source
	agents := f.activeAgents()
	f.mu.Unlock()
	if !s.Up && s.ConsecutiveFailures > 0 {
		return (&Agent{RetryBase: f.RetryBase, RetryMax: f.RetryMax}).retryDelay(s.ConsecutiveFailures), true
	}
	best, found := time.Duration(0), false
	for _, a := range agents {
		if d, ok := a.RetryDelay(); ok && (!found || d < best) {
			best, found = d, true
		}
	}
	return best, found
}

// activeAgents returns the agents of the active clusters; f.mu is held.
func (f *Fleet) activeAgents() map[string]*Agent {
	out := map[string]*Agent{}
	for id, m := range f.members {
		if m.state == ClusterActive && m.agent != nil {
			out[id] = m.agent
		}
	}
	return out
}

// Tick discovers the clusters and ticks every active one once.
func (f *Fleet) Tick(ctx context.Context) error {
	f.tickMu.Lock()
	defer f.tickMu.Unlock()
	now := f.Now()
	found, err := f.reach(ctx, now)
	if err != nil {
		f.failTick(ctx, now, err, sourceFailure(err))
		return err
	}
	f.sourceUp(now, found.Invalid)
	agents := f.update(now, found.IDs)

	var mu sync.Mutex
	var errs []error
	var g errgroup.Group
	g.SetLimit(cmp.Or(f.Concurrency, 2))
	for _, id := range sortedKeys(agents) {
		a := agents[id]
		g.Go(func() error {
			if err := a.Tick(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("cluster %s: %w", id, err))
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	slices.SortFunc(errs, func(a, b error) int { return cmp.Compare(a.Error(), b.Error()) })
	err = errors.Join(errs...)
	f.mu.Lock()
	f.status.LastTick, f.status.LastError, f.status.LastErrorReason = now, "", ""
	if err != nil {
		f.status.LastError = err.Error()
	}
	f.mu.Unlock()
	return err
}

// reach runs Prepare (until it has succeeded once) and the discovery query.
func (f *Fleet) reach(ctx context.Context, now time.Time) (Discovered, error) {
	if f.Prepare != nil && !f.prepared {
		if err := f.Prepare(ctx); err != nil {
			return Discovered{}, fmt.Errorf("tick: reach the source: %w", err)
		}
		f.prepared = true
	}
	start, end := TickDiscoverySpan(now)
	found, err := DiscoverClusters(ctx, f.Source, f.ClusterLabel, start, end, 0)
	if err != nil {
		return Discovered{}, fmt.Errorf("tick: %w", err)
	}
	return found, nil
}

// update applies a discovery to the members and returns the agents to tick.
func (f *Fleet) update(now time.Time, present []string) map[string]*Agent {
	wanted := present
	if !f.Discover {
		wanted = f.IDs
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.members == nil {
		f.members = map[string]*member{}
	}
	for _, id := range wanted {
		if f.members[id] == nil {
			f.members[id] = &member{state: ClusterAbsent}
		}
	}
	for _, id := range sortedKeys(f.members) {
		m := f.members[id]
		switch {
		case slices.Contains(present, id) && slices.Contains(wanted, id):
			if m.state != ClusterActive {
				f.logger().Info("cluster found in the source", "cluster", id)
			}
			m.state, m.lastSeen = ClusterActive, now
			if m.firstSeen.IsZero() {
				m.firstSeen = now
			}
			if m.agent == nil {
				a, err := f.NewAgent(id)
				if err != nil {
					m.err = err.Error()
					f.logger().Error("cannot set up the cluster's agent; skipping it", "cluster", id, "err", err)
					continue
				}
				m.agent, m.err = a, ""
			}
		case m.state == ClusterActive:
			m.state = ClusterStale
			f.logger().Warn("cluster no longer found in the source; its blocks are kept and it is built again if it comes back",
				"cluster", id, "last_seen", m.lastSeen.UTC().Format(time.RFC3339))
		}
	}
	f.Metrics.setMembers(f.members)
	return f.activeAgents()
}

// failTick records a tick that could not reach the source: on the fleet,
// and on every active cluster as the failed tick its own agent would have
// had.
func (f *Fleet) failTick(ctx context.Context, now time.Time, err error, reason string) {
	f.mu.Lock()
	f.status.LastTick, f.status.LastError, f.status.LastErrorReason = now, err.Error(), reason
	agents := f.activeAgents()
	if ctx.Err() == nil {
		s := &f.status.Source
		if s.Up || s.Since.IsZero() {
			s.Since = now
		}
		s.Up = false
		s.LastError, s.LastErrorReason, s.LastErrorTime = err.Error(), reason, now
		s.ConsecutiveFailures++
		s.RetryAt = now.Add((&Agent{RetryBase: f.RetryBase, RetryMax: f.RetryMax}).retryDelay(s.ConsecutiveFailures))
	}
	f.mu.Unlock()
	for _, a := range agents {
		a.skipTick(ctx, now, err, reason)
	}
}

func (f *Fleet) sourceUp(now time.Time, invalid []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &f.status.Source
	if !s.Up {
		s.Since = now
	}
	s.Up, s.ConsecutiveFailures, s.RetryAt = true, 0, time.Time{}
	if len(invalid) > 0 && !slices.Equal(invalid, f.status.InvalidClusterIDs) {
		f.logger().Warn("skipping cluster label values that are not valid cluster ids", "label", f.ClusterLabel, "values", invalid)
	}
	f.status.InvalidClusterIDs = invalid
}

func (f *Fleet) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

// skipTick records a tick this agent did not run because the shared source
// could not be reached, as its own failed Prepare or Oldest call would.
func (a *Agent) skipTick(ctx context.Context, now time.Time, err error, reason string) {
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	st := Status{Cluster: a.Builder.Cluster, LastTick: now}
	a.mu.Lock()
	st.Resolutions = a.status.Resolutions
	a.mu.Unlock()
	a.failTick(ctx, now, &st, err, reason, true)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// FleetMetrics are a central agent's metrics: every per-cluster agent metric
// with a cluster label (ForCluster), and the fleet's clusters by state.
// A nil *FleetMetrics records nothing.
type FleetMetrics struct {
	vecs     agentVecs
	clusters *prometheus.GaugeVec
	lastSeen *prometheus.GaugeVec
}

// NewFleetMetrics registers a central agent's metrics on reg.
func NewFleetMetrics(reg prometheus.Registerer) *FleetMetrics {
	f := promauto.With(reg)
	m := &FleetMetrics{
		vecs: newAgentVecs(reg, "cluster"),
		clusters: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "costfed_agent_clusters", Help: "Clusters of a central agent, by state (active, stale, absent).",
		}, []string{"state"}),
		lastSeen: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "costfed_agent_cluster_last_seen_timestamp_seconds", Help: "Unix time of the last tick whose discovery found the cluster.",
		}, []string{"cluster"}),
	}
	for _, s := range []string{ClusterActive, ClusterStale, ClusterAbsent} {
		m.clusters.WithLabelValues(s)
	}
	return m
}

// ForCluster returns the metrics of one cluster's agent.
func (m *FleetMetrics) ForCluster(id string) *Metrics {
	if m == nil {
		return nil
	}
	return m.vecs.bind(id)
}

func (m *FleetMetrics) setMembers(members map[string]*member) {
	if m == nil {
		return
	}
	counts := map[string]int{ClusterActive: 0, ClusterStale: 0, ClusterAbsent: 0}
	for id, mb := range members {
		counts[mb.state]++
		if !mb.lastSeen.IsZero() {
			m.lastSeen.WithLabelValues(id).Set(float64(mb.lastSeen.Unix()))
		}
	}
	for s, n := range counts {
		m.clusters.WithLabelValues(s).Set(float64(n))
	}
}
