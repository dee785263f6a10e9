package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/store"
)

// HandlerOptions configure the API handler.
type HandlerOptions struct {
	Engine *Engine
	// Assets, when set, answers /assets (and /model/assets) from the asset
	// blocks of AssetsCluster (default store.CombinedID).
	Assets        AssetSource
	AssetsCluster string
	// BearerToken, when not empty, is required (Authorization: Bearer …) on the
	// query endpoints and /status; /healthz and /metrics stay open.
	BearerToken string
	// MaxConcurrent bounds the queries answered at once (default 2 ×
	// GOMAXPROCS); others wait for a slot while their request lasts.
	MaxConcurrent int
	// QueryTimeout bounds one query (default 2 minutes).
	QueryTimeout time.Duration
	// Now is the clock relative windows ("7d", "today") are read against.
	Now func() time.Time
	// Status, when set, answers /status (coverage JSON).
	Status func(ctx context.Context) (any, error)
	// Gatherer, when set, is served on /metrics.
	Gatherer   prometheus.Gatherer
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Route names, the path label of the request metrics.
var queryRoutes = map[string]string{
	"/allocation":               "/allocation",
	"/allocation/compute":       "/allocation",
	"/model/allocation":         "/allocation",
	"/allocation/summary":       "/allocation/summary",
	"/model/allocation/summary": "/allocation/summary",
	// The OpenCost UI's default base URL is /model (its nginx strips it in
	// front of OpenCost), so pointed straight at serve it asks for
	// /model/allocation/compute: OpenCost's semantics, not Kubecost's.
	"/model/allocation/compute": "/allocation",
}

// kubecostRoutes follow Kubecost's meaning where it differs from OpenCost's
// (shareIdle without includeIdle).
var kubecostRoutes = map[string]bool{"/model/allocation": true, "/model/allocation/summary": true}

type handler struct {
	opts    HandlerOptions
	logger  *slog.Logger
	token   [sha256.Size]byte
	sem     chan struct{}
	reqs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// NewHandler returns the read-only HTTP API: GET /allocation (also
// /allocation/compute and Kubecost's /model/allocation), /allocation/summary,
// /assets (with HandlerOptions.Assets), /status, /healthz and /metrics.
func NewHandler(opts HandlerOptions) (http.Handler, error) {
	if opts.Engine == nil {
		return nil, errors.New("api handler: no engine")
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 2 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &handler{opts: opts, logger: opts.Logger, sem: make(chan struct{}, opts.MaxConcurrent)}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if opts.BearerToken != "" {
		h.token = sha256.Sum256([]byte(opts.BearerToken))
	}
	f := promauto.With(opts.Registerer)
	h.reqs = f.NewCounterVec(prometheus.CounterOpts{Name: "costfed_api_requests_total", Help: "API requests by route and status code."}, []string{"path", "code"})
	h.latency = f.NewHistogramVec(prometheus.HistogramOpts{Name: "costfed_api_request_duration_seconds", Help: "API request durations by route.",
		Buckets: []float64{0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}}, []string{"path"})

	mux := http.NewServeMux()
	for path, route := range queryRoutes {
		summary := route == "/allocation/summary"
		kubecost := kubecostRoutes[path]
		mux.Handle(path, h.instrument(route, h.authorized(h.getOnly(func(w http.ResponseWriter, r *http.Request) { h.serveQuery(w, r, summary, kubecost) }))))
	}
	for _, path := range []string{"/assets", "/model/assets"} {
		kubecost := path == "/model/assets"
		mux.Handle(path, h.instrument("/assets", h.authorized(h.getOnly(func(w http.ResponseWriter, r *http.Request) { h.serveAssets(w, r, kubecost) }))))
	}
	mux.Handle("/status", h.instrument("/status", h.authorized(h.getOnly(h.serveStatus))))
	mux.Handle("/healthz", h.instrument("/healthz", h.getOnly(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})))
	if opts.Gatherer != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.Handle("/", h.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %q (try /allocation or /assets)", r.URL.Path))
	})))
	return mux, nil
}

// ServerOptions are the HTTP server's timeouts; zero values take the defaults.
type ServerOptions struct {
	// ReadHeaderTimeout (default 10s) and ReadTimeout (default 30s) cut a
	// client that sends its request slowly; WriteTimeout (default 2m) one that
	// reads the answer slowly; IdleTimeout (default 2m) idle keep-alives.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// NewServer returns an http.Server for h with the timeouts set, so no client
// can hold a connection open indefinitely.
func NewServer(h http.Handler, opts ServerOptions) *http.Server {
	def := func(d, v time.Duration) time.Duration {
		if d <= 0 {
			return v
		}
		return d
	}
	read := def(opts.ReadTimeout, 30*time.Second)
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(def(opts.ReadHeaderTimeout, 10*time.Second), read),
		ReadTimeout:       read,
		WriteTimeout:      def(opts.WriteTimeout, 2*time.Minute),
		IdleTimeout:       def(opts.IdleTimeout, 2*time.Minute),
		MaxHeaderBytes:    64 << 10,
	}
}

