package api

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
)

// sets decodes an /allocation answer into its sets of rows by name.
func sets(t *testing.T, body []byte) []map[string]json.RawMessage {
	t.Helper()
	var resp struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	return resp.Data
}

func TestAPILegacyFilterNamespaces(t *testing.T) {
	a := newTestAPI(t, newFleet(t).st, nil)
	rec := a.get(t, "/allocation?window=yesterday&aggregate=namespace")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	all := sets(t, rec.Body.Bytes())[0]
	names := slices.Sorted(maps.Keys(all))
	require.GreaterOrEqual(t, len(names), 3, "the fixture has namespaces to leave out")
	want := map[string]json.RawMessage{names[0]: all[names[0]], names[2]: all[names[2]]}

	for _, route := range []string{"/allocation", "/allocation/compute", "/model/allocation"} {
		for _, query := range []string{
			"filterNamespaces=" + names[0] + "," + names[2],
			"filterNamespaces=" + names[0] + "&filterNamespaces=" + names[2], // given twice: one list
			"filterNamespaces=" + names[0] + ",nope," + names[2] + "&filterClusters=east*,west*",
			"filterNamespaces=" + names[0] + "," + names[2] + "," + names[1] + "&filter=" + url.QueryEscape(`namespace!:"`+names[1]+`"`),
		} {
			rec := a.get(t, route+"?window=yesterday&aggregate=namespace&"+query)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, want, sets(t, rec.Body.Bytes())[0], "%s?%s", route, query)
		}
	}

	rec = a.get(t, "/allocation/summary?window=yesterday&aggregate=namespace&filterNamespaces="+names[1])
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var summary struct {
		Data struct {
			Sets []struct {
				Allocations map[string]json.RawMessage `json:"allocations"`
			} `json:"sets"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &summary))
	require.Len(t, summary.Data.Sets, 1)
	require.Equal(t, []string{names[1]}, slices.Sorted(maps.Keys(summary.Data.Sets[0].Allocations)))
}

// TestAPIClientRequests sends what real clients send (see IgnoredParams).
func TestAPIClientRequests(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	for client, query := range map[string]string{
		"opencost-ui":      "/allocation/compute?window=yesterday&aggregate=namespace&includeIdle=true&step=1d&accumulate=true&metrics=totalCost,cpuCost&filter=" + url.QueryEscape(`namespace:"web"`),
		"kubectl-cost":     "/model/allocation?window=1d&aggregate=namespace&accumulate=true&includeIdle=false&idle=false&filterNamespaces=",
		"parquet-exporter": "/allocation/compute?window=2024-03-03T00:00:00Z,2024-03-03T23:59:59Z&includeIdle=true&idleByNode=false&includeProportionalAssetResourceCosts=false&format=json&step=1d&aggregate=namespace&resolution=1m&accumulate=false",
		"integration":      "/allocation?window=yesterday&aggregate=namespace&includeAggregatedMetadata=true&includeSharedCostBreakdown=false&shareTenancyCosts=true&costUnit=cumulative",
		"kubecost":         "/model/allocation?window=yesterday&aggregate=namespace&reconcile=true&external=false&sharelb=false&accumulateBy=day",
	} {
		rec := a.get(t, query)
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", client, rec.Body.String())
	}
}

func TestAPIUnknownAndRefusedParameters(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	for query, want := range map[string]string{
		"filterNamespace=ml":                "filterNamespace: unknown parameter; did you mean filterNamespaces?",
		"namespace=ml":                      "namespace: unknown parameter (the parameters are listed in the README",
		"IncludeIdle=true":                  "IncludeIdle: unknown parameter; did you mean includeIdle?",
		"filterLabels=app":                  `filterLabels: "app": want name:value`,
		"filterLabels=:web":                 `filterLabels: ":web": empty name before ':'`,
		"filterControllers=a:b:c":           `filterControllers: "a:b:c": want name or kind:name`,
		"format=csv":                        `format: "csv" is not supported (only json)`,
		"sharelb=true":                      `sharelb: "true" is not supported (only false)`,
		"costUnit=hourly":                   `costUnit: "hourly" is not supported`,
		"accumulateBy=fortnight":            `accumulateBy: "fortnight": want all, hour`,
		"aggregate=namespace&aggregate=pod": `aggregate: given more than once with different values ("namespace", "pod")`,
	} {
		for _, route := range []string{"/allocation", "/allocation/summary"} {
			rec := a.get(t, route+"?window=yesterday&"+query)
			require.Equal(t, http.StatusBadRequest, rec.Code, "%s?%s: %s", route, query, rec.Body.String())
			var e ErrorResponse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
			require.True(t, strings.HasPrefix(e.Message, want), "%s?%s: message %q, want %q…", route, query, e.Message, want)
		}
	}
	// The same value twice is one value.
	rec := a.get(t, "/allocation?window=yesterday&aggregate=namespace&aggregate=namespace")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

func TestAPIWindowMessages(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	for window, want := range map[string]string{
		"2026-11-15":            `window: "2026-11-15" is a single date, not a span; for that day use 2026-11-15T00:00:00Z,2026-11-16T00:00:00Z (or want today, yesterday`,
		"2024-01-01,2024-01-02": `window: "2024-01-01,2024-01-02": dates need a time of day (OpenCost refuses them too); for midnight to midnight UTC use 2024-01-01T00:00:00Z,2024-01-02T00:00:00Z`,
		"tomorrow":              `window: "tomorrow" is not one of today, yesterday, week, lastweek, month, lastmonth, <n>m`,
	} {
		rec := a.get(t, "/allocation?window="+url.QueryEscape(window))
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
		var e ErrorResponse
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
		require.True(t, strings.HasPrefix(e.Message, want), "message %q, want %q…", e.Message, want)
	}
}

func TestParamsFromURL(t *testing.T) {
	v, err := url.ParseQuery("window=7d&idle=true&filterLabels=app:web&filterLabels=team:a&accumulateBy=week&resolution=1m&=x")
	require.NoError(t, err)
	p, err := ParamsFromURL(v)
	require.NoError(t, err)
	require.Equal(t, QueryParams{Window: "7d", IncludeIdle: "true", FilterLabels: "app:web,team:a", AccumulateBy: "week"}, p)

	q, err := p.Parse(now)
	require.NoError(t, err)
	require.Equal(t, allocation.AccumulateWeek, q.Accumulate, "accumulateBy overrides accumulate, as in OpenCost")
	require.True(t, q.Options.Idle.Include)
	require.Equal(t, `label[app]:"web"|label[team]:"a"`, q.Options.Filter.String())

	// includeIdle wins over its alias idle.
	p, err = ParamsFromURL(url.Values{"includeIdle": {"false"}, "idle": {"true"}})
	require.NoError(t, err)
	require.Equal(t, "false", p.IncludeIdle)

	// Every parameter the API acts on is bounded in length.
	for name := range (&QueryParams{}).fields() {
		p, err := ParamsFromURL(url.Values{"window": {"1d"}, name: {strings.Repeat("x", maxParamLen+1)}})
		require.NoError(t, err)
		_, err = p.Parse(now)
		var pe *ParamError
		require.True(t, errors.As(err, &pe), "%s: %v", name, err)
		require.Equal(t, name, pe.Param)
		require.ErrorContains(t, err, "longer than")
	}
}

func TestQueryParamsFilterCombinesV1(t *testing.T) {
	q, err := QueryParams{Window: "1d", Filter: `cluster:"east"`, FilterNamespaces: "a,b", FilterControllers: "deployment:web"}.Parse(now)
	require.NoError(t, err)
	require.Equal(t, `cluster:"east"+namespace:"a","b"+controllerKind:"deployment"+controllerName:"web"`, q.Options.Filter.String())
}

// TestAPIShareIdleNeedsIncludeIdleOnOpenCostRoutes: OpenCost computes idle
// only with includeIdle=true, so shareIdle alone shares nothing on its routes
// (issue 13 point 2); Kubecost's /model/allocation shares idle either way.
func TestAPIShareIdleNeedsIncludeIdleOnOpenCostRoutes(t *testing.T) {
	a := newTestAPI(t, goldenStore(t), nil)
	answer := func(target string) (map[string]json.RawMessage, []string) {
		t.Helper()
		rec := a.get(t, target)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var resp struct {
			Warnings []string `json:"warnings"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		return sets(t, rec.Body.Bytes())[0], resp.Warnings
	}
	const q = "?window=yesterday&aggregate=namespace"
	plain, _ := answer("/allocation" + q)
	shared, _ := answer("/model/allocation" + q + "&shareIdle=true")
	require.NotEqual(t, plain, shared, "the fixture has idle to share")
	require.NotContains(t, shared, allocation.IdleSuffix)

	for _, route := range []string{"/allocation", "/allocation/compute"} {
		got, warns := answer(route + q + "&shareIdle=true")
		require.Equal(t, plain, got, "%s: shareIdle without includeIdle changes nothing", route)
		require.Len(t, warns, 1)
		require.Contains(t, warns[0], "shareIdle has no effect without includeIdle=true")

		got, warns = answer(route + q + "&shareIdle=true&includeIdle=true")
		require.Equal(t, shared, got, "%s: with includeIdle, idle is shared as on Kubecost's route", route)
		require.Empty(t, warns)
	}
	got, warns := answer("/model/allocation" + q + "&shareIdle=true&includeIdle=false")
	require.Equal(t, shared, got, "Kubecost's route shares idle without includeIdle")
	require.Empty(t, warns)
}
