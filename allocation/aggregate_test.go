package allocation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var testDay = Window{
	Start: time.Date(2024, 1, 7, 0, 0, 0, 0, time.UTC),
	End:   time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC),
}

func TestParseAggregateBy(t *testing.T) {
	tests := []struct {
		in   string
		want AggregateBy
	}{
		{"", nil},
		{"namespace", AggregateBy{{Property: PropertyNamespace}}},
		{"cluster, Namespace ,controllerkind", AggregateBy{{Property: PropertyCluster}, {Property: PropertyNamespace}, {Property: PropertyControllerKind}}},
		{"label:app.kubernetes.io/name", AggregateBy{{Property: PropertyLabel, Name: "app_kubernetes_io_name"}}},
		{"annotation:owner,providerID", AggregateBy{{Property: PropertyAnnotation, Name: "owner"}, {Property: PropertyProviderID}}},
		{"deployment,statefulset,daemonset,job,service,controller,pod,container,node",
			AggregateBy{{Property: PropertyDeployment}, {Property: PropertyStatefulSet}, {Property: PropertyDaemonSet}, {Property: PropertyJob},
				{Property: PropertyService}, {Property: PropertyController}, {Property: PropertyPod}, {Property: PropertyContainer}, {Property: PropertyNode}}},
		{"department,environment,owner,product,team", AggregateBy{{Property: PropertyDepartment}, {Property: PropertyEnvironment},
			{Property: PropertyOwner}, {Property: PropertyProduct}, {Property: PropertyTeam}}},
	}
	for _, tt := range tests {
		got, err := ParseAggregateBy(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
		again, err := ParseAggregateBy(got.String())
		require.NoError(t, err)
		require.Equal(t, got, again)
	}
	for in, msg := range map[string]string{
		"colour":          `unknown property "colour"`,
		"label":           "needs a name",
		"annotation: ":    "needs a name",
		"namespace:x":     "takes no ':NAME'",
		"namespace,,pod":  "empty property",
		"namespace,":      "empty property",
		"cluster,colour2": `unknown property "colour2"`,
	} {
		_, err := ParseAggregateBy(in)
		require.ErrorContains(t, err, msg, in)
	}
}

func TestSanitizeLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"app":                    "app",
		"app.kubernetes.io/name": "app_kubernetes_io_name",
		"team-name":              "team_name",
		"1st":                    "_1st",
		"é":                      "_",
		"":                       "",
	} {
		require.Equal(t, want, SanitizeLabelName(in), in)
	}
	clean := "already_clean"
	require.Zero(t, testing.AllocsPerRun(10, func() { _ = SanitizeLabelName(clean) }))
}

