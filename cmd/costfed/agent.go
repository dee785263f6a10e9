package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/etl"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/store"
)

// agentSetup is what agent, backfill and rebuild share: config, logger,
// store, source and, per cluster, builders.
type agentSetup struct {
	cfg    config.Agent
	logger *slog.Logger
	reg    *prometheus.Registry
	st     *store.Store
	// src is the opened source. A per-cluster agent's filters by its
	// cluster (cluster_filter); a central agent's is unfiltered and shared
	// by every cluster through shared.
	src promSource
	// shared is what a central agent's clusters and discovery query: src
	// under one concurrency bound (prometheus.concurrency) for all of
	// them. It is src for a per-cluster agent.
	shared   prom.Source
	probe    *rangeProbe
	instance string
	// concurrency is the windows one cluster builds at once.
	concurrency int
	now         func() time.Time
	metrics     *etl.Metrics      // per-cluster agent
	fleet       *etl.FleetMetrics // central agent
	// builder and prepare are a per-cluster agent's; prepare is its first
	// contact with the source (the range semantics probe), which the agent
	// command runs on its ticks; nil for backfill and rebuild, which probe in
	// setupAgent.
	builder  *etl.Builder
	prepare  func(ctx context.Context) error
	policies []etl.Policy
	close    func()
}

// setupAgent loads the config and opens the store and source. The agent
// command passes offlineOK false: a tsdb_path source is for backfill and
// rebuild only; and it makes no source call (the agent must outlive its
// source: its ticks probe it), where backfill and rebuild probe the source
// and fail at once when it does not answer.
func setupAgent(ctx context.Context, e *env, cfgPath string, lf logFlags, concurrency int, offlineOK bool) (*agentSetup, error) {
	if cfgPath == "" {
		return nil, usagef("--config is required")
	}
	logger, err := lf.logger(e)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(ctx, func() (config.Agent, error) { return config.LoadAgent(cfgPath, lookupEnvFrom(e)) })
	if err != nil {
		return nil, err
	}
	if cfg.Prometheus.Offline() && !offlineOK {
		return nil, usagef("prometheus.tsdb_path is for backfill and rebuild: the agent builds windows as time passes, and a TSDB directory does not grow; set prometheus.url for the agent, or run `costfed backfill` or `costfed rebuild` with this config")
	}
	reg := newRegistry()
	bkt, err := openBucket(ctx, e, logger, cfg.Store, reg)
	if err != nil {
		return nil, err
	}
	srcCfg := cfg
	if cfg.Central() {
		// One unfiltered source for all clusters; each filters its own view.
		srcCfg.Prometheus.ClusterFilter = false
	}
	src, err := openPromSource(ctx, srcCfg, logger, reg)
	if err != nil {
		_ = bkt.Close()
		return nil, err
	}
	instance := cfg.ProducerInstance
	if instance == "" {
		instance = hostname()
	}
	s := &agentSetup{
		cfg: cfg, logger: logger, reg: reg, st: store.New(bkt, store.Options{Logger: logger}), src: src, shared: src,
		instance: instance, concurrency: concurrency, now: e.now,
		close: func() { src.close(); _ = bkt.Close() },
	}
	if cfg.Central() {
		s.shared = prom.Limited(src, cfg.Prometheus.Concurrency)
		s.fleet = etl.NewFleetMetrics(reg)
	} else {
		s.metrics = etl.NewMetrics(reg)
	}
	s.probe = &rangeProbe{src: s.shared}
	if offlineOK {
		if _, err := s.probe.get(ctx); err != nil {
			s.close()
			return nil, fmt.Errorf("probe the source: %w", err)
		}
	}
	if !cfg.Central() {
		if s.builder, _, err = s.clusterBuilder(cfg.ClusterID); err != nil {
			s.close()
			return nil, err
		}
		if !offlineOK {
			s.prepare = s.probe.prepare
		}
	}
	for _, r := range cfg.Resolutions {
		res, err := resolutionOf(time.Duration(r.Resolution))
		if err != nil {
			s.close()
			return nil, usagef("resolutions: %v", err)
		}
		s.policies = append(s.policies, etl.Policy{Resolution: res, Retention: time.Duration(r.Retention)})
	}
	return s, nil
}

