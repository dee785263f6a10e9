package api

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/costfed/costfed/allocation"
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
	IncludeIdle     string
	IdleByNode      string
	SplitIdle       string
	ShareIdle       string
	ShareNamespaces string
	ShareLabels     string
	ShareCost       string
	ShareSplit      string
	Filter          string
	// IncludeAggregatedMetadata keeps the labels and annotations rows summed
	// by a key share (OpenCost's includeAggregatedMetadata, default false).
	IncludeAggregatedMetadata string
}

// ParamsFromURL reads the /allocation parameters. includeIdle has the alias
// idle. Unknown parameters are ignored, as OpenCost clients send some this
// server does not need (includeProportionalAssetResourceCosts, …).
func ParamsFromURL(v url.Values) QueryParams {
	idle := v.Get("includeIdle")
	if idle == "" {
		idle = v.Get("idle")
	}
	return QueryParams{
		Window:          v.Get("window"),
		Aggregate:       v.Get("aggregate"),
		Step:            v.Get("step"),
		Accumulate:      v.Get("accumulate"),
		IncludeIdle:     idle,
		IdleByNode:      v.Get("idleByNode"),
		SplitIdle:       v.Get("splitIdle"),
		ShareIdle:       v.Get("shareIdle"),
		ShareNamespaces: v.Get("shareNamespaces"),
		ShareLabels:     v.Get("shareLabels"),
		ShareCost:       v.Get("shareCost"),
		ShareSplit:      v.Get("shareSplit"),
		Filter:          v.Get("filter"),

		IncludeAggregatedMetadata: v.Get("includeAggregatedMetadata"),
	}
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
		return Query{}, paramErr("window", "required (e.g. 7d, today, lastweek, or start,end)")
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
	if err := p.parseIdle(&q.Options.Idle); err != nil {
		return Query{}, err
	}
	if err := p.parseShare(&q.Options.Share); err != nil {
		return Query{}, err
	}
	if q.Options.Filter, err = allocation.ParseFilter(p.Filter); err != nil {
		return Query{}, &ParamError{Param: "filter", Err: err}
	}
	if q.Options.IncludeAggregatedMetadata, err = parseBool("includeAggregatedMetadata", p.IncludeAggregatedMetadata); err != nil {
		return Query{}, err
	}
	if err := validateQuery(q); err != nil {
		return Query{}, err
	}
	return q, nil
}

func (p QueryParams) checkLengths() error {
	for name, v := range map[string]string{
		"window": p.Window, "aggregate": p.Aggregate, "step": p.Step, "accumulate": p.Accumulate,
		"includeIdle": p.IncludeIdle, "idleByNode": p.IdleByNode, "splitIdle": p.SplitIdle,
		"shareIdle": p.ShareIdle, "shareNamespaces": p.ShareNamespaces, "shareLabels": p.ShareLabels,
		"shareCost": p.ShareCost, "shareSplit": p.ShareSplit, "filter": p.Filter,
		"includeAggregatedMetadata": p.IncludeAggregatedMetadata,
	} {
		if len(v) > maxParamLen {
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
