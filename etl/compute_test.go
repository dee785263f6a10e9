package etl

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/prom"
)

// fetchFakeSource answers from a function of the query and counts calls.
type fetchFakeSource struct {
	answer func(q string) (model.Value, error)
	calls  atomic.Int64
}

func (f *fetchFakeSource) Query(_ context.Context, q string, _ time.Time) (prom.Result, error) {
	f.calls.Add(1)
	v, err := f.answer(q)
	return prom.Result{Value: v, SamplesProcessed: 10, Warnings: nil}, err
}

func (f *fetchFakeSource) QueryRange(_ context.Context, q string, _, _ time.Time, _ time.Duration) (prom.Result, error) {
	f.calls.Add(1)
	v, err := f.answer(q)
	return prom.Result{Value: v, SamplesProcessed: 100}, err
}

func TestFetchFilesSeriesAndAsksFallbacks(t *testing.T) {
	w, err := allocation.NewWindow(time.Unix(3600, 0), time.Unix(7200, 0))
	require.NoError(t, err)
	opts := allocation.QueryOptions{LeftOpen: true}
	qs := allocation.Queries(w, opts)
	src := &fetchFakeSource{answer: func(q string) (model.Value, error) {
		if strings.HasPrefix(q, `label_replace(last_over_time(kube_pod_container_status_running`) {
			return model.Matrix{{
				Metric: model.Metric{"costfed_metric": "kube_pod_container_status_running", "pod": "p", "cluster_id": "c"},
				Values: []model.SamplePair{{Timestamp: 3600000, Value: 1}, {Timestamp: 3660000, Value: model.SampleValue(0)}},
			}}, nil
		}
		if strings.Contains(q, "kube_node_status_capacity_cpu_cores") { // the capacity fallback
			return model.Matrix{{Metric: model.Metric{"costfed_metric": "kube_node_status_capacity_cpu_cores", "node": "n"},
				Values: []model.SamplePair{{Timestamp: 3600000, Value: 4}}}}, nil
		}
		return model.Matrix{}, nil
	}}
	res, err := Fetch(context.Background(), src, opts, qs, 3)
	require.NoError(t, err)
	require.Equal(t, len(qs)+1, res.Queries, "one fallback asked")
	require.EqualValues(t, len(qs)+1, src.calls.Load())
	require.Len(t, res.Metrics["kube_pod_container_status_running"], 1)
	s := res.Metrics["kube_pod_container_status_running"][0]
	require.NotContains(t, s.Labels, "costfed_metric")
	require.Equal(t, []allocation.Sample{{T: 3600000, V: 1}, {T: 3660000, V: 0}}, s.Samples)
	require.Len(t, res.Metrics["kube_node_status_capacity_cpu_cores"], 1)
	require.EqualValues(t, 100*(len(qs)-1)+10+100, res.SamplesProcessed, "range queries, the instant one, the fallback")
}

func TestFetchNamesTheFailingQuery(t *testing.T) {
	w, err := allocation.NewWindow(time.Unix(3600, 0), time.Unix(7200, 0))
	require.NoError(t, err)
	src := &fetchFakeSource{answer: func(q string) (model.Value, error) {
		if strings.Contains(q, "kube_pod_labels") {
			return nil, errors.New("boom")
		}
		return model.Matrix{}, nil
	}}
	_, err = Fetch(context.Background(), src, allocation.QueryOptions{}, allocation.Queries(w, allocation.QueryOptions{}), 2)
	require.ErrorContains(t, err, "fetch query metadata: boom")
}
