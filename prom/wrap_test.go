package prom

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// recordingSource records the queries it is asked and blocks each on gate
// when gate is set.
type recordingSource struct {
	queries chan string
	gate    chan struct{}
}

func (r *recordingSource) Query(ctx context.Context, q string, _ time.Time) (Result, error) {
	r.queries <- q
	if r.gate != nil {
		<-r.gate
	}
	return Result{Value: model.Vector{}}, nil
}

func (r *recordingSource) QueryRange(ctx context.Context, q string, _, _ time.Time, _ time.Duration) (Result, error) {
	return r.Query(ctx, q, time.Time{})
}

func TestFilteredSendsWhatAFilteredSourceWould(t *testing.T) {
	rec := &recordingSource{queries: make(chan string, 2)}
	f, err := NewClusterFilter("cluster", "a")
	require.NoError(t, err)
	src := Filtered(rec, f)
	const q = `sum by (pod) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))`
	_, err = src.Query(context.Background(), q, time.Time{})
	require.NoError(t, err)
	_, err = src.QueryRange(context.Background(), q, time.Time{}, time.Time{}, time.Minute)
	require.NoError(t, err)
	want, err := f.Apply(q)
	require.NoError(t, err)
	require.Contains(t, want, `cluster="a"`)
	require.Equal(t, want, <-rec.queries)
	require.Equal(t, want, <-rec.queries)
	_, err = src.Query(context.Background(), "sum(", time.Time{})
	require.ErrorContains(t, err, "cluster filter: parse query")
}

// TestLimitedBoundsQueriesInFlight: with the one slot taken, a second query
// waits, gives up when its context ends, and runs once the slot is free.
func TestLimitedBoundsQueriesInFlight(t *testing.T) {
	rec := &recordingSource{queries: make(chan string, 3), gate: make(chan struct{})}
	src := Limited(rec, 1)
	first := make(chan error, 1)
	go func() { _, err := src.Query(context.Background(), "first", time.Time{}); first <- err }()
	require.Equal(t, "first", <-rec.queries) // holds the slot until gate

	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { _, err := src.Query(ctx, "second", time.Time{}); second <- err }()
	cancel()
	require.ErrorIs(t, <-second, context.Canceled)

	third := make(chan error, 1)
	go func() {
		_, err := src.QueryRange(context.Background(), "third", time.Time{}, time.Time{}, time.Minute)
		third <- err
	}()
	rec.gate <- struct{}{} // first finishes, third takes the slot
	require.NoError(t, <-first)
	require.Equal(t, "third", <-rec.queries, "the canceled query never ran")
	rec.gate <- struct{}{}
	require.NoError(t, <-third)
}
