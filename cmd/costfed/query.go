package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/api"
	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/store"
)

// optionalValueFlag is a flag that may be given bare (--accumulate, meaning
// ifBare) or with a value (--accumulate=day).
type optionalValueFlag struct {
	value  string
	ifBare string
}

func (f *optionalValueFlag) String() string { return f.value }
func (f *optionalValueFlag) Set(s string) error {
	if s == "true" {
		s = f.ifBare
	}
	f.value = s
	return nil
}
func (f *optionalValueFlag) IsBoolFlag() bool { return true }

// queryFlags are the flags of "costfed query"; their names map to the API's
// parameters.
type queryFlags struct {
	storePath, cluster, format string
	staleAfter                 time.Duration
	p                          api.QueryParams
	idle, idleByNode, split    bool
	assets                     bool
	accumulate, shareIdle      optionalValueFlag
}

// flagOfParam names the flag behind each API parameter, for error messages.
var flagOfParam = map[string]string{
	"window": "window", "aggregate": "aggregate", "filter": "filter", "step": "step",
	"accumulate": "accumulate", "includeIdle": "idle", "idleByNode": "idle-by-node",
	"shareIdle": "share-idle", "shareNamespaces": "share-namespaces", "shareLabels": "share-labels",
	"shareCost": "share-cost", "shareSplit": "share-split", "splitIdle": "split-idle",
	"filterClusters": "filter-clusters", "filterNodes": "filter-nodes", "filterNamespaces": "filter-namespaces",
	"filterControllerKinds": "filter-controller-kinds", "filterControllers": "filter-controllers",
	"filterPods": "filter-pods", "filterContainers": "filter-containers", "filterLabels": "filter-labels",
	"filterAnnotations": "filter-annotations", "filterServices": "filter-services",
}

// legacyFilterFlags are Kubecost's v1 filter parameters as flags: each a comma
// list ORed, ANDed with each other and with --filter.
func legacyFilterFlags(p *api.QueryParams) []struct {
	dest        *string
	name, usage string
} {
	return []struct {
		dest        *string
		name, usage string
	}{
		{&p.FilterClusters, "filter-clusters", "legacy filter: comma list of clusters (a trailing * matches a prefix)"},
		{&p.FilterNodes, "filter-nodes", "legacy filter: comma list of nodes"},
		{&p.FilterNamespaces, "filter-namespaces", "legacy filter: comma list of namespaces"},
		{&p.FilterControllerKinds, "filter-controller-kinds", "legacy filter: comma list of controller kinds (deployment, job, …)"},
		{&p.FilterControllers, "filter-controllers", "legacy filter: comma list of controllers as name or kind:name"},
		{&p.FilterPods, "filter-pods", "legacy filter: comma list of pods"},
		{&p.FilterContainers, "filter-containers", "legacy filter: comma list of containers"},
		{&p.FilterLabels, "filter-labels", "legacy filter: comma list of label name:value"},
		{&p.FilterAnnotations, "filter-annotations", "legacy filter: comma list of annotation name:value"},
		{&p.FilterServices, "filter-services", "legacy filter: comma list of services"},
	}
}