func TestParseShareModeAndLabelValues(t *testing.T) {
	for in, want := range map[string]ShareMode{"": ShareNone, "false": ShareNone, "__none__": ShareNone,
		"true": ShareWeighted, "Weighted": ShareWeighted, "__weighted__": ShareWeighted, "even": ShareEven, "__even__": ShareEven} {
		got, err := ParseShareMode(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := ParseShareMode("half")
	require.ErrorContains(t, err, `share mode "half"`)

	lv, err := ParseLabelValues("app=infra, team:platform,env=")
	require.NoError(t, err)
	require.Equal(t, []LabelValue{{"app", "infra"}, {"team", "platform"}, {"env", ""}}, lv)
	_, err = ParseLabelValues("app")
	require.ErrorContains(t, err, "want NAME=VALUE")
	_, err = ParseLabelValues("=x")
	require.ErrorContains(t, err, "empty label name")
}

func TestAggregateOptionsValidate(t *testing.T) {
	require.NoError(t, AggregateOptions{}.Validate())
	err := AggregateOptions{
		By:    AggregateBy{{Property: 99}, {Property: PropertyLabel}},
		Idle:  IdleOptions{Share: 7},
		Share: ShareOptions{CostPerHour: math.NaN(), Split: 9, Namespaces: []string{" "}, Labels: []LabelValue{{Name: ""}}},
	}.Validate()
	for _, msg := range []string{"unknown property", "label needs a name", "shareIdle", "shareSplit", "shareCost", "shareNamespaces", "shareLabels"} {
		require.ErrorContains(t, err, msg)
	}
	_, err = Set{Window: testDay}.Aggregate(AggregateOptions{Share: ShareOptions{CostPerHour: -1}})
	require.ErrorContains(t, err, "shareCost")
}

// Issue 16, row 10: shareCost=1e308 overflowed the shared and total costs to
// +Inf (answered as null). It is refused like NaN and Inf; the limit itself,
// over a ten-year window, stays finite.
func TestAggregateShareCostBound(t *testing.T) {
	for _, c := range []float64{1e308, math.MaxFloat64, MaxShareCostPerHour * 1.5} {
		err := AggregateOptions{Share: ShareOptions{CostPerHour: c}}.Validate()
		require.ErrorContains(t, err, "shareCost", "%v", c)
	}
	require.NoError(t, AggregateOptions{Share: ShareOptions{CostPerHour: MaxShareCostPerHour}}.Validate())

	w := Window{Start: testDay.Start, End: testDay.Start.Add(87840 * time.Hour)}
	s := NewSet(w,
		Allocation{Name: "c1/n1/a/p/c", Window: w, Start: w.Start, End: w.End, CPUCost: 1e9,
			Properties: Properties{Cluster: "c1", Namespace: "n1", Pod: "p", Container: "c"}},
		Allocation{Name: "c1/n2/a/p/c", Window: w, Start: w.Start, End: w.End, CPUCost: 1,
			Properties: Properties{Cluster: "c1", Namespace: "n2", Pod: "p", Container: "c"}})
	got, err := s.Aggregate(AggregateOptions{By: AggregateBy{{Property: PropertyNamespace}}, Share: ShareOptions{CostPerHour: MaxShareCostPerHour}})
	require.NoError(t, err)
	var shared float64
	for _, a := range got.Allocations {
		require.False(t, math.IsInf(a.TotalCost(), 0) || math.IsNaN(a.TotalCost()), "%s: %v", a.Name, a.TotalCost())
		shared += a.SharedCost
	}
	require.InDelta(t, MaxShareCostPerHour*87840, shared, MaxShareCostPerHour*87840*1e-9)
}

func TestAggregateKeysOfSpecialRows(t *testing.T) {
	w := testDay
	s := NewSet(w,
		Allocation{Name: "c1//__unmounted__/__unmounted__/__unmounted__", Window: w, Start: w.Start, End: w.End,
			Properties: Properties{Cluster: "c1", Namespace: UnmountedSuffix, Pod: UnmountedSuffix, Container: UnmountedSuffix},
			PVs:        []PVAllocation{{Key: "v", Cost: 1}}},
		Allocation{Name: "c1/n1/a/p/c", Window: w, Start: w.Start, End: w.End, CPUCost: 2,
			Properties: Properties{Cluster: "c1", Node: "n1", Namespace: "a", Pod: "p", Container: "c"}},
	)
	got, err := s.Aggregate(AggregateOptions{By: AggregateBy{{Property: PropertyCluster}, {Property: PropertyLabel, Name: "app"}}})
	require.NoError(t, err)
	require.Equal(t, []string{"c1/__unallocated__", "c1/__unmounted__"}, names(got))
}

func names(s Set) []string {
	out := make([]string, len(s.Allocations))
	for i, a := range s.Allocations {
		out[i] = a.Name
	}
	return out
}

// randomSet builds a varied set: workload rows over clusters, nodes, namespaces
// and labels, idle rows per node, unmounted rows; some rows start late.
func randomSet(r *rand.Rand, n int) Set {
	w := testDay
	s := Set{Window: w}
	ns := []string{"a", "b", "kube-system", "monitoring", "web"}
	apps := []string{"web", "api", "db", "infra"}
	for i := range n {
		c, node := fmt.Sprintf("c%d", r.IntN(2)), fmt.Sprintf("n%d", r.IntN(3))
		start := w.Start.Add(time.Duration(r.IntN(12)) * time.Hour)
		a := Allocation{
			Window: w, Start: start, End: w.End,
			Properties: Properties{Cluster: c, Node: node, Namespace: ns[r.IntN(len(ns))], Pod: fmt.Sprintf("p%d", i), Container: "c",
				Controller: "ctl", ControllerKind: "deployment", Labels: map[string]string{"app": apps[r.IntN(len(apps))]}},
			CPUCoreHours: r.Float64() * 10, CPUCoreRequestAverage: r.Float64(), CPUCoreUsageAverage: r.Float64(), CPUCost: r.Float64() * 3,
			RAMByteHours: r.Float64() * 1e10, RAMCost: r.Float64() * 2, GPUCost: float64(r.IntN(2)) * r.Float64(),
			NetworkCost: r.Float64() * 0.1, LoadBalancerCost: r.Float64() * 0.1, SharedCost: float64(r.IntN(2)) * 0.3,
			PVs: []PVAllocation{{Key: fmt.Sprintf("pv%d", r.IntN(4)), Cost: r.Float64(), ByteHours: 1e9}},
		}
		a.Name = c + "/" + node + "/" + a.Properties.Namespace + "/" + a.Properties.Pod + "/c"
		s.Allocations = append(s.Allocations, a)
	}
	for c := range 2 {
		for node := range 3 {
			s.Allocations = append(s.Allocations, Allocation{
				Name: fmt.Sprintf("c%d/n%d/%s", c, node, IdleSuffix), Window: w, Start: w.Start, End: w.End,
				Properties: Properties{Cluster: fmt.Sprintf("c%d", c), Node: fmt.Sprintf("n%d", node)},
				CPUCost:    r.Float64() * 5, RAMCost: r.Float64() * 5, GPUCost: r.Float64(), CPUCoreHours: 20,
			})
		}
		s.Allocations = append(s.Allocations, Allocation{
			Name: fmt.Sprintf("c%d/%s/%s/%s", c, UnmountedSuffix, UnmountedSuffix, UnmountedSuffix), Window: w, Start: w.Start, End: w.End,
			Properties: Properties{Cluster: fmt.Sprintf("c%d", c), Namespace: UnmountedSuffix, Pod: UnmountedSuffix, Container: UnmountedSuffix},
			PVs:        []PVAllocation{{Key: "lost", Cost: r.Float64()}},
		})
	}
	return s
}

func idleCost(s Set) float64 {
	var t float64
	for i := range s.Allocations {
		if s.Allocations[i].IsIdle() {
			t += s.Allocations[i].TotalCost()
		}
	}
	return t
}

// Without a filter no option may create or lose money: the answer's total is the
// input's, less idle when idle is neither included nor shared, plus the fixed
// overhead.
func TestAggregateConservesCost(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	byOptions := []string{"", "namespace", "cluster,node", "label:app", "controller", "team", "pod"}
	for trial := range 300 {
		s := randomSet(r, 1+r.IntN(40))
		by, err := ParseAggregateBy(byOptions[r.IntN(len(byOptions))])
		require.NoError(t, err)
		opts := AggregateOptions{
			By: by,
			Idle: IdleOptions{Include: r.IntN(2) == 0, Share: ShareMode(r.IntN(3)),
				ByNode: r.IntN(2) == 0, Split: r.IntN(2) == 0},
		}
		if r.IntN(2) == 0 {
			opts.Share = ShareOptions{Namespaces: []string{"kube-system", "monitoring"}[:r.IntN(3)],
				Labels: []LabelValue{{"app", "infra"}}[:r.IntN(2)], CostPerHour: float64(r.IntN(3)), Split: ShareMode(r.IntN(3))}
		}
		want := s.TotalCost() + opts.Share.CostPerHour*24
		if !opts.Idle.Include && opts.Idle.Share == ShareNone {
			want -= idleCost(s)
		}
		got, err := s.Aggregate(opts)
		require.NoError(t, err)
		require.InDelta(t, want, got.TotalCost(), 1e-9*max(1, want), "trial %d, options %+v", trial, opts)
		for _, a := range got.Allocations {
			require.False(t, math.IsNaN(a.TotalCost()), a.Name)
		}
	}
}

// Filtering never changes a kept row: aggregating with a filter gives the rows
// aggregating without it gives, for the keys the filter keeps entirely.
func TestAggregateFilterDoesNotChangeShares(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	f, err := ParseFilter(`namespace:"a","web"`)
	require.NoError(t, err)
	for range 50 {
		s := randomSet(r, 30)
		opts := AggregateOptions{By: AggregateBy{{Property: PropertyNamespace}},
			Idle:  IdleOptions{Share: ShareWeighted},
			Share: ShareOptions{Namespaces: []string{"kube-system"}, CostPerHour: 1}}
		all, err := s.Aggregate(opts)
		require.NoError(t, err)
		opts.Filter = f
		some, err := s.Aggregate(opts)
		require.NoError(t, err)
		for _, a := range some.Allocations {
			if a.IsIdle() {
				continue
			}
			b, ok := all.Get(a.Name)
			require.True(t, ok, a.Name)
			require.InDelta(t, b.TotalCost(), a.TotalCost(), 1e-9, a.Name)
			require.InDelta(t, b.SharedCost, a.SharedCost, 1e-9, a.Name)
		}
	}
}

// With a filter and unshared idle, every kept idle row is a fraction of its
// input: never more than the whole, never negative from non-negative input.
func TestAggregateFilteredIdleIsAFraction(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	f, err := ParseFilter(`label[app]:"web"|cluster:"c1"`)
	require.NoError(t, err)
	for range 100 {
		s := randomSet(r, 20)
		got, err := s.Aggregate(AggregateOptions{By: AggregateBy{{Property: PropertyNamespace}}, Filter: f,
			Idle: IdleOptions{Include: true, Split: true, ByNode: true}})
		require.NoError(t, err)
		for _, a := range got.Allocations {
			if !a.IsIdle() {
				continue
			}
			in, ok := s.Get(a.Name)
			require.True(t, ok, a.Name)
			for _, pair := range [][2]float64{{a.CPUCost, in.CPUCost}, {a.RAMCost, in.RAMCost}, {a.GPUCost, in.GPUCost}, {a.CPUCoreHours, in.CPUCoreHours}} {
				require.GreaterOrEqual(t, pair[0], 0.0)
				require.LessOrEqual(t, pair[0], pair[1]+1e-12)
			}
		}
	}
}

// Aggregate and Accumulate never write to their inputs.
func TestOperationsDoNotMutateInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	s := randomSet(r, 60)
	before := s.Clone()
	f, err := ParseFilter(`namespace!:"b"`)
	require.NoError(t, err)
	for _, opts := range []AggregateOptions{
		{By: AggregateBy{{Property: PropertyNamespace}}, Filter: f, Idle: IdleOptions{Share: ShareEven, ByNode: true},
			Share: ShareOptions{Namespaces: []string{"kube-system"}, Labels: []LabelValue{{"app", "infra"}}, CostPerHour: 2, Split: ShareEven}},
		{By: AggregateBy{{Property: PropertyLabel, Name: "app"}}, Idle: IdleOptions{Include: true, Split: true}},
		{Idle: IdleOptions{Share: ShareWeighted}},
	} {
		got, err := s.Aggregate(opts)
		require.NoError(t, err)
		// Writing to the answer must not reach the input either.
		for i := range got.Allocations {
			a := &got.Allocations[i]
			a.CPUCost = -1
			for j := range a.PVs {
				a.PVs[j].Cost = -1
			}
		}
	}
	require.Equal(t, before, s)

	other := randomSet(r, 10)
	other.Window = Window{Start: testDay.End, End: testDay.End.Add(24 * time.Hour)}
	sets := []Set{other, s}
	_, err = Accumulate(sets, AccumulateAll)
	require.NoError(t, err)
	require.Equal(t, before, sets[1], "accumulate wrote to its input")
	require.Equal(t, other.Window, sets[0].Window, "accumulate reordered the caller's slice")
}

func TestAggregatePropertiesIntersectWithoutSharingMaps(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	a := Allocation{Name: "x/1", Window: testDay, Start: testDay.Start, End: testDay.End,
		Properties: Properties{Namespace: "x", Labels: labels, Services: []string{"s1", "s2"}}}
	b := a
	b.Name = "x/2"
	b.Properties.Labels = map[string]string{"app": "web", "tier": "back"}
	b.Properties.Services = []string{"s2"}
	got, err := NewSet(testDay, a, b).Aggregate(AggregateOptions{By: AggregateBy{{Property: PropertyNamespace}}, IncludeAggregatedMetadata: true})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"app": "web"}, got.Allocations[0].Properties.Labels)
	require.Equal(t, []string{"s2"}, got.Allocations[0].Properties.Services)
	require.Equal(t, map[string]string{"app": "web", "tier": "front"}, labels)
}

