package prom

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/api"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of HTTPConfig, applied where a field is zero.
const (
	DefaultQueryTimeout  = 2 * time.Minute
	DefaultConcurrency   = 5
	DefaultRetries       = 5
	DefaultRetryBaseWait = 100 * time.Millisecond
	DefaultRetryMaxWait  = 10 * time.Second
	DefaultUserAgent     = "costfed"
)

// HTTPConfig is everything NewHTTP needs to reach a Prometheus-compatible
// HTTP API: Prometheus, Amazon Managed Service for Prometheus (AMP), Thanos,
// Mimir, Cortex, VictoriaMetrics. Zero values take the documented defaults.
// It holds secrets: never log it.
type HTTPConfig struct {
	// URL is the API base without /api/v1: http://prometheus:9090,
	// https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>, or the
	// AMP SigV4 proxy form http://localhost:8005/workspaces/<id>. A path is
	// kept and /api/v1/... appended to it.
	URL string

	// At most one of BasicAuth, BearerAuth and SigV4 may be set; none means
	// no authentication (as behind a SigV4 proxy).
	BasicAuth  *BasicAuth
	BearerAuth *BearerAuth
	SigV4      *SigV4Auth

	// Headers are added to every request, e.g. X-Scope-OrgID for Mimir and
	// Cortex. With SigV4 they are signed too.
	Headers map[string]string

	// UserAgent is sent with every request unless Headers sets User-Agent
	// (default "costfed"; costfed's agent sends "costfed/<version>").
	UserAgent string

	TLS TLSConfig

	// ClusterFilter, when not empty, adds ClusterLabel="<ClusterFilter>" to
	// every selector of every query (a workspace shared by several clusters).
	ClusterFilter string
	// ClusterLabel is the label the filter matches; default "cluster_id".
	ClusterLabel string

	// QueryTimeout bounds each HTTP request (default 2m). It is also sent as
	// the query's timeout parameter so the store stops evaluating. A request
	// that runs out of time is retried like a 503.
	QueryTimeout time.Duration
	// Concurrency bounds the requests in flight across all goroutines using
	// this source (default 5). Waits between retries do not hold a slot.
	Concurrency int

	// Retries is the number of retries after the first attempt (default 5;
	// negative: no retries).
	Retries int
	// RetryBaseWait is the first backoff ceiling (default 100ms); it
	// doubles on each retry, with full jitter.
	RetryBaseWait time.Duration
	// RetryMaxWait caps every wait, Retry-After included (default 10s).
	RetryMaxWait time.Duration

	// MaxQueryRange, when positive, splits range queries longer than it into
	// consecutive step-aligned pieces before sending them. Instant queries
	// cannot be split this way: query builders should keep the ranges inside
	// instant queries (the [1d] of avg_over_time(x[1d])) within it.
	MaxQueryRange time.Duration
	// MinSplitRange is the floor of splitting after a 422 or 413: a range
	// query spanning at most this much is not halved again (default 0:
	// halve down to a single evaluation step).
	MinSplitRange time.Duration
}

// BasicAuth is HTTP basic authentication. Exactly one of Password and
// PasswordFile; the file is read on every request, so rotation works.
type BasicAuth struct {
	Username     string
	Password     string
	PasswordFile string
}

// BearerAuth sends "Authorization: Bearer <token>". Exactly one of Token and
// TokenFile; the file is read on every request, so a rotated token (a
// projected service-account token, say) is picked up without a restart.
type BearerAuth struct {
	Token     string
	TokenFile string
}

// SigV4Auth signs requests with AWS Signature Version 4 through
// github.com/prometheus/sigv4. Without static keys the AWS SDK default chain
// is used: environment, shared files (Profile), web identity (IRSA), ECS and
// EC2 roles. RoleARN is assumed through STS on top of those credentials.
type SigV4Auth struct {
	Region     string // required unless the default chain provides one
	AccessKey  string
	SecretKey  string
	Profile    string
	RoleARN    string
	ExternalID string
	// ServiceName defaults to "aps" (Amazon Managed Service for Prometheus).
	ServiceName string
}

// TLSConfig configures HTTPS. CAFile replaces the system roots; CertFile and
// KeyFile (both or neither) present a client certificate.
type TLSConfig struct {
	CAFile             string
	CertFile           string
	KeyFile            string
	ServerName         string
	InsecureSkipVerify bool
}

// HTTPOption changes how NewHTTP builds the source.
type HTTPOption func(*httpOptions)