// clusterBuilder returns the builder of cluster id and the source it
// queries. A per-cluster agent's is its own. A central agent's is the one
// a per-cluster agent of id with the same config, cluster_id: id and
// cluster_filter: true would have (config.Agent.ForCluster), reading the
// shared source through id's filter: the same queries, so the same blocks.
func (s *agentSetup) clusterBuilder(id string) (*etl.Builder, prom.Source, error) {
	cfg, src, metrics := s.cfg, s.shared, s.metrics
	if s.cfg.Central() {
		f, err := prom.NewClusterFilter(s.cfg.Prometheus.ClusterLabel, id)
		if err != nil {
			return nil, nil, usagef("prometheus.cluster_label: %v", err)
		}
		cfg = s.cfg.ForCluster(id)
		src = prom.Filtered(s.shared, f)
		metrics = s.fleet.ForCluster(id)
	}
	var comp etl.Computer = &probingComputer{probe: s.probe, src: src, cfg: cfg}
	return &etl.Builder{
		Cluster: id, ProducerVersion: version, ProducerInstance: s.instance,
		Store: s.st, Computer: comp, Concurrency: s.concurrency, Now: s.now,
		Logger: s.logger, Metrics: metrics,
	}, src, nil
}

func resolutionOf(d time.Duration) (store.Resolution, error) {
	for _, r := range store.Resolutions {
		if r.Duration() == d {
			return r, nil
		}
	}
	return "", fmt.Errorf("%s is not 1h or 1d", d)
}

// runAgent implements "costfed agent": build due windows on a schedule.
func runAgent(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "agent", "agent --config agent.yaml")
	cfgPath := fs.String("config", "", "path of agent.yaml (required)")
	// Short by default: SIGTERM stops the agent within a second. An abandoned
	// window is rebuilt by the next run (commits are all-or-nothing); a
	// longer grace saves that work where the orchestrator waits longer.
	grace := durationFlagOf(fs, "shutdown-grace", 500*time.Millisecond, "on SIGTERM, how long a running build may take to finish before it is abandoned (uncommitted; the next run builds it again)")
	concurrency := fs.Int("concurrency", 2, "windows built at once (per cluster, for a central agent)")
	var lf logFlags
	lf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := setupAgent(ctx, e, *cfgPath, lf, *concurrency, false)
	if err != nil {
		return err
	}
	defer s.close()
	var agent ticker
	if s.cfg.Central() {
		agent = s.newFleet()
	} else {
		agent = &singleAgent{s.newAgent(s.builder, s.src)}
	}
	// The ops endpoints are up before any source call: the agent outlives a
	// source that is down, and says so on /readyz, /status and /metrics.
	ops, err := startHTTP(s.logger, s.cfg.ListenAddress, opsServer(s.reg, agent.status, agent.Ready))
	if err != nil {
		return err
	}
	defer func() { _ = ops.Stop(ctx) }()

	// Builds run on a context that outlives the signal by the grace period, so
	// an in-flight window can finish; past it, the build is abandoned before
	// its commit (store commits are all-or-nothing per window).
	buildCtx, cancelBuilds := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBuilds()
	go func() {
		<-ctx.Done()
		select {
		case <-time.After(*grace):
			cancelBuilds()
		case <-buildCtx.Done():
		}
	}()
	// One loop runs the ticks, one at a time: at start, on the schedule, and,
	// while the source is down, on the agent's backoff (agent.RetryDelay).
	trigger := make(chan struct{}, 1)
	fire := func() {
		select {
		case trigger <- struct{}{}:
		default: // a tick is already due
		}
	}
	c := cron.New(cron.WithChain(cron.Recover(cronLogger{s.logger})))
	if _, err := c.AddFunc(s.cfg.Schedule, fire); err != nil {
		return usagef("schedule %q: %v", s.cfg.Schedule, err)
	}
	if s.cfg.Central() {
		s.logger.Info("central agent started", "clusters", s.cfg.Clusters.IDs, "discover", s.cfg.Clusters.Discover,
			"cluster_label", s.cfg.Prometheus.ClusterLabel, "schedule", s.cfg.Schedule, "listen_address", s.cfg.ListenAddress)
	} else {
		s.logger.Info("agent started", "cluster", s.cfg.ClusterID, "schedule", s.cfg.Schedule, "listen_address", s.cfg.ListenAddress)
	}
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		tickLoop(ctx, s.logger, trigger, func() {
			if err := agent.Tick(buildCtx); err != nil {
				s.logger.Warn("tick finished with errors", "reason", agent.lastErrorReason(), "err", err)
			}
		}, agent.RetryDelay)
	}()
	fire()
	c.Start()
	<-ctx.Done()
	s.logger.Info("shutting down; waiting for a running build", "grace", *grace)
	<-c.Stop().Done()
	<-loopDone
	return nil
}

