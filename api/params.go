package api

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/textdist"
)

// ParamError is a bad query parameter: the API answers it with 400 and the
// CLI with exit status 2, both naming the parameter.
type ParamError struct {
	Param string
	Err   error
}

func (e *ParamError) Error() string {
	msg := e.Err.Error()
	if rest, ok := strings.CutPrefix(msg, e.Param+":"); ok {
		msg = rest
	} else if rest, ok := strings.CutPrefix(msg, e.Param+" "); ok {
		msg = rest // `window "x": …` reads `window: "x": …`
	}
	return e.Param + ": " + strings.TrimSpace(msg)
}

func (e *ParamError) Unwrap() error { return e.Err }

func paramErr(param string, format string, args ...any) error {
	return &ParamError{Param: param, Err: fmt.Errorf(format, args...)}
}

// QueryParams are a query's parameters as strings, with the API's names and
// spellings; the CLI fills them from flags. Empty means unset.
type QueryParams struct {
	Window          string
	Aggregate       string
	Step            string
	Accumulate      string
	AccumulateBy    string // OpenCost's; when set it overrides Accumulate
	IncludeIdle     string
	IdleByNode      string
	SplitIdle       string
	ShareIdle       string
	ShareNamespaces string
	ShareLabels     string
	ShareCost       string
	ShareSplit      string
	Filter          string

	// Kubecost's legacy filters (allocation.ParseFilterV1), ANDed with Filter.
	FilterClusters        string
	FilterNodes           string
	FilterNamespaces      string
	FilterControllerKinds string
	FilterControllers     string
	FilterPods            string
	FilterContainers      string
	FilterLabels          string
	FilterAnnotations     string
	FilterServices        string

	// IncludeAggregatedMetadata keeps the labels and annotations rows summed
	// by a key share (OpenCost's includeAggregatedMetadata, default false).
	IncludeAggregatedMetadata string
}

// fields maps every parameter name the API acts on to its field. idle is
// includeIdle's alias.
func (p *QueryParams) fields() map[string]*string {
	return map[string]*string{
		"window": &p.Window, "aggregate": &p.Aggregate, "step": &p.Step, "accumulate": &p.Accumulate,
		"accumulateBy": &p.AccumulateBy, "includeIdle": &p.IncludeIdle, "idleByNode": &p.IdleByNode,
		"splitIdle": &p.SplitIdle, "shareIdle": &p.ShareIdle, "shareNamespaces": &p.ShareNamespaces,
		"shareLabels": &p.ShareLabels, "shareCost": &p.ShareCost, "shareSplit": &p.ShareSplit, "filter": &p.Filter,

		"filterClusters": &p.FilterClusters, "filterNodes": &p.FilterNodes, "filterNamespaces": &p.FilterNamespaces,
		"filterControllerKinds": &p.FilterControllerKinds, "filterControllers": &p.FilterControllers,
		"filterPods": &p.FilterPods, "filterContainers": &p.FilterContainers, "filterLabels": &p.FilterLabels,
		"filterAnnotations": &p.FilterAnnotations, "filterServices": &p.FilterServices,

		"includeAggregatedMetadata": &p.IncludeAggregatedMetadata,
	}
}

// v1Filters are the legacy filter parameters by name.
func (p *QueryParams) v1Filters() map[string]string {
	m := make(map[string]string, len(allocation.V1FilterParams))
	f := p.fields()
	for _, name := range allocation.V1FilterParams {
		m[name] = *f[name]
	}
	return m
}

// IgnoredParams are parameters that OpenCost and Kubecost clients send and
// that the API accepts without acting on, because what they ask for does not
// change the numbers costfed answers with (or is what costfed does anyway).
// Where only some values are harmless, the function refuses the others. Any
// other parameter the API does not know is a 400 naming it, so that a
// misspelt filter cannot silently answer with every row.
//
// Where the list comes from (checked December 2026):
//   - opencost/opencost-ui, app/services/allocation.ts: GET /allocation/compute
//     with window, aggregate, includeIdle, accumulate, filter, step (older
//     versions) and metrics.
//   - kubecost/kubectl-cost, pkg/cmd/aggregatedcommandbuilder.go, label.go,
//     tui.go: window, aggregate, accumulate, includeIdle, idle and
//     filterNamespaces (often empty).
//   - opencost/opencost-parquet-exporter, src/opencost_parquet_exporter.py:
//     window, includeIdle, idleByNode, includeProportionalAssetResourceCosts,
//     format=json, step, aggregate, resolution, accumulate.
//   - opencost/opencost, pkg/costmodel/aggregation.go ComputeAllocationHandler
//     reads resolution, accumulateBy, sharelb,
//     includeProportionalAssetResourceCosts and includeAggregatedMetadata.
//   - opencost/opencost-integration-tests, pkg/api/allocation.go: costUnit,
//     includeSharedCostBreakdown, includeAggregatedMetadata,
//     shareTenancyCosts besides the parameters above.
//   - Kubecost's /model/allocation documentation and clients: reconcile,
//     external, shareTenancyCosts, includeSharedCostBreakdown, format.
var IgnoredParams = map[string]func(string) error{
	// OpenCost's Prometheus query resolution; blocks are hourly.
	"resolution": nil,
	// Extra response fields costfed does not produce.
	"includeProportionalAssetResourceCosts": nil,
	"includeSharedCostBreakdown":            nil,
	"metrics":                               nil, // the UI's list of fields it reads; all are sent
	// Kubecost cost sources costfed does not have: cluster management
	// (tenancy) costs, reconciliation with the cloud bill, external costs.
	"shareTenancyCosts": nil,
	"reconcile":         nil,
	"external":          nil,
	"format":            onlyValues("json"),
	"costUnit":          onlyValues("cumulative"),
	"sharelb":           onlyValues("false"),
}

