package prom

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

// normaliseQuery parses q and prints it again, so tests compare meaning rather
// than the printer's spacing and label order.
func normaliseQuery(t *testing.T, q string) string {
	t.Helper()
	expr, err := newPromQLParser().ParseExpr(q)
	require.NoError(t, err, "expected query %q must parse", q)
	return expr.String()
}

func TestClusterFilterApply(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"plain selector", `up`, `up{cluster_id="c1"}`},
		{"selector with matchers", `kube_pod_container_resource_requests{resource="cpu",unit="core"}`,
			`kube_pod_container_resource_requests{resource="cpu",unit="core",cluster_id="c1"}`},
		{"metric name as __name__ matcher", `{__name__="up"}`, `{__name__="up",cluster_id="c1"}`},
		{"__name__ regex", `{__name__=~"node_.*_hourly_cost",node!=""}`, `{__name__=~"node_.*_hourly_cost",node!="",cluster_id="c1"}`},
		{"range selector in function", `rate(container_cpu_usage_seconds_total{container!=""}[5m])`,
			`rate(container_cpu_usage_seconds_total{container!="",cluster_id="c1"}[5m])`},
		{"subquery", `max_over_time(irate(foo[10m])[1d:5m])`, `max_over_time(irate(foo{cluster_id="c1"}[10m])[1d:5m])`},
		{"subquery of aggregation", `avg(kube_pod_container_status_running != 0) by (pod, namespace, cluster_id)[1d:5m]`,
			`avg by (pod, namespace, cluster_id) (kube_pod_container_status_running{cluster_id="c1"} != 0)[1d:5m]`},
		{"aggregation by", `sum by (namespace) (foo)`, `sum by (namespace) (foo{cluster_id="c1"})`},
		{"aggregation without", `sum without (instance) (foo)`, `sum without (instance) (foo{cluster_id="c1"})`},
		{"aggregation parameter", `topk(3, foo)`, `topk(3, foo{cluster_id="c1"})`},
		{"aggregation with vector parameter", `quantile(scalar(q), foo)`, `quantile(scalar(q{cluster_id="c1"}), foo{cluster_id="c1"})`},
		{"count_values", `count_values("v", foo)`, `count_values("v", foo{cluster_id="c1"})`},
		{"binary on group_left", `a * on (node) group_left (instance_type) b`,
			`a{cluster_id="c1"} * on (node) group_left (instance_type) b{cluster_id="c1"}`},
		{"binary ignoring group_right", `a / ignoring (mode) group_right b`,
			`a{cluster_id="c1"} / ignoring (mode) group_right b{cluster_id="c1"}`},
		{"or", `a or b unless c`, `a{cluster_id="c1"} or b{cluster_id="c1"} unless c{cluster_id="c1"}`},
		{"comparison bool", `a > bool 0`, `a{cluster_id="c1"} > bool 0`},
		{"functions", `label_replace(absent(foo), "a", "$1", "b", "(.*)")`,
			`label_replace(absent(foo{cluster_id="c1"}), "a", "$1", "b", "(.*)")`},
		{"function with range and scalar", `quantile_over_time(0.9, foo[1h])`, `quantile_over_time(0.9, foo{cluster_id="c1"}[1h])`},
		{"offset", `foo offset 1h`, `foo{cluster_id="c1"} offset 1h`},
		{"negative offset", `rate(foo[5m] offset -5m)`, `rate(foo{cluster_id="c1"}[5m] offset -5m)`},
		{"at timestamp", `foo @ 1704067200`, `foo{cluster_id="c1"} @ 1704067200`},
		{"at end and offset", `rate(foo[5m] @ end() offset 5m)`, `rate(foo{cluster_id="c1"}[5m] @ end() offset 5m)`},
		{"subquery at and offset", `sum_over_time(foo[1h:5m] @ start() offset 1d)`, `sum_over_time(foo{cluster_id="c1"}[1h:5m] @ start() offset 1d)`},
		{"already filtered", `foo{cluster_id="other"}`, `foo{cluster_id="other"}`},
		{"already filtered by regex", `foo{cluster_id=~"c.*"} + bar`, `foo{cluster_id=~"c.*"} + bar{cluster_id="c1"}`},
		{"already filtered negative", `foo{cluster_id!=""}`, `foo{cluster_id!=""}`},
		{"no selectors", `vector(1) * time()`, `vector(1) * time()`},
		{"scalar literal", `1 + 2`, `1 + 2`},
		{"unary and parens", `-(foo)`, `-(foo{cluster_id="c1"})`},
		{"string literal", `"x"`, `"x"`},
		{"nested", `sum(rate(a[5m])) by (pod) / on (pod) group_left count(b{x="y"} offset 5m) by (pod) or vector(0)`,
			`sum by (pod) (rate(a{cluster_id="c1"}[5m])) / on (pod) group_left () count by (pod) (b{x="y",cluster_id="c1"} offset 5m) or vector(0)`},
		{"label name that looks like the metric", `cluster_id`, `cluster_id{cluster_id="c1"}`},
	}
	f, err := NewClusterFilter("", "c1")
	require.NoError(t, err)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.Apply(tc.in)
			require.NoError(t, err)
			require.Equal(t, normaliseQuery(t, tc.want), got)
		})
	}
}

