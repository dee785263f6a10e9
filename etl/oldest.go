package etl

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/common/model"

	"github.com/costfed/costfed/prom"
)

// presenceQuery asks whether the source holds pod activity in the hour before
// the evaluation time. kube_pod_container_status_running exists whenever a
// cluster runs pods, and has few series compared with cAdvisor's.
const presenceQuery = `count(last_over_time(kube_pod_container_status_running[1h]))`

// OldestSample finds, to the hour, the oldest data the source holds within
// lookback of now, by binary search over hourly presence checks: about
// log2(lookback in hours) cheap instant queries (12 for 91 days). It assumes
// the source's data is contiguous from its oldest sample to now, which is
// how retention ages data out. When the source covers the whole lookback it
// returns now − lookback (floored to the hour); when it holds nothing in the
// last hour it returns an error.
func OldestSample(ctx context.Context, src prom.Source, now time.Time, lookback time.Duration) (time.Time, error) {
	hasData := func(hourStart time.Time) (bool, error) {
		// Evaluated a millisecond before the hour ends, the [1h] range holds
		// the samples of [hourStart, hourStart+1h) on stores with closed
		// (Prometheus 2) and left-open (Prometheus 3) ranges alike.
		at := hourStart.Add(time.Hour - time.Millisecond)
		res, err := src.Query(ctx, presenceQuery, at)
		if err != nil {
			return false, fmt.Errorf("find the oldest sample: query at %s: %w", at.UTC().Format(time.RFC3339Nano), err)
		}
		v, ok := res.Value.(model.Vector)
		return ok && len(v) > 0 && v[0].Value > 0, nil
	}
	newest := now.Truncate(time.Hour).Add(-time.Hour)
	ok, err := hasData(newest)
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		return time.Time{}, fmt.Errorf("find the oldest sample: the source holds no pod activity in the hour before %s", now.UTC().Format(time.RFC3339))
	}
	oldest := now.Add(-lookback).Truncate(time.Hour)
	if ok, err := hasData(oldest); err != nil || ok {
		return oldest, err
	}
	// Invariant: no data in the hour starting at lo, data in the one at hi.
	lo, hi := oldest, newest
	for hi.Sub(lo) > time.Hour {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Hour)
		ok, err := hasData(mid)
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}
