package federator

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/store"
)

var day0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func sha(c byte) string { return strings.Repeat(string(c), 64) }

func entry(day int, digest string) store.IndexEntry {
	s := day0.Add(time.Duration(day) * 24 * time.Hour)
	return store.IndexEntry{Start: s.Unix(), End: s.Add(24 * time.Hour).Unix(), SHA256: digest, Size: 1, Rows: 1, TotalCost: 1}
}

func combinedEntry(day int, srcs ...store.Source) store.IndexEntry {
	e := entry(day, sha('f'))
	e.Sources = srcs
	return e
}

func cluster(id string, entries ...store.IndexEntry) ClusterIndex {
	return ClusterIndex{Cluster: id, Index: store.Index{Cluster: id, Resolution: store.Daily, Blocks: entries}}
}

func combined(entries ...store.IndexEntry) store.Index {
	return store.Index{Cluster: store.CombinedID, Resolution: store.Daily, Blocks: entries}
}

// planned summarises a plan as "day:reason:cluster,cluster(carried)".
func planned(plan []WindowPlan) []string {
	var out []string
	for _, wp := range plan {
		day := int(time.Unix(wp.Start, 0).Sub(day0) / (24 * time.Hour))
		var ins []string
		for _, in := range wp.Inputs {
			s := in.Cluster
			if in.Carried {
				s += "(carried)"
			}
			ins = append(ins, s)
		}
		out = append(out, strings.Join([]string{string(rune('0' + day)), wp.Reason, strings.Join(ins, ",")}, ":"))
	}
	return out
}

func TestPlan(t *testing.T) {
	a1, b1 := store.Source{Cluster: "a", SHA256: sha('1')}, store.Source{Cluster: "b", SHA256: sha('2')}
	cases := []struct {
		name     string
		clusters []ClusterIndex
		combined store.Index
		opts     PlanOptions
		want     []string
		expired  int
	}{
		{name: "empty store", want: nil},
		{name: "first pass merges every window",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('1')), entry(1, sha('3'))), cluster("b", entry(0, sha('2')))},
			want:     []string{"0:new:a,b", "1:new:a"}},
		{name: "nothing changed plans nothing",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('1'))), cluster("b", entry(0, sha('2')))},
			combined: combined(combinedEntry(0, a1, b1)),
			want:     nil},
		{name: "a damaged combined block re-merges its window, same inputs or none",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('1'))), cluster("b", entry(0, sha('2')))},
			combined: combined(combinedEntry(0, a1, b1), combinedEntry(1), combinedEntry(2, a1)),
			opts:     PlanOptions{Damaged: map[int64]string{day0.Unix(): "object not found", day0.Add(24 * time.Hour).Unix(): "empty object"}},
			want:     []string{"0:combined block damaged: object not found:a,b", "1:combined block damaged: empty object:"}},
		{name: "a rebuilt block re-merges its window only",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('9')), entry(1, sha('3'))), cluster("b", entry(0, sha('2')))},
			combined: combined(combinedEntry(0, a1, b1), combinedEntry(1, store.Source{Cluster: "a", SHA256: sha('3')})),
			want:     []string{"0:inputs changed:a,b"}},
		{name: "a late cluster re-merges the windows it joins",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('1'))), cluster("b", entry(0, sha('2'))), cluster("c", entry(0, sha('5')))},
			combined: combined(combinedEntry(0, a1, b1)),
			want:     []string{"0:inputs changed:a,b,c"}},
		{name: "a removed or denied cluster leaves",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('1')))},
			combined: combined(combinedEntry(0, a1, b1)),
			want:     []string{"0:inputs changed:a"}},
		{name: "every cluster removed rewrites the window empty",
			combined: combined(combinedEntry(0, a1)),
			want:     []string{"0:inputs changed:"}},
		{name: "an unreadable index keeps the cluster's combined rows",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('1')), entry(1, sha('4'))), {Cluster: "b", Err: errTest}},
			combined: combined(combinedEntry(0, a1, b1)),
			want:     []string{"1:new:a"}},
		{name: "a window dropped by the cluster's retention is carried, not lost",
			clusters: []ClusterIndex{cluster("a", entry(1, sha('4'))), cluster("b", entry(0, sha('2')))},
			combined: combined(combinedEntry(0, a1, b1), combinedEntry(1, store.Source{Cluster: "a", SHA256: sha('4')})),
			want:     nil},
		{name: "a quarantined digest does not re-merge again",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('9'))), cluster("b", entry(0, sha('2')))},
			combined: combined(combinedEntry(0, store.Source{Cluster: "a", SHA256: sha('1'), Quarantined: sha('9')}, b1)),
			want:     nil},
		{name: "a fixed upload after a quarantine re-merges",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('8'))), cluster("b", entry(0, sha('2')))},
			combined: combined(combinedEntry(0, store.Source{Cluster: "a", SHA256: sha('1'), Quarantined: sha('9')}, b1)),
			want:     []string{"0:inputs changed:a,b"}},
		{name: "cutoff ignores older windows",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('1')), entry(1, sha('3')), entry(2, sha('4')))},
			opts:     PlanOptions{Cutoff: day0.Add(48 * time.Hour)},
			want:     []string{"2:new:a"}},
		{name: "retention expires combined windows and does not merge them",
			clusters: []ClusterIndex{cluster("a", entry(0, sha('1')), entry(1, sha('3')), entry(2, sha('4')))},
			combined: combined(combinedEntry(0, a1)),
			opts:     PlanOptions{RetainFrom: day0.Add(36 * time.Hour)},
			want:     []string{"1:new:a", "2:new:a"}, expired: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, expired := Plan(tc.clusters, tc.combined, tc.opts)
			require.Equal(t, tc.want, planned(plan))
			require.Len(t, expired, tc.expired)
		})
	}
}

var errTest = errTestType{}

type errTestType struct{}

func (errTestType) Error() string { return "index unreadable" }

func TestDuplicateProducers(t *testing.T) {
	mk := func(producers ...string) store.Index {
		ix := store.Index{}
		for i, p := range producers {
			e := entry(i, sha('1'))
			e.BuildTime = day0.Add(time.Duration(i) * time.Hour)
			e.ProducerInstance = p
			ix.Blocks = append(ix.Blocks, e)
		}
		return ix
	}
	require.Nil(t, duplicateProducers(mk("a", "a", "a")))
	require.Nil(t, duplicateProducers(mk("a", "a", "b", "b")), "a replaced pod is not a duplicate")
	require.Nil(t, duplicateProducers(mk("a", "a", "ops-laptop", "a")), "a one-off rebuild is not a duplicate")
	require.Equal(t, []string{"a", "b"}, duplicateProducers(mk("a", "b", "a", "b", "a")))
}