// TestAggregateIgnoresUnmountedMetadata: as in OpenCost, a namespace's
// unmounted row (no labels) does not empty the namespace's labels,
// annotations and namespace labels, in whatever order the rows come.
func TestAggregateIgnoresUnmountedMetadata(t *testing.T) {
	pod := Allocation{Name: "x/web", Window: testDay, Start: testDay.Start, End: testDay.End,
		Properties: Properties{Namespace: "x", Pod: "web", Container: "c", Labels: map[string]string{"team": "a", "app": "web"},
			Annotations: map[string]string{"o": "1"}, NamespaceLabels: map[string]string{"team": "a"}}}
	pod2 := pod
	pod2.Name, pod2.Properties.Pod = "x/db", "db"
	pod2.Properties.Labels = map[string]string{"team": "a", "app": "db"}
	unmounted := Allocation{Name: "x/__unmounted__", Window: testDay, Start: testDay.Start, End: testDay.End,
		Properties: Properties{Namespace: "x", Pod: UnmountedSuffix, Container: UnmountedSuffix}}
	opts := AggregateOptions{By: AggregateBy{{Property: PropertyNamespace}}, IncludeAggregatedMetadata: true}
	for _, rows := range [][]Allocation{{unmounted, pod, pod2}, {pod, unmounted, pod2}, {pod, pod2, unmounted}} {
		got, err := NewSet(testDay, rows...).Aggregate(opts)
		require.NoError(t, err)
		require.Len(t, got.Allocations, 1)
		p := got.Allocations[0].Properties
		require.Equal(t, map[string]string{"team": "a"}, p.Labels)
		require.Equal(t, map[string]string{"o": "1"}, p.Annotations)
		require.Equal(t, map[string]string{"team": "a"}, p.NamespaceLabels)
	}
	got, err := NewSet(testDay, unmounted).Aggregate(opts)
	require.NoError(t, err)
	require.Nil(t, got.Allocations[0].Properties.Labels)
}

