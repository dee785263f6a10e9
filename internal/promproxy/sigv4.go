package promproxy

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// AWS Signature Version 4, as specified in the AWS IAM user guide ("Create
// a signed AWS API request"):
//
//	CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n
//	                   CanonicalHeaders \n SignedHeaders \n HexSHA256(Payload)
//	StringToSign     = "AWS4-HMAC-SHA256" \n AmzDate \n Scope \n HexSHA256(CanonicalRequest)
//	Scope            = Date/Region/Service/aws4_request
//	SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4"+Secret, Date), Region), Service), "aws4_request")
//	Signature        = Hex(HMAC(SigningKey, StringToSign))
//
// Services other than S3 encode each path segment twice (the request's
// already-escaped path is escaped again) and normalise the path.

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"
	scopeTerminator = "aws4_request"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	maxBodyBytes    = 16 << 20
	defaultMaxSkew  = 15 * time.Minute // what AWS allows
)

// SigV4Verifier checks AWS SigV4 signatures made with one static access key.
type SigV4Verifier struct {
	Region    string
	Service   string // e.g. "aps"
	AccessKey string
	SecretKey string
	// Now is the verifier's clock (default time.Now); the request time must
	// be within MaxSkew (default 15m) of it.
	Now     func() time.Time
	MaxSkew time.Duration
}

// SigV4Error is a rejected request, shaped like AWS's answer.
type SigV4Error struct {
	Type    string // AWS error type, e.g. InvalidSignatureException
	Message string
}

func (e *SigV4Error) Error() string { return e.Type + ": " + e.Message }