func TestClusterFilterQuotesValue(t *testing.T) {
	got, err := InjectClusterMatcher(`up`, "cluster", `we"ird\ id`)
	require.NoError(t, err)
	require.Equal(t, `up{cluster="we\"ird\\ id"}`, got)
	requireAllFiltered(t, got, "cluster")
}

func TestClusterFilterParseErrorHasPosition(t *testing.T) {
	_, err := InjectClusterMatcher("sum(rate(foo[5m])", "", "c1")
	require.Error(t, err)
	require.Contains(t, err.Error(), "cluster filter: parse query")
	var perrs parser.ParseErrors
	require.ErrorAs(t, err, &perrs)
	require.Regexp(t, `1:\d+: parse error`, err.Error())
}

func TestNewClusterFilterRejects(t *testing.T) {
	for _, tc := range []struct{ label, value, want string }{
		{"bad-label", "c1", "not a valid label name"},
		{"1abc", "c1", "not a valid label name"},
		{"cluster.id", "c1", "not a valid label name"},
		{"__name__", "c1", "metric name"},
		{"cluster_id", "", "empty cluster value"},
	} {
		_, err := NewClusterFilter(tc.label, tc.value)
		require.ErrorContains(t, err, tc.want, "label %q value %q", tc.label, tc.value)
	}
}

// requireAllFiltered checks that every selector of q has a matcher on label.
func requireAllFiltered(t *testing.T, q, label string) {
	t.Helper()
	expr, err := newPromQLParser().ParseExpr(q)
	require.NoError(t, err)
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			require.True(t, hasMatcherOn(vs, label), "selector %s has no %s matcher in %q", vs, label, q)
		}
		return nil
	})
}

func FuzzInjectClusterMatcher(f *testing.F) {
	for _, seed := range []string{
		`up`, `{__name__="up"}`, `rate(foo[5m])`, `max_over_time(irate(foo[10m])[1d:5m])`,
		`sum by (a) (foo) / on (a) group_left (b) bar`, `a or b`, `foo offset 1h @ end()`,
		`foo{cluster_id="x"}`, `vector(1)`, `-(foo)`, `topk(2, foo)`, `1 + 2`, `"s"`,
		`sum_over_time(foo[1h:5m] @ start() offset -1d)`, `label_replace(foo, "a", "$1", "b", "(.*)")`,
		"foo{a=\"\\n\"}", `foo[5m:]`, `count_values("x", foo)`,
	} {
		f.Add(seed, "c1")
	}
	p := newPromQLParser()
	f.Fuzz(func(t *testing.T, query, value string) {
		expr, err := p.ParseExpr(query)
		if err != nil {
			return // only queries the parser accepts are in scope
		}
		if value == "" {
			value = "c"
		}
		out, err := InjectClusterMatcher(query, "cluster_id", value)
		if err != nil {
			// The filter refuses only what the printer cannot round-trip on
			// its own; it must never break a query the printer can.
			if _, rerr := p.ParseExpr(expr.String()); rerr == nil {
				require.NoError(t, err, "query %q", query)
			}
			require.True(t, strings.Contains(err.Error(), "cluster filter:"), "error %v", err)
			return
		}
		requireAllFiltered(t, out, "cluster_id")
	})
}
