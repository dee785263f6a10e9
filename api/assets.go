package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/store"
)

// AssetSource reads committed asset blocks. *store.Store implements it.
type AssetSource interface {
	ReadAssetIndex(ctx context.Context, cluster string, res store.Resolution) (store.Index, error)
	ReadAssetBlock(ctx context.Context, cluster string, res store.Resolution, e store.IndexEntry) (store.AssetBlock, error)
}

// AssetQuery is one /assets question.
type AssetQuery struct {
	Window allocation.Window
	// Aggregate are the properties assets are summed by (see
	// ParseAssetAggregate); empty keeps every asset apart.
	Aggregate []string
	Filter    AssetFilter
	// Accumulate sums the window into one set; otherwise there is one set
	// per block read (a day, or an hour at the window's partial edges).
	Accumulate bool
}

// AssetAnswer is the sets answering an AssetQuery, each a map of assets by
// key, with warnings about what the window lacks.
type AssetAnswer struct {
	Sets     []AssetSet
	Warnings []string
}

// AssetSet is the assets of one window, by key.
type AssetSet struct {
	Window allocation.Window
	Assets map[string]asset.Asset
}

// kindAny is the kind of an aggregate of assets of several kinds (OpenCost
// writes such rows without a type).
const kindAny asset.Kind = "Any"

var assetAggregates = []string{"type", "cluster", "name", "node", "category", "providerID"}

// ParseAssetAggregate accepts a comma-separated list of type, cluster, name,
// node (a node's name; other kinds have none), category, providerID and
// label:<name>.
func ParseAssetAggregate(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if name, ok := strings.CutPrefix(p, "label:"); ok && name != "" {
			out = append(out, p)
			continue
		}
		if !slices.Contains(assetAggregates, p) {
			return nil, fmt.Errorf("aggregate %q is not one of %s or label:<name>", p, strings.Join(assetAggregates, ", "))
		}
		out = append(out, p)
	}
	return out, nil
}

// assetProperty is the value of one aggregation property of a.
func assetProperty(a *asset.Asset, prop string) string {
	switch prop {
	case "type":
		return string(a.Kind)
	case "cluster":
		return a.Properties.Cluster
	case "name":
		return a.Properties.Name
	case "node":
		if a.Kind == asset.KindNode {
			return a.Properties.Name
		}
		return ""
	case "category":
		return a.Kind.Category()
	case "providerID":
		return a.Properties.ProviderID
	}
	if name, ok := strings.CutPrefix(prop, "label:"); ok {
		return a.Labels[name]
	}
	return ""
}

// AssetFilter keeps the assets its expression matches; see
// ParseAssetFilter. The zero AssetFilter keeps every asset.
type AssetFilter struct{ root assetNode }

// assetNode is a node of a parsed asset filter.
type assetNode interface {
	matches(a *asset.Asset) bool
}

type assetAnd []assetNode

func (n assetAnd) matches(a *asset.Asset) bool {
	for _, c := range n {
		if !c.matches(a) {
			return false
		}
	}
	return true
}

type assetOr []assetNode

func (n assetOr) matches(a *asset.Asset) bool {
	for _, c := range n {
		if c.matches(a) {
			return true
		}
	}
	return false
}

type assetClause struct {
	prop   string
	values []string
	negate bool
}

// maxAssetFilterDepth bounds parenthesis nesting, so a hostile filter cannot
// recurse without end.
const maxAssetFilterDepth = 32

// ParseAssetFilter parses the part of OpenCost's v2 filter language that
// assets need: comparisons field:"v1","v2" (any of the values) or
// field!:"v" (none of them), with field one of type (or assetType),
// cluster, name, node, category, providerID, label[K], joined by '+' (and)
// and '|' (or; '+' binds tighter) and grouped with parentheses. Values
// compare case-insensitively for type and category, exactly otherwise; an
// empty property matches "__unallocated__".
func ParseAssetFilter(s string) (AssetFilter, error) {
	if strings.TrimSpace(s) == "" {
		return AssetFilter{}, nil
	}
	root, err := parseAssetOr(s, 0)
	if err != nil {
		return AssetFilter{}, err
	}
	return AssetFilter{root: root}, nil
}