// runQuery implements "costfed query": an /allocation question answered from
// the store on the command line.
func runQuery(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "query", "query [--store federated-store.yaml] [--assets] --window W [--aggregate K] [--filter F] [--filter-namespaces N,…] [--step S] [--accumulate[=P]] [--idle] [--idle-by-node] [--split-idle] [--share-idle[=MODE]] [--cluster ID] [--format table|json|csv]")
	var f queryFlags
	fs.StringVar(&f.storePath, "store", "", "path of federated-store.yaml (default: FILESYSTEM store under ./data)")
	fs.StringVar(&f.p.Window, "window", "", "time window (required): today, yesterday, week, lastweek, month, lastmonth, 24h, 7d, '7d offset 1d', start,end as Unix seconds or RFC 3339")
	fs.StringVar(&f.p.Aggregate, "aggregate", "", "comma list of properties to sum by: cluster, node, namespace, controller, pod, container, label:NAME, … (default: none, one row per container)")
	fs.StringVar(&f.p.Filter, "filter", "", `filter in OpenCost's language, e.g. namespace:"kube-system"+label[app]:"web"`)
	fs.StringVar(&f.p.Step, "step", "", "split the window into steps of this length (1h, 6h, 1d, 1w; default: the whole window)")
	f.accumulate.ifBare = "all"
	fs.Var(&f.accumulate, "accumulate", "sum the window: bare for one set, or =hour, =day, =week, =month (ignores --step)")
	fs.BoolVar(&f.idle, "idle", false, "include idle cost rows")
	fs.BoolVar(&f.idleByNode, "idle-by-node", false, "compute and share idle per node instead of per cluster")
	fs.BoolVar(&f.split, "split-idle", false, "one idle row per cluster (or node with --idle-by-node) instead of a single __idle__ row")
	f.shareIdle.ifBare = "weighted"
	fs.Var(&f.shareIdle, "share-idle", "share idle cost into the rows: bare or =weighted for in proportion to cost, =even for equal parts")
	fs.StringVar(&f.p.ShareNamespaces, "share-namespaces", "", "comma list of namespaces whose cost is shared over the others")
	fs.StringVar(&f.p.ShareLabels, "share-labels", "", "comma list of label=value whose rows' cost is shared over the others")
	fs.StringVar(&f.p.ShareCost, "share-cost", "", "fixed overhead in dollars per hour shared over the rows")
	fs.StringVar(&f.p.ShareSplit, "share-split", "", "how shared costs are split: weighted (default) or even")
	for _, lf := range legacyFilterFlags(&f.p) {
		fs.StringVar(lf.dest, lf.name, "", lf.usage)
	}
	fs.BoolVar(&f.assets, "assets", false, "ask about assets (nodes, disks, load balancers, network, cluster management) instead of allocations: --aggregate type, cluster, name, node, category, providerID or label:NAME; --filter on type, cluster, name, node, category, providerID, label[K]")
	fs.StringVar(&f.cluster, "cluster", "", "read this cluster's own blocks instead of the combined store")
	fs.StringVar(&f.format, "format", "table", "output: table (human units), json (the API's shape) or csv")
	durationVar(fs, &f.staleAfter, "stale-after", 3*time.Hour, "warn about clusters whose newest block is older than this")
	var lf logFlags
	lf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	q, err := f.parse(fs.NArg(), fs.Args(), time.Now())
	if err != nil {
		return err
	}
	var aq api.AssetQuery
	if f.assets {
		if aq, err = f.assetQuery(time.Now()); err != nil {
			return err
		}
	}
	logger, err := lf.logger(e)
	if err != nil {
		return err
	}
	bkt, err := openBucket(ctx, e, logger, f.storePath, nil)
	if err != nil {
		return err
	}
	defer bkt.Close()
	st := store.New(bkt, store.Options{Logger: logger})
	if f.assets {
		return runAssetQuery(ctx, e, st, &f, aq)
	}
	eng, err := api.NewEngine(st, api.EngineOptions{
		Cluster: f.cluster,
		Logger:  logger,
		StaleClusters: func(ctx context.Context) ([]string, error) {
			cov, err := federator.ReadCoverage(ctx, st, time.Now(), f.staleAfter)
			return staleOf(cov), err
		},
	})
	if err != nil {
		return usagef("--cluster: %v", err)
	}
	ans, err := eng.Answer(ctx, q)
	if err != nil {
		return flagError(err)
	}
	return writeAnswer(e, f.format, ans)
}

// parse checks the flags and turns them into a query; errors name the flag.
func (f *queryFlags) parse(nargs int, args []string, now time.Time) (api.Query, error) {
	if nargs > 0 {
		return api.Query{}, usagef("unexpected argument %q", args[0])
	}
	if !slices.Contains([]string{"table", "json", "csv"}, f.format) {
		return api.Query{}, usagef("--format: %q is not table, json or csv", f.format)
	}
	if f.staleAfter <= 0 {
		return api.Query{}, usagef("--stale-after: must be positive")
	}
	if f.cluster != "" {
		if err := store.ValidateClusterID(f.cluster); err != nil {
			return api.Query{}, usagef("--cluster: %v", err)
		}
	}
	if strings.TrimSpace(f.p.Window) == "" {
		return api.Query{}, usagef("--window is required (e.g. 7d, yesterday, lastweek, or start,end)")
	}
	if f.assets {
		return api.Query{}, nil // assetQuery parses the rest
	}
	f.p.Accumulate = f.accumulate.value
	f.p.ShareIdle = f.shareIdle.value
	f.p.IncludeIdle = strconv.FormatBool(f.idle)
	f.p.IdleByNode = strconv.FormatBool(f.idleByNode)
	f.p.SplitIdle = strconv.FormatBool(f.split)
	q, err := f.p.Parse(now)
	if err != nil {
		return api.Query{}, flagError(err)
	}
	return q, nil
}

