package allocation

import (
	"fmt"
	"maps"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Benchmarks: aggregating a set of 1,000,000 rows, reported per row.
//
//	go test -run '^$' -bench . -benchmem ./allocation
//
// The fixture looks like a day of a large fleet: 10 clusters, 1,000 nodes, 200
// namespaces, 1,000,000 containers, each with its own label map (3 labels, 500
// apps), one row in ten with a volume, and an idle row per node.

const benchRowCount = 1_000_000

var (
	benchOnce sync.Once
	benchSet  Set
)

func benchFixture() Set {
	benchOnce.Do(func() { benchSet = makeBenchSet(benchRowCount) })
	return benchSet
}

func makeBenchSet(n int) Set {
	w := Window{Start: time.Date(2024, 1, 7, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)}
	labelSets := make([]map[string]string, 5000)
	for i := range labelSets {
		labelSets[i] = map[string]string{
			"app":               fmt.Sprintf("app-%d", i%500),
			"team":              fmt.Sprintf("team-%d", i%40),
			"pod_template_hash": fmt.Sprintf("%08x", i*2654435761),
		}
	}
	s := Set{Window: w, Allocations: make([]Allocation, 0, n+1000)}
	for i := range n {
		cluster, node, ns := fmt.Sprintf("cluster-%d", i%10), fmt.Sprintf("node-%d", i%1000), fmt.Sprintf("ns-%d", (i/7)%200)
		pod := fmt.Sprintf("pod-%d", i/2)
		a := Allocation{
			Name:   cluster + "/" + node + "/" + ns + "/" + pod + "/c" + fmt.Sprint(i%2),
			Window: w, Start: w.Start.Add(time.Duration(i%60) * time.Minute), End: w.End,
			Properties: Properties{Cluster: cluster, Node: node, Namespace: ns, Pod: pod, Container: "c" + fmt.Sprint(i%2),
				Controller: fmt.Sprintf("deploy-%d", i/20), ControllerKind: "deployment", Labels: maps.Clone(labelSets[(i/2)%len(labelSets)])},
			CPUCoreHours: 1 + float64(i%7), CPUCoreRequestAverage: 0.5, CPUCoreUsageAverage: 0.25, CPUCoreUsageMax: float64(i%5) / 2,
			CPUCost: 0.1 * float64(1+i%7), RAMByteHours: float64(1+i%3) * (1 << 30), RAMBytesRequestAverage: 1 << 30,
			RAMBytesUsageAverage: 1 << 29, RAMCost: 0.05 * float64(1+i%3), NetworkCost: 0.001, PriceSource: "metrics",
		}
		if i%10 == 0 {
			a.PVs = []PVAllocation{{Key: fmt.Sprintf("cluster=%s:name=pv-%d", cluster, i/10%5000), ByteHours: 10 << 30, Cost: 0.02}}
		}
		s.Allocations = append(s.Allocations, a)
	}
	for i := range 1000 {
		cluster, node := fmt.Sprintf("cluster-%d", i%10), fmt.Sprintf("node-%d", i)
		s.Allocations = append(s.Allocations, Allocation{
			Name: cluster + "/" + node + "/" + IdleSuffix, Window: w, Start: w.Start, End: w.End,
			Properties: Properties{Cluster: cluster, Node: node}, CPUCost: 20, RAMCost: 10, CPUCoreHours: 96,
		})
	}
	return s
}

func BenchmarkAggregateByNamespace(b *testing.B) {
	benchAggregate(b, AggregateOptions{By: AggregateBy{{Property: PropertyNamespace}}})
}

func BenchmarkAggregateByLabelApp(b *testing.B) {
	benchAggregate(b, AggregateOptions{By: AggregateBy{{Property: PropertyLabel, Name: "app"}}})
}

func BenchmarkAggregateByClusterNamespace(b *testing.B) {
	benchAggregate(b, AggregateOptions{By: AggregateBy{{Property: PropertyCluster}, {Property: PropertyNamespace}}})
}

// A full query: idle shared by node, a shared namespace and overhead, a filter.
func BenchmarkAggregateFullQuery(b *testing.B) {
	f, err := ParseFilter(`namespace!:"ns-1"+label[team]<~:"team-1"|cluster:"cluster-3"`)
	if err != nil {
		b.Fatal(err)
	}
	benchAggregate(b, AggregateOptions{
		By:     AggregateBy{{Property: PropertyNamespace}},
		Filter: f,
		Idle:   IdleOptions{Share: ShareWeighted, ByNode: true},
		Share:  ShareOptions{Namespaces: []string{"ns-0"}, CostPerHour: 10},
	})
}

func benchAggregate(b *testing.B, opts AggregateOptions) {
	s := benchFixture()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Aggregate(opts); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	rows := float64(b.N) * float64(len(s.Allocations))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/rows, "allocs/row")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/rows, "B/row")
}

// BenchmarkAccumulateDay sums 24 hourly sets of 10,000 rows into a day.
func BenchmarkAccumulateDay(b *testing.B) {
	day := makeBenchSet(10_000)
	sets := make([]Set, 24)
	for h := range sets {
		w := Window{Start: day.Window.Start.Add(time.Duration(h) * time.Hour), End: day.Window.Start.Add(time.Duration(h+1) * time.Hour)}
		sets[h] = Set{Window: w, Allocations: day.Allocations}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Accumulate(sets, AccumulateDay); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*24*len(day.Allocations)), "ns/row")
}

func BenchmarkParseFilter(b *testing.B) {
	const in = `namespace:"kube-system","monitoring"+label[app]:"web"|(cluster<~:"prod-"+controllerKind!:"job")`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFilter(in); err != nil {
			b.Fatal(err)
		}
	}
}
