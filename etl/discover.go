package etl

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"

	"github.com/costfed/costfed/prom"
	"github.com/costfed/costfed/store"
)

// discoveryQuery lists the values of label on the series OldestSample's
// presence check reads, over the rng before the evaluation time: one series
// per cluster, whatever the number of pods.
func discoveryQuery(label string, rng time.Duration) string {
	return fmt.Sprintf("group by (%s) (last_over_time(kube_pod_container_status_running[%s]))", label, model.Duration(rng))
}

// Discovered is what DiscoverClusters found.
type Discovered struct {
	// IDs are the valid cluster ids, sorted.
	IDs []string
	// Invalid are label values that are not valid cluster ids (they cannot
	// name a prefix), sorted; series without the label are left out.
	Invalid []string
}

// DiscoverClusters finds the clusters with pod activity in [start, end)
// through the cluster label: one instant query per maxRange of the span
// (maxRange ≤ 0 means one query), evaluated a millisecond before each
// piece ends, as OldestSample evaluates its presence check. Over the hour
// before the current one it finds exactly the clusters whose OldestSample
// check passes, so a central agent ticks a cluster when, and only when, a
// per-cluster agent of it could build.
func DiscoverClusters(ctx context.Context, src prom.Source, label string, start, end time.Time, maxRange time.Duration) (Discovered, error) {
	if !end.After(start) {
		return Discovered{}, fmt.Errorf("discover clusters: empty span %s to %s", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
	}
	if maxRange <= 0 {
		maxRange = end.Sub(start)
	}
	ids, invalid := map[string]bool{}, map[string]bool{}
	for s := start; s.Before(end); s = s.Add(maxRange) {
		e := s.Add(maxRange)
		if e.After(end) {
			e = end
		}
		at := e.Add(-time.Millisecond)
		res, err := src.Query(ctx, discoveryQuery(label, e.Sub(s)), at)
		if err != nil {
			return Discovered{}, fmt.Errorf("discover clusters: query at %s: %w", at.UTC().Format(time.RFC3339Nano), err)
		}
		v, ok := res.Value.(model.Vector)
		if !ok {
			return Discovered{}, fmt.Errorf("discover clusters: got a %s, want a vector", res.Value.Type())
		}
		for _, smp := range v {
			id := string(smp.Metric[model.LabelName(label)])
			switch {
			case id == "":
			case store.ValidateClusterID(id) != nil:
				invalid[id] = true
			default:
				ids[id] = true
			}
		}
	}
	out := Discovered{}
	for id := range ids {
		out.IDs = append(out.IDs, id)
	}
	for id := range invalid {
		out.Invalid = append(out.Invalid, id)
	}
	slices.Sort(out.IDs)
	slices.Sort(out.Invalid)
	return out, nil
}

// TickDiscoverySpan is the span a tick at now discovers clusters over: the
// hour before the current one, which OldestSample requires data in.
func TickDiscoverySpan(now time.Time) (start, end time.Time) {
	end = now.Truncate(time.Hour)
	return end.Add(-time.Hour), end
}
