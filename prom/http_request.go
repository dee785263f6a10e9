package prom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Why not the typed client of client_golang (api/prometheus/v1): it drops
// the stats object of the answer (AMP bills by
// stats.samples.totalQueryableSamples), the Retry-After header, and the
// body of a 400 that is not a Prometheus error (AMP's ThrottlingException).
// So requests go through api.Client, which keeps the URL joining (a path
// such as /workspaces/<id> is kept) and context-aware body reading, and the
// JSON is decoded here into common/model values.

const (
	pathQuery      = "/api/v1/query"
	pathQueryRange = "/api/v1/query_range"
)

// apiRequest is one instant or range query as sent to the API.
type apiRequest struct {
	query   string
	instant bool
	at      time.Time // instant; zero = the store's now

	start, end time.Time // range, inclusive
	step       time.Duration
}

func (r apiRequest) path() string {
	if r.instant {
		return pathQuery
	}
	return pathQueryRange
}

// form is the request's parameters. stats=all asks for query statistics
// (Prometheus ≥ 2.35, AMP); stores that do not know it ignore it.
func (r apiRequest) form(timeout time.Duration) url.Values {
	v := url.Values{}
	v.Set("query", r.query)
	if r.instant {
		if !r.at.IsZero() {
			v.Set("time", formatAPITime(r.at))
		}
	} else {
		v.Set("start", formatAPITime(r.start))
		v.Set("end", formatAPITime(r.end))
		v.Set("step", strconv.FormatFloat(r.step.Seconds(), 'f', -1, 64))
	}
	if timeout > 0 {
		v.Set("timeout", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	}
	v.Set("stats", "all")
	return v
}

// formatAPITime writes Unix seconds with millisecond precision, the
// resolution of Prometheus timestamps.
func formatAPITime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// attempt sends r once, holding a concurrency slot, within the per-query
// timeout. Errors are *HTTPError, *attemptTimeoutError, *transportError,
// decoding errors, or the caller's ctx.Err().
func (s *HTTPSource) attempt(ctx context.Context, r apiRequest) (Result, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	defer release()
	actx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	resp, body, err := s.send(actx, r)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return Result{}, ctx.Err()
	case actx.Err() != nil:
		return Result{}, &attemptTimeoutError{timeout: s.cfg.QueryTimeout}
	default:
		return Result{}, &transportError{err: err, scrub: s.scrub}
	}
	if resp.StatusCode/100 != 2 {
		return Result{}, newHTTPError(resp, body, s.now(), s.scrub)
	}
	return decodeQueryResponse(body, s.scrub)
}

// acquire takes a concurrency slot, or returns ctx.Err() if ctx ends first.
func (s *HTTPSource) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send POSTs the form-encoded query, as the Prometheus API and AMP accept,
// and falls back to GET once when the server refuses POST (405, 501).
func (s *HTTPSource) send(ctx context.Context, r apiRequest) (*http.Response, []byte, error) {
	u := s.client.URL(r.path(), nil)
	form := r.form(s.cfg.QueryTimeout).Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form))
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	s.counters.request()
	resp, body, err := s.client.Do(ctx, req)
	if err != nil || (resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotImplemented) {
		return resp, body, err
	}
	u.RawQuery = form
	if req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil); err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	s.counters.request()
	return s.client.Do(ctx, req)
}

// queryResponse is the envelope of /api/v1/query and /api/v1/query_range.
type queryResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// successResponse is a 2xx answer's envelope with its data decoded in the
// same pass: only the result stays raw, for decodeValue. The answer of a
// large range query is tens of megabytes, and every pass over it costs.
type successResponse struct {
	Status   string    `json:"status"`
	Data     queryData `json:"data"`
	Warnings []string  `json:"warnings"`
}

type queryData struct {
	ResultType model.ValueType `json:"resultType"`
	Result     json.RawMessage `json:"result"`
	Stats      *struct {
		Samples *struct {
			TotalQueryableSamples int64 `json:"totalQueryableSamples"`
		} `json:"samples"`
	} `json:"stats"`
}

// decodeQueryResponse decodes a 2xx answer. Upstream text quoted in errors and
// the warnings passed on are scrubbed of secrets and capped (see scrubber).
func decodeQueryResponse(body []byte, scrub *scrubber) (Result, error) {
	var ok successResponse
	if err := json.Unmarshal(body, &ok); err != nil || ok.Status != "success" {
		// Not a success (or data of another shape): the envelope alone
		// says what went wrong.
		return Result{}, decodeFailure(body, scrub)
	}
	for i, w := range ok.Warnings {
		ok.Warnings[i] = scrub.upstreamText(w)
	}
	v, err := decodeValue(ok.Data.ResultType, ok.Data.Result)
	if err != nil {
		return Result{}, err
	}
	res := Result{Value: v, Warnings: ok.Warnings}
	if ok.Data.Stats != nil && ok.Data.Stats.Samples != nil {
		res.SamplesProcessed = ok.Data.Stats.Samples.TotalQueryableSamples
	}
	return res, nil
}