// flagError turns a parameter error into a usage error naming the flag.
func flagError(err error) error {
	var pe *api.ParamError
	if !errors.As(err, &pe) {
		return err
	}
	name, ok := flagOfParam[pe.Param]
	if !ok {
		name = pe.Param
	}
	// One line: a filter error's second and third lines point at the
	// position the first line already gives.
	msg, _, _ := strings.Cut(strings.TrimPrefix(pe.Error(), pe.Param+": "), "\n")
	return usagef("--%s: %s", name, msg)
}

func staleOf(cov federator.Coverage) []string {
	var out []string
	for _, c := range cov.Clusters {
		if c.Stale {
			out = append(out, c.Cluster)
		}
	}
	return out
}

func writeAnswer(e *env, format string, ans api.Answer) error {
	for _, w := range ans.Warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	switch format {
	case "json":
		return api.WriteJSON(e.stdout, api.NewResponse(ans), true)
	case "csv":
		return writeCSV(e.stdout, ans.Sets)
	}
	return writeTable(e.stdout, ans.Sets)
}

// tableColumns are the table's numeric columns after NAME.
var tableColumns = []struct {
	head string
	val  func(a *allocation.Allocation) string
}{
	{"CPU CORES", func(a *allocation.Allocation) string { return fmt.Sprintf("%.2f", a.CPUCores()) }},
	{"RAM GIB", func(a *allocation.Allocation) string { return fmt.Sprintf("%.2f", a.RAMBytes()/(1<<30)) }},
	{"CPU", func(a *allocation.Allocation) string { return dollars(a.CPUTotalCost()) }},
	{"GPU", func(a *allocation.Allocation) string { return dollars(a.GPUTotalCost()) }},
	{"RAM", func(a *allocation.Allocation) string { return dollars(a.RAMTotalCost()) }},
	{"PV", func(a *allocation.Allocation) string { return dollars(a.PVTotalCost()) }},
	{"NETWORK", func(a *allocation.Allocation) string { return dollars(a.NetworkTotalCost()) }},
	{"LB", func(a *allocation.Allocation) string { return dollars(a.LoadBalancerTotalCost()) }},
	{"SHARED", func(a *allocation.Allocation) string { return dollars(a.SharedCost + a.ExternalCost) }},
	{"TOTAL", func(a *allocation.Allocation) string { return dollars(a.TotalCost()) }},
	{"EFFICIENCY", func(a *allocation.Allocation) string { return percent(a.TotalEfficiency()) }},
}

func dollars(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	if math.Abs(v) < 0.005 {
		v = 0
	}
	return fmt.Sprintf("$%.2f", v)
}

func percent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", v*100)
}

// writeTable prints each set as an aligned table, most expensive row first,
// with a total line.
func writeTable(w io.Writer, sets []allocation.Set) error {
	for i, s := range sets {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "window %s .. %s\n", s.Window.Start.Format("2006-01-02T15:04Z"), s.Window.End.Format("2006-01-02T15:04Z"))
		if len(s.Allocations) == 0 {
			fmt.Fprintln(w, "no allocations")
			continue
		}
		rows := make([]*allocation.Allocation, len(s.Allocations))
		for j := range s.Allocations {
			rows[j] = &s.Allocations[j]
		}
		slices.SortStableFunc(rows, func(a, b *allocation.Allocation) int { return -cmpFloat(a.TotalCost(), b.TotalCost()) })
		total := totalRow(s)
		lines := [][]string{headerLine()}
		for _, a := range append(rows, &total) {
			lines = append(lines, tableLine(a))
		}
		if err := printAligned(w, lines); err != nil {
			return err
		}
	}
	return nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func headerLine() []string {
	line := []string{"NAME"}
	for _, c := range tableColumns {
		line = append(line, c.head)
	}
	return line
}

func tableLine(a *allocation.Allocation) []string {
	line := []string{a.Name}
	for _, c := range tableColumns {
		line = append(line, c.val(a))
	}
	return line
}

