package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/api"
	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/etl"
	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/sim"
	"github.com/costfed/costfed/store"
)

// runDemo implements "costfed demo": the whole pipeline on one machine with
// no servers. A simulated fleet goes into a local TSDB; each cluster's agent
// backfills its blocks from it into a FILESYSTEM store; the federator merges
// them; the report compares the combined store with the simulation's truth.
func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo", "demo [--dir DIR] [--clusters 3] [--nodes 3] [--days 3] [--seed 1] [--serve [--listen ADDR]]")
	dir := fs.String("dir", "", "working directory for the TSDB and the store (default: a temporary directory, removed afterwards)")
	clusters := fs.Int("clusters", 3, "simulated clusters")
	nodes := fs.Int("nodes", 3, "nodes per cluster")
	days := fs.Int("days", 3, "simulated days, ending 2024-01-08T00:00:00Z")
	seed := fs.Int64("seed", 1, "simulation seed")
	serve := fs.Bool("serve", false, "keep the allocation API up on --listen afterwards and print example queries (Ctrl-C stops it)")
	listen := fs.String("listen", "127.0.0.1:9003", "address of the API with --serve")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *clusters < 1 || *clusters > 50 || *nodes < 1 || *nodes > 100 || *days < 1 || *days > 31 {
		return usagef("--clusters (1-50), --nodes (1-100) and --days (1-31) are out of range")
	}
	var ln net.Listener
	if *serve {
		// Before minutes of simulation, not after: a busy port fails now.
		l, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("demo: --listen: %w (nothing was simulated)", err)
		}
		ln = l
		defer ln.Close() // no-op once served
	}
	work := *dir
	if work == "" {
		tmp, err := os.MkdirTemp("", "costfed-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(tmp)
		work = tmp
	}
	cfg := sim.DefaultConfig()
	cfg.Seed, cfg.Clusters, cfg.NodesPerCluster = *seed, *clusters, *nodes
	cfg.Start = cfg.End.Add(-time.Duration(*days) * 24 * time.Hour)
	d := &demo{e: e, cfg: cfg, dir: work, keep: *dir != "", started: time.Now()}
	if err := d.run(ctx); err != nil {
		return err
	}
	if ln != nil {
		return d.serve(ctx, ln)
	}
	return nil
}