// decodeFailure is the error of a 2xx answer that is not a well-formed
// success: not JSON, a status other than success, or data that does not
// decode.
func decodeFailure(body []byte, scrub *scrubber) error {
	var env queryResponse
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("decode response %q: %w", scrub.upstreamBody(body), err)
	}
	if env.Status != "success" {
		return fmt.Errorf("store answered status %q: %s: %s",
			scrub.upstreamText(env.Status), scrub.upstreamText(env.ErrorType), scrub.upstreamText(env.Error))
	}
	var data queryData
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return fmt.Errorf("decode response data: %w", err)
	}
	return fmt.Errorf("decode response %q: unexpected shape", scrub.upstreamBody(body))
}

func decodeValue(t model.ValueType, raw json.RawMessage) (model.Value, error) {
	var (
		v   model.Value
		err error
	)
	switch t {
	case model.ValVector:
		var vec model.Vector
		err = json.Unmarshal(raw, &vec)
		v = vec
	case model.ValMatrix:
		var mat model.Matrix
		err = json.Unmarshal(raw, &mat)
		v = mat
	case model.ValScalar:
		sc := &model.Scalar{}
		err = json.Unmarshal(raw, sc)
		v = sc
	case model.ValString:
		str := &model.String{}
		err = json.Unmarshal(raw, str)
		v = str
	default:
		return nil, fmt.Errorf("decode response: unknown result type %q", t)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s result: %w", t, err)
	}
	return v, nil
}

// HTTPError is an answer with a status other than 2xx.
type HTTPError struct {
	StatusCode int
	// Type is the store's error type: Prometheus's errorType (bad_data,
	// execution, timeout…) or AWS's (ThrottlingException,
	// InvalidSignatureException…).
	Type string
	// Message is the store's message, or the start of the body; configured
	// secrets scrubbed, at most 4 KiB.
	Message string
	// RetryAfter is the Retry-After header as a duration from now, when
	// HasRetryAfter.
	RetryAfter    time.Duration
	HasRetryAfter bool

	throttling bool // the body or type names ThrottlingException
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Type != "" {
		b.WriteString(": " + e.Type)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Throttled reports a rate limit: 429, or a 4xx naming ThrottlingException
// (AMP answers 400 with it).
func (e *HTTPError) Throttled() bool {
	return e.StatusCode == http.StatusTooManyRequests || (e.StatusCode/100 == 4 && e.throttling)
}

// tooLarge reports the answers that a smaller query may avoid: 422
// (execution limits such as too many samples) and 413 (response too large).
func (e *HTTPError) tooLarge() bool {
	return e.StatusCode == http.StatusUnprocessableEntity || e.StatusCode == http.StatusRequestEntityTooLarge
}

// errorBody covers the Prometheus error envelope and AWS JSON errors
// ({"message": …} or {"Message": …}, with "__type" on some services).
type errorBody struct {
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Message   string `json:"message"` // also matches "Message"
	AWSType   string `json:"__type"`
}

// newHTTPError reads a non-2xx answer. The upstream's type and message are
// scrubbed of the configured secrets (an upstream may echo the request's
// headers) and capped, so that neither errors nor logs quote them.
func newHTTPError(resp *http.Response, body []byte, now time.Time, scrub *scrubber) *HTTPError {
	e := &HTTPError{StatusCode: resp.StatusCode}
	var eb errorBody
	_ = json.Unmarshal(body, &eb) // not JSON: the body itself is the message
	e.Type = scrub.upstreamText(firstNonEmpty(eb.ErrorType, awsErrorType(resp.Header.Get("X-Amzn-Errortype")), awsErrorType(eb.AWSType)))
	e.Message = firstNonEmpty(scrub.upstreamText(firstNonEmpty(eb.Error, eb.Message)), scrub.upstreamBody(body))
	e.throttling = strings.Contains(string(body), "ThrottlingException") || strings.Contains(e.Type, "ThrottlingException")
	e.RetryAfter, e.HasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	return e
}

// awsErrorType strips the namespace of "ns#Type" and the URL suffix of
// "Type:http://…" that AWS error types carry.
func awsErrorType(s string) string {
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 §10.2.3).
// A date in the past means no wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second) // capped later anyway; avoid overflow
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// attemptTimeoutError is a request that ran out of the per-query timeout
// while the caller's context was still alive.
type attemptTimeoutError struct{ timeout time.Duration }

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("no answer within the query timeout (%s)", e.timeout)
}

// transportError is a request that got no HTTP answer: refused or reset
// connection, DNS, TLS, a body cut short. Its message is scrubbed of the
// configured secrets; the wrapped error is kept for classification.
type transportError struct {
	err   error
	scrub *scrubber
}

func (e *transportError) Error() string { return e.scrub.clean(e.err.Error()) }
func (e *transportError) Unwrap() error { return e.err }
