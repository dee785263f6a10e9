package etl

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/store"
)

// workspace is a fake shared source: the discovery query answers the
// clusters in ids (or fails with err); every other query answers an empty
// result after passing gate, if set.
type workspace struct {
	mu        sync.Mutex
	ids       []string
	err       error
	discovery int
	gate      func(query string)
}

func (w *workspace) set(err error, ids ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ids, w.err = ids, err
}

func (w *workspace) Query(ctx context.Context, query string, ts time.Time) (prom.Result, error) {
	if strings.HasPrefix(query, "group by (cluster_id)") {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.discovery++
		if w.err != nil {
			return prom.Result{}, w.err
		}
		var v model.Vector
		for _, id := range w.ids {
			v = append(v, &model.Sample{Metric: model.Metric{"cluster_id": model.LabelValue(id)}, Value: 1, Timestamp: model.TimeFromUnixNano(ts.UnixNano())})
		}
		return prom.Result{Value: v}, nil
	}
	if w.gate != nil {
		w.gate(query)
	}
	return prom.Result{Value: model.Vector{}}, nil
}

func (w *workspace) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (prom.Result, error) {
	if w.gate != nil {
		w.gate(query)
	}
	return prom.Result{Value: model.Matrix{}}, nil
}

// newTestFleet is a central agent over src whose clusters compute with
// comps (a genComputer per cluster, made on demand), into one store.
func newTestFleet(t *testing.T, clock *fakeClock, src prom.Source, reg prometheus.Registerer, newComputer func(id string) Computer) (*Fleet, *store.Store) {
	t.Helper()
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	m := NewFleetMetrics(reg)
	return &Fleet{
		Source: src, ClusterLabel: "cluster_id", Discover: true, Now: clock.Now, Metrics: m,
		NewAgent: func(id string) (*Agent, error) {
			b := &Builder{Cluster: id, ProducerVersion: "test", ProducerInstance: "central-0", Store: st, Computer: newComputer(id), Now: clock.Now, Metrics: m.ForCluster(id)}
			return &Agent{
				Builder:     b,
				Policies:    []Policy{{Resolution: store.Hourly, Retention: 3 * time.Hour}},
				SettleDelay: 10 * time.Minute,
				Oldest:      func(context.Context) (time.Time, error) { return at("-48:00"), nil },
				Now:         clock.Now,
			}, nil
		},
	}, st
}

// TestFleetDiscovery: each tick's one discovery query picks up new clusters
// and marks vanished ones stale, which are then not built and keep their
// blocks; an id that cannot name a prefix is skipped; a discovery that
// cannot reach the source fails the tick as every cluster's own agent would.
func TestFleetDiscovery(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: at("02:20")}
	ws := &workspace{}
	ws.set(nil, "a", "b", "bad/id")
	comps := map[string]*genComputer{}
	reg := prometheus.NewPedanticRegistry()
	f, st := newTestFleet(t, clock, ws, reg, func(id string) Computer {
		comps[id] = &genComputer{cluster: id}
		return comps[id]
	})
	hours := func(id string) int {
		ix, err := st.ReadIndex(ctx, id, store.Hourly)
		require.NoError(t, err)
		return len(ix.Blocks)
	}

	require.NoError(t, f.Tick(ctx))
	require.Equal(t, 1, ws.discovery, "one discovery query per tick")
	require.Equal(t, 3, hours("a"))
	require.Equal(t, 3, hours("b"))
	s := f.Status()
	require.True(t, s.Discover)
	require.True(t, s.Source.Up)
	require.Equal(t, []string{"bad/id"}, s.InvalidClusterIDs)
	require.Len(t, s.Clusters, 2)
	require.Equal(t, "a", s.Clusters[0].Cluster)
	require.Equal(t, ClusterActive, s.Clusters[0].State)
	require.Equal(t, 3, s.Clusters[0].Resolutions[0].Present)
	ready, _ := f.Ready()
	require.True(t, ready)

	// b vanishes, c appears.
	ws.set(nil, "a", "c")
	clock.t = at("02:50")
	bCalls := comps["b"].callsFor(at("02:00"))
	require.NoError(t, f.Tick(ctx))
	require.Equal(t, 2, ws.discovery)
	require.Equal(t, bCalls, comps["b"].callsFor(at("02:00")), "a stale cluster is not built")
	require.Equal(t, 3, hours("b"), "a stale cluster keeps its blocks")
	require.Equal(t, 3, hours("c"))
	s = f.Status()
	states := map[string]string{}
	for _, c := range s.Clusters {
		states[c.Cluster] = c.State
	}
	require.Equal(t, map[string]string{"a": ClusterActive, "b": ClusterStale, "c": ClusterActive}, states)
	require.Equal(t, at("02:20"), s.Clusters[1].LastSeen)
	require.Equal(t, 2.0, testutil.ToFloat64(f.Metrics.clusters.WithLabelValues(ClusterActive)))
	require.Equal(t, 1.0, testutil.ToFloat64(f.Metrics.clusters.WithLabelValues(ClusterStale)))
	require.Equal(t, 1.0, testutil.ToFloat64(f.Metrics.vecs.sourceUp.WithLabelValues("c")))
	require.Equal(t, 3.0, testutil.ToFloat64(f.Metrics.vecs.windows.WithLabelValues("c", "1h", WindowsComplete))+
		testutil.ToFloat64(f.Metrics.vecs.windows.WithLabelValues("c", "1h", WindowsOpen)), "coverage per cluster")
	require.Greater(t, testutil.ToFloat64(f.Metrics.vecs.built.WithLabelValues("a", "1h")), 0.0)

	// b comes back: built again.
	ws.set(nil, "a", "b", "c")
	clock.t = at("03:20")
	require.NoError(t, f.Tick(ctx))
	require.Equal(t, ClusterActive, f.Status().Clusters[1].State)
	require.Equal(t, 4, hours("b"))

	// The source is down: nothing is built, every active cluster's source
	// is down, and the fleet retries on its backoff.
	ws.set(&prom.HTTPError{StatusCode: 503, Message: "unavailable"})
	clock.t = at("03:30")
	require.Error(t, f.Tick(ctx))
	ready, why := f.Ready()
	require.False(t, ready)
	require.Contains(t, why, "HTTP 503")
	d, ok := f.RetryDelay()
	require.True(t, ok)
	require.Equal(t, DefaultRetryBase, d)
	for _, id := range []string{"a", "b", "c"} {
		require.Equal(t, 0.0, testutil.ToFloat64(f.Metrics.vecs.sourceUp.WithLabelValues(id)), id)
		require.Equal(t, 1.0, testutil.ToFloat64(f.Metrics.vecs.ticksFailed.WithLabelValues(id, FailSourceUnreachable)), id)
	}
	s = f.Status()
	require.Equal(t, FailSourceUnreachable, s.LastErrorReason)
	require.Equal(t, 3, s.Clusters[0].Resolutions[0].Present, "coverage of the last good tick stays")

	// Listed clusters: one never found is absent, and not built.
	g, _ := newTestFleet(t, clock, ws, prometheus.NewPedanticRegistry(), func(id string) Computer { return &genComputer{cluster: id} })
	g.Discover, g.IDs = false, []string{"a", "z"}
	ws.set(nil, "a", "b")
	require.NoError(t, g.Tick(ctx))
	s = g.Status()
	require.Len(t, s.Clusters, 2)
	require.Equal(t, ClusterActive, s.Clusters[0].State)
	require.Equal(t, ClusterAbsent, s.Clusters[1].State)
	require.Equal(t, "z", s.Clusters[1].Cluster)
}

