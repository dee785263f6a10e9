package allocation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSummerLBHours: a load balancer's hours are the maximum over the rows of
// one window that share it and add across windows, whatever the order of
// merging; its cost adds; its key names the cluster (issue 13 point 7).
func TestSummerLBHours(t *testing.T) {
	d0 := time.Date(2024, 1, 7, 0, 0, 0, 0, time.UTC)
	day := func(i int) Window { return Window{Start: d0.AddDate(0, 0, i), End: d0.AddDate(0, 0, i+1)} }
	row := func(cluster, pod string, w Window, hours, cost float64) Allocation {
		return Allocation{Name: cluster + "/n/a/" + pod + "/c", Window: w, Start: w.Start, End: w.End,
			Properties:       Properties{Cluster: cluster, Namespace: "a", Pod: pod},
			LoadBalancerCost: cost, LoadBalancers: []LBAllocation{{Key: "a/web", Service: "a/web", Cost: cost, Hours: hours}}}
	}
	byNS := AggregateOptions{By: mustAggregateBy(t, "namespace")}

	// Four containers sharing one 24 h load balancer: 24 h, not 96 h.
	var rows []Allocation
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		rows = append(rows, row("c1", p, day(0), 24, 0.25))
	}
	agg, err := NewSet(day(0), rows...).Aggregate(byNS)
	require.NoError(t, err)
	require.Len(t, agg.Allocations, 1)
	lbs := agg.Allocations[0].LoadBalancers
	require.Equal(t, []LBAllocation{{Key: "c1/a/web", Service: "a/web", Cost: 1, Hours: 24}}, lbs)

	// Streaming parts of one block merge to the same answer.
	p1, err := NewSet(day(0), rows[:1]...).Aggregate(byNS)
	require.NoError(t, err)
	p2, err := NewSet(day(0), rows[1:]...).Aggregate(byNS)
	require.NoError(t, err)
	require.Equal(t, lbs, MergeSets(day(0), p1, p2).Allocations[0].LoadBalancers)

	// Consecutive windows add: two days of 24 h are 48 h, in any order.
	d1, err := NewSet(day(1), row("c1", "p1", day(1), 24, 1), row("c1", "p2", day(1), 10, 1)).Aggregate(byNS)
	require.NoError(t, err)
	for _, sets := range [][]Set{{agg, d1}, {d1, agg}} {
		got, err := AccumulatePeriods(sets, Window{Start: day(0).Start, End: day(1).End}, AccumulateAll)
		require.NoError(t, err)
		require.Equal(t, []LBAllocation{{Key: "c1/a/web", Service: "a/web", Cost: 3, Hours: 48}}, got[0].Allocations[0].LoadBalancers)
	}
	// Rows of two windows merged in one go, interleaved: max per window, summed.
	mixed := NewSet(Window{Start: day(0).Start, End: day(1).End},
		row("c1", "p1", day(0), 20, 1), row("c1", "p1", day(1), 5, 1), row("c1", "p2", day(0), 24, 1), row("c1", "p2", day(1), 6, 1))
	got, err := mixed.Aggregate(byNS)
	require.NoError(t, err)
	require.Equal(t, 30.0, got.Allocations[0].LoadBalancers[0].Hours)
	require.Equal(t, 4.0, got.Allocations[0].LoadBalancers[0].Cost)

	// Two clusters' services of one name are two load balancers.
	two, err := NewSet(day(0), row("c1", "p1", day(0), 24, 1), row("c2", "p1", day(0), 12, 2)).Aggregate(byNS)
	require.NoError(t, err)
	require.Equal(t, []LBAllocation{
		{Key: "c1/a/web", Service: "a/web", Cost: 1, Hours: 24},
		{Key: "c2/a/web", Service: "a/web", Cost: 2, Hours: 12},
	}, two.Allocations[0].LoadBalancers)

	// Keys that already name the cluster are kept.
	require.Equal(t, "c1/a/web", LBKey("c9", "c1/a/web"))
	require.Equal(t, "a/web", LBKey("", "a/web"))
}

func mustAggregateBy(t *testing.T, s string) AggregateBy {
	t.Helper()
	by, err := ParseAggregateBy(s)
	require.NoError(t, err)
	return by
}