type httpOptions struct {
	reg       prometheus.Registerer
	logger    *slog.Logger
	sleep     func(context.Context, time.Duration) error
	jitter    func(time.Duration) time.Duration
	now       func() time.Time
	transport http.RoundTripper
}

// WithHTTPRegisterer registers the source's metrics (see HTTPStats) with reg.
// Without it no metrics are registered. Two sources on one registerer need
// prometheus.WrapRegistererWith to tell them apart.
func WithHTTPRegisterer(reg prometheus.Registerer) HTTPOption {
	return func(o *httpOptions) { o.reg = reg }
}

// WithHTTPLogger logs retries and splits at debug level (errors are
// returned, not logged).
func WithHTTPLogger(l *slog.Logger) HTTPOption {
	return func(o *httpOptions) { o.logger = l }
}

// WithHTTPSleep replaces the wait between retries; it must return ctx.Err()
// when ctx ends first. Tests pass one that records and returns at once.
func WithHTTPSleep(sleep func(ctx context.Context, d time.Duration) error) HTTPOption {
	return func(o *httpOptions) { o.sleep = sleep }
}

// WithHTTPJitter replaces the random draw of full-jitter backoff: given the
// current ceiling it returns a wait in [0, ceiling].
func WithHTTPJitter(jitter func(ceiling time.Duration) time.Duration) HTTPOption {
	return func(o *httpOptions) { o.jitter = jitter }
}

// WithHTTPClock sets the clock used for Retry-After dates and durations in
// metrics (default time.Now).
func WithHTTPClock(now func() time.Time) HTTPOption {
	return func(o *httpOptions) { o.now = now }
}

// WithHTTPTransport replaces the base transport under the auth layers (the TLS
// settings of HTTPConfig are then not used).
func WithHTTPTransport(rt http.RoundTripper) HTTPOption {
	return func(o *httpOptions) { o.transport = rt }
}

// HTTPSource is a Source over the Prometheus HTTP API. It is safe for
// concurrent use.
type HTTPSource struct {
	client   api.Client
	endpoint string // URL with credentials redacted, for errors
	cfg      HTTPConfig
	filter   *ClusterFilter
	sem      chan struct{}
	sleep    func(context.Context, time.Duration) error
	jitter   func(time.Duration) time.Duration
	now      func() time.Time
	log      *slog.Logger
	counters *httpCounters
	scrub    *scrubber // secrets out of upstream text
}

var _ Source = (*HTTPSource)(nil)

// NewHTTP validates cfg and builds the source. ctx bounds what construction
// may do over the network: with SigV4 the AWS credentials are resolved once
// here (IMDS, STS), so a broken chain fails now rather than on the first
// query.
func NewHTTP(ctx context.Context, cfg HTTPConfig, opts ...HTTPOption) (*HTTPSource, error) {
	o := httpOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	cfg = withHTTPDefaults(cfg)
	u, err := validateHTTPConfig(cfg)
	if err != nil {
		return nil, err
	}
	o.setDefaults()
	s := &HTTPSource{
		endpoint: u.Redacted(),
		cfg:      cfg,
		sem:      make(chan struct{}, cfg.Concurrency),
		sleep:    o.sleep,
		jitter:   o.jitter,
		now:      o.now,
		log:      o.logger,
		scrub:    newScrubber(cfg),
	}
	if cfg.ClusterFilter != "" {
		if s.filter, err = NewClusterFilter(cfg.ClusterLabel, cfg.ClusterFilter); err != nil {
			return nil, fmt.Errorf("prom: %w", err)
		}
	}
	rt, err := newRoundTripper(ctx, cfg, o.transport)
	if err != nil {
		return nil, fmt.Errorf("prom: %s: %w", s.endpoint, err)
	}
	if s.client, err = api.NewClient(api.Config{Address: cfg.URL, RoundTripper: rt}); err != nil {
		return nil, fmt.Errorf("prom: client for %s: %w", s.endpoint, err)
	}
	if s.counters, err = newHTTPCounters(o.reg); err != nil {
		return nil, fmt.Errorf("prom: register metrics: %w", err)
	}
	return s, nil
}

