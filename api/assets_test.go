package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/store"
)

// assetStore holds combined asset blocks for day0 (1d) and the first two
// hours of the next day (1h), from clusters east and west.
func assetStore(t testing.TB) *store.Store {
	t.Helper()
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	put := func(res store.Resolution, w0 time.Time, d time.Duration, scale float64) {
		w := win(w0, d)
		aw := asset.Window{Start: w.Start, End: w.End}
		h := d.Hours()
		var as []asset.Asset
		for i, c := range []string{"east", "west"} {
			f := scale * float64(i+1)
			as = append(as,
				asset.Asset{Kind: asset.KindNode, Properties: asset.Properties{Cluster: c, Name: "n1", ProviderID: "aws:///i-" + c},
					Labels: map[string]string{"team": "a"}, Window: aw, Start: w.Start, End: w.End, Hours: h, NodeType: "m5.xlarge",
					Preemptible: i == 1, CPUCoreHours: 4 * h, RAMByteHours: 16 << 30 * h, CPUCost: f * h, RAMCost: f * h / 2,
					CPUCostAllocated: f * h / 4, RAMCostAllocated: f * h / 4, PriceSource: "metrics"},
				asset.Asset{Kind: asset.KindDisk, Properties: asset.Properties{Cluster: c, Name: "pv-" + c}, Window: aw, Start: w.Start, End: w.End,
					Hours: h, ByteHours: 10 << 30 * h, Cost: 0.01 * h, StorageClass: "gp3", VolumeName: "pv-" + c, ClaimName: "data", ClaimNamespace: "db"},
				asset.Asset{Kind: asset.KindLoadBalancer, Properties: asset.Properties{Cluster: c, Name: "web/front"}, Window: aw, Start: w.Start, End: w.End,
					Hours: h, Cost: 0.025 * h, IP: "34.0.0.1"},
				asset.Asset{Kind: asset.KindClusterManagement, Properties: asset.Properties{Cluster: c}, Window: aw, Start: w.Start, End: w.End,
					Hours: h, Cost: 0.1 * h, PriceSource: "config"},
			)
		}
		_, err := st.CommitAssets(context.Background(), []store.AssetBlock{{Meta: meta(store.CombinedID, res, w), Assets: as}}, store.CommitOptions{})
		require.NoError(t, err)
	}
	put(store.Daily, day0, day, 1)
	put(store.Hourly, day0.Add(day), time.Hour, 1)
	put(store.Hourly, day0.Add(day+time.Hour), time.Hour, 1)
	return st
}

// The OpenCost asset JSON shapes (core/pkg/opencost asset_json.go), field
// for field: the test decodes answers into them refusing unknown fields.
type ocProperties struct {
	Category, Provider, Account, Project, Service, Cluster, Name string
	ProviderID                                                   string `json:"providerID"`
}
type ocWindow struct{ Start, End string }
type ocBreakdown struct{ Idle, Other, System, User float64 }
type ocHead struct {
	Type       string            `json:"type"`
	Properties ocProperties      `json:"properties"`
	Labels     map[string]string `json:"labels"`
	Window     ocWindow          `json:"window"`
	Start      string            `json:"start"`
	End        string            `json:"end"`
	Minutes    float64           `json:"minutes"`
	Adjustment float64           `json:"adjustment"`
	TotalCost  float64           `json:"totalCost"`
}
type ocNode struct {
	ocHead
	NodeType     string      `json:"nodeType"`
	CPUCores     float64     `json:"cpuCores"`
	RAMBytes     float64     `json:"ramBytes"`
	CPUCoreHours float64     `json:"cpuCoreHours"`
	RAMByteHours float64     `json:"ramByteHours"`
	GPUHours     float64     `json:"GPUHours"`
	CPUBreakdown ocBreakdown `json:"cpuBreakdown"`
	RAMBreakdown ocBreakdown `json:"ramBreakdown"`
	Preemptible  float64     `json:"preemptible"`
	Discount     float64     `json:"discount"`
	CPUCost      float64     `json:"cpuCost"`
	GPUCost      float64     `json:"gpuCost"`
	GPUCount     float64     `json:"gpuCount"`
	RAMCost      float64     `json:"ramCost"`
}
type ocDisk struct {
	ocHead
	ByteHours      float64     `json:"byteHours"`
	Bytes          float64     `json:"bytes"`
	ByteHoursUsed  *float64    `json:"byteHoursUsed"`
	ByteUsageMax   *float64    `json:"byteUsageMax"`
	Breakdown      ocBreakdown `json:"breakdown"`
	StorageClass   string      `json:"storageClass"`
	VolumeName     string      `json:"volumeName"`
	ClaimName      string      `json:"claimName"`
	ClaimNamespace string      `json:"claimNamespace"`
}
type ocLB struct {
	ocHead
	Private bool   `json:"private"`
	IP      string `json:"ip"`
}

