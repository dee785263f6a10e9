package allocation

// Scripted tests: every testdata/*.txt file is a script of fixture rows, commands
// and the rows each command must produce. New cases are data, not code.
//
// # Format
//
// A script is read line by line. Blank lines end an expect block; lines whose
// first token starts with '#' are comments, and '#' starts a comment anywhere a
// token could start. Tokens are separated by spaces; a token may quote parts of
// itself with "double quotes" (Go escapes) or 'single quotes' (taken literally),
// as in filter='namespace:"a","b"'.
//
//	epoch 2024-01-07T00:00:00Z   times written +DUR are relative to the epoch;
//	                             without this line the epoch is the first set's start
//	set FROM TO                  starts a fixture set with window [FROM, TO)
//	row  key=value …             a row of the current set
//	idle key=value …             an idle row (named <cluster>/<node>/__idle__)
//
//	COMMAND key=value … [| COMMAND key=value …]
//	expect [tolerance=T] [partial]
//	  [set FROM TO]              the answer set the following rows belong to
//	  NAME key=value …           an expected row: the listed fields are checked
//	expect error "text"          the command fails with an error containing text
//
// Times are RFC 3339 or +DUR/-DUR from the epoch, where DUR is a Go duration that
// may start with days (+1d6h). Numbers may be products and quotients evaluated
// left to right (10*2/3), each factor with an optional Ki, Mi, Gi or Ti suffix.
//
// Row fields: name (default <cluster>/<node>/<namespace>/<pod>/<container>),
// cluster node namespace pod container controller controllerKind providerID
// priceSource, services=a,b, start end (default the set's window), label.K=V
// annotation.K=V nsLabel.K=V nsAnnotation.K=V, pv.KEY.{cost,byteHours,adjustment,
// providerID}=V, lb.KEY.{cost,hours,adjustment,service,ip,private}=V, and every
// number field of Allocation in camel case (cpuCoreHours, cpuCost, ramByteHours,
// …; see numberFields), with the short forms cpuReq cpuUse cpuMax ramReq ramUse
// ramMax gpuReq gpuUse.
//
// Commands, each run on every set the previous step produced (the first on the
// fixture sets):
//
//	aggregate (or share) by=K,K filter=F includeIdle=B idleByNode=B splitIdle=B
//	          shareIdle=M shareNamespaces=a,b shareLabels=k=v,… shareCost=$/h
//	          shareSplit=M productLabel=a,b (and the other alias labels)
//	filter expr=F
//	accumulate by=all|hour|day|week|month   or   accumulate step=DUR [from=T to=T]
//
// Expected rows check every listed field: all row fields above, plus derived ones
// (totalCost, cpuTotalCost, gpuTotalCost, ramTotalCost, pvCost, pvByteHours,
// pvBytes, cpuCores, ramBytes, gpuCount, cpuEfficiency, ramEfficiency,
// gpuEfficiency, totalEfficiency, minutes, hours), labels=k:v,… (the exact label
// set) and pvs=KEY,… (the exact volume keys). A number matches when it is within
// T × max(1, |want|) (T defaults to 1e-9). Every answer row must be listed unless
// the block says partial.

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

//go:embed testdata/*.txt
var scriptFiles embed.FS

func TestScripts(t *testing.T) {
	names, err := fs.Glob(scriptFiles, "testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 10 {
		t.Fatalf("found %d scripts in testdata, want at least 10", len(names))
	}
	for _, name := range names {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(name, "testdata/"), ".txt"), func(t *testing.T) {
			src, err := scriptFiles.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range runScript(name, string(src)) {
				t.Error(err)
			}
		})
	}
}

// runScript parses and runs a script, returning every failure.
func runScript(file, src string) []error {
	sc, err := parseScript(file, src)
	if err != nil {
		return []error{err}
	}
	if len(sc.cases) == 0 {
		return []error{fmt.Errorf("%s: no commands", file)}
	}
	var errs []error
	for _, c := range sc.cases {
		errs = append(errs, sc.run(c)...)
	}
	return errs
}

type script struct {
	file     string
	epoch    time.Time
	hasEpoch bool
	sets     []Set
	cases    []scriptCase
}

type kv struct{ key, value string }

type scriptStep struct {
	cmd  string
	args []kv
}

type scriptCase struct {
	line   int
	steps  []scriptStep
	expect expectation
}