func parseAssetOr(s string, depth int) (assetNode, error) {
	parts, err := splitTopLevel(s, '|')
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		return parseAssetAnd(parts[0], depth)
	}
	var or assetOr
	for _, part := range parts {
		n, err := parseAssetAnd(part, depth)
		if err != nil {
			return nil, err
		}
		or = append(or, n)
	}
	return or, nil
}

func parseAssetAnd(s string, depth int) (assetNode, error) {
	parts, err := splitTopLevel(s, '+')
	if err != nil {
		return nil, err
	}
	var and assetAnd
	for _, part := range parts {
		part = strings.TrimSpace(part)
		if strings.HasPrefix(part, "(") {
			if !strings.HasSuffix(part, ")") {
				return nil, fmt.Errorf("filter: %q: text after ')'", part)
			}
			if depth >= maxAssetFilterDepth {
				return nil, fmt.Errorf("filter: parentheses nested more than %d deep", maxAssetFilterDepth)
			}
			n, err := parseAssetOr(part[1:len(part)-1], depth+1)
			if err != nil {
				return nil, err
			}
			and = append(and, n)
			continue
		}
		c, err := parseAssetClause(part)
		if err != nil {
			return nil, err
		}
		and = append(and, c)
	}
	if len(and) == 1 {
		return and[0], nil
	}
	return and, nil
}

