package sim

import (
	"errors"
	"fmt"
	"time"
)

// InstanceType is a node machine type with its prices. Prices are dollars per
// hour for the whole machine; the exporter's per-resource prices are derived
// from them (see doc.go, "Prices").
type InstanceType struct {
	Name        string
	Cores       float64 // vCPUs
	MemoryBytes float64
	GPUs        int
	// OnDemandHourly and SpotHourly are the machine's price per hour.
	OnDemandHourly float64
	SpotHourly     float64
	// GPUHourly is the price of one GPU per hour, part of the machine price.
	GPUHourly float64
	Arch      string
}

// Namespace is a namespace of every simulated cluster and its labels.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// Workloads sets how many workloads of each kind a cluster gets, per node
// (rounded, at least one of each). Replicas that do not fit on any node are
// not created (see doc.go, "Scheduling").
type Workloads struct {
	DeploymentsPerNode  float64
	StatefulSetsPerNode float64
	CronJobsPerNode     float64
	JobsPerNode         float64
}

// Config describes a simulated fleet. Everything the simulation produces is a
// function of it: the same Config gives the same bytes.
type Config struct {
	// Seed seeds every random choice.
	Seed int64
	// Clusters is the number of clusters, named cluster-01, cluster-02, ….
	Clusters int
	// NodesPerCluster is the number of nodes in each cluster.
	NodesPerCluster int
	// LateNodes is the number of extra nodes per cluster that join at an
	// arbitrary second in the middle third of the range (as a scale-up
	// would) and stay to its end. They run no pods: all their cost is idle.
	LateNodes int
	// Start and End bound the simulated range [Start, End]: samples are
	// written at every scrape in it (End included), ground truth covers
	// [Start, End). Both must be whole hours in UTC.
	Start, End time.Time
	// ScrapeInterval is the time between two scrapes; whole seconds dividing
	// one hour.
	ScrapeInterval time.Duration
	// InstanceTypes are the machine types nodes are drawn from; those with
	// GPUs make the GPU nodes.
	InstanceTypes []InstanceType
	// SpotFraction is the share of non-GPU nodes that are spot instances.
	SpotFraction float64
	// GPUNodeFraction is the share of nodes with GPUs (at least one per
	// cluster of 3 nodes or more when it is positive).
	GPUNodeFraction float64
	// Namespaces: the first holds the daemonsets, the others the
	// applications, assigned round-robin.
	Namespaces []Namespace
	// Workloads sets the workload density.
	Workloads Workloads
}

// DefaultEnd is the end of the default simulated range, 2024-01-08T00:00:00Z,
// fixed so that output never depends on the wall clock.
var DefaultEnd = time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)

// defaultInstanceTypes are AWS-like machines with public on-demand prices
// (us-east-1, rounded) and typical spot prices.
var defaultInstanceTypes = []InstanceType{
	{Name: "m5.xlarge", Cores: 4, MemoryBytes: 16 * gib, OnDemandHourly: 0.192, SpotHourly: 0.0744, Arch: "amd64"},
	{Name: "m5.2xlarge", Cores: 8, MemoryBytes: 32 * gib, OnDemandHourly: 0.384, SpotHourly: 0.1532, Arch: "amd64"},
	{Name: "c5.2xlarge", Cores: 8, MemoryBytes: 16 * gib, OnDemandHourly: 0.34, SpotHourly: 0.1311, Arch: "amd64"},
	{Name: "r6g.xlarge", Cores: 4, MemoryBytes: 32 * gib, OnDemandHourly: 0.2016, SpotHourly: 0.0806, Arch: "arm64"},
	{Name: "g4dn.xlarge", Cores: 4, MemoryBytes: 16 * gib, GPUs: 1, OnDemandHourly: 0.526, SpotHourly: 0.2104, GPUHourly: 0.35, Arch: "amd64"},
	{Name: "g5.12xlarge", Cores: 48, MemoryBytes: 192 * gib, GPUs: 4, OnDemandHourly: 5.672, SpotHourly: 2.2688, GPUHourly: 1.006, Arch: "amd64"},
}