type expectation struct {
	line      int
	err       string
	wantErr   bool
	tolerance float64
	partial   bool
	sets      []expectedSet
}

type expectedSet struct {
	line   int
	window *Window
	rows   []expectedRow
}

type expectedRow struct {
	line   int
	name   string
	fields []kv
}

// scriptParser holds the parse state.
type scriptParser struct {
	sc      *script
	line    int
	pending *scriptCase // a command waiting for its expect line
	block   *expectation
}

func parseScript(file, src string) (*script, error) {
	p := &scriptParser{sc: &script{file: file}}
	for i, text := range strings.Split(src, "\n") {
		p.line = i + 1
		toks, err := tokenize(text)
		if err != nil {
			return nil, p.errorf("%v", err)
		}
		if err := p.parseLine(toks, strings.TrimSpace(text) == ""); err != nil {
			return nil, err
		}
	}
	if p.pending != nil {
		return nil, fmt.Errorf("%s:%d: command without an expect line", file, p.pending.line)
	}
	return p.sc, nil
}

func (p *scriptParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.sc.file, p.line, fmt.Sprintf(format, args...))
}

func (p *scriptParser) parseLine(toks []string, blank bool) error {
	if blank {
		p.block = nil
		return nil
	}
	if len(toks) == 0 {
		return nil // a comment
	}
	if p.block != nil {
		return p.parseExpectLine(toks)
	}
	if p.pending != nil && toks[0] != "expect" {
		return p.errorf("expected an expect line after the command on line %d", p.pending.line)
	}
	switch toks[0] {
	case "epoch":
		return p.parseEpoch(toks)
	case "set":
		return p.parseSet(toks)
	case "row", "idle":
		return p.parseRow(toks)
	case "expect":
		return p.parseExpect(toks)
	case "aggregate", "share", "filter", "accumulate":
		return p.parseCommand(toks)
	}
	return p.errorf("unknown directive %q", toks[0])
}

func (p *scriptParser) parseEpoch(toks []string) error {
	if len(toks) != 2 || len(p.sc.sets) > 0 {
		return p.errorf("want 'epoch RFC3339' before any set")
	}
	t, err := time.Parse(time.RFC3339, toks[1])
	if err != nil {
		return p.errorf("epoch: %v", err)
	}
	p.sc.epoch, p.sc.hasEpoch = t.UTC(), true
	return nil
}

func (p *scriptParser) parseSet(toks []string) error {
	if len(toks) != 3 {
		return p.errorf("want 'set FROM TO'")
	}
	if !p.sc.hasEpoch {
		t, err := time.Parse(time.RFC3339, toks[1])
		if err != nil {
			return p.errorf("the first set needs an RFC 3339 start (or an epoch line): %v", err)
		}
		p.sc.epoch, p.sc.hasEpoch = t.UTC(), true
	}
	w, err := p.sc.window(toks[1], toks[2])
	if err != nil {
		return p.errorf("%v", err)
	}
	p.sc.sets = append(p.sc.sets, Set{Window: w})
	return nil
}

func (p *scriptParser) parseRow(toks []string) error {
	if len(p.sc.sets) == 0 {
		return p.errorf("row before any set")
	}
	set := &p.sc.sets[len(p.sc.sets)-1]
	args, err := keyValues(toks[1:])
	if err != nil {
		return p.errorf("%v", err)
	}
	a, err := p.sc.buildRow(set.Window, toks[0] == "idle", args)
	if err != nil {
		return p.errorf("%v", err)
	}
	set.Allocations = append(set.Allocations, a)
	return nil
}

func (p *scriptParser) parseCommand(toks []string) error {
	c := scriptCase{line: p.line}
	for _, group := range splitPipeline(toks) {
		if len(group) == 0 {
			return p.errorf("empty step in a pipeline")
		}
		args, err := keyValues(group[1:])
		if err != nil {
			return p.errorf("%v", err)
		}
		c.steps = append(c.steps, scriptStep{cmd: group[0], args: args})
	}
	p.pending = &c
	return nil
}