// TestAggregateDropsMetadataByDefault: as in OpenCost, rows summed by a key
// carry no labels or annotations unless includeAggregatedMetadata asks; rows
// of an empty By (one per name) keep theirs.
func TestAggregateDropsMetadataByDefault(t *testing.T) {
	a := Allocation{Name: "x/1", Window: testDay, Start: testDay.Start, End: testDay.End,
		Properties: Properties{Namespace: "x", Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"o": "1"},
			NamespaceLabels: map[string]string{"env": "prod"}}}
	got, err := NewSet(testDay, a).Aggregate(AggregateOptions{By: AggregateBy{{Property: PropertyNamespace}}})
	require.NoError(t, err)
	p := got.Allocations[0].Properties
	require.Nil(t, p.Labels)
	require.Nil(t, p.Annotations)
	require.Equal(t, map[string]string{"env": "prod"}, p.NamespaceLabels)
	got, err = NewSet(testDay, a).Aggregate(AggregateOptions{})
	require.NoError(t, err)
	require.Equal(t, a.Properties.Labels, got.Allocations[0].Properties.Labels)

	opts := AggregateOptions{By: AggregateBy{{Property: PropertyNamespace}}}
	require.False(t, opts.UsesPodMetadata())
	for _, o := range []AggregateOptions{
		{},
		{By: AggregateBy{{Property: PropertyTeam}}},
		{By: AggregateBy{{Property: PropertyAnnotation, Name: "o"}}},
		{By: opts.By, IncludeAggregatedMetadata: true},
		{By: opts.By, Share: ShareOptions{Labels: []LabelValue{{Name: "a", Value: "b"}}}},
		{By: opts.By, Filter: mustFilter(t, `namespace:"x"|annotation[o]:"1"`)},
	} {
		require.True(t, o.UsesPodMetadata(), "%+v", o)
	}
	require.False(t, AggregateOptions{By: opts.By, Filter: mustFilter(t, `namespaceLabel[env]:"prod"`)}.UsesPodMetadata())
}

