package prom

import (
	"errors"
	"fmt"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// DefaultClusterLabel is the label that carries the cluster id on every
// series, as in OpenCost and Kubecost.
const DefaultClusterLabel = "cluster_id"

// ClusterFilter rewrites PromQL so that every series selector also matches
// Label="Value". The zero value is not usable; build one with
// NewClusterFilter.
type ClusterFilter struct {
	label  string
	value  string
	parser parser.Parser
}

// NewClusterFilter returns a filter adding label="value" to every selector.
// An empty label means DefaultClusterLabel. The label must be a classic
// Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*), so that the rewritten query
// is understood by Prometheus 2 and every Cortex-family store; the value may
// be any string and is quoted by the printer.
func NewClusterFilter(label, value string) (*ClusterFilter, error) {
	if label == "" {
		label = DefaultClusterLabel
	}
	if !isLegacyLabelName(label) {
		return nil, fmt.Errorf("cluster filter: label %q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)", label)
	}
	if label == model.MetricNameLabel {
		return nil, fmt.Errorf("cluster filter: label %q is the metric name", label)
	}
	if value == "" {
		return nil, errors.New("cluster filter: empty cluster value (it would select series without the label)")
	}
	return &ClusterFilter{label: label, value: value, parser: newPromQLParser()}, nil
}

// Label is the label name the filter matches on.
func (f *ClusterFilter) Label() string { return f.label }

// Value is the cluster id the filter selects.
func (f *ClusterFilter) Value() string { return f.value }

// Apply returns query with the cluster matcher added to every vector and
// matrix selector (in subqueries, aggregations, binary operations, function
// arguments, with offsets and @ modifiers alike). A selector that already has
// a matcher on the label, of any kind, is left as written: the query's author
// chose. A query the parser rejects returns the parser's error, which names
// the position (line:column) of the problem.
//
// The rewritten query is printed by the parser's printer, so spacing, label
// order and number formats may differ from the input; its meaning does not.
// As a guard against printer bugs, the output is parsed again and rejected
// if it does not parse or lost a matcher.
func (f *ClusterFilter) Apply(query string) (string, error) {
	expr, err := f.parser.ParseExpr(query)
	if err != nil {
		return "", fmt.Errorf("cluster filter: parse query: %w", err)
	}
	if err := f.inject(expr); err != nil {
		return "", err
	}
	out := expr.String()
	check, err := f.parser.ParseExpr(out)
	if err != nil {
		return "", fmt.Errorf("cluster filter: rewritten query %q does not parse: %w", out, err)
	}
	if missing := f.unfiltered(check); missing != "" {
		return "", fmt.Errorf("cluster filter: rewritten query %q lost the %s matcher on selector %s", out, f.label, missing)
	}
	return out, nil
}

// InjectClusterMatcher is a one-shot form of NewClusterFilter(label,
// value).Apply(query).
func InjectClusterMatcher(query, label, value string) (string, error) {
	f, err := NewClusterFilter(label, value)
	if err != nil {
		return "", err
	}
	return f.Apply(query)
}

func (f *ClusterFilter) inject(expr parser.Expr) error {
	var injectErr error
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok || hasMatcherOn(vs, f.label) {
			return nil
		}
		m, err := labels.NewMatcher(labels.MatchEqual, f.label, f.value)
		if err != nil {
			injectErr = fmt.Errorf("cluster filter: build matcher: %w", err)
			return err
		}
		vs.LabelMatchers = append(vs.LabelMatchers, m)
		return nil
	})
	return injectErr
}

// unfiltered returns the first selector of expr without a matcher on the
// filter's label, printed, or "" when every selector has one.
func (f *ClusterFilter) unfiltered(expr parser.Expr) string {
	missing := ""
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok && missing == "" && !hasMatcherOn(vs, f.label) {
			missing = vs.String()
		}
		return nil
	})
	return missing
}

func hasMatcherOn(vs *parser.VectorSelector, label string) bool {
	for _, m := range vs.LabelMatchers {
		if m != nil && m.Name == label {
			return true
		}
	}
	return false
}

// newPromQLParser is the parser with default options: no experimental
// functions, classic names only, as Prometheus 2 and AMP accept them.
func newPromQLParser() parser.Parser {
	return parser.NewParser(parser.Options{})
}

// isLegacyLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*.
func isLegacyLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		digit := r >= '0' && r <= '9'
		if !letter && !(digit && i > 0) {
			return false
		}
	}
	return true
}