func splitPipeline(toks []string) [][]string {
	var out [][]string
	cur := []string{}
	for _, t := range toks {
		if t == "|" {
			out = append(out, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, t)
	}
	return append(out, cur)
}

func (p *scriptParser) parseExpect(toks []string) error {
	if p.pending == nil {
		return p.errorf("expect without a command before it")
	}
	e := expectation{line: p.line, tolerance: 1e-9}
	rest := toks[1:]
	if len(rest) > 0 && rest[0] == "error" {
		if len(rest) != 2 {
			return p.errorf(`want 'expect error "text"'`)
		}
		e.wantErr, e.err = true, rest[1]
	} else if err := e.parseOptions(rest); err != nil {
		return p.errorf("%v", err)
	}
	p.pending.expect = e
	p.sc.cases = append(p.sc.cases, *p.pending)
	p.pending = nil
	if !e.wantErr {
		p.block = &p.sc.cases[len(p.sc.cases)-1].expect
	}
	return nil
}

func (e *expectation) parseOptions(toks []string) error {
	for _, t := range toks {
		switch k, v, _ := strings.Cut(t, "="); k {
		case "partial":
			e.partial = true
		case "tolerance":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return fmt.Errorf("tolerance %q: want a non-negative number", v)
			}
			e.tolerance = f
		default:
			return fmt.Errorf("unknown expect option %q", t)
		}
	}
	return nil
}

func (p *scriptParser) parseExpectLine(toks []string) error {
	e := p.block
	if toks[0] == "set" {
		if len(toks) != 3 {
			return p.errorf("want 'set FROM TO'")
		}
		w, err := p.sc.window(toks[1], toks[2])
		if err != nil {
			return p.errorf("%v", err)
		}
		e.sets = append(e.sets, expectedSet{line: p.line, window: &w})
		return nil
	}
	if len(e.sets) == 0 {
		e.sets = append(e.sets, expectedSet{line: p.line})
	}
	fields, err := keyValues(toks[1:])
	if err != nil {
		return p.errorf("%v", err)
	}
	s := &e.sets[len(e.sets)-1]
	s.rows = append(s.rows, expectedRow{line: p.line, name: toks[0], fields: fields})
	return nil
}

// tokenize splits a line into tokens, removing quotes and comments.
func tokenize(line string) ([]string, error) {
	var toks []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
			i++
		}
		if i >= len(line) || line[i] == '#' {
			return toks, nil
		}
		tok, next, err := readToken(line, i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, tok)
		i = next
	}
}

func readToken(line string, i int) (string, int, error) {
	var b strings.Builder
	for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' {
		switch c := line[i]; c {
		case '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return "", 0, fmt.Errorf("unterminated ' at column %d", i+1)
			}
			b.WriteString(line[i+1 : i+1+end])
			i += end + 2
		case '"':
			q, err := strconv.QuotedPrefix(line[i:])
			if err != nil {
				return "", 0, fmt.Errorf("bad \"quoted\" text at column %d: %v", i+1, err)
			}
			s, _ := strconv.Unquote(q)
			b.WriteString(s)
			i += len(q)
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), i, nil
}

func keyValues(toks []string) ([]kv, error) {
	out := make([]kv, 0, len(toks))
	for _, t := range toks {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want key=value", t)
		}
		out = append(out, kv{k, v})
	}
	return out, nil
}

// time parses a time: RFC 3339, or +DUR / -DUR from the epoch.
func (sc *script) time(s string) (time.Time, error) {
	if s == "" || (s[0] != '+' && s[0] != '-') {
		t, err := time.Parse(time.RFC3339, s)
		return t.UTC(), err
	}
	d, err := parseDays(s[1:])
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %v", s, err)
	}
	if s[0] == '-' {
		d = -d
	}
	return sc.epoch.Add(d), nil
}

// parseDays parses a Go duration that may start with a number of days: 1d6h.
func parseDays(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, err
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	if s == "" {
		return days, nil
	}
	d, err := time.ParseDuration(s)
	return days + d, err
}

func (sc *script) window(from, to string) (Window, error) {
	s, err := sc.time(from)
	if err != nil {
		return Window{}, err
	}
	e, err := sc.time(to)
	if err != nil {
		return Window{}, err
	}
	return NewWindow(s, e)
}

// parseNumber evaluates factors joined by * and /, left to right; each factor is a
// float with an optional Ki, Mi, Gi or Ti suffix.
func parseNumber(s string) (float64, error) {
	var result float64
	op := byte('*')
	rest := s
	first := true
	for {
		i := strings.IndexAny(rest, "*/")
		factor := rest
		if i >= 0 {
			factor = rest[:i]
		}
		f, err := parseFactor(factor)
		if err != nil {
			return 0, fmt.Errorf("number %q: %v", s, err)
		}
		switch {
		case first:
			result, first = f, false
		case op == '*':
			result *= f
		default:
			result /= f
		}
		if i < 0 {
			return result, nil
		}
		op, rest = rest[i], rest[i+1:]
	}
}