// onlyValues accepts an empty value or one of want (ignoring case), and
// refuses others.
func onlyValues(want ...string) func(string) error {
	return func(v string) error {
		v = strings.TrimSpace(v)
		if v == "" || slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(v, w) }) {
			return nil
		}
		return fmt.Errorf("%q is not supported (only %s)", v, strings.Join(want, ", "))
	}
}

// ParamsFromURL reads the /allocation parameters. includeIdle has the alias
// idle. A legacy filter given more than once is one comma list; any other
// parameter given twice must have one value. Parameters in IgnoredParams are
// accepted and dropped; any other unknown parameter is an error naming it.
// Errors are *ParamError.
func ParamsFromURL(v url.Values) (QueryParams, error) {
	var p QueryParams
	fields := p.fields()
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names) // the first error is the same every time
	for _, name := range names {
		vals := v[name]
		if name == "" || len(vals) == 0 {
			continue // "?=x" or "?&": no parameter to misspell
		}
		if check, ok := IgnoredParams[name]; ok {
			for _, val := range vals {
				if check == nil {
					break
				}
				if err := check(val); err != nil {
					return QueryParams{}, &ParamError{Param: name, Err: err}
				}
			}
			continue
		}
		field := fields[name]
		if name == "idle" {
			field = &p.IncludeIdle
		}
		if field == nil {
			return QueryParams{}, unknownParam(name)
		}
		if strings.HasPrefix(name, "filter") && name != "filter" {
			*field = strings.Join(vals, ",")
			continue
		}
		for _, val := range vals[1:] {
			if val != vals[0] {
				return QueryParams{}, paramErr(name, "given more than once with different values (%q, %q)", vals[0], val)
			}
		}
		if name == "idle" && v.Has("includeIdle") {
			continue // includeIdle wins over its alias
		}
		*field = vals[0]
	}
	return p, nil
}