func (o *httpOptions) setDefaults() {
	if o.sleep == nil {
		o.sleep = sleepContext
	}
	if o.jitter == nil {
		o.jitter = fullJitter
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
}

func withHTTPDefaults(cfg HTTPConfig) HTTPConfig {
	if cfg.ClusterLabel == "" {
		cfg.ClusterLabel = DefaultClusterLabel
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.RetryBaseWait == 0 {
		cfg.RetryBaseWait = DefaultRetryBaseWait
	}
	if cfg.RetryMaxWait == 0 {
		cfg.RetryMaxWait = DefaultRetryMaxWait
	}
	return cfg
}

func validateHTTPConfig(cfg HTTPConfig) (*url.URL, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("prom: url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prom: url %q: want http(s)://host[:port][/path]", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("prom: url %q: no query string or fragment allowed", u.Redacted())
	}
	var errs []error
	if cfg.QueryTimeout < 0 {
		errs = append(errs, errors.New("query timeout is negative"))
	}
	if cfg.Concurrency < 0 {
		errs = append(errs, errors.New("concurrency is negative"))
	}
	if cfg.RetryBaseWait < 0 || cfg.RetryMaxWait < 0 {
		errs = append(errs, errors.New("retry waits are negative"))
	}
	if cfg.MaxQueryRange < 0 || cfg.MinSplitRange < 0 {
		errs = append(errs, errors.New("max query range and min split range must not be negative"))
	}
	if err := validateAuth(cfg); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("prom: %w", err)
	}
	return u, nil
}

// Close releases idle connections.
func (s *HTTPSource) Close() {
	if c, ok := s.client.(api.CloseIdler); ok {
		c.CloseIdleConnections()
	}
}

// Stats returns a snapshot of what the source has done so far.
func (s *HTTPSource) Stats() HTTPStats { return s.counters.snapshot() }

// Query evaluates an instant query at ts (the store's current time when ts
// is zero). A 422 or 413 answer fails: an instant query has no time range
// to split, so its inner ranges must stay small (see MaxQueryRange).
func (s *HTTPSource) Query(ctx context.Context, query string, ts time.Time) (Result, error) {
	begin := s.now()
	res, err := s.query(ctx, query, ts)
	s.counters.finish(kindInstant, s.now().Sub(begin), res, countsAsFailure(ctx, err))
	return res, err
}

func (s *HTTPSource) query(ctx context.Context, query string, ts time.Time) (Result, error) {
	q, err := s.prepare(query)
	if err != nil {
		return Result{}, fmt.Errorf("prom: instant query %q: %w", query, err)
	}
	res, err := s.withRetries(ctx, apiRequest{query: q, instant: true, at: ts})
	if err == nil {
		return res, nil
	}
	if he, ok := errors.AsType[*HTTPError](err); ok && he.tooLarge() {
		err = fmt.Errorf("%w (an instant query cannot be split: shorten the ranges inside it)", err)
	}
	return Result{}, fmt.Errorf("prom: instant query %q at %s on %s: %w", q, formatInstant(ts), s.endpoint, err)
}

// QueryRange evaluates a range query at start, start+step, … up to end.
// Ranges longer than MaxQueryRange are sent in pieces; a piece answered by
// 422 (execution limits) or 413 (response too large) is halved and retried,
// recursively, down to MinSplitRange. Pieces are aligned to step, so the
// merged matrix equals the unsplit one.
func (s *HTTPSource) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Result, error) {
	begin := s.now()
	res, err := s.queryRange(ctx, query, start, end, step)
	s.counters.finish(kindRange, s.now().Sub(begin), res, countsAsFailure(ctx, err))
	return res, err
}

func (s *HTTPSource) queryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Result, error) {
	where := fmt.Sprintf("over [%s, %s] step %s on %s", formatInstant(start), formatInstant(end), step, s.endpoint)
	if step <= 0 || end.Before(start) {
		return Result{}, fmt.Errorf("prom: range query %q %s: need step > 0 and end >= start", query, where)
	}
	q, err := s.prepare(query)
	if err != nil {
		return Result{}, fmt.Errorf("prom: range query %q %s: %w", query, where, err)
	}
	var parts []Result
	for _, piece := range piecesOf(apiRequest{query: q, start: start, end: end, step: step}, s.cfg.MaxQueryRange) {
		res, err := s.rangeWithSplits(ctx, piece)
		if err != nil {
			return Result{}, fmt.Errorf("prom: range query %q %s: %w", q, where, err)
		}
		parts = append(parts, res)
	}
	return mergeResults(parts...)
}

// prepare applies the cluster filter.
func (s *HTTPSource) prepare(query string) (string, error) {
	if s.filter == nil {
		return query, nil
	}
	return s.filter.Apply(query)
}

// countsAsFailure reports whether err counts as a failure: the caller's own
// cancellation or deadline does not.
func countsAsFailure(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fullJitter draws uniformly from [0, ceiling].
func fullJitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

func formatInstant(t time.Time) string {
	if t.IsZero() {
		return "now"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
