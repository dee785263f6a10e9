package main

import (
	"context"
	"sync"
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/etl"
	"github.com/costfed/costfed/prom"
)

// newComputer builds the agent's window computer from its config: the query
// set's options (step, cluster label and filter, the store's range
// semantics) and the fallback price table. It probes the source's range
// semantics first: backfill and rebuild fail at once when the source is
// unreachable.
func newComputer(ctx context.Context, src prom.Source, cfg config.Agent) (etl.Computer, error) {
	sem, err := prom.ProbeRangeSemantics(ctx, src)
	if err != nil {
		return nil, err
	}
	return computerFor(src, cfg, sem), nil
}

func computerFor(src prom.Source, cfg config.Agent, sem prom.RangeSemantics) etl.Computer {
	opts := allocation.QueryOptions{
		Step:         time.Duration(cfg.Prometheus.QueryStep),
		ClusterLabel: cfg.Prometheus.ClusterLabel,
		LeftOpen:     sem == prom.RangeLeftOpen,
	}
	if cfg.Prometheus.ClusterFilter {
		opts.Cluster = cfg.ClusterID
	}
	return etl.SourceComputer{Source: src, Options: opts, Prices: priceTable(cfg.Prices), Concurrency: cfg.Prometheus.Concurrency}
}

// probingComputer is the long-running agent's computer: the range-semantics
// probe runs on the first tick (etl.Agent.Prepare), not at start, so the
// agent serves its ops endpoints and outlives a source that is down.
type probingComputer struct {
	src prom.Source
	cfg config.Agent

	mu   sync.Mutex
	comp etl.Computer // nil until a probe succeeded
}

// prepare probes the source unless a probe already succeeded.
func (p *probingComputer) prepare(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.comp != nil {
		return nil
	}
	sem, err := prom.ProbeRangeSemantics(ctx, p.src)
	if err != nil {
		return err
	}
	p.comp = computerFor(p.src, p.cfg, sem)
	return nil
}

// ComputeWindow implements etl.Computer, probing first if need be.
func (p *probingComputer) ComputeWindow(ctx context.Context, w allocation.Window) (etl.Computed, error) {
	if err := p.prepare(ctx); err != nil {
		return etl.Computed{}, err
	}
	p.mu.Lock()
	c := p.comp
	p.mu.Unlock()
	return c.ComputeWindow(ctx, w)
}

func priceTable(p config.Prices) allocation.PriceTable {
	conv := func(pr config.Price) allocation.NodePrices {
		return allocation.NodePrices{
			CPUCoreHour: pr.CPUCoreHour, RAMGiBHour: pr.RAMGiBHour, GPUHour: pr.GPUHour, PVGiBHour: pr.PVGiBHour,
			SpotCPUCoreHour: pr.Spot.CPUCoreHour, SpotRAMGiBHour: pr.Spot.RAMGiBHour,
		}
	}
	t := allocation.PriceTable{Default: conv(p.Default), ClusterManagementHour: p.ClusterManagementHour}
	if len(p.InstanceTypes) > 0 {
		t.InstanceTypes = map[string]allocation.NodePrices{}
		for name := range p.InstanceTypes {
			t.InstanceTypes[name] = conv(p.For(name))
		}
	}
	return t
}