func strictDecode(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), string(raw))
}

type assetEnvelope struct {
	Code     int                          `json:"code"`
	Status   string                       `json:"status"`
	Data     []map[string]json.RawMessage `json:"data"`
	Warnings []string                     `json:"warnings"`
}

// getAssets asks Kubecost's /model/assets, whose data is a list of sets.
func getAssets(t *testing.T, a *testAPI, query string) assetEnvelope {
	t.Helper()
	rec := a.get(t, "/model/assets?"+query)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var env assetEnvelope
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
	require.Equal(t, 200, env.Code)
	return env
}

func TestAssetsEndpointShapes(t *testing.T) {
	st := assetStore(t)
	a := newTestAPI(t, st, func(o *HandlerOptions) { o.Assets = st })
	env := getAssets(t, a, "window="+dayPair(0, 24))
	require.Len(t, env.Data, 1, "one 1d block, one set")
	set := env.Data[0]
	require.Len(t, set, 8)

	var n ocNode
	strictDecode(t, set["west/Node/n1"], &n)
	require.Equal(t, "Node", n.Type)
	require.Equal(t, "Compute", n.Properties.Category)
	require.Equal(t, "west", n.Properties.Cluster)
	require.Equal(t, "aws:///i-west", n.Properties.ProviderID)
	require.Equal(t, 1440.0, n.Minutes)
	require.Equal(t, 4.0, n.CPUCores)
	require.Equal(t, float64(16<<30), n.RAMBytes)
	require.Equal(t, 48.0, n.CPUCost)
	require.Equal(t, 72.0, n.TotalCost)
	require.Equal(t, 1.0, n.Preemptible)
	require.Equal(t, 0.25, n.CPUBreakdown.User)
	require.Equal(t, 0.75, n.CPUBreakdown.Idle)
	require.Equal(t, day0.Format(time.RFC3339), n.Window.Start)
	require.Equal(t, "m5.xlarge", n.NodeType)

	var d ocDisk
	strictDecode(t, set["east/Disk/pv-east"], &d)
	require.Equal(t, "Disk", d.Type)
	require.Equal(t, float64(10<<30), d.Bytes)
	require.Nil(t, d.ByteHoursUsed)
	require.Equal(t, "gp3", d.StorageClass)
	require.Equal(t, "data", d.ClaimName)
	require.Equal(t, "db", d.ClaimNamespace)
	require.InDelta(t, 0.24, d.TotalCost, 1e-9)

	var lb ocLB
	strictDecode(t, set["east/LoadBalancer/web/front"], &lb)
	require.Equal(t, "34.0.0.1", lb.IP)
	require.False(t, lb.Private)
	require.InDelta(t, 0.6, lb.TotalCost, 1e-9)

	var cm ocHead
	strictDecode(t, set["east/ClusterManagement/"], &cm)
	require.Equal(t, "ClusterManagement", cm.Type)
	require.InDelta(t, 2.4, cm.TotalCost, 1e-9)
}