func mustFilter(t *testing.T, s string) Filter {
	t.Helper()
	f, err := ParseFilter(s)
	require.NoError(t, err)
	return f
}

func TestSummerMergesManyVolumes(t *testing.T) {
	var rows []Allocation
	for i := range 50 {
		rows = append(rows, Allocation{Name: fmt.Sprint(i), Window: testDay, Start: testDay.Start, End: testDay.End,
			Properties:    Properties{Namespace: "a"},
			PVs:           []PVAllocation{{Key: fmt.Sprintf("pv%02d", i%25), Cost: 1, ByteHours: 2}},
			LoadBalancers: []LBAllocation{{Key: fmt.Sprintf("lb%02d", i%20), Cost: 1, Hours: 1, Private: true}}})
	}
	got, err := NewSet(testDay, rows...).Aggregate(AggregateOptions{By: AggregateBy{{Property: PropertyNamespace}}})
	require.NoError(t, err)
	a := got.Allocations[0]
	require.Len(t, a.PVs, 25)
	require.Len(t, a.LoadBalancers, 20)
	for i, pv := range a.PVs {
		require.Equal(t, fmt.Sprintf("pv%02d", i), pv.Key)
		require.Equal(t, 2.0, pv.Cost)
		require.Equal(t, 4.0, pv.ByteHours)
	}
	require.True(t, a.LoadBalancers[0].Private)
	require.InDelta(t, 50.0, a.PVCost(), 1e-12)
}