// TestFleetSharesOneQueryBound: the queries of all clusters, ticked at once,
// go through one prom.Limited bound: never more than its size in flight,
// and that many are reached. Each cluster's queries carry its own filter.
func TestFleetSharesOneQueryBound(t *testing.T) {
	const limit, clusters = 3, 6
	ctx := context.Background()
	clock := &fakeClock{t: at("02:20")}
	ws := &workspace{}
	var ids []string
	for i := range clusters {
		ids = append(ids, fmt.Sprintf("c%d", i))
	}
	ws.set(nil, ids...)

	var mu sync.Mutex
	inflight, peak, total := 0, 0, 0
	perCluster := map[string]int{}
	full := make(chan struct{}, 1)
	release := make(chan struct{})
	ws.gate = func(query string) {
		mu.Lock()
		inflight++
		total++
		peak = max(peak, inflight)
		for _, id := range ids {
			if strings.Contains(query, `cluster_id="`+id+`"`) {
				perCluster[id]++
			}
		}
		if inflight == limit {
			select {
			case full <- struct{}{}:
			default:
			}
		}
		mu.Unlock()
		<-release
		mu.Lock()
		inflight--
		mu.Unlock()
	}
	shared := prom.Limited(ws, limit)
	f, _ := newTestFleet(t, clock, shared, prometheus.NewPedanticRegistry(), func(id string) Computer {
		filter, err := prom.NewClusterFilter("cluster_id", id)
		require.NoError(t, err)
		return SourceComputer{Source: prom.Filtered(shared, filter), Options: allocation.QueryOptions{Step: time.Minute, Cluster: id}, Concurrency: 5}
	})
	f.Concurrency = clusters
	done := make(chan error, 1)
	go func() { done <- f.Tick(ctx) }()

	select {
	case <-full: // the bound is reached: limit queries wait on release
	case err := <-done:
		t.Fatalf("the tick ended before %d queries were in flight: %v", limit, err)
	}
	for finished := false; !finished; {
		select {
		case release <- struct{}{}:
		case err := <-done:
			require.NoError(t, err)
			finished = true
		}
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, limit, peak, "never more than the shared bound in flight")
	require.Len(t, perCluster, clusters)
	sum := 0
	for id, n := range perCluster {
		require.Equal(t, perCluster["c0"], n, "every cluster runs the same queries: %s", id)
		sum += n
	}
	require.Equal(t, total, sum, "every query is filtered to exactly one cluster")
}