// ticker is what the agent command runs: one cluster's etl.Agent or a
// central agent's etl.Fleet.
type ticker interface {
	Tick(ctx context.Context) error
	Ready() (bool, string)
	RetryDelay() (time.Duration, bool)
	status() any
	lastErrorReason() string
}

type singleAgent struct{ *etl.Agent }

func (a *singleAgent) status() any             { return a.Status() }
func (a *singleAgent) lastErrorReason() string { return a.Status().LastErrorReason }

type fleetAgent struct{ *etl.Fleet }

func (f *fleetAgent) status() any             { return f.Status() }
func (f *fleetAgent) lastErrorReason() string { return f.Status().LastErrorReason }

// newAgent is the agent of one cluster, built by b from src.
func (s *agentSetup) newAgent(b *etl.Builder, src prom.Source) *etl.Agent {
	return &etl.Agent{
		Builder: b, Policies: s.policies, SettleDelay: time.Duration(s.cfg.SettleDelay), Now: time.Now, PlanAssets: true,
		Prepare: s.prepare,
		Oldest: func(ctx context.Context) (time.Time, error) {
			return etl.OldestSample(ctx, src, time.Now(), maxRetention(s.policies))
		},
	}
}

// newFleet is a central agent: every cluster's agent is the one a
// per-cluster agent of it would run (clusterBuilder), without its own
// Prepare (the fleet probes the shared source once). Up to
// prometheus.concurrency clusters tick at once; their queries share that
// one bound.
func (s *agentSetup) newFleet() *fleetAgent {
	return &fleetAgent{&etl.Fleet{
		Source: s.shared, ClusterLabel: s.cfg.Prometheus.ClusterLabel,
		IDs: s.cfg.Clusters.IDs, Discover: s.cfg.Clusters.Discover,
		Prepare: s.probe.prepare, Concurrency: s.cfg.Prometheus.Concurrency,
		Now: time.Now, Logger: s.logger, Metrics: s.fleet,
		NewAgent: func(id string) (*etl.Agent, error) {
			b, src, err := s.clusterBuilder(id)
			if err != nil {
				return nil, err
			}
			return s.newAgent(b, src), nil
		},
	}}
}

// tickLoop runs tick on each trigger until ctx is done; after a tick, when
// retryDelay says the source is down, it runs one more after that delay
// unless a trigger comes first. A panicking tick is logged, and the loop goes
// on.
func tickLoop(ctx context.Context, logger *slog.Logger, trigger <-chan struct{}, tick func(), retryDelay func() (time.Duration, bool)) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-trigger:
		case <-retry.C:
		}
		if ctx.Err() != nil {
			return
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					logger.Error("tick panicked", "panic", r)
				}
			}()
			tick()
		}()
		retry.Stop()
		if d, ok := retryDelay(); ok {
			logger.Info("the source is down; retrying with backoff", "in", d)
			retry.Reset(d)
		}
	}
}

func maxRetention(ps []etl.Policy) time.Duration {
	var m time.Duration
	for _, p := range ps {
		m = max(m, p.Retention)
	}
	return m
}

// rangeFlags are backfill's and rebuild's --from, --to and --resolution.
type rangeFlags struct {
	from, to, resolutions string
}

func (r *rangeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.from, "from", "", "start of the range: RFC 3339, a date (2024-01-31) or Unix seconds (required)")
	fs.StringVar(&r.to, "to", "", "end of the range, exclusive (required)")
	fs.StringVar(&r.resolutions, "resolution", "1h,1d", "resolutions to build, comma separated")
}

