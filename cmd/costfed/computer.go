package main

import (
	"context"
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/etl"
	"github.com/costfed/costfed/prom"
)

// newComputer builds the agent's window computer from its config: the query
// set's options (step, cluster label and filter, the store's range
// semantics) and the fallback price table.
func newComputer(ctx context.Context, src prom.Source, cfg config.Agent) (etl.Computer, error) {
	sem, err := prom.ProbeRangeSemantics(ctx, src)
	if err != nil {
		return nil, err
	}
	opts := allocation.QueryOptions{
		Step:         time.Duration(cfg.Prometheus.QueryStep),
		ClusterLabel: cfg.Prometheus.ClusterLabel,
		LeftOpen:     sem == prom.RangeLeftOpen,
	}
	if cfg.Prometheus.ClusterFilter {
		opts.Cluster = cfg.ClusterID
	}
	return etl.SourceComputer{Source: src, Options: opts, Prices: priceTable(cfg.Prices), Concurrency: cfg.Prometheus.Concurrency}, nil
}

func priceTable(p config.Prices) allocation.PriceTable {
	conv := func(pr config.Price) allocation.NodePrices {
		return allocation.NodePrices{
			CPUCoreHour: pr.CPUCoreHour, RAMGiBHour: pr.RAMGiBHour, GPUHour: pr.GPUHour, PVGiBHour: pr.PVGiBHour,
			SpotCPUCoreHour: pr.Spot.CPUCoreHour, SpotRAMGiBHour: pr.Spot.RAMGiBHour,
		}
	}
	t := allocation.PriceTable{Default: conv(p.Default)}
	if len(p.InstanceTypes) > 0 {
		t.InstanceTypes = map[string]allocation.NodePrices{}
		for name := range p.InstanceTypes {
			t.InstanceTypes[name] = conv(p.For(name))
		}
	}
	return t
}
