package prom

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// fakeProm is an httptest Prometheus API with synthetic data: two series
// {job="a"} and {job="b"} whose value at t is fakeValue. A script can
// override answers; maxPoints > 0 answers 422 to longer range queries.
type fakeProm struct {
	t *testing.T

	mu          sync.Mutex
	reqs        []fakeReq
	inflight    int
	maxInflight int

	// script, when set, may answer request n itself (return true).
	script func(n int, r fakeReq, w http.ResponseWriter, req *http.Request) bool
	// maxPoints > 0: range queries with more points get tooLargeStatus.
	maxPoints      int
	tooLargeStatus int
	// hold delays every answer.
	hold time.Duration
}

type fakeReq struct {
	Method string
	Path   string
	Form   url.Values
	Header http.Header
}

func (r fakeReq) points(t *testing.T) int {
	start, end, step := r.rangeParams(t)
	return int(end.Sub(start)/step) + 1
}

func (r fakeReq) rangeParams(t *testing.T) (start, end time.Time, step time.Duration) {
	return parseFakeTime(t, r.Form.Get("start")), parseFakeTime(t, r.Form.Get("end")),
		time.Duration(mustFloat(t, r.Form.Get("step")) * float64(time.Second))
}

func parseFakeTime(t *testing.T, s string) time.Time {
	return time.UnixMilli(int64(mustFloat(t, s)*1000 + 0.5)).UTC()
}

func mustFloat(t *testing.T, s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Errorf("fake prometheus: bad number %q", s)
	}
	return f
}

func fakeValue(series int, ts time.Time) float64 {
	return float64(series*100000) + float64(ts.Unix()/60%100000)
}

// fakeMatrix is what a range query over the fake data gives.
func fakeMatrix(start, end time.Time, step time.Duration) model.Matrix {
	var m model.Matrix
	for i, job := range []string{"a", "b"} {
		ss := &model.SampleStream{Metric: model.Metric{"job": model.LabelValue(job)}}
		for ts := start; !ts.After(end); ts = ts.Add(step) {
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(ts.UnixNano()), Value: model.SampleValue(fakeValue(i, ts))})
		}
		m = append(m, ss)
	}
	return m
}

func newFakeProm(t *testing.T) *fakeProm {
	return &fakeProm{t: t, tooLargeStatus: http.StatusUnprocessableEntity}
}

// start serves the fake under prefix (e.g. "/workspaces/ws-123" or "").
func (f *fakeProm) start(prefix string) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc(prefix+"/api/v1/query", f.serve)
	mux.HandleFunc(prefix+"/api/v1/query_range", f.serve)
	srv := httptest.NewServer(mux)
	f.t.Cleanup(srv.Close)
	return srv
}

func (f *fakeProm) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.reqs...)
}

func (f *fakeProm) peakInflight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxInflight
}

func (f *fakeProm) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fr := fakeReq{Method: r.Method, Path: r.URL.Path, Form: r.Form, Header: r.Header.Clone()}
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, fr)
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	script := f.script
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if f.hold > 0 {
		select {
		case <-time.After(f.hold):
		case <-r.Context().Done():
			return
		}
	}
	if script != nil && script(n, fr, w, r) {
		return
	}
	if strings.HasSuffix(r.URL.Path, "/query_range") {
		f.answerRange(w, fr)
		return
	}
	f.answerInstant(w, fr)
}

func (f *fakeProm) answerInstant(w http.ResponseWriter, r fakeReq) {
	ts := parseFakeTime(f.t, r.Form.Get("time"))
	vec := model.Vector{
		{Metric: model.Metric{"job": "a"}, Value: model.SampleValue(fakeValue(0, ts)), Timestamp: model.TimeFromUnixNano(ts.UnixNano())},
		{Metric: model.Metric{"job": "b"}, Value: model.SampleValue(fakeValue(1, ts)), Timestamp: model.TimeFromUnixNano(ts.UnixNano())},
	}
	writeSuccess(w, "vector", vec, 42, nil)
}

func (f *fakeProm) answerRange(w http.ResponseWriter, r fakeReq) {
	if f.maxPoints > 0 && r.points(f.t) > f.maxPoints {
		writeAPIError(w, f.tooLargeStatus, "execution", "query processing would load too many samples into memory in query execution")
		return
	}
	start, end, step := r.rangeParams(f.t)
	m := fakeMatrix(start, end, step)
	writeSuccess(w, "matrix", m, int64(r.points(f.t)*len(m)), []string{"fake warning"})
}

func writeSuccess(w http.ResponseWriter, typ string, v any, samples int64, warnings []string) {
	body := map[string]any{
		"status": "success",
		"data": map[string]any{
			"resultType": typ,
			"result":     v,
			"stats":      map[string]any{"samples": map[string]any{"totalQueryableSamples": samples, "peakSamples": 1}},
		},
	}
	if warnings != nil {
		body["warnings"] = warnings
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": typ, "error": msg})
}

// sleepRecorder is an injected sleep that returns at once and records.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// maxJitter makes full jitter deterministic: always the ceiling.
func maxJitter(ceiling time.Duration) time.Duration { return ceiling }

// newTestHTTPSource builds a source for url with instant sleeps and
// deterministic jitter.
func newTestHTTPSource(t *testing.T, cfg HTTPConfig, opts ...HTTPOption) (*HTTPSource, *sleepRecorder) {
	t.Helper()
	rec := &sleepRecorder{}
	all := append([]HTTPOption{WithHTTPSleep(rec.sleep), WithHTTPJitter(maxJitter)}, opts...)
	s, err := NewHTTP(context.Background(), cfg, all...)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s, rec
}

// sortedHTTPMatrix returns m's series sorted by labels, for comparisons.
func sortedHTTPMatrix(t *testing.T, v model.Value) model.Matrix {
	t.Helper()
	m, ok := v.(model.Matrix)
	require.True(t, ok, "want a matrix, got %T", v)
	out := append(model.Matrix(nil), m...)
	sort.Sort(out)
	return out
}

func requireSameHTTPMatrix(t *testing.T, want, got model.Value) {
	t.Helper()
	w, g := sortedHTTPMatrix(t, want), sortedHTTPMatrix(t, got)
	require.Equal(t, len(w), len(g), "series count")
	for i := range w {
		require.Equal(t, w[i].Metric, g[i].Metric)
		require.Equal(t, len(w[i].Values), len(g[i].Values), "points of %s", w[i].Metric)
		for j := range w[i].Values {
			require.Equal(t, w[i].Values[j], g[i].Values[j], "point %d of %s", j, w[i].Metric)
		}
	}
}

// newTLSServer serves h over HTTPS with httptest's self-signed certificate
// (valid for 127.0.0.1 and example.com).
func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}
