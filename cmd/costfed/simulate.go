package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/costfed/costfed/sim"
)

// Output names inside simulate's --out directory.
const (
	simOpenMetricsFile = "metrics.om"
	simTSDBDir         = "tsdb"
	simTruthFile       = "truth.jsonl"
)

// simulateFlags are the command line of "costfed simulate".
type simulateFlags struct {
	out, format, end    string
	seed                int64
	clusters, nodes     int
	days, hours         int
	interval            time.Duration
	openMetrics, tsdbOn bool
}

// runSimulate implements "costfed simulate": a simulated fleet's metrics
// (OpenMetrics text for promtool and/or a TSDB directory) and its ground
// truth, written into one directory.
func runSimulate(ctx context.Context, e *env, args []string) error {
	fl, err := parseSimulateFlags(e, args)
	if err != nil {
		return err
	}
	cfg, err := fl.config()
	if err != nil {
		return err
	}
	started := time.Now()
	f, err := sim.New(cfg)
	if err != nil {
		return usagef("%v", err)
	}
	if err := os.MkdirAll(fl.out, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	sum, err := writeSimulation(ctx, f, fl)
	if err != nil {
		return err
	}
	c := f.Counts()
	fmt.Fprintf(e.stdout, "simulate: %s: %d clusters, %d nodes, %d pods, %d containers; %d series, %d samples; %s; truth %d records; %.2f s%s\n",
		fl.out, c.Clusters, c.Nodes, c.Pods, c.Containers, sum.series, sum.samples, strings.Join(sum.outputs, ", "),
		sum.records, time.Since(started).Seconds(), peakRSS())
	return nil
}

func parseSimulateFlags(e *env, args []string) (simulateFlags, error) {
	var fl simulateFlags
	fs := newFlagSet(e, "simulate", "simulate --out DIR [--format openmetrics|tsdb|both] [--seed N] [--clusters N] [--nodes N] [--days N | --hours N] [--end RFC3339] [--scrape-interval 60s]")
	fs.StringVar(&fl.out, "out", "", "directory to write into: "+simOpenMetricsFile+" (OpenMetrics for promtool), "+simTSDBDir+"/ (TSDB blocks), "+simTruthFile+" (ground truth)")
	fs.StringVar(&fl.format, "format", "tsdb", "metrics format: openmetrics, tsdb or both (OpenMetrics text is ~220 bytes a sample)")
	fs.Int64Var(&fl.seed, "seed", 1, "seed of every random choice: the same flags give the same bytes")
	fs.IntVar(&fl.clusters, "clusters", 1, "number of clusters")
	fs.IntVar(&fl.nodes, "nodes", 4, "nodes per cluster")
	fs.IntVar(&fl.days, "days", 1, "simulated days, ending at --end")
	fs.IntVar(&fl.hours, "hours", 0, "simulated hours, ending at --end (overrides --days)")
	fs.StringVar(&fl.end, "end", sim.DefaultEnd.Format(time.RFC3339), "end of the simulated range, a whole hour (RFC 3339)")
	durationVar(fs, &fl.interval, "scrape-interval", time.Minute, "time between scrapes: whole seconds dividing 1h")
	if err := parseFlags(fs, args); err != nil {
		return fl, err
	}
	if fs.NArg() > 0 {
		return fl, usagef("unexpected argument %q", fs.Arg(0))
	}
	return fl, fl.check()
}

// check validates the flags, naming the one at fault.
func (fl *simulateFlags) check() error {
	switch fl.format {
	case "openmetrics":
		fl.openMetrics = true
	case "tsdb":
		fl.tsdbOn = true
	case "both":
		fl.openMetrics, fl.tsdbOn = true, true
	default:
		return usagef("--format: %q is not openmetrics, tsdb or both", fl.format)
	}
	switch {
	case fl.out == "":
		return usagef("--out is required")
	case fl.clusters < 1 || fl.clusters > 999:
		return usagef("--clusters: %d is not in 1..999", fl.clusters)
	case fl.nodes < 1:
		return usagef("--nodes: %d is not positive", fl.nodes)
	case fl.days < 1 || fl.days > 366:
		return usagef("--days: %d is not in 1..366", fl.days)
	case fl.hours < 0 || fl.hours > 366*24:
		return usagef("--hours: %d is not in 0..%d", fl.hours, 366*24)
	case fl.interval < time.Second || fl.interval%time.Second != 0 || time.Hour%fl.interval != 0:
		return usagef("--scrape-interval: %v is not whole seconds dividing 1h", fl.interval)
	}
	return nil
}

func (fl *simulateFlags) config() (sim.Config, error) {
	end, err := time.Parse(time.RFC3339, fl.end)
	if err != nil {
		return sim.Config{}, usagef("--end: %q is not an RFC 3339 time", fl.end)
	}
	if !end.Equal(end.Truncate(time.Hour)) {
		return sim.Config{}, usagef("--end: %s is not a whole hour", fl.end)
	}
	span := time.Duration(fl.days) * 24 * time.Hour
	if fl.hours > 0 {
		span = time.Duration(fl.hours) * time.Hour
	}
	cfg := sim.DefaultConfig()
	cfg.Seed, cfg.Clusters, cfg.NodesPerCluster = fl.seed, fl.clusters, fl.nodes
	cfg.End, cfg.Start = end.UTC(), end.UTC().Add(-span)
	cfg.ScrapeInterval = fl.interval
	return cfg, nil
}

// simSummary is what writeSimulation wrote.
type simSummary struct {
	series, samples int64
	records         int64
	outputs         []string
}

func writeSimulation(ctx context.Context, f *sim.Fleet, fl simulateFlags) (simSummary, error) {
	var sum simSummary
	if fl.openMetrics {
		st, err := writeSimFile(filepath.Join(fl.out, simOpenMetricsFile), func(file *os.File) (sim.Stats, error) {
			return f.WriteOpenMetrics(ctx, file)
		})
		if err != nil {
			return sum, err
		}
		sum.series, sum.samples = st.Series, st.Samples
		sum.outputs = append(sum.outputs, simOpenMetricsFile+" "+humanBytes(st.Bytes))
	}
	if fl.tsdbOn {
		dir := filepath.Join(fl.out, simTSDBDir)
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return sum, fmt.Errorf("write TSDB: %s already holds data; remove it or choose another --out", dir)
		}
		st, err := f.WriteTSDB(ctx, dir, sim.TSDBOptions{})
		if err != nil {
			return sum, err
		}
		sum.series, sum.samples = st.Series, st.Samples
		sum.outputs = append(sum.outputs, simTSDBDir+"/ "+humanBytes(st.Bytes))
	}
	var records int64
	_, err := writeSimFile(filepath.Join(fl.out, simTruthFile), func(file *os.File) (sim.Stats, error) {
		n, err := f.WriteTruth(ctx, file)
		records = n
		return sim.Stats{}, err
	})
	sum.records = records
	return sum, err
}

// writeSimFile creates path, lets write fill it and closes it.
func writeSimFile(path string, write func(*os.File) (sim.Stats, error)) (sim.Stats, error) {
	file, err := os.Create(path)
	if err != nil {
		return sim.Stats{}, fmt.Errorf("create %s: %w", path, err)
	}
	st, err := write(file)
	if cerr := file.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close %s: %w", path, cerr))
	}
	return st, err
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}

// peakRSS returns ", peak RSS N MiB" from the kernel's high-water mark, or
// "" where /proc is not available.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return fmt.Sprintf(", peak RSS %d MiB", kb>>10)
				}
			}
		}
	}
	return ""
}