// TestAssetsOpenCostShape: OpenCost's /assets writes data as the one asset
// set of the window (a map, what OpenCost's integration tests decode into
// map[string]Asset), accumulated by default; accumulate=false asks for the
// list of sets that /model/assets always writes.
func TestAssetsOpenCostShape(t *testing.T) {
	st := assetStore(t)
	a := newTestAPI(t, st, func(o *HandlerOptions) { o.Assets = st })
	decode := func(query string) (map[string]json.RawMessage, string) {
		rec := a.get(t, "/assets?"+query)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var env struct {
			Code int                        `json:"code"`
			Data map[string]json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env), rec.Body.String())
		require.Equal(t, 200, env.Code)
		return env.Data, rec.Body.String()
	}
	// A day and two hours: three blocks, one map.
	set, _ := decode("window=" + dayPair(0, 26) + "&filter=" + urlQuery(`assetType:"node"`))
	require.Len(t, set, 2)
	var n ocNode
	strictDecode(t, set["west/Node/n1"], &n)
	require.Equal(t, 26*60.0, n.Minutes)
	require.Equal(t, dayPair(0, 26), n.Window.Start+","+n.Window.End)
	acc := getAssets(t, a, "window="+dayPair(0, 26)+"&accumulate=true&filter="+urlQuery(`assetType:"node"`))
	require.Len(t, acc.Data, 1)
	for k, raw := range acc.Data[0] {
		require.JSONEq(t, string(raw), string(set[k]), k)
	}
	_, body := decode("window=" + dayPair(0, 26) + "&accumulate=true")
	require.True(t, strings.HasPrefix(body, `{"code":200,"status":"success","data":{`), body)

	// accumulate=false: the list of sets, one per block.
	rec := a.get(t, "/assets?window="+dayPair(0, 26)+"&accumulate=false")
	require.Equal(t, http.StatusOK, rec.Code)
	var list assetEnvelope
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list.Data, 3)

	// No data: an empty map, with a warning.
	set, body = decode("window=" + dayPair(48, 72))
	require.Empty(t, set)
	require.Contains(t, body, `"data":{}`)
	require.Contains(t, body, "no asset data")
}

func TestAssetsEndpointAggregateFilterAccumulate(t *testing.T) {
	st := assetStore(t)
	a := newTestAPI(t, st, func(o *HandlerOptions) { o.Assets = st })
	// A day and two hours: without accumulate, one set per block read.
	env := getAssets(t, a, "window="+dayPair(0, 26)+"&aggregate=type")
	require.Len(t, env.Data, 3)
	var n ocNode
	strictDecode(t, env.Data[0]["Node"], &n)
	require.Equal(t, 8.0, n.CPUCores, "two 4-core nodes")
	require.InDelta(t, 24*1.5+24*3, n.TotalCost, 1e-9)
	require.Equal(t, "", n.Properties.Cluster, "clusters differ")

	// Accumulated: one set; by cluster mixes kinds (no type).
	env = getAssets(t, a, "window="+dayPair(0, 26)+"&aggregate=cluster&accumulate=true")
	require.Len(t, env.Data, 1)
	var any ocHead
	strictDecode(t, env.Data[0]["east"], &any)
	require.Empty(t, any.Type)
	require.InDelta(t, 26*(1.5+0.01+0.025+0.1), any.TotalCost, 1e-6)
	require.Equal(t, 26*60.0, any.Minutes)

	// Filter: spot west nodes only, by type and cluster.
	env = getAssets(t, a, "window="+dayPair(0, 24)+`&filter=`+urlQuery(`assetType:"node"+cluster:"west"`))
	require.Len(t, env.Data[0], 1)
	require.Contains(t, env.Data[0], "west/Node/n1")
	env = getAssets(t, a, "window="+dayPair(0, 24)+`&aggregate=label:team&filter=`+urlQuery(`type!:"Node"`))
	require.Len(t, env.Data[0], 1)
	require.Contains(t, env.Data[0], "__unallocated__", "only nodes carry the label")

	// A window with no asset data says so.
	env = getAssets(t, a, "window="+dayPair(48, 72))
	require.Empty(t, env.Data)
	require.NotEmpty(t, env.Warnings)

	for _, bad := range []string{"window=1d&aggregate=namespace", "window=1d&filter=" + urlQuery(`namespace:"a"`), "window=1d&filter=" + urlQuery(`(cluster:"a"|cluster:"b"`), "window=1d&shareIdle=true"} {
		rec := a.get(t, "/assets?"+bad)
		require.Equal(t, http.StatusBadRequest, rec.Code, bad)
	}
}

