package prom

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// probeStub answers every instant query with value and records the calls.
type probeStub struct {
	value model.Value
	err   error
	query string
	at    time.Time
}

func (s *probeStub) Query(_ context.Context, query string, ts time.Time) (Result, error) {
	s.query, s.at = query, ts
	return Result{Value: s.value}, s.err
}

func (s *probeStub) QueryRange(context.Context, string, time.Time, time.Time, time.Duration) (Result, error) {
	return Result{}, errors.New("not used")
}

func probeVector(v float64) model.Vector {
	return model.Vector{{Metric: model.Metric{}, Value: model.SampleValue(v)}}
}

func TestProbeRangeSemantics(t *testing.T) {
	at := time.Date(2024, 1, 8, 0, 0, 37, 0, time.UTC)
	cases := []struct {
		name  string
		value model.Value
		err   error
		want  RangeSemantics
		fails string
	}{
		{"closed", probeVector(7), nil, RangeClosed, ""},
		{"left-open", probeVector(6), nil, RangeLeftOpen, ""},
		{"nonsense", probeVector(5), nil, RangeUnknown, "gave 5"},
		{"empty", model.Vector{}, nil, RangeUnknown, "want one sample"},
		{"scalar", &model.Scalar{Value: 7}, nil, RangeUnknown, "want one sample"},
		{"error", nil, errors.New("boom"), RangeUnknown, "boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := &probeStub{value: tc.value, err: tc.err}
			got, err := ProbeRangeSemantics(context.Background(), src, ProbeAt(at))
			require.Equal(t, tc.want, got)
			if tc.fails != "" {
				require.ErrorContains(t, err, tc.fails)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, "count_over_time(vector(1)[60s:10s])", src.query)
			require.Equal(t, time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC), src.at, "evaluated at an aligned time")
		})
	}
}

func TestProbeDefaultsToCurrentMinute(t *testing.T) {
	src := &probeStub{value: probeVector(7)}
	before := time.Now().Truncate(time.Minute)
	_, err := ProbeRangeSemantics(context.Background(), src)
	require.NoError(t, err)
	require.Zero(t, src.at.Sub(src.at.Truncate(time.Minute)))
	require.False(t, src.at.Before(before))
}

func TestSubqueryPoints(t *testing.T) {
	require.EqualValues(t, 13, RangeClosed.SubqueryPoints(time.Hour, 5*time.Minute))
	require.EqualValues(t, 12, RangeLeftOpen.SubqueryPoints(time.Hour, 5*time.Minute))
	require.EqualValues(t, 289, RangeClosed.SubqueryPoints(24*time.Hour, 5*time.Minute))
	require.Zero(t, RangeUnknown.SubqueryPoints(time.Hour, time.Minute))
	require.Zero(t, RangeClosed.SubqueryPoints(time.Hour, 0))
	require.Equal(t, "closed", RangeClosed.String())
	require.Equal(t, "left-open", RangeLeftOpen.String())
	require.Equal(t, "unknown", RangeUnknown.String())
}