func TestEfficiencyAndDerivedValues(t *testing.T) {
	a := Allocation{Start: testDay.Start, End: testDay.End, CPUCoreHours: 48, RAMByteHours: 24 << 30, GPUHours: 12,
		PVs: []PVAllocation{{ByteHours: 48 << 30}}}
	require.Equal(t, 2.0, a.CPUCores())
	require.Equal(t, float64(1<<30), a.RAMBytes())
	require.Equal(t, 0.5, a.GPUCount())
	require.Equal(t, float64(2<<30), a.PVBytes())
	zero := Allocation{CPUCoreHours: 1}
	require.Zero(t, zero.CPUCores())

	tests := []struct {
		usage, request, cost, want float64
	}{
		{1, 2, 1, 0.5}, {3, 2, 1, 1.5}, {1, 0, 1, 1}, {0, 0, 1, 0}, {1, 0, 0, 0}, {0, 2, 1, 0},
	}
	for _, tt := range tests {
		a := Allocation{CPUCoreUsageAverage: tt.usage, CPUCoreRequestAverage: tt.request, CPUCost: tt.cost,
			RAMBytesUsageAverage: tt.usage, RAMBytesRequestAverage: tt.request, RAMCost: tt.cost,
			GPUUsageAverage: tt.usage, GPURequestAverage: tt.request, GPUCost: tt.cost}
		require.Equal(t, tt.want, a.CPUEfficiency())
		require.Equal(t, tt.want, a.RAMEfficiency())
		require.Equal(t, tt.want, a.GPUEfficiency())
	}
	mixed := Allocation{CPUCoreUsageAverage: 1, CPUCoreRequestAverage: 2, CPUCost: 10,
		RAMBytesUsageAverage: 3, RAMBytesRequestAverage: 4, RAMCost: 30, GPUCost: 100}
	require.InDelta(t, (0.75*30+0.5*10)/40, mixed.TotalEfficiency(), 1e-15)
	require.Zero(t, (&Allocation{}).TotalEfficiency())
}

func TestSetValidate(t *testing.T) {
	ok := Allocation{Name: "a", Start: testDay.Start, End: testDay.End}
	require.NoError(t, NewSet(testDay, ok).Validate())
	require.ErrorContains(t, Set{}.Validate(), "end is not after start")
	require.ErrorContains(t, NewSet(testDay, Allocation{}).Validate(), "row 0 has no name")
	require.ErrorContains(t, NewSet(testDay, ok, ok).Validate(), `both named "a"`)
	back := ok
	back.Start, back.End = ok.End, ok.Start
	require.ErrorContains(t, NewSet(testDay, back).Validate(), "ends")
}