func parseAssetClause(part string) (*assetClause, error) {
	if part == "" {
		return nil, errors.New("filter: an empty comparison (two operators in a row, or one at an end)")
	}
	i := strings.Index(part, ":")
	if i < 0 {
		return nil, fmt.Errorf("filter: %q has no ':' operator", part)
	}
	field, rest := strings.TrimSpace(part[:i]), part[i+1:]
	c := &assetClause{}
	if strings.HasSuffix(field, "!") {
		c.negate, field = true, strings.TrimSpace(strings.TrimSuffix(field, "!"))
	}
	switch {
	case field == "assetType" || field == "type":
		c.prop = "type"
	case strings.HasPrefix(field, "label[") && strings.HasSuffix(field, "]") && len(field) > len("label[]"):
		c.prop = "label:" + field[len("label["):len(field)-1]
	case slices.Contains([]string{"cluster", "name", "node", "category", "providerID"}, field):
		c.prop = field
	default:
		return nil, fmt.Errorf("filter: field %q is not one of type, cluster, name, node, category, providerID, label[K]", field)
	}
	for _, v := range splitUnquoted(rest, ',') {
		v = strings.TrimSpace(v)
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, fmt.Errorf("filter: value %s of %s is not double-quoted", v, field)
		}
		c.values = append(c.values, strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`))
	}
	return c, nil
}

// splitTopLevel splits s at sep outside double quotes and parentheses, and
// refuses unbalanced parentheses or quotes.
func splitTopLevel(s string, sep byte) ([]string, error) {
	var out []string
	in, depth, start := false, 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && in && i+1 < len(s):
			i++
		case c == '"':
			in = !in
		case in:
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth < 0 {
				return nil, fmt.Errorf("filter: ')' without a matching '(' in %q", s)
			}
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	switch {
	case in:
		return nil, fmt.Errorf("filter: unterminated quote in %q", s)
	case depth > 0:
		return nil, fmt.Errorf("filter: '(' without a matching ')' in %q", s)
	}
	return append(out, s[start:]), nil
}

// splitUnquoted splits s at sep outside double quotes.
func splitUnquoted(s string, sep byte) []string {
	var out []string
	in, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && in && i+1 < len(s):
			i++
		case s[i] == '"':
			in = !in
		case s[i] == sep && !in:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// Matches reports whether a passes the filter.
func (f AssetFilter) Matches(a *asset.Asset) bool {
	return f.root == nil || f.root.matches(a)
}

func (c *assetClause) matches(a *asset.Asset) bool {
	v := assetProperty(a, c.prop)
	hit := false
	for _, want := range c.values {
		switch {
		case c.prop == "type" || c.prop == "category":
			hit = hit || strings.EqualFold(v, want)
		case want == allocation.Unallocated:
			hit = hit || v == ""
		default:
			hit = hit || v == want
		}
	}
	return hit != c.negate
}

// AssetParams are /assets' query parameters.
type AssetParams struct {
	Window, Aggregate, Filter, Accumulate string
}

// AssetParamsFromURL reads /assets' parameters, refusing unknown ones.
func AssetParamsFromURL(v url.Values) (AssetParams, error) {
	var p AssetParams
	for k, vs := range v {
		if len(vs) != 1 {
			return p, paramErr(k, "given %d times", len(vs))
		}
		switch k {
		case "window":
			p.Window = vs[0]
		case "aggregate":
			p.Aggregate = vs[0]
		case "filter":
			p.Filter = vs[0]
		case "accumulate":
			p.Accumulate = vs[0]
		default:
			return p, paramErr(k, "unknown parameter (/assets takes window, aggregate, filter, accumulate)")
		}
	}
	return p, nil
}

// Parse turns the parameters into a query; relative windows are read
// against now.
func (p AssetParams) Parse(now time.Time) (AssetQuery, error) {
	var q AssetQuery
	var err error
	if q.Window, err = ParseWindow(p.Window, now); err != nil {
		return q, paramErr("window", "%v", err)
	}
	q.Window = hourWindow(q.Window)
	if q.Aggregate, err = ParseAssetAggregate(p.Aggregate); err != nil {
		return q, paramErr("aggregate", "%v", err)
	}
	if q.Filter, err = ParseAssetFilter(p.Filter); err != nil {
		return q, paramErr("filter", "%v", err)
	}
	if p.Accumulate != "" {
		if q.Accumulate, err = parseBool("accumulate", p.Accumulate); err != nil {
			return q, err
		}
	}
	return q, nil
}

// Assets answers an asset query from the combined store's asset blocks
// (or one cluster's, per cluster): whole days from 1d blocks, the rest
// from 1h blocks; hours no block covers are named in the warnings.
func Assets(ctx context.Context, src AssetSource, cluster string, q AssetQuery) (AssetAnswer, error) {
	var ans AssetAnswer
	daily, err := src.ReadAssetIndex(ctx, cluster, store.Daily)
	if err != nil {
		return ans, fmt.Errorf("assets: %w", err)
	}
	hourly, err := src.ReadAssetIndex(ctx, cluster, store.Hourly)
	if err != nil {
		return ans, fmt.Errorf("assets: %w", err)
	}
	plan := planBlocks(q.Window, daily.Blocks, hourly.Blocks, func(allocation.Window) bool { return true })
	for _, m := range plan.missing {
		ans.Warnings = append(ans.Warnings, fmt.Sprintf("no asset data for %s", m))
	}
	var all []AssetSet
	for _, pb := range plan.blocks {
		blk, err := src.ReadAssetBlock(ctx, cluster, pb.res, pb.entry)
		if err != nil {
			var be *store.BlockError
			if errors.As(err, &be) {
				ans.Warnings = append(ans.Warnings, fmt.Sprintf("asset block %s unreadable, left out: %v", be.Key, be.Reason))
				continue
			}
			return ans, fmt.Errorf("assets: %w", err)
		}
		w := pb.entry.Window()
		all = append(all, AssetSet{Window: w, Assets: aggregateAssets(blk.Assets, w, q)})
		for _, s := range blk.Meta.Sources {
			if s.Missing() {
				ans.Warnings = append(ans.Warnings, fmt.Sprintf("window %s lacks cluster %s's current assets (%s)", w, s.Cluster, s.Reason))
			}
		}
	}
	if !q.Accumulate {
		ans.Sets = all
		return ans, nil
	}
	acc := AssetSet{Window: q.Window, Assets: map[string]asset.Asset{}}
	for _, s := range all {
		for _, k := range slices.Sorted(maps.Keys(s.Assets)) {
			a := s.Assets[k]
			if cur, ok := acc.Assets[k]; ok {
				acc.Assets[k] = combineAssets(cur, a)
			} else {
				acc.Assets[k] = a
			}
		}
	}
	for k, a := range acc.Assets {
		a.Window = asset.Window{Start: q.Window.Start, End: q.Window.End}
		acc.Assets[k] = a
	}
	ans.Sets = []AssetSet{acc}
	return ans, nil
}

// aggregateAssets filters one block's assets and sums them by the query's
// properties ("/"-joined values, "__unallocated__" for empty ones). An
// aggregate spans from its earliest start to its latest end, and its
// average quantities (cores, bytes) are over that span.
func aggregateAssets(as []asset.Asset, w allocation.Window, q AssetQuery) map[string]asset.Asset {
	out := map[string]asset.Asset{}
	sorted := slices.Clone(as)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key() < sorted[j].Key() })
	for i := range sorted {
		a := sorted[i]
		if !q.Filter.Matches(&a) {
			continue
		}
		a.Window = asset.Window{Start: w.Start, End: w.End}
		key := a.Key()
		if len(q.Aggregate) > 0 {
			parts := make([]string, len(q.Aggregate))
			for j, p := range q.Aggregate {
				v := assetProperty(&a, p)
				if v == "" {
					v = allocation.Unallocated
				}
				parts[j] = v
			}
			key = strings.Join(parts, "/")
		}
		if cur, ok := out[key]; ok {
			out[key] = combineAssets(cur, a)
		} else {
			out[key] = a
		}
	}
	if len(q.Aggregate) > 0 {
		for k, a := range out {
			a.Hours = a.End.Sub(a.Start).Hours()
			out[k] = a
		}
	}
	return out
}

// combineAssets sums b into a: quantities and costs add, times widen, properties
// and labels that differ are dropped, and assets of different kinds make an
// aggregate of kind Any.
func combineAssets(a, b asset.Asset) asset.Asset {
	s := asset.Sum(a.Window, []asset.Asset{withKey(a)}, []asset.Asset{withKey(b)})[0]
	// The largest report of one disk says nothing of two together: unknown,
	// as OpenCost's Disk.add drops it.
	s.ByteUsageMax = nil
	s.Kind = a.Kind
	if a.Kind != b.Kind {
		s.Kind = kindAny
	}
	if a.Properties.Cluster != b.Properties.Cluster {
		s.Properties.Cluster = ""
	} else {
		s.Properties.Cluster = a.Properties.Cluster
	}
	for _, f := range []struct{ dst, x, y *string }{
		{&s.Properties.Name, &a.Properties.Name, &b.Properties.Name}, {&s.Properties.ProviderID, &a.Properties.ProviderID, &b.Properties.ProviderID},
		{&s.NodeType, &a.NodeType, &b.NodeType}, {&s.StorageClass, &a.StorageClass, &b.StorageClass}, {&s.VolumeName, &a.VolumeName, &b.VolumeName},
		{&s.ClaimName, &a.ClaimName, &b.ClaimName}, {&s.ClaimNamespace, &a.ClaimNamespace, &b.ClaimNamespace}, {&s.IP, &a.IP, &b.IP},
		{&s.PriceSource, &a.PriceSource, &b.PriceSource},
	} {
		if *f.x != *f.y {
			*f.dst = ""
		} else {
			*f.dst = *f.x
		}
	}
	s.Labels = commonLabels(a.Labels, b.Labels)
	s.Preemptible, s.Private, s.Local = a.Preemptible && b.Preemptible, a.Private && b.Private, a.Local && b.Local
	return s
}

// withKey gives a and b the same key so that asset.Sum adds them.
func withKey(a asset.Asset) asset.Asset {
	a.Kind, a.Properties.Cluster, a.Properties.Name = "", "", ""
	return a
}

func commonLabels(a, b map[string]string) map[string]string {
	var out map[string]string
	for k, v := range a {
		if b[k] == v {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}