// serveQuery answers an allocation query. kubecost marks Kubecost's routes
// (/model/…), where shareIdle shares idle whatever includeIdle says; on
// OpenCost's routes idle exists only with includeIdle=true, so shareIdle
// without it shares nothing (see openCostIdle).
func (h *handler) serveQuery(w http.ResponseWriter, r *http.Request, summary, kubecost bool) {
	p, err := ParamsFromURL(r.URL.Query())
	if err != nil {
		h.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q, err := p.Parse(h.opts.Now())
	if err != nil {
		h.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var notes []string
	if !kubecost {
		notes = openCostIdle(&q)
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.QueryTimeout)
	defer cancel()
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	case <-ctx.Done():
		h.writeError(w, http.StatusServiceUnavailable, "too many queries at once; try again")
		return
	}
	ans, err := h.opts.Engine.Answer(ctx, q)
	if err != nil {
		h.writeQueryError(w, r, err)
		return
	}
	ans.Warnings = append(notes, ans.Warnings...)
	if summary {
		h.writeOK(w, NewSummaryResponse(ans, q.Window, q.Step))
		return
	}
	h.writeOK(w, NewResponse(ans))
}

// openCostIdle applies OpenCost's rule to q: OpenCost computes idle only
// when includeIdle=true (pkg/costmodel QueryAllocation), so shareIdle without
// includeIdle has no idle to share and changes nothing. It returns a note for
// the answer's warnings when it turned shareIdle off.
func openCostIdle(q *Query) []string {
	if q.Options.Idle.Include || q.Options.Idle.Share == allocation.ShareNone {
		return nil
	}
	q.Options.Idle.Share = allocation.ShareNone
	return []string{"shareIdle has no effect without includeIdle=true on this route (as in OpenCost); Kubecost's /model/allocation shares idle without it"}
}

func (h *handler) writeQueryError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *ParamError
	switch {
	case errors.As(err, &pe):
		h.writeError(w, http.StatusBadRequest, pe.Error())
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		h.logger.Warn("query cut short", "query", r.URL.RawQuery, "err", err)
		h.writeError(w, http.StatusServiceUnavailable, "query timed out or was cancelled")
	default:
		h.logger.Error("query failed", "query", r.URL.RawQuery, "err", err)
		h.writeError(w, http.StatusInternalServerError, "internal error; see the server log")
	}
}

// serveAssets answers an /assets query. OpenCost's /assets computes one
// asset set for the whole window and writes it as data (a single map of
// assets by key), which is what OpenCost's integration tests decode: so
// /assets accumulates by default and writes one map, and a list of sets
// (one per block) only when asked for accumulate=false. Kubecost's
// /model/assets writes a list of sets ([{key: asset}], its asset set
// range) whatever accumulate says, without accumulating by default.
func (h *handler) serveAssets(w http.ResponseWriter, r *http.Request, kubecost bool) {
	if h.opts.Assets == nil {
		h.writeError(w, http.StatusNotFound, "assets are not available")
		return
	}
	p, err := AssetParamsFromURL(r.URL.Query())
	if err != nil {
		h.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q, err := p.Parse(h.opts.Now())
	if err != nil {
		h.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	oneMap := !kubecost && (p.Accumulate == "" || q.Accumulate)
	if oneMap {
		q.Accumulate = true
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.QueryTimeout)
	defer cancel()
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	case <-ctx.Done():
		h.writeError(w, http.StatusServiceUnavailable, "too many queries at once; try again")
		return
	}
	cluster := h.opts.AssetsCluster
	if cluster == "" {
		cluster = store.CombinedID
	}
	ans, err := Assets(ctx, h.opts.Assets, cluster, q)
	if err != nil {
		h.writeQueryError(w, r, err)
		return
	}
	if oneMap {
		h.writeOK(w, NewAssetMapResponse(ans))
		return
	}
	h.writeOK(w, NewAssetResponse(ans))
}

func (h *handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	if h.opts.Status == nil {
		h.writeError(w, http.StatusNotFound, "status is not available")
		return
	}
	st, err := h.opts.Status(r.Context())
	if err != nil {
		h.logger.Error("status failed", "err", err)
		h.writeError(w, http.StatusInternalServerError, "internal error; see the server log")
		return
	}
	h.writeOK(w, st)
}

func (h *handler) writeOK(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := WriteJSON(w, v, false); err != nil {
		h.logger.Debug("response not written", "err", err)
	}
}

func (h *handler) writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = WriteJSON(w, ErrorResponse{Code: code, Status: "error", Message: msg}, false)
}

func (h *handler) getOnly(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			h.writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; the API is read-only (GET)", r.Method))
			return
		}
		next(w, r)
	})
}

// authorized checks the bearer token, when one is configured, comparing
// digests in constant time.
func (h *handler) authorized(next http.Handler) http.Handler {
	if h.opts.BearerToken == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || subtle.ConstantTimeCompare(sum[:], h.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="costfed"`)
			h.writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// instrument counts requests by route and code and times them.
func (h *handler) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		h.reqs.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		h.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code    int
	written bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.written {
		s.code, s.written = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.written = true
	return s.ResponseWriter.Write(b)
}