// totalRow sums a set into one row named TOTAL spanning its window: hours and
// costs add, and averages are weighted by each row's hours over the window's,
// as the summing rules have it.
func totalRow(s allocation.Set) allocation.Allocation {
	t := allocation.Allocation{Name: "TOTAL", Window: s.Window, Start: s.Window.Start, End: s.Window.End}
	span := t.Hours()
	for i := range s.Allocations {
		a := &s.Allocations[i]
		h := a.Hours() / span
		t.CPUCoreHours += a.CPUCoreHours
		t.CPUCoreRequestAverage += a.CPUCoreRequestAverage * h
		t.CPUCoreUsageAverage += a.CPUCoreUsageAverage * h
		t.CPUCost += a.CPUTotalCost()
		t.GPUHours += a.GPUHours
		t.GPURequestAverage += a.GPURequestAverage * h
		t.GPUUsageAverage += a.GPUUsageAverage * h
		t.GPUCost += a.GPUTotalCost()
		t.RAMByteHours += a.RAMByteHours
		t.RAMBytesRequestAverage += a.RAMBytesRequestAverage * h
		t.RAMBytesUsageAverage += a.RAMBytesUsageAverage * h
		t.RAMCost += a.RAMTotalCost()
		t.PVCostAdjustment += a.PVTotalCost()
		t.NetworkCost += a.NetworkTotalCost()
		t.LoadBalancerCost += a.LoadBalancerTotalCost()
		t.SharedCost += a.SharedCost
		t.ExternalCost += a.ExternalCost
	}
	return t
}

// printAligned writes lines with the first column left-aligned and the
// others right-aligned, two spaces apart.
func printAligned(w io.Writer, lines [][]string) error {
	widths := make([]int, len(lines[0]))
	for _, l := range lines {
		for i, c := range l {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for _, l := range lines {
		for i, c := range l {
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			switch {
			case i == 0:
				b.WriteString(c + pad)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// csvColumns are the CSV's columns after the window and name.
var csvColumns = []struct {
	head string
	val  func(a *allocation.Allocation) float64
}{
	{"minutes", (*allocation.Allocation).Minutes},
	{"cpu_cores", (*allocation.Allocation).CPUCores},
	{"cpu_core_hours", func(a *allocation.Allocation) float64 { return a.CPUCoreHours }},
	{"cpu_cost", (*allocation.Allocation).CPUTotalCost},
	{"gpu_hours", func(a *allocation.Allocation) float64 { return a.GPUHours }},
	{"gpu_cost", (*allocation.Allocation).GPUTotalCost},
	{"ram_bytes", (*allocation.Allocation).RAMBytes},
	{"ram_byte_hours", func(a *allocation.Allocation) float64 { return a.RAMByteHours }},
	{"ram_cost", (*allocation.Allocation).RAMTotalCost},
	{"pv_byte_hours", (*allocation.Allocation).PVByteHours},
	{"pv_cost", (*allocation.Allocation).PVTotalCost},
	{"network_cost", (*allocation.Allocation).NetworkTotalCost},
	{"load_balancer_cost", (*allocation.Allocation).LoadBalancerTotalCost},
	{"shared_cost", func(a *allocation.Allocation) float64 { return a.SharedCost }},
	{"external_cost", func(a *allocation.Allocation) float64 { return a.ExternalCost }},
	{"total_cost", (*allocation.Allocation).TotalCost},
	{"cpu_efficiency", (*allocation.Allocation).CPUEfficiency},
	{"ram_efficiency", (*allocation.Allocation).RAMEfficiency},
	{"total_efficiency", (*allocation.Allocation).TotalEfficiency},
}

// writeCSV writes one record per allocation per set, numbers rounded to 5
// decimals, NaN and infinities as empty fields.
func writeCSV(w io.Writer, sets []allocation.Set) error {
	cw := csv.NewWriter(w)
	head := []string{"window_start", "window_end", "name"}
	for _, c := range csvColumns {
		head = append(head, c.head)
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, s := range sets {
		for i := range s.Allocations {
			a := &s.Allocations[i]
			rec := []string{s.Window.Start.Format(time.RFC3339), s.Window.End.Format(time.RFC3339), a.Name}
			for _, c := range csvColumns {
				rec = append(rec, csvNumber(c.val(a)))
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	r := math.Round(v*1e5) / 1e5
	if r == 0 {
		r = 0
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}
