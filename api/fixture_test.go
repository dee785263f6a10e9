package api

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/store"
)

// day0 is a Sunday; fixtures hold day0 as a 1d block and the first hours of
// day0+1 as 1h blocks, for two clusters.
var day0 = time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC)

const fixtureHours = 6

var fixtureClusters = []string{"east", "west"}

// fleet is a store with two clusters' blocks and their federated combined
// store, plus the sum of every input row's total cost.
type fleet struct {
	st        *store.Store
	inputCost float64
	inputRows int
}

func win(start time.Time, d time.Duration) allocation.Window {
	return allocation.Window{Start: start, End: start.Add(d)}
}

var (
	fleetOnce sync.Once
	theFleet  *fleet
	fleetErr  error
)

// newFleet returns the fleet, built once per test binary (building it is
// slow under -race); tests only read it.
func newFleet(t testing.TB) *fleet {
	t.Helper()
	fleetOnce.Do(func() { theFleet, fleetErr = buildFleet() })
	require.NoError(t, fleetErr)
	return theFleet
}

// buildFleet commits cluster blocks and runs the federator over them.
func buildFleet() (*fleet, error) {
	ctx := context.Background()
	f := &fleet{st: store.New(objstore.NewInMemBucket(), store.Options{})}
	for i, c := range fixtureClusters {
		seed := uint64(i + 1)
		if err := f.commit(store.Block{Meta: meta(c, store.Daily, win(day0, day)), Rows: blocktest.Rows(c, win(day0, day), 40, seed)}); err != nil {
			return nil, err
		}
		var hours []store.Block
		for h := range fixtureHours {
			w := win(day0.Add(day+time.Duration(h)*time.Hour), time.Hour)
			hours = append(hours, store.Block{Meta: meta(c, store.Hourly, w), Rows: blocktest.Rows(c, w, 12, seed*100+uint64(h))})
		}
		if err := f.commit(hours...); err != nil {
			return nil, err
		}
	}
	fed := federator.New(f.st, federator.Options{Version: "test", Now: func() time.Time { return day0.Add(2 * day) }})
	if _, err := fed.RunOnce(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

func meta(cluster string, res store.Resolution, w allocation.Window) store.BlockMeta {
	return store.BlockMeta{Cluster: cluster, Resolution: res, Window: w, Complete: true, BuildTime: w.End.Add(10 * time.Minute),
		ProducerVersion: "test", ProducerInstance: cluster + "-agent"}
}

func (f *fleet) commit(blocks ...store.Block) error {
	if _, err := f.st.Commit(context.Background(), blocks, store.CommitOptions{}); err != nil {
		return err
	}
	for _, b := range blocks {
		for i := range b.Rows {
			f.inputCost += b.Rows[i].TotalCost()
		}
		f.inputRows += len(b.Rows)
	}
	return nil
}

// countingSource counts block reads, by rows or by columns.
type countingSource struct {
	Source
	reads atomic.Int64
	fail  error
}

func (c *countingSource) ScanBlock(ctx context.Context, cluster string, res store.Resolution, e store.IndexEntry, opts store.ScanOptions, fn func([]allocation.Allocation) error) (store.BlockMeta, error) {
	c.reads.Add(1)
	if c.fail != nil {
		return store.BlockMeta{}, c.fail
	}
	return c.Source.ScanBlock(ctx, cluster, res, e, opts, fn)
}

func (c *countingSource) AggregateBlock(ctx context.Context, cluster string, res store.Resolution, e store.IndexEntry, opts store.ScanOptions, g *allocation.Grouper) (allocation.Set, error) {
	c.reads.Add(1)
	if c.fail != nil {
		return allocation.Set{}, c.fail
	}
	return c.Source.AggregateBlock(ctx, cluster, res, e, opts, g)
}