// serve keeps the allocation API up over the demo's combined store.
func (d *demo) serve(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	logger := slog.New(slog.NewTextHandler(d.e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := config.DefaultFederator()
	h, err := newServeHandler(d.st, cfg, "", logger, newRegistry(), time.Now)
	if err != nil {
		return err
	}
	window := d.cfg.Start.Format(time.RFC3339) + "," + d.cfg.End.Format(time.RFC3339)
	fmt.Fprintf(d.e.stdout, "\nThe allocation API is up on http://%s (Ctrl-C stops it). Try:\n", addr)
	for _, q := range []string{"aggregate=cluster", "aggregate=namespace&includeIdle=true", "aggregate=cluster,namespace&shareIdle=true", "aggregate=controllerKind&step=1d", "aggregate=pod&filter=namespace:%22ml%22"} {
		fmt.Fprintf(d.e.stdout, "  curl -s 'http://%s/allocation?window=%s&%s'\n", addr, window, q)
	}
	if d.keep {
		fmt.Fprintf(d.e.stdout, "  costfed query --store %s --window %s --aggregate namespace\n", filepath.Join(d.dir, "federated-store.yaml"), window)
	} else {
		fmt.Fprintf(d.e.stdout, "The demo's store is removed when it stops; run it with --dir DIR to keep it.\n")
	}
	srv := api.NewServer(h, api.ServerOptions{ReadTimeout: time.Duration(cfg.Server.ReadTimeout), WriteTimeout: time.Duration(cfg.Server.WriteTimeout)})
	return startHTTPOn(logger, ln, srv).untilDone(ctx)
}

type demo struct {
	e       *env
	cfg     sim.Config
	dir     string
	keep    bool // dir is the user's (--dir), not a temporary one removed at exit
	started time.Time
	st      *store.Store
	truth   demoTruth
}

// demoTruth is the simulation's daily cost per cluster and per
// cluster/namespace (containers only), plus idle and unmounted per cluster.
type demoTruth struct {
	cluster, namespace, idle, unmounted map[string]float64
	// assets is the daily cost per "<cluster>/<asset type>" (Node, Disk,
	// LoadBalancer).
	assets map[string]float64
}

func (d *demo) step(name, format string, args ...any) {
	fmt.Fprintf(d.e.stdout, "  %-10s %-62s %5.1fs\n", name, fmt.Sprintf(format, args...), time.Since(d.started).Seconds())
}

func (d *demo) run(ctx context.Context) error {
	fmt.Fprintf(d.e.stdout, "costfed demo: %d clusters × %d nodes, %s .. %s, scraped every %s\n\n",
		d.cfg.Clusters, d.cfg.NodesPerCluster, d.cfg.Start.Format("2006-01-02T15:04Z"), d.cfg.End.Format("2006-01-02T15:04Z"), d.cfg.ScrapeInterval)
	fleet, err := sim.New(d.cfg)
	if err != nil {
		return usageError{err}
	}
	tsdb := filepath.Join(d.dir, "tsdb")
	stats, err := fleet.WriteTSDB(ctx, tsdb, sim.TSDBOptions{})
	if err != nil {
		return fmt.Errorf("demo: simulate: %w", err)
	}
	d.step("simulate", "%d series, %d samples into a local TSDB", stats.Series, stats.Samples)
	if d.truth, err = collectDemoTruth(ctx, fleet); err != nil {
		return fmt.Errorf("demo: ground truth: %w", err)
	}

	storeCfg, err := config.NewFilesystemStore(filepath.Join(d.dir, "store"), "")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "federated-store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+filepath.Join(d.dir, "store")+"\n"), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := writeDemoFederatorConfig(d.dir, d.cfg.Start, time.Now()); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	bkt, err := store.NewBucket(ctx, nil, storeCfg, nil)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer bkt.Close()
	d.st = store.New(bkt, store.Options{})

	sandbox := filepath.Join(d.dir, "sandbox")
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	src, err := prom.OpenLocal(tsdb, prom.LocalSandboxDir(sandbox))
	if err != nil {
		return fmt.Errorf("demo: open the TSDB: %w", err)
	}
	defer src.Close()
	for i := 1; i <= d.cfg.Clusters; i++ {
		if err := d.backfill(ctx, src, fmt.Sprintf("cluster-%02d", i)); err != nil {
			return err
		}
	}
	fed := federator.New(d.st, federator.Options{Version: version, Now: func() time.Time { return d.cfg.End.Add(time.Hour) }})
	rep, err := fed.RunOnce(ctx)
	if err != nil {
		return fmt.Errorf("demo: federate: %w", err)
	}
	d.step("federator", "merged %d+%d hourly and %d+%d daily allocation+asset windows", rep.Merged[store.Hourly], rep.MergedAssets[store.Hourly],
		rep.Merged[store.Daily], rep.MergedAssets[store.Daily])
	return d.report(ctx)
}

// writeDemoFederatorConfig writes dir/federator.yaml for running the
// federator over the demo's store afterwards. The demo's data is from 2024,
// and retention counts back from the clock: the default (49h, 91d) would
// expire all of it, so the config's retention reaches back to the data's
// first day from now, plus ten years.
func writeDemoFederatorConfig(dir string, dataStart, now time.Time) error {
	days := int(math.Ceil(now.Sub(dataStart).Hours()/24)) + 3650
	body := fmt.Sprintf(`# Written by costfed demo: costfed federator --config %s --once
# The demo's data starts %s; retention counts back from the clock, so it
# reaches back that far (plus ten years) to keep the demo's combined store.
store: federated-store.yaml
retention:
  1h: %dd
  1d: %dd
listen_address: 127.0.0.1:9005
`, filepath.Join(dir, "federator.yaml"), dataStart.UTC().Format("2006-01-02"), days, days)
	return os.WriteFile(filepath.Join(dir, "federator.yaml"), []byte(body), 0o600)
}

// backfill runs one cluster's agent over the whole simulated range, as
// `costfed backfill` would against the cluster's Prometheus.
func (d *demo) backfill(ctx context.Context, src prom.Source, cluster string) error {
	b := &etl.Builder{
		Cluster: cluster, ProducerVersion: version, ProducerInstance: cluster + "-demo-agent", Store: d.st,
		Computer: etl.SourceComputer{Source: src, Options: allocation.QueryOptions{
			Step: d.cfg.ScrapeInterval, Cluster: cluster, LeftOpen: prom.LocalRangeSemantics == prom.RangeLeftOpen,
		}},
		Now: func() time.Time { return d.cfg.End.Add(time.Hour) },
	}
	var blocks, rows int
	for _, res := range store.Resolutions {
		tasks, _, err := etl.Plan(etl.PlanInput{Mode: etl.ModeBackfill, Now: d.cfg.End.Add(time.Hour), Policy: etl.Policy{Resolution: res},
			OldestSample: d.cfg.Start, From: d.cfg.Start, To: d.cfg.End})
		if err != nil {
			return fmt.Errorf("demo: plan %s: %w", cluster, err)
		}
		results, err := b.Build(ctx, tasks, etl.BuildOptions{}, nil)
		if err != nil {
			return fmt.Errorf("demo: backfill %s: %w", cluster, err)
		}
		for _, r := range results {
			blocks++
			rows += r.Rows
		}
	}
	d.step("agent", "%s: %d blocks (1h and 1d), %d rows", cluster, blocks, rows)
	return nil
}

func collectDemoTruth(ctx context.Context, fleet *sim.Fleet) (demoTruth, error) {
	t := demoTruth{cluster: map[string]float64{}, namespace: map[string]float64{}, idle: map[string]float64{}, unmounted: map[string]float64{},
		assets: map[string]float64{}}
	err := fleet.Truth(ctx, func(r sim.TruthRecord) error {
		switch r := r.(type) {
		case *sim.NodeTruth:
			if r.Resolution == sim.Daily {
				t.assets[r.Cluster+"/Node"] += r.TotalCost
			}
		case *sim.DiskTruth:
			if r.Resolution == sim.Daily {
				t.assets[r.Cluster+"/Disk"] += r.Cost
			}
		case *sim.LoadBalancerTruth:
			if r.Resolution == sim.Daily {
				t.assets[r.Cluster+"/LoadBalancer"] += r.Cost
			}
		case *sim.ClusterTruth:
			if r.Resolution == sim.Daily {
				t.cluster[r.Cluster] += r.TotalCost
				t.idle[r.Cluster] += r.IdleCost
				t.unmounted[r.Cluster] += r.UnmountedPVCost + r.UnmountedLoadBalancerCost
			}
		case *sim.ContainerTruth:
			if r.Resolution == sim.Daily {
				t.namespace[r.Cluster+"/"+r.Namespace] += r.TotalCost
			}
		}
		return nil
	})
	return t, err
}

// report reads the combined daily blocks and prints cost by cluster and by
// namespace next to the ground truth.
func (d *demo) report(ctx context.Context) error {
	ix, err := d.st.ReadIndex(ctx, store.CombinedID, store.Daily)
	if err != nil {
		return fmt.Errorf("demo: read the combined store: %w", err)
	}
	got := demoTruth{cluster: map[string]float64{}, namespace: map[string]float64{}, idle: map[string]float64{}, unmounted: map[string]float64{}}
	for _, e := range ix.Blocks {
		b, err := d.st.ReadBlock(ctx, store.CombinedID, store.Daily, e)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		for i := range b.Rows {
			r := &b.Rows[i]
			c, cost := r.Properties.Cluster, r.TotalCost()
			got.cluster[c] += cost
			switch {
			case r.IsIdle():
				got.idle[c] += cost
			case r.IsUnmounted():
				got.unmounted[c] += cost
			default:
				got.namespace[c+"/"+r.Properties.Namespace] += cost
			}
		}
	}
	w := d.e.stdout
	fmt.Fprintf(w, "\nCost by cluster, %s .. %s: the combined store next to the simulation's ground truth\n\n", d.cfg.Start.Format("2006-01-02"), d.cfg.End.Format("2006-01-02"))
	worstCluster := printComparison(w, "CLUSTER", got.cluster, d.truth.cluster)
	fmt.Fprintf(w, "\nCost by namespace (containers; idle and unmounted volumes and load balancers apart)\n\n")
	ns := map[string]float64{}
	truthNS := map[string]float64{}
	for k, v := range got.namespace {
		ns[k] = v
	}
	for k, v := range d.truth.namespace {
		truthNS[k] = v
	}
	for c := range got.cluster {
		ns[c+"/__idle__"], truthNS[c+"/__idle__"] = got.idle[c], d.truth.idle[c]
		ns[c+"/__unmounted__"], truthNS[c+"/__unmounted__"] = got.unmounted[c], d.truth.unmounted[c]
	}
	worstNS := printComparison(w, "CLUSTER/NAMESPACE", ns, truthNS)
	fmt.Fprintf(w, "\nWorst difference: %.3f %% per cluster, %.3f %% per namespace.\n", worstCluster*100, worstNS*100)
	gotAssets, err := d.dailyAssets(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nAssets by cluster and type (nodes, disks, load balancers), the combined asset blocks next to the ground truth\n\n")
	worstAsset := printComparison(w, "CLUSTER/TYPE", gotAssets, d.truth.assets)
	fmt.Fprintf(w, "\nWorst asset difference: %.3f %%.\n", worstAsset*100)
	// A temporary directory is removed on exit: printing it would point at
	// nothing.
	if d.keep {
		fmt.Fprintf(w, "Store: %s\nLook around: costfed status --store %s\n", filepath.Join(d.dir, "store"), filepath.Join(d.dir, "federated-store.yaml"))
		fmt.Fprintf(w, "Federate again: costfed federator --config %s --once\n", filepath.Join(d.dir, "federator.yaml"))
	}
	return nil
}

// dailyAssets sums the combined daily asset blocks per cluster and type.
func (d *demo) dailyAssets(ctx context.Context) (map[string]float64, error) {
	ix, err := d.st.ReadAssetIndex(ctx, store.CombinedID, store.Daily)
	if err != nil {
		return nil, fmt.Errorf("demo: read the combined asset index: %w", err)
	}
	out := map[string]float64{}
	for _, e := range ix.Blocks {
		b, err := d.st.ReadAssetBlock(ctx, store.CombinedID, store.Daily, e)
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		for i := range b.Assets {
			a := &b.Assets[i]
			out[a.Properties.Cluster+"/"+string(a.Kind)] += a.TotalCost()
		}
	}
	return out, nil
}

// printComparison prints one table of ours vs truth and returns the worst
// relative difference.
func printComparison(w io.Writer, title string, got, truth map[string]float64) float64 {
	keys := make([]string, 0, len(truth))
	for k := range truth {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := truth[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tCOSTFED\tTRUTH\tDIFF\t\n", title)
	worst := 0.0
	var sumGot, sumTruth float64
	for _, k := range keys {
		g, t := got[k], truth[k]
		sumGot, sumTruth = sumGot+g, sumTruth+t
		diff := relDiff(g, t)
		worst = max(worst, diff)
		fmt.Fprintf(tw, "%s\t$%.2f\t$%.2f\t%.3f %%\t\n", k, g, t, diff*100)
	}
	fmt.Fprintf(tw, "TOTAL\t$%.2f\t$%.2f\t%.3f %%\t\n", sumGot, sumTruth, relDiff(sumGot, sumTruth)*100)
	_ = tw.Flush()
	return worst
}

func relDiff(got, truth float64) float64 {
	if truth == 0 {
		if got == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Abs(got-truth) / math.Abs(truth)
}
