package etl

import (
	"context"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/prom"
)

// SourceComputer computes windows from a Prometheus-compatible source with
// the allocation query set; it is the agent's production Computer.
type SourceComputer struct {
	Source  prom.Source
	Options allocation.QueryOptions
	Prices  allocation.PriceTable
	// Concurrency bounds the window's queries in flight (default 5).
	Concurrency int
}

// ComputeWindow implements Computer.
func (c SourceComputer) ComputeWindow(ctx context.Context, w allocation.Window) (Computed, error) {
	conc := c.Concurrency
	if conc <= 0 {
		conc = 5
	}
	r, res, err := ComputeWindowFromSource(ctx, c.Source, w, c.Options, c.Prices, conc)
	out := Computed{Rows: r.Allocations, Assets: r.Assets, HasAssets: err == nil, Queries: res.Queries, SamplesProcessed: res.SamplesProcessed, Warnings: r.Warnings}
	return out, err
}