func parseFactor(s string) (float64, error) {
	mult := 1.0
	for suffix, m := range map[string]float64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f * mult, err
}

// numberFields maps script names to Allocation's number fields.
var numberFields = map[string]func(*Allocation) *float64{
	"cpuCoreHours":               func(a *Allocation) *float64 { return &a.CPUCoreHours },
	"cpuCoreRequestAverage":      func(a *Allocation) *float64 { return &a.CPUCoreRequestAverage },
	"cpuCoreUsageAverage":        func(a *Allocation) *float64 { return &a.CPUCoreUsageAverage },
	"cpuCoreUsageMax":            func(a *Allocation) *float64 { return &a.CPUCoreUsageMax },
	"cpuCost":                    func(a *Allocation) *float64 { return &a.CPUCost },
	"cpuCostAdjustment":          func(a *Allocation) *float64 { return &a.CPUCostAdjustment },
	"cpuCostIdle":                func(a *Allocation) *float64 { return &a.CPUCostIdle },
	"gpuHours":                   func(a *Allocation) *float64 { return &a.GPUHours },
	"gpuRequestAverage":          func(a *Allocation) *float64 { return &a.GPURequestAverage },
	"gpuUsageAverage":            func(a *Allocation) *float64 { return &a.GPUUsageAverage },
	"gpuCost":                    func(a *Allocation) *float64 { return &a.GPUCost },
	"gpuCostAdjustment":          func(a *Allocation) *float64 { return &a.GPUCostAdjustment },
	"gpuCostIdle":                func(a *Allocation) *float64 { return &a.GPUCostIdle },
	"ramByteHours":               func(a *Allocation) *float64 { return &a.RAMByteHours },
	"ramBytesRequestAverage":     func(a *Allocation) *float64 { return &a.RAMBytesRequestAverage },
	"ramBytesUsageAverage":       func(a *Allocation) *float64 { return &a.RAMBytesUsageAverage },
	"ramBytesUsageMax":           func(a *Allocation) *float64 { return &a.RAMBytesUsageMax },
	"ramCost":                    func(a *Allocation) *float64 { return &a.RAMCost },
	"ramCostAdjustment":          func(a *Allocation) *float64 { return &a.RAMCostAdjustment },
	"ramCostIdle":                func(a *Allocation) *float64 { return &a.RAMCostIdle },
	"networkTransferBytes":       func(a *Allocation) *float64 { return &a.NetworkTransferBytes },
	"networkReceiveBytes":        func(a *Allocation) *float64 { return &a.NetworkReceiveBytes },
	"networkCost":                func(a *Allocation) *float64 { return &a.NetworkCost },
	"networkCrossZoneCost":       func(a *Allocation) *float64 { return &a.NetworkCrossZoneCost },
	"networkCrossRegionCost":     func(a *Allocation) *float64 { return &a.NetworkCrossRegionCost },
	"networkInternetCost":        func(a *Allocation) *float64 { return &a.NetworkInternetCost },
	"networkCostAdjustment":      func(a *Allocation) *float64 { return &a.NetworkCostAdjustment },
	"loadBalancerCost":           func(a *Allocation) *float64 { return &a.LoadBalancerCost },
	"loadBalancerCostAdjustment": func(a *Allocation) *float64 { return &a.LoadBalancerCostAdjustment },
	"pvCostAdjustment":           func(a *Allocation) *float64 { return &a.PVCostAdjustment },
	"sharedCost":                 func(a *Allocation) *float64 { return &a.SharedCost },
	"externalCost":               func(a *Allocation) *float64 { return &a.ExternalCost },
}

var numberAliases = map[string]string{
	"cpuReq": "cpuCoreRequestAverage", "cpuUse": "cpuCoreUsageAverage", "cpuMax": "cpuCoreUsageMax",
	"ramReq": "ramBytesRequestAverage", "ramUse": "ramBytesUsageAverage", "ramMax": "ramBytesUsageMax",
	"gpuReq": "gpuRequestAverage", "gpuUse": "gpuUsageAverage",
}

func numberField(name string) (func(*Allocation) *float64, bool) {
	if full, ok := numberAliases[name]; ok {
		name = full
	}
	f, ok := numberFields[name]
	return f, ok
}

