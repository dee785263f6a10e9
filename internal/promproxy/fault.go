package promproxy

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultKind is one way the fault proxy misbehaves.
type FaultKind int

// Faults.
const (
	// FaultNone forwards the request (a rule with it lets a request through
	// before later rules could match it).
	FaultNone FaultKind = iota
	// Fault429 answers 429 Too Many Requests, with Retry-After when
	// Fault.RetryAfter is set.
	Fault429
	// FaultThrottling400 answers 400 with an AWS ThrottlingException body,
	// as AMP throttles.
	FaultThrottling400
	// Fault503 answers 503 Service Unavailable (Retry-After when set).
	Fault503
	// Fault504 answers 504 Gateway Timeout.
	Fault504
	// FaultSlow waits Fault.Delay, or until the client gives up, then
	// forwards.
	FaultSlow
	// Fault422 answers 422 with Prometheus's "too many samples" error.
	Fault422
	// Fault413 answers 413 with AMP's "response larger than the max" text.
	Fault413
	// FaultReset closes the connection with a TCP reset, answering nothing.
	FaultReset
)

func (k FaultKind) String() string {
	faultNames := [...]string{"none", "429", "400-throttling", "503", "504", "slow", "422", "413", "reset"}
	if k >= 0 && int(k) < len(faultNames) {
		return faultNames[k]
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// Fault is what to do to one request.
type Fault struct {
	Kind       FaultKind
	RetryAfter string        // Retry-After header value for 429 and 503: seconds or an HTTP date
	Delay      time.Duration // for FaultSlow
}

// Request is what a rule sees of an incoming query.
type Request struct {
	Index   int    // arrival order, from 0
	Path    string // as received, e.g. /api/v1/query_range
	Query   string // the PromQL, from the URL or the form body
	Instant bool   // /api/v1/query
	// Start, End and Step of a range query (zero otherwise or unparsable).
	Start, End time.Time
	Step       time.Duration
}

// Span is End-Start of a range query, 0 for others.
func (r Request) Span() time.Duration {
	if r.Instant || r.Start.IsZero() {
		return 0
	}
	return r.End.Sub(r.Start)
}

// Rule injects Fault into requests Match accepts (nil accepts all), at most
// Times times (0: no limit). The first rule that matches and has fires left
// decides; a request no rule takes is forwarded.
type Rule struct {
	Match func(Request) bool
	Fault Fault
	Times int
}

// OnIndex matches the requests arriving at the given positions (from 0).
func OnIndex(indexes ...int) func(Request) bool {
	return func(r Request) bool {
		for _, i := range indexes {
			if r.Index == i {
				return true
			}
		}
		return false
	}
}

// QueryContains matches queries containing s.
func QueryContains(s string) func(Request) bool {
	return func(r Request) bool { return strings.Contains(r.Query, s) }
}

// RangeLongerThan matches range queries spanning more than d, so that a
// client halving its ranges gets through eventually.
func RangeLongerThan(d time.Duration) func(Request) bool {
	return func(r Request) bool { return r.Span() > d }
}

// FaultProxy forwards to a target, injecting faults on a script, and counts
// what it did. It is safe for concurrent use.
type FaultProxy struct {
	forward *httputil.ReverseProxy

	mu        sync.Mutex
	rules     []Rule
	fired     []int
	requests  int
	forwarded int
	injected  map[FaultKind]int
	seen      []Request
}

// NewFaultProxy returns a proxy to target applying rules.
func NewFaultProxy(target *url.URL, rules ...Rule) *FaultProxy {
	return &FaultProxy{
		forward:  newReverseProxy(target),
		rules:    rules,
		fired:    make([]int, len(rules)),
		injected: map[FaultKind]int{},
	}
}

// Injected returns how many times each fault was injected.
func (p *FaultProxy) Injected() map[FaultKind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[FaultKind]int, len(p.injected))
	for k, v := range p.injected {
		out[k] = v
	}
	return out
}

// Requests is the number of requests received.
func (p *FaultProxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Forwarded is the number of requests passed to the target (slow ones
// included when the client was still waiting).
func (p *FaultProxy) Forwarded() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarded
}

// Seen returns the requests received so far, in arrival order.
func (p *FaultProxy) Seen() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.seen...)
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := describe(r, body)
	f := p.decide(&req)
	switch f.Kind {
	case FaultNone:
		p.pass(w, r)
	case FaultSlow:
		p.slow(w, r, f.Delay)
	case FaultReset:
		reset(w)
	default:
		writeFault(w, f)
	}
}