func TestAssetsEndpointWithoutAssets(t *testing.T) {
	st := goldenStore(t)
	a := newTestAPI(t, st, nil)
	require.Equal(t, http.StatusNotFound, a.get(t, "/assets?window=1d").Code)
	a = newTestAPI(t, st, func(o *HandlerOptions) { o.Assets = st })
	env := getAssets(t, a, "window="+dayPair(0, 24))
	require.Empty(t, env.Data, "a store written before assets answers empty, with a warning")
	require.NotEmpty(t, env.Warnings)
}

// dayPair is the window from day0 + a hours to day0 + b hours.
func dayPair(a, b int) string {
	return day0.Add(time.Duration(a)*time.Hour).Format(time.RFC3339) + "," + day0.Add(time.Duration(b)*time.Hour).Format(time.RFC3339)
}

func urlQuery(s string) string { return url.QueryEscape(s) }

// TestParseAssetFilter: '+' binds tighter than '|', parentheses group, and
// every malformed filter is one clear error.
func TestParseAssetFilter(t *testing.T) {
	node := &asset.Asset{Kind: asset.KindNode, Properties: asset.Properties{Cluster: "west", Name: "n1"}, Labels: map[string]string{"team": "a|b"}}
	disk := &asset.Asset{Kind: asset.KindDisk, Properties: asset.Properties{Cluster: "east", Name: "d1"}}
	for filter, want := range map[string][2]bool{
		``:                                       {true, true},
		`type:"node"`:                            {true, false},
		`type:"disk"|cluster:"west"`:             {true, true},
		`type:"disk"+cluster:"west"|name:"n1"`:   {true, false},
		`type:"disk"+(cluster:"west"|name:"d1")`: {false, true},
		`(type:"node"|type:"disk")+cluster!:"east"`: {true, false},
		`((cluster:"east"))`:                        {false, true},
		`label[team]:"a|b"`:                         {true, false},
		`label[team]:"a|b"|name:"d1"`:               {true, true},
		`cluster:"__unallocated__"|name:"(n1)"`:     {false, false},
		`type:"NODE" + ( name:"x" | name:"n1" )`:    {true, false},
	} {
		f, err := ParseAssetFilter(filter)
		require.NoError(t, err, filter)
		require.Equal(t, want, [2]bool{f.Matches(node), f.Matches(disk)}, filter)
	}
	for filter, msg := range map[string]string{
		`(cluster:"a"`:          "without a matching ')'",
		`cluster:"a")`:          "without a matching '('",
		`cluster:"a`:            "unterminated quote",
		`cluster:"a"|`:          "empty comparison",
		`|cluster:"a"`:          "empty comparison",
		`cluster:"a"++name:"b"`: "empty comparison",
		`(cluster:"a")x`:        "text after ')'",
		`namespace:"a"`:         `field "namespace"`,
		`cluster:a`:             "not double-quoted",
		`cluster`:               "no ':' operator",
		strings.Repeat("(", 40) + `cluster:"a"` + strings.Repeat(")", 40): "nested more than",
	} {
		_, err := ParseAssetFilter(filter)
		require.ErrorContains(t, err, msg, filter)
	}
}

// FuzzParseAssetFilter: any filter text parses or is refused, never a
// panic; one that parses also parses after being wrapped in parentheses,
// and means the same.
func FuzzParseAssetFilter(f *testing.F) {
	for _, s := range []string{`type:"node"`, `type:"disk"+(cluster:"west"|name:"d1")`, `label[a]:"x","y"`, `(`, `"`, `a!:"\""`} {
		f.Add(s)
	}
	node := &asset.Asset{Kind: asset.KindNode, Properties: asset.Properties{Cluster: "west", Name: "n1"}}
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseAssetFilter(s)
		if err != nil || strings.TrimSpace(s) == "" {
			return
		}
		wrapped, err := ParseAssetFilter("(" + s + ")")
		if err != nil {
			t.Fatalf("%q parses but (%q) does not: %v", s, s, err)
		}
		if fl.Matches(node) != wrapped.Matches(node) {
			t.Fatalf("%q and (%q) disagree", s, s)
		}
	})
}