// unknownParam is the error for a parameter the API neither acts on nor
// ignores, with a suggestion when the name is close to a known one.
func unknownParam(name string) error {
	var known []string
	for n := range (&QueryParams{}).fields() {
		known = append(known, n)
	}
	known = append(known, "idle")
	for n := range IgnoredParams {
		known = append(known, n)
	}
	slices.Sort(known)
	if len(name) > 100 {
		name = name[:100] + "…"
	}
	best, bestDist := "", 3
	for _, k := range known {
		if d := textdist.EditDistance(strings.ToLower(name), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return paramErr(name, "unknown parameter; did you mean %s?", best)
	}
	return paramErr(name, "unknown parameter (the parameters are listed in the README, \"API parameters\")")
}

// namespacePattern is a Kubernetes namespace name (an RFC 1123 label).
var namespacePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// maxParamLen bounds every parameter, so a request cannot make the parsers
// work on megabytes.
const maxParamLen = 8192

// Parse turns the parameters into a Query, relative to now for relative
// windows. Errors are *ParamError values naming the parameter.
func (p QueryParams) Parse(now time.Time) (Query, error) {
	var q Query
	var err error
	if err := p.checkLengths(); err != nil {
		return Query{}, err
	}
	if strings.TrimSpace(p.Window) == "" {
		return Query{}, paramErr("window", "required (%s)", windowForms)
	}
	if q.Window, err = ParseWindow(p.Window, now); err != nil {
		return Query{}, &ParamError{Param: "window", Err: err}
	}
	if q.Options.By, err = allocation.ParseAggregateBy(p.Aggregate); err != nil {
		return Query{}, &ParamError{Param: "aggregate", Err: err}
	}
	if q.Step, err = ParseStep(p.Step); err != nil {
		return Query{}, &ParamError{Param: "step", Err: err}
	}
	if q.Accumulate, err = allocation.ParseAccumulation(p.Accumulate); err != nil {
		return Query{}, &ParamError{Param: "accumulate", Err: err}
	}
	if strings.TrimSpace(p.AccumulateBy) != "" {
		if q.Accumulate, err = allocation.ParseAccumulation(p.AccumulateBy); err != nil {
			return Query{}, paramErr("accumulateBy", "%q: want all, hour, day, week, month or none", p.AccumulateBy)
		}
	}
	if err := p.parseIdle(&q.Options.Idle); err != nil {
		return Query{}, err
	}
	if err := p.parseShare(&q.Options.Share); err != nil {
		return Query{}, err
	}
	if q.Options.Filter, err = allocation.ParseFilter(p.Filter); err != nil {
		return Query{}, &ParamError{Param: "filter", Err: err}
	}
	v1, err := allocation.ParseFilterV1(p.v1Filters())
	if err != nil {
		param := "filter"
		var fe *allocation.V1FilterError
		if errors.As(err, &fe) {
			param = fe.Param
		}
		return Query{}, &ParamError{Param: param, Err: err}
	}
	q.Options.Filter = q.Options.Filter.And(v1)
	if q.Options.IncludeAggregatedMetadata, err = parseBool("includeAggregatedMetadata", p.IncludeAggregatedMetadata); err != nil {
		return Query{}, err
	}
	if err := validateQuery(q); err != nil {
		return Query{}, err
	}
	return q, nil
}

func (p QueryParams) checkLengths() error {
	fields := p.fields()
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if len(*fields[name]) > maxParamLen {
			return paramErr(name, "longer than %d bytes", maxParamLen)
		}
	}
	return nil
}

func (p QueryParams) parseIdle(o *allocation.IdleOptions) error {
	var err error
	if o.Include, err = parseBool("includeIdle", p.IncludeIdle); err != nil {
		return err
	}
	if o.ByNode, err = parseBool("idleByNode", p.IdleByNode); err != nil {
		return err
	}
	if o.Split, err = parseBool("splitIdle", p.SplitIdle); err != nil {
		return err
	}
	if o.Share, err = allocation.ParseShareMode(p.ShareIdle); err != nil {
		return &ParamError{Param: "shareIdle", Err: err}
	}
	return nil
}

func (p QueryParams) parseShare(o *allocation.ShareOptions) error {
	for _, ns := range strings.Split(p.ShareNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns == "" {
			continue
		}
		if !namespacePattern.MatchString(ns) {
			return paramErr("shareNamespaces", "%q is not a namespace name (lowercase letters, digits and '-', at most 63)", ns)
		}
		o.Namespaces = append(o.Namespaces, ns)
	}
	var err error
	if o.Labels, err = allocation.ParseLabelValues(p.ShareLabels); err != nil {
		return &ParamError{Param: "shareLabels", Err: err}
	}
	if s := strings.TrimSpace(p.ShareCost); s != "" {
		c, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(c) || math.IsInf(c, 0) || c < 0 {
			return paramErr("shareCost", "%q is not a non-negative number of dollars per hour", p.ShareCost)
		}
		o.CostPerHour = c
	}
	if o.Split, err = allocation.ParseShareMode(p.ShareSplit); err != nil {
		return &ParamError{Param: "shareSplit", Err: err}
	}
	if strings.TrimSpace(p.ShareSplit) != "" && o.Split == allocation.ShareNone {
		return paramErr("shareSplit", "%q: want weighted or even", p.ShareSplit)
	}
	return nil
}

func parseBool(param, s string) (bool, error) {
	if strings.TrimSpace(s) == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, paramErr(param, "%q is not true or false", s)
	}
	return b, nil
}

// ParseStep parses a step: a Go duration ("6h", "90m") or a number of days or
// weeks ("1d", "2w"). Empty is zero (the whole window). It must be a positive
// whole number of hours.
func ParseStep(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	d, err := parseDays(s)
	if err != nil {
		d, err = time.ParseDuration(s)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 1h, 6h, 1d or 1w", s)
	}
	if d <= 0 || d%time.Hour != 0 {
		return 0, fmt.Errorf("%q is not a positive whole number of hours (blocks are hourly at finest)", s)
	}
	return d, nil
}

func parseDays(s string) (time.Duration, error) {
	unit := map[byte]time.Duration{'d': day, 'w': 7 * day}[s[len(s)-1]]
	if unit == 0 {
		return 0, errors.New("not days or weeks")
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 || n > 100000 {
		return 0, errors.New("not a count")
	}
	return time.Duration(n) * unit, nil
}