func reject(typ, format string, args ...any) *SigV4Error {
	return &SigV4Error{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// sigV4Auth is a parsed Authorization header.
type sigV4Auth struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

// Verify checks r, whose body is body, and returns nil or a *SigV4Error.
func (v *SigV4Verifier) Verify(r *http.Request, body []byte) error {
	header := r.Header.Get("Authorization")
	if header == "" {
		return reject("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	a, err := parseSigV4Auth(header)
	if err != nil {
		return err
	}
	if err := v.checkScope(a); err != nil {
		return err
	}
	amzDate, err := v.checkDate(r, a)
	if err != nil {
		return err
	}
	payloadHash, err := payloadHashOf(r, body)
	if err != nil {
		return err
	}
	canonical := canonicalRequest(r, a.signedHeaders, payloadHash)
	scope := strings.Join([]string{a.date, a.region, a.service, scopeTerminator}, "/")
	want := signature(signingKey(v.SecretKey, a.date, a.region, a.service), stringToSign(amzDate, scope, canonical))
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return reject("InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return nil
}

func parseSigV4Auth(header string) (sigV4Auth, error) {
	alg, rest, _ := strings.Cut(header, " ")
	if alg != sigV4Algorithm {
		return sigV4Auth{}, reject("IncompleteSignatureException", "Unsupported authorization algorithm %q", alg)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[k] = val
		}
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[4] != scopeTerminator {
		return sigV4Auth{}, reject("IncompleteSignatureException", "Authorization header requires a Credential of the form AccessKey/Date/Region/Service/aws4_request")
	}
	signed := fields["SignedHeaders"]
	sig := fields["Signature"]
	if signed == "" || sig == "" {
		return sigV4Auth{}, reject("IncompleteSignatureException", "Authorization header requires 'SignedHeaders' and 'Signature' parameters")
	}
	a := sigV4Auth{accessKey: cred[0], date: cred[1], region: cred[2], service: cred[3],
		signedHeaders: strings.Split(signed, ";"), signature: sig}
	if !sort.StringsAreSorted(a.signedHeaders) || !slices.Contains(a.signedHeaders, "host") {
		return sigV4Auth{}, reject("IncompleteSignatureException", "SignedHeaders must be sorted, lower case, and include host")
	}
	return a, nil
}

func (v *SigV4Verifier) checkScope(a sigV4Auth) error {
	if a.accessKey != v.AccessKey {
		return reject("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if a.region != v.Region {
		return reject("InvalidSignatureException", "Credential should be scoped to a valid region, not '%s'.", a.region)
	}
	if a.service != v.Service {
		return reject("InvalidSignatureException", "Credential should be scoped to correct service: '%s'.", v.Service)
	}
	return nil
}

// checkDate returns the request's X-Amz-Date after checking it against the
// credential scope and the clock.
func (v *SigV4Verifier) checkDate(r *http.Request, a sigV4Auth) (string, error) {
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDateLayout, amzDate)
	if err != nil {
		return "", reject("IncompleteSignatureException", "Authorization header requires an X-Amz-Date header of the form %s", amzDateLayout)
	}
	if t.Format(scopeDateLayout) != a.date {
		return "", reject("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'",
			a.date, t.Format(scopeDateLayout))
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultMaxSkew
	}
	if d := now().Sub(t); d > skew || d < -skew {
		return "", reject("InvalidSignatureException", "Signature expired: %s is now earlier than %s", amzDate, now().Add(-skew).UTC().Format(amzDateLayout))
	}
	return amzDate, nil
}

func payloadHashOf(r *http.Request, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	computed := hex.EncodeToString(sum[:])
	switch declared := r.Header.Get("X-Amz-Content-Sha256"); declared {
	case "":
		return computed, nil
	case unsignedPayload:
		return unsignedPayload, nil
	case computed:
		return computed, nil
	default:
		return "", reject("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
}

// canonicalRequest builds the canonical request of r for the given signed
// header names (lower case, sorted) and payload hash.
func canonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) string {
	return strings.Join([]string{
		r.Method,
		canonicalURI(r.URL),
		canonicalQuery(r.URL.RawQuery),
		canonicalHeaders(r, signedHeaders),
		strings.Join(signedHeaders, ";"),
		payloadHash,
	}, "\n")
}

// canonicalURI normalises the escaped path (dot segments, duplicate
// slashes; a trailing slash is kept) and escapes it once more.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	clean := path.Clean(p)
	if clean != "/" && strings.HasSuffix(p, "/") {
		clean += "/"
	}
	return uriEncode(clean, false)
}

// canonicalQuery decodes the query's names and values, encodes them the
// SigV4 way, and sorts by name, then value.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type pair struct{ k, v string }
	var pairs []pair
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
		}
		pairs = append(pairs, pair{uriEncode(dk, true), uriEncode(dv, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// canonicalHeaders writes "name:value\n" for each signed header. Go's
// server moves Host and Content-Length out of r.Header; they are read from
// r.Host and r.ContentLength.
func canonicalHeaders(r *http.Request, signedHeaders []string) string {
	var b strings.Builder
	for _, name := range signedHeaders {
		var values []string
		switch name {
		case "host":
			values = []string{r.Host}
		case "content-length":
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		default:
			values = slices.Clone(r.Header.Values(name))
		}
		for i, v := range values {
			values[i] = collapseSpaces(v)
		}
		b.WriteString(name + ":" + strings.Join(values, ",") + "\n")
	}
	return b.String()
}

// collapseSpaces trims v and turns each run of spaces into one.
func collapseSpaces(v string) string {
	return strings.Join(strings.Fields(v), " ")
}

// uriEncode percent-encodes every byte but the unreserved characters
// (A-Z a-z 0-9 - _ . ~), and '/' unless encodeSlash, with upper-case hex.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0x0f])
		}
	}
	return b.String()
}

func stringToSign(amzDate, scope, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return strings.Join([]string{sigV4Algorithm, amzDate, scope, hex.EncodeToString(sum[:])}, "\n")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerminator)
}

func signature(key []byte, toSign string) string {
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

// SigV4Proxy forwards requests with a valid signature to a target and
// answers the others 403 with an AWS-like JSON body.
type SigV4Proxy struct {
	verifier *SigV4Verifier
	forward  *httputil.ReverseProxy
	accepted atomic.Int64
	rejected atomic.Int64
}

// NewSigV4Proxy returns a proxy to target (its path is prefixed to the
// request's) that verifies every request with v.
func NewSigV4Proxy(target *url.URL, v *SigV4Verifier) *SigV4Proxy {
	return &SigV4Proxy{verifier: v, forward: newReverseProxy(target)}
}

// Accepted is the number of requests forwarded.
func (p *SigV4Proxy) Accepted() int64 { return p.accepted.Load() }

// Rejected is the number of requests refused.
func (p *SigV4Proxy) Rejected() int64 { return p.rejected.Load() }

func (p *SigV4Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := p.verifier.Verify(r, body); err != nil {
		p.rejected.Add(1)
		writeAWSError(w, http.StatusForbidden, err)
		return
	}
	p.accepted.Add(1)
	p.forward.ServeHTTP(w, r)
}

// readBody reads r's body (bounded) and puts an equal one back.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	_ = r.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > maxBodyBytes {
		return nil, fmt.Errorf("body larger than %d bytes", maxBodyBytes)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return body, nil
}

// writeAWSError answers like AWS JSON APIs: the type in x-amzn-ErrorType and
// {"message": …} as the body.
func writeAWSError(w http.ResponseWriter, status int, err error) {
	typ, msg := "AccessDeniedException", err.Error()
	if se, ok := err.(*SigV4Error); ok {
		typ, msg = se.Type, se.Message
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func newReverseProxy(target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
		},
	}
}