// decide numbers the request, records it and picks its fault.
func (p *FaultProxy) decide(req *Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	req.Index = p.requests
	p.requests++
	p.seen = append(p.seen, *req)
	for i, rule := range p.rules {
		if rule.Times > 0 && p.fired[i] >= rule.Times {
			continue
		}
		if rule.Match != nil && !rule.Match(*req) {
			continue
		}
		p.fired[i]++
		if rule.Fault.Kind != FaultNone {
			p.injected[rule.Fault.Kind]++
		}
		return rule.Fault
	}
	return Fault{Kind: FaultNone}
}

func (p *FaultProxy) pass(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.forwarded++
	p.mu.Unlock()
	p.forward.ServeHTTP(w, r)
}

// slow waits d, then forwards, unless the client hangs up first.
func (p *FaultProxy) slow(w http.ResponseWriter, r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return
	case <-t.C:
	}
	p.pass(w, r)
}

// reset closes the client's connection with SO_LINGER 0, which sends a TCP
// RST instead of a FIN: the client sees "connection reset by peer".
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "connection reset unsupported here", http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

func writeFault(w http.ResponseWriter, f Fault) {
	if f.RetryAfter != "" && (f.Kind == Fault429 || f.Kind == Fault503) {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch f.Kind {
	case Fault429:
		writeJSON(w, http.StatusTooManyRequests, `{"message":"Rate exceeded"}`)
	case FaultThrottling400:
		// The type only in the body, as some AMP answers carry it.
		writeJSON(w, http.StatusBadRequest, `{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}`)
	case Fault503:
		writeJSON(w, http.StatusServiceUnavailable, `{"status":"error","errorType":"unavailable","error":"injected: service unavailable"}`)
	case Fault504:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = fmt.Fprint(w, "<html><body><h1>504 Gateway Time-out</h1></body></html>\n")
	case Fault422:
		writeJSON(w, http.StatusUnprocessableEntity,
			`{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}`)
	case Fault413:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = fmt.Fprint(w, "response larger than the max (181673024 vs 52428800)\n")
	default:
		http.Error(w, "unknown fault "+f.Kind.String(), http.StatusInternalServerError)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, body)
}

// describe extracts the query parameters from the URL and a form body.
func describe(r *http.Request, body []byte) Request {
	params := r.URL.Query()
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if form, err := url.ParseQuery(string(body)); err == nil {
			for k, vs := range form {
				params[k] = append(params[k], vs...)
			}
		}
	}
	req := Request{
		Path:    r.URL.Path,
		Query:   params.Get("query"),
		Instant: strings.HasSuffix(r.URL.Path, "/api/v1/query"),
	}
	if strings.HasSuffix(r.URL.Path, "/api/v1/query_range") {
		req.Start, _ = parseAPITime(params.Get("start"))
		req.End, _ = parseAPITime(params.Get("end"))
		req.Step, _ = parseAPIDuration(params.Get("step"))
	}
	return req
}

// parseAPITime reads Unix seconds (with a fraction) or RFC 3339, as the
// Prometheus API accepts.
func parseAPITime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(f*1000 + 0.5*sign(f))).UTC(), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// parseAPIDuration reads seconds (with a fraction) or a Go duration.
func parseAPIDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}