// derivedFields are the computed values an expectation can check.
var derivedFields = map[string]func(*Allocation) float64{
	"totalCost":       (*Allocation).TotalCost,
	"cpuTotalCost":    (*Allocation).CPUTotalCost,
	"gpuTotalCost":    (*Allocation).GPUTotalCost,
	"ramTotalCost":    (*Allocation).RAMTotalCost,
	"pvCost":          (*Allocation).PVCost,
	"pvByteHours":     (*Allocation).PVByteHours,
	"pvBytes":         (*Allocation).PVBytes,
	"cpuCores":        (*Allocation).CPUCores,
	"ramBytes":        (*Allocation).RAMBytes,
	"gpuCount":        (*Allocation).GPUCount,
	"cpuEfficiency":   (*Allocation).CPUEfficiency,
	"ramEfficiency":   (*Allocation).RAMEfficiency,
	"gpuEfficiency":   (*Allocation).GPUEfficiency,
	"totalEfficiency": (*Allocation).TotalEfficiency,
	"minutes":         (*Allocation).Minutes,
	"hours":           (*Allocation).Hours,
}

// stringFields maps script names to Properties' string fields.
var stringFields = map[string]func(*Allocation) *string{
	"cluster":        func(a *Allocation) *string { return &a.Properties.Cluster },
	"node":           func(a *Allocation) *string { return &a.Properties.Node },
	"namespace":      func(a *Allocation) *string { return &a.Properties.Namespace },
	"pod":            func(a *Allocation) *string { return &a.Properties.Pod },
	"container":      func(a *Allocation) *string { return &a.Properties.Container },
	"controller":     func(a *Allocation) *string { return &a.Properties.Controller },
	"controllerKind": func(a *Allocation) *string { return &a.Properties.ControllerKind },
	"providerID":     func(a *Allocation) *string { return &a.Properties.ProviderID },
	"priceSource":    func(a *Allocation) *string { return &a.PriceSource },
}

// mapFields maps the prefixes of map fields to the maps.
var mapFields = map[string]func(*Properties) *map[string]string{
	"label":        func(p *Properties) *map[string]string { return &p.Labels },
	"annotation":   func(p *Properties) *map[string]string { return &p.Annotations },
	"nsLabel":      func(p *Properties) *map[string]string { return &p.NamespaceLabels },
	"nsAnnotation": func(p *Properties) *map[string]string { return &p.NamespaceAnnotations },
}

// buildRow makes a fixture row from its fields.
func (sc *script) buildRow(w Window, idle bool, args []kv) (Allocation, error) {
	a := Allocation{Window: w, Start: w.Start, End: w.End}
	for _, f := range args {
		if err := sc.setField(&a, f); err != nil {
			return Allocation{}, err
		}
	}
	if a.Name == "" {
		p := a.Properties
		if idle {
			a.Name = p.Cluster + "/" + p.Node + "/" + IdleSuffix
		} else {
			a.Name = strings.Join([]string{p.Cluster, p.Node, p.Namespace, p.Pod, p.Container}, "/")
		}
	}
	return a, nil
}

func (sc *script) setField(a *Allocation, f kv) error {
	if get, ok := numberField(f.key); ok {
		v, err := parseNumber(f.value)
		*get(a) = v
		return err
	}
	if get, ok := stringFields[f.key]; ok {
		*get(a) = f.value
		return nil
	}
	switch f.key {
	case "name":
		a.Name = f.value
	case "services":
		a.Properties.Services = strings.Split(f.value, ",")
	case "start", "end":
		t, err := sc.time(f.value)
		if err != nil {
			return err
		}
		if f.key == "start" {
			a.Start = t
		} else {
			a.End = t
		}
	default:
		return setNested(a, f)
	}
	return nil
}

// setNested sets label.K, pv.KEY.FIELD and lb.KEY.FIELD fields.
func setNested(a *Allocation, f kv) error {
	prefix, rest, ok := strings.Cut(f.key, ".")
	if !ok {
		return fmt.Errorf("unknown row field %q", f.key)
	}
	if get, ok := mapFields[prefix]; ok {
		m := get(&a.Properties)
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[rest] = f.value
		return nil
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return fmt.Errorf("field %q: want %s.KEY.FIELD", f.key, prefix)
	}
	key, field := rest[:dot], rest[dot+1:]
	switch prefix {
	case "pv":
		return setPV(a, key, field, f.value)
	case "lb":
		return setLB(a, key, field, f.value)
	}
	return fmt.Errorf("unknown row field %q", f.key)
}

