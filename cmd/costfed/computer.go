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

// computerFor builds the agent's window computer from its config: the query
// set's options (step, cluster label and filter, the store's range
// semantics, probed by rangeProbe) and the fallback price table.
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

// rangeProbe probes the source's range semantics once, on first use, and
// remembers the answer: every cluster of a central agent shares one.
type rangeProbe struct {
	src prom.Source

	mu  sync.Mutex
	sem prom.RangeSemantics
	ok  bool
}

// get returns the source's range semantics, probing unless a probe already
// succeeded.
func (p *rangeProbe) get(ctx context.Context) (prom.RangeSemantics, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ok {
		return p.sem, nil
	}
	sem, err := prom.ProbeRangeSemantics(ctx, p.src)
	if err != nil {
		return sem, err
	}
	p.sem, p.ok = sem, true
	return sem, nil
}

// prepare is get for etl.Agent.Prepare and etl.Fleet.Prepare.
func (p *rangeProbe) prepare(ctx context.Context) error {
	_, err := p.get(ctx)
	return err
}

// probingComputer is the long-running agent's computer: the range-semantics
// probe runs on the first tick (etl.Agent.Prepare), not at start, so the
// agent serves its ops endpoints and outlives a source that is down.
type probingComputer struct {
	probe *rangeProbe
	src   prom.Source
	cfg   config.Agent

	mu   sync.Mutex
	comp etl.Computer // nil until a probe succeeded
}

// ComputeWindow implements etl.Computer, probing first if need be.
func (p *probingComputer) ComputeWindow(ctx context.Context, w allocation.Window) (etl.Computed, error) {
	sem, err := p.probe.get(ctx)
	if err != nil {
		return etl.Computed{}, err
	}
	p.mu.Lock()
	if p.comp == nil {
		p.comp = computerFor(p.src, p.cfg, sem)
	}
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