// defaultNamespaces: the daemonsets' namespace first, then the applications'.
var defaultNamespaces = []Namespace{
	{Name: "kube-system", Labels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
	{Name: "web", Labels: map[string]string{"team": "frontend", "env": "prod"}},
	{Name: "api", Labels: map[string]string{"team": "backend", "env": "prod"}},
	{Name: "data", Labels: map[string]string{"team": "data", "env": "prod"}},
	{Name: "batch", Labels: map[string]string{"team": "data", "env": "staging"}},
	{Name: "ml", Labels: map[string]string{"team": "ml", "env": "prod"}},
}

// DefaultConfig is a small fleet over the day before DefaultEnd: one cluster
// of four nodes scraped every 60 s.
func DefaultConfig() Config {
	types := make([]InstanceType, len(defaultInstanceTypes))
	copy(types, defaultInstanceTypes)
	nss := make([]Namespace, len(defaultNamespaces))
	for i, ns := range defaultNamespaces {
		labels := make(map[string]string, len(ns.Labels))
		for k, v := range ns.Labels {
			labels[k] = v
		}
		nss[i] = Namespace{Name: ns.Name, Labels: labels}
	}
	return Config{
		Seed:            1,
		Clusters:        1,
		NodesPerCluster: 4,
		Start:           DefaultEnd.Add(-24 * time.Hour),
		End:             DefaultEnd,
		ScrapeInterval:  time.Minute,
		InstanceTypes:   types,
		SpotFraction:    0.3,
		GPUNodeFraction: 0.1,
		Namespaces:      nss,
		Workloads: Workloads{
			DeploymentsPerNode:  1,
			StatefulSetsPerNode: 0.25,
			CronJobsPerNode:     0.15,
			JobsPerNode:         0.2,
		},
	}
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	var errs []error
	if c.Clusters < 1 || c.Clusters > 999 {
		errs = append(errs, fmt.Errorf("clusters: %d is not in 1..999", c.Clusters))
	}
	if c.NodesPerCluster < 1 || c.NodesPerCluster > 65535 {
		errs = append(errs, fmt.Errorf("nodes per cluster: %d is not in 1..65535", c.NodesPerCluster))
	}
	if c.LateNodes < 0 || c.LateNodes > 1000 {
		errs = append(errs, fmt.Errorf("late nodes: %d is not in 0..1000", c.LateNodes))
	}
	errs = append(errs, c.validateTimes()...)
	errs = append(errs, c.validateTypes()...)
	if len(c.Namespaces) < 2 {
		errs = append(errs, errors.New("namespaces: need at least two (system and one application namespace)"))
	}
	seen := map[string]bool{}
	for _, ns := range c.Namespaces {
		if ns.Name == "" || seen[ns.Name] {
			errs = append(errs, fmt.Errorf("namespaces: empty or duplicate name %q", ns.Name))
		}
		seen[ns.Name] = true
	}
	if c.SpotFraction < 0 || c.SpotFraction > 1 || c.GPUNodeFraction < 0 || c.GPUNodeFraction > 1 {
		errs = append(errs, errors.New("spot and GPU node fractions must be in [0, 1]"))
	}
	w := c.Workloads
	if w.DeploymentsPerNode < 0 || w.StatefulSetsPerNode < 0 || w.CronJobsPerNode < 0 || w.JobsPerNode < 0 {
		errs = append(errs, errors.New("workloads: densities must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) validateTimes() []error {
	var errs []error
	iv := c.ScrapeInterval
	if iv < time.Second || iv%time.Second != 0 || time.Hour%iv != 0 {
		errs = append(errs, fmt.Errorf("scrape interval: %v must be whole seconds dividing 1h", iv))
	}
	if !c.Start.Equal(c.Start.Truncate(time.Hour)) || !c.End.Equal(c.End.Truncate(time.Hour)) {
		errs = append(errs, errors.New("start and end must be whole hours"))
	}
	if !c.End.After(c.Start) {
		errs = append(errs, fmt.Errorf("end %s is not after start %s", c.End.UTC().Format(time.RFC3339), c.Start.UTC().Format(time.RFC3339)))
	}
	if c.End.Sub(c.Start) > 366*24*time.Hour {
		errs = append(errs, errors.New("range: longer than 366 days"))
	}
	return errs
}

func (c Config) validateTypes() []error {
	var errs []error
	if len(c.InstanceTypes) == 0 {
		return []error{errors.New("instance types: none")}
	}
	plain := 0
	for _, it := range c.InstanceTypes {
		switch {
		case it.Name == "":
			errs = append(errs, errors.New("instance types: empty name"))
		case it.Cores < 2 || it.MemoryBytes < 4*gib:
			errs = append(errs, fmt.Errorf("instance type %s: needs at least 2 cores and 4 GiB", it.Name))
		case it.OnDemandHourly <= 0 || it.SpotHourly <= 0 || it.GPUHourly < 0:
			errs = append(errs, fmt.Errorf("instance type %s: prices must be positive", it.Name))
		case float64(it.GPUs)*it.GPUHourly >= it.OnDemandHourly:
			errs = append(errs, fmt.Errorf("instance type %s: GPU price exceeds the machine price", it.Name))
		}
		if it.GPUs == 0 {
			plain++
		}
	}
	if plain == 0 {
		errs = append(errs, errors.New("instance types: need at least one type without GPUs"))
	}
	return errs
}