func setPV(a *Allocation, key, field, value string) error {
	i := slices.IndexFunc(a.PVs, func(pv PVAllocation) bool { return pv.Key == key })
	if i < 0 {
		a.PVs = append(a.PVs, PVAllocation{Key: key})
		i = len(a.PVs) - 1
	}
	pv := &a.PVs[i]
	if field == "providerID" {
		pv.ProviderID = value
		return nil
	}
	v, err := parseNumber(value)
	switch field {
	case "cost":
		pv.Cost = v
	case "byteHours":
		pv.ByteHours = v
	case "adjustment":
		pv.Adjustment = v
	default:
		return fmt.Errorf("unknown pv field %q", field)
	}
	return err
}

func setLB(a *Allocation, key, field, value string) error {
	i := slices.IndexFunc(a.LoadBalancers, func(lb LBAllocation) bool { return lb.Key == key })
	if i < 0 {
		a.LoadBalancers = append(a.LoadBalancers, LBAllocation{Key: key})
		i = len(a.LoadBalancers) - 1
	}
	lb := &a.LoadBalancers[i]
	switch field {
	case "service":
		lb.Service = value
		return nil
	case "ip":
		lb.IP = value
		return nil
	case "private":
		lb.Private = value == "true"
		return nil
	}
	v, err := parseNumber(value)
	switch field {
	case "cost":
		lb.Cost = v
	case "hours":
		lb.Hours = v
	case "adjustment":
		lb.Adjustment = v
	default:
		return fmt.Errorf("unknown lb field %q", field)
	}
	return err
}

// run executes one command pipeline and checks its expectation.
func (sc *script) run(c scriptCase) []error {
	at := fmt.Sprintf("%s:%d", sc.file, c.line)
	sets := sc.sets
	var err error
	for _, st := range c.steps {
		if sets, err = sc.runStep(st, sets); err != nil {
			break
		}
	}
	e := c.expect
	switch {
	case e.wantErr && err == nil:
		return []error{fmt.Errorf("%s: succeeded, want an error containing %q", at, e.err)}
	case e.wantErr && !strings.Contains(err.Error(), e.err):
		return []error{fmt.Errorf("%s: error %q does not contain %q", at, err, e.err)}
	case e.wantErr:
		return nil
	case err != nil:
		return []error{fmt.Errorf("%s: %v", at, err)}
	}
	return sc.check(at, e, sets)
}

func (sc *script) runStep(st scriptStep, sets []Set) ([]Set, error) {
	switch st.cmd {
	case "aggregate", "share":
		opts, err := aggregateOptions(st.args)
		if err != nil {
			return nil, err
		}
		return eachSet(sets, func(s Set) (Set, error) { return s.Aggregate(opts) })
	case "filter":
		f, err := filterArg(st.args)
		if err != nil {
			return nil, err
		}
		return eachSet(sets, func(s Set) (Set, error) { return s.Filter(f), nil })
	case "accumulate":
		return sc.accumulate(st.args, sets)
	}
	return nil, fmt.Errorf("unknown command %q", st.cmd)
}