func (r *rangeFlags) parse(policies []etl.Policy) (from, to time.Time, selected []etl.Policy, err error) {
	if from, err = parseTimeFlag("--from", r.from); err != nil {
		return
	}
	if to, err = parseTimeFlag("--to", r.to); err != nil {
		return
	}
	if !to.After(from) {
		return from, to, nil, usagef("--to %s is not after --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	for _, name := range strings.Split(r.resolutions, ",") {
		res, perr := store.ParseResolution(strings.TrimSpace(name))
		if perr != nil {
			return from, to, nil, usagef("--resolution: %v", perr)
		}
		p := etl.Policy{Resolution: res}
		for _, cp := range policies {
			if cp.Resolution == res {
				p = cp
			}
		}
		selected = append(selected, p)
	}
	return from, to, selected, nil
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, usagef("%s is required", name)
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.UTC(), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, usagef("%s: %q is not RFC 3339, a date (2006-01-02) or Unix seconds", name, v)
}

// runBackfill implements "costfed backfill": build what is missing in a range.
func runBackfill(ctx context.Context, e *env, args []string) error {
	return runRange(ctx, e, args, etl.ModeBackfill)
}

// runRebuild implements "costfed rebuild": recompute and replace a range.
func runRebuild(ctx context.Context, e *env, args []string) error {
	return runRange(ctx, e, args, etl.ModeRebuild)
}

func runRange(ctx context.Context, e *env, args []string, mode etl.Mode) error {
	name, usage := "backfill", "backfill --config agent.yaml --from T --to T [--resolution 1h,1d] [--pipeline allocations,assets]"
	if mode == etl.ModeRebuild {
		name, usage = "rebuild", "rebuild --config agent.yaml --from T --to T [--resolution 1h,1d] [--pipeline allocations,assets] [--dry-run] [--force] [--from-source]"
	}
	fs := newFlagSet(e, name, usage)
	cfgPath := fs.String("config", "", "path of agent.yaml (required)")
	concurrency := fs.Int("concurrency", 2, "windows built at once (per cluster, for a central agent)")
	var rf rangeFlags
	rf.register(fs)
	pipelineFlag := fs.String("pipeline", "allocations,assets", "pipelines to build: allocations, assets, or both (comma list); with both, windows whose allocation block is done but whose asset block is missing get their asset block")
	var dryRun, force, fromSource *bool
	if mode == etl.ModeRebuild {
		dryRun = fs.Bool("dry-run", false, "compute and print each window's rows and cost before and after, commit nothing")
		force = fs.Bool("force", false, "let an empty result replace a block that has data (normally refused: it erases history)")
		fromSource = fs.Bool("from-source", false, "query the source for daily windows too (by default a day whose 24 hourly blocks are committed and complete is summed from them)")
	}
	var lf logFlags
	lf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *concurrency < 1 {
		return usagef("--concurrency must be at least 1")
	}
	if _, _, _, err := rf.parse(nil); err != nil {
		return err // flag errors before any connection is made
	}
	pipelines, err := store.ParsePipelines(*pipelineFlag)
	if err != nil {
		return usagef("--pipeline: %v", err)
	}
	withAllocs, withAssets := slices.Contains(pipelines, store.PipelineAllocations), slices.Contains(pipelines, store.PipelineAssets)
	s, err := setupAgent(ctx, e, *cfgPath, lf, *concurrency, true)
	if err != nil {
		return err
	}
	defer s.close()
	from, to, policies, err := rf.parse(s.policies)
	if err != nil {
		return err
	}
	started := time.Now()
	now, settle := started, time.Duration(s.cfg.SettleDelay)
	if s.src.offline != nil {
		// An offline source is built as of its newest sample: nothing after
		// it is planned (never written empty), and no settle delay applies
		// (a TSDB directory gets no late samples).
		var newest time.Time
		newest, now = offlineNow(s.src.offline)
		settle = 0
		if !newest.After(from) {
			return usagef("--from %s is not before the newest sample of prometheus.tsdb_path (%s)", from.Format(time.RFC3339), newest.Format(time.RFC3339))
		}
		if to.After(newest) {
			to = newest
		}
		fmt.Fprintf(e.stdout, "offline source %s: building as of %s (its newest sample, plus the 5m lookback)\n", s.cfg.Prometheus.TSDBPath, now.Format(time.RFC3339))
	}
	opts := etl.BuildOptions{SkipAssets: !withAssets}
	if dryRun != nil {
		opts.DryRun, opts.Force, opts.FromSource = *dryRun, *force, *fromSource
	}
	// Hourly first: a day can then be summed from the hours just built.
	slices.SortStableFunc(policies, func(a, b etl.Policy) int { return cmp.Compare(a.Resolution.Duration(), b.Resolution.Duration()) })
	sum := &rangeSummary{started: started}
	r := rangeRun{mode: mode, from: from, to: to, now: now, settle: settle, policies: policies, opts: opts, sum: sum,
		withAllocs: withAllocs, withAssets: withAssets}
	if !s.cfg.Central() {
		failed, err := r.cluster(ctx, e, s.builder, s.src)
		if err != nil {
			return err
		}
		sum.print(e, name, opts.DryRun)
		if failed {
			return fmt.Errorf("%d window(s) failed; rerun to retry them (finished windows are committed)", sum.failed)
		}
		return nil
	}
	ids, err := s.rangeClusters(ctx, e, from, to, now)
	if err != nil {
		return err
	}
	// A central agent's range runs each cluster as its own agent would; a
	// cluster that fails does not stop the others.
	var failedClusters []string
	for _, id := range ids {
		b, src, err := s.clusterBuilder(id)
		if err != nil {
			return err
		}
		sum.prefix = id + " "
		failed, err := r.cluster(ctx, e, b, src)
		if err != nil {
			fmt.Fprintf(e.stdout, "%sFAILED: %v\n", sum.prefix, err)
		}
		if failed || err != nil {
			failedClusters = append(failedClusters, id)
		}
	}
	sum.prefix = ""
	sum.print(e, name, opts.DryRun)
	if len(failedClusters) > 0 {
		return fmt.Errorf("%d window(s) failed, in cluster(s) %s; rerun to retry them (finished windows are committed)", sum.failed, strings.Join(failedClusters, ", "))
	}
	return nil
}

// rangeClusters are the clusters a central agent's range run covers: the
// listed ones, or those discovered in the source over the range (up to now).
func (s *agentSetup) rangeClusters(ctx context.Context, e *env, from, to, now time.Time) ([]string, error) {
	if !s.cfg.Clusters.Discover {
		fmt.Fprintf(e.stdout, "clusters: %s\n", strings.Join(s.cfg.Clusters.IDs, ", "))
		return s.cfg.Clusters.IDs, nil
	}
	end := to
	if end.After(now) {
		end = now
	}
	found, err := etl.DiscoverClusters(ctx, s.shared, s.cfg.Prometheus.ClusterLabel, from, end, time.Duration(s.cfg.Prometheus.MaxQueryRange))
	if err != nil {
		return nil, err
	}
	if len(found.Invalid) > 0 {
		fmt.Fprintf(e.stdout, "skipped %s values that are not valid cluster ids: %s\n", s.cfg.Prometheus.ClusterLabel, strings.Join(found.Invalid, ", "))
	}
	if len(found.IDs) == 0 {
		return nil, fmt.Errorf("discover clusters: no series of kube_pod_container_status_running with a %s label from %s to %s",
			s.cfg.Prometheus.ClusterLabel, from.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	fmt.Fprintf(e.stdout, "clusters (discovered through %s): %s\n", s.cfg.Prometheus.ClusterLabel, strings.Join(found.IDs, ", "))
	return found.IDs, nil
}

// rangeRun is one backfill or rebuild over a range, run cluster by cluster.
type rangeRun struct {
	mode          etl.Mode
	from, to, now time.Time
	settle        time.Duration
	policies      []etl.Policy
	opts          etl.BuildOptions
	sum           *rangeSummary
	// The pipelines built (--pipeline).
	withAllocs, withAssets bool
}

// cluster plans and builds the range of the cluster b builds from src;
// failed reports windows that failed to build, err a cluster that could not
// be planned.
func (r rangeRun) cluster(ctx context.Context, e *env, b *etl.Builder, src prom.Source) (failed bool, err error) {
	// The source's floor inside the range: windows ending before it are
	// skipped, never written empty.
	end := r.to
	if end.After(r.now) {
		end = r.now
	}
	oldest, err := etl.OldestSample(ctx, src, end, end.Sub(r.from)+time.Hour)
	if err != nil {
		return false, err
	}
	for _, p := range r.policies {
		ix, err := b.Store.ReadIndex(ctx, b.Cluster, p.Resolution)
		if err != nil {
			return failed, err
		}
		in := etl.PlanInput{Mode: r.mode, Now: r.now, Policy: p, SettleDelay: r.settle,
			OldestSample: oldest, From: r.from, To: r.to, Committed: ix, OnlyAssets: !r.withAllocs}
		if r.withAssets {
			aix, err := b.Store.ReadAssetIndex(ctx, b.Cluster, p.Resolution)
			if err != nil {
				return failed, err
			}
			in.Assets = &aix
		}
		tasks, skips, err := etl.Plan(in)
		if err != nil {
			return failed, usageError{err}
		}
		for _, sk := range skips {
			fmt.Fprintf(e.stdout, "%s%s %s skipped: %s (the source's oldest sample is %s)\n", r.sum.prefix, p.Resolution, sk.Window, sk.Reason, oldest.Format(time.RFC3339))
		}
		r.sum.skipped += len(skips)
		if _, err := b.Build(ctx, tasks, r.opts, func(res etl.Result) { r.sum.add(e, res, r.opts.DryRun) }); err != nil {
			failed = true
		}
	}
	return failed, nil
}

type rangeSummary struct {
	// prefix starts every line of one cluster's windows ("<id> " for a
	// central agent, "" for a per-cluster one).
	prefix                 string
	started                time.Time
	built, failed, skipped int
	// rows and cost per resolution: each resolution covers the same range, so
	// their sum would count the cost once per resolution.
	rows    map[store.Resolution]int
	cost    map[store.Resolution]float64
	queries int
	samples int64
}

func (s *rangeSummary) add(e *env, r etl.Result, dryRun bool) {
	s.queries += r.Computed.Queries
	s.samples += r.Computed.SamplesProcessed
	if r.Err != nil {
		s.failed++
		fmt.Fprintf(e.stdout, "%s%s %s FAILED: %v\n", s.prefix, r.Task.Resolution, r.Task.Window, r.Err)
		return
	}
	s.built++
	if r.Task.AssetsOnly {
		fmt.Fprintf(e.stdout, "%s%s %s %-22s assets=%d cost=$%.2f %.1fs (asset block only)\n", s.prefix, r.Task.Resolution, r.Task.Window, r.Task.Reason, r.Rows, r.Cost, r.Duration.Seconds())
		return
	}
	if s.rows == nil {
		s.rows, s.cost = map[store.Resolution]int{}, map[store.Resolution]float64{}
	}
	s.rows[r.Task.Resolution] += r.Rows
	s.cost[r.Task.Resolution] += r.Cost
	line := fmt.Sprintf("%s %s %-22s rows=%d cost=$%.2f %.1fs", r.Task.Resolution, r.Task.Window, r.Task.Reason, r.Rows, r.Cost, r.Duration.Seconds())
	if dryRun {
		before := "none"
		if r.Before != nil {
			before = fmt.Sprintf("rows=%d cost=$%.2f", r.Before.Rows, r.Before.TotalCost)
		}
		line = fmt.Sprintf("%s %s before: %s  after: rows=%d cost=$%.2f", r.Task.Resolution, r.Task.Window, before, r.Rows, r.Cost)
	}
	fmt.Fprintln(e.stdout, s.prefix+line)
}

func (s *rangeSummary) print(e *env, name string, dryRun bool) {
	verb := "built"
	if dryRun {
		verb = "computed (dry run, nothing committed)"
	}
	fmt.Fprintf(e.stdout, "%s: %d window(s) %s, %d failed, %d skipped; %s; %d queries, %d samples; %s\n",
		name, s.built, verb, s.failed, s.skipped, s.perResolution(), s.queries, s.samples, time.Since(s.started).Round(time.Millisecond))
}

// perResolution reads "1d 14 rows $12.34, 1h 310 rows $12.34" (or "no rows").
func (s *rangeSummary) perResolution() string {
	if len(s.rows) == 0 {
		return "no rows"
	}
	parts := make([]string, 0, len(s.rows))
	for _, res := range slices.Sorted(maps.Keys(s.rows)) {
		parts = append(parts, fmt.Sprintf("%s %d rows $%.2f", res, s.rows[res], s.cost[res]))
	}
	return strings.Join(parts, ", ")
}