func eachSet(sets []Set, f func(Set) (Set, error)) ([]Set, error) {
	out := make([]Set, len(sets))
	for i, s := range sets {
		r, err := f(s)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

func filterArg(args []kv) (Filter, error) {
	if len(args) != 1 || args[0].key != "expr" {
		return Filter{}, errors.New("filter: want expr=FILTER")
	}
	return ParseFilter(args[0].value)
}

// aggregateOptions maps the API's parameter names to AggregateOptions.
func aggregateOptions(args []kv) (AggregateOptions, error) {
	var o AggregateOptions
	var err error
	for _, a := range args {
		switch a.key {
		case "by":
			o.By, err = ParseAggregateBy(a.value)
		case "filter":
			o.Filter, err = ParseFilter(a.value)
		case "includeIdle":
			o.Idle.Include, err = strconv.ParseBool(a.value)
		case "idleByNode":
			o.Idle.ByNode, err = strconv.ParseBool(a.value)
		case "splitIdle":
			o.Idle.Split, err = strconv.ParseBool(a.value)
		case "shareIdle":
			o.Idle.Share, err = ParseShareMode(a.value)
		case "shareNamespaces":
			o.Share.Namespaces = strings.Split(a.value, ",")
		case "shareLabels":
			o.Share.Labels, err = ParseLabelValues(a.value)
		case "shareCost":
			o.Share.CostPerHour, err = parseNumber(a.value)
		case "shareSplit":
			o.Share.Split, err = ParseShareMode(a.value)
		case "includeAggregatedMetadata":
			o.IncludeAggregatedMetadata, err = strconv.ParseBool(a.value)
		default:
			err = setAliasLabel(&o, a)
		}
		if err != nil {
			return o, fmt.Errorf("%s: %w", a.key, err)
		}
	}
	return o, nil
}

func setAliasLabel(o *AggregateOptions, a kv) error {
	if o.Labels == nil {
		d := DefaultLabelConfig()
		o.Labels = &d
	}
	names := strings.Split(a.value, ",")
	switch a.key {
	case "departmentLabel":
		o.Labels.Department = names
	case "environmentLabel":
		o.Labels.Environment = names
	case "ownerLabel":
		o.Labels.Owner = names
	case "productLabel":
		o.Labels.Product = names
	case "teamLabel":
		o.Labels.Team = names
	default:
		return fmt.Errorf("unknown option")
	}
	return nil
}

func (sc *script) accumulate(args []kv, sets []Set) ([]Set, error) {
	var by Accumulation
	var step time.Duration
	var w Window
	hasStep := false
	var err error
	for _, a := range args {
		switch a.key {
		case "by":
			by, err = ParseAccumulation(a.value)
		case "step":
			step, err = parseDays(a.value)
			hasStep = true
		case "from":
			w.Start, err = sc.time(a.value)
		case "to":
			w.End, err = sc.time(a.value)
		default:
			err = errors.New("unknown option")
		}
		if err != nil {
			return nil, fmt.Errorf("accumulate %s: %w", a.key, err)
		}
	}
	if !hasStep {
		return Accumulate(sets, by)
	}
	if w.Start.IsZero() || w.End.IsZero() {
		return nil, errors.New("accumulate step=…: want from=T to=T")
	}
	return AccumulateSteps(sets, w, step)
}

// check compares the answer with the expectation.
func (sc *script) check(at string, e expectation, got []Set) []error {
	if len(e.sets) == 0 {
		e.sets = []expectedSet{{line: e.line}}
	}
	if len(got) != len(e.sets) {
		return []error{fmt.Errorf("%s: the answer has %d sets, the expectation lists %d%s", at, len(got), len(e.sets), describeSets(got))}
	}
	var errs []error
	for i, want := range e.sets {
		errs = append(errs, sc.checkSet(e, want, got[i])...)
	}
	if len(errs) > 0 {
		errs = append(errs, fmt.Errorf("%s: the answer was:%s", at, describeSets(got)))
	}
	return errs
}

func (sc *script) checkSet(e expectation, want expectedSet, got Set) []error {
	at := fmt.Sprintf("%s:%d", sc.file, want.line)
	var errs []error
	if want.window != nil && (!want.window.Start.Equal(got.Window.Start) || !want.window.End.Equal(got.Window.End)) {
		errs = append(errs, fmt.Errorf("%s: set window %s, want %s", at, got.Window, want.window))
	}
	listed := map[string]bool{}
	for _, r := range want.rows {
		listed[r.name] = true
		row, ok := got.Get(r.name)
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d: no row %q", sc.file, r.line, r.name))
			continue
		}
		for _, f := range r.fields {
			if err := sc.checkField(&row, f, e.tolerance); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: row %q: %v", sc.file, r.line, r.name, err))
			}
		}
	}
	if !e.partial {
		for _, a := range got.Allocations {
			if !listed[a.Name] {
				errs = append(errs, fmt.Errorf("%s: unexpected row %q", at, a.Name))
			}
		}
	}
	return errs
}

func (sc *script) checkField(a *Allocation, f kv, tol float64) error {
	if got, ok, err := numberOf(a, f.key); ok || err != nil {
		if err != nil {
			return err
		}
		want, err := parseNumber(f.value)
		if err != nil {
			return err
		}
		if math.Abs(got-want) > tol*max(1, math.Abs(want)) || math.IsNaN(got) {
			return fmt.Errorf("%s = %.10g, want %.10g (±%g)", f.key, got, want, tol*max(1, math.Abs(want)))
		}
		return nil
	}
	got, want, err := sc.textOf(a, f)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s = %q, want %q", f.key, got, want)
	}
	return nil
}

// numberOf reads a number field, derived value, or pv./lb. number.
func numberOf(a *Allocation, key string) (float64, bool, error) {
	if get, ok := numberField(key); ok {
		return *get(a), true, nil
	}
	if get, ok := derivedFields[key]; ok {
		return get(a), true, nil
	}
	prefix, rest, _ := strings.Cut(key, ".")
	dot := strings.LastIndexByte(rest, '.')
	if (prefix != "pv" && prefix != "lb") || dot < 0 {
		return 0, false, nil
	}
	k, field := rest[:dot], rest[dot+1:]
	if prefix == "pv" {
		i := slices.IndexFunc(a.PVs, func(pv PVAllocation) bool { return pv.Key == k })
		if i < 0 {
			return 0, true, fmt.Errorf("no pv %q", k)
		}
		switch pv := a.PVs[i]; field {
		case "cost":
			return pv.Cost, true, nil
		case "byteHours":
			return pv.ByteHours, true, nil
		case "adjustment":
			return pv.Adjustment, true, nil
		}
		return 0, false, nil
	}
	i := slices.IndexFunc(a.LoadBalancers, func(lb LBAllocation) bool { return lb.Key == k })
	if i < 0 {
		return 0, true, fmt.Errorf("no lb %q", k)
	}
	switch lb := a.LoadBalancers[i]; field {
	case "cost":
		return lb.Cost, true, nil
	case "hours":
		return lb.Hours, true, nil
	case "adjustment":
		return lb.Adjustment, true, nil
	}
	return 0, false, nil
}

// textOf reads a text field and normalises the expected value.
func (sc *script) textOf(a *Allocation, f kv) (got, want string, err error) {
	if get, ok := stringFields[f.key]; ok {
		return *get(a), f.value, nil
	}
	switch f.key {
	case "services":
		return strings.Join(a.Properties.Services, ","), f.value, nil
	case "labels":
		return formatMap(a.Properties.Labels), f.value, nil
	case "pvs":
		keys := make([]string, len(a.PVs))
		for i, pv := range a.PVs {
			keys[i] = pv.Key
		}
		return strings.Join(keys, ","), f.value, nil
	case "start", "end":
		t, err := sc.time(f.value)
		if err != nil {
			return "", "", err
		}
		g := a.Start
		if f.key == "end" {
			g = a.End
		}
		return g.UTC().Format(time.RFC3339), t.Format(time.RFC3339), nil
	}
	prefix, rest, _ := strings.Cut(f.key, ".")
	if get, ok := mapFields[prefix]; ok {
		return (*get(&a.Properties))[rest], f.value, nil
	}
	if prefix == "lb" {
		return lbText(a, rest, f.value)
	}
	return "", "", fmt.Errorf("unknown field %q", f.key)
}

func lbText(a *Allocation, rest, want string) (string, string, error) {
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return "", "", fmt.Errorf("want lb.KEY.FIELD")
	}
	k, field := rest[:dot], rest[dot+1:]
	i := slices.IndexFunc(a.LoadBalancers, func(lb LBAllocation) bool { return lb.Key == k })
	if i < 0 {
		return "", "", fmt.Errorf("no lb %q", k)
	}
	lb := a.LoadBalancers[i]
	switch field {
	case "service":
		return lb.Service, want, nil
	case "ip":
		return lb.IP, want, nil
	case "private":
		return strconv.FormatBool(lb.Private), want, nil
	}
	return "", "", fmt.Errorf("unknown lb field %q", field)
}

func formatMap(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + m[k]
	}
	return strings.Join(parts, ",")
}

// describeSets prints an answer compactly, for failure messages.
func describeSets(sets []Set) string {
	var b strings.Builder
	for _, s := range sets {
		fmt.Fprintf(&b, "\n  set %s", s.Window)
		for i := range s.Allocations {
			fmt.Fprintf(&b, "\n    %s", describeRow(&s.Allocations[i]))
		}
	}
	return b.String()
}

func describeRow(a *Allocation) string {
	parts := []string{a.Name}
	for _, name := range slices.Sorted(maps.Keys(numberFields)) {
		if v := *numberFields[name](a); v != 0 {
			parts = append(parts, fmt.Sprintf("%s=%.6g", name, v))
		}
	}
	parts = append(parts, fmt.Sprintf("totalCost=%.6g", a.TotalCost()))
	return strings.Join(parts, " ")
}
