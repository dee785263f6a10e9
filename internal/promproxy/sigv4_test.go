package promproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/sigv4"
	"github.com/stretchr/testify/require"
)

// The worked example of the AWS documentation ("Create a signed AWS API
// request", IAM ListUsers): published inputs and outputs of every step.
func TestSigV4MatchesAWSWorkedExample(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	r.Host = "iam.amazonaws.com"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	signed := []string{"content-type", "host", "x-amz-date"}
	emptyHash := hex.EncodeToString(sha256.New().Sum(nil))

	canonical := canonicalRequest(r, signed, emptyHash)
	sum := sha256.Sum256([]byte(canonical))
	require.Equal(t, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59", hex.EncodeToString(sum[:]), canonical)

	key := signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
	require.Equal(t, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9", hex.EncodeToString(key))
	sig := signature(key, stringToSign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", canonical))
	require.Equal(t, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", sig)

	v := &SigV4Verifier{Region: "us-east-1", Service: "iam", AccessKey: "AKIDEXAMPLE",
		SecretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		Now:       func() time.Time { return time.Date(2015, 8, 30, 12, 40, 0, 0, time.UTC) }}
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "+
		"SignedHeaders=content-type;host;x-amz-date, Signature="+sig)
	require.NoError(t, v.Verify(r, nil))

	v.Now = func() time.Time { return time.Date(2015, 8, 30, 13, 0, 0, 0, time.UTC) }
	require.ErrorContains(t, v.Verify(r, nil), "Signature expired")
}

func TestURIEncode(t *testing.T) {
	require.Equal(t, "/workspaces/ws-1/api/v1/query", uriEncode("/workspaces/ws-1/api/v1/query", false))
	require.Equal(t, "a%20b%2Fc~_.-%3D%2B", uriEncode("a b/c~_.-=+", true))
	u, err := url.Parse("http://h/a%20b//c/../d/")
	require.NoError(t, err)
	require.Equal(t, "/a%2520b/d/", canonicalURI(u))
	require.Equal(t, "a=1&b=%20x&b=y&c=sum%28x%7Ba%3D%22b%22%7D%29",
		canonicalQuery("c=sum(x%7Ba%3D%22b%22%7D)&b=y&a=1&b=+x"))
}

const (
	testRegion = "us-east-1"
	testKey    = "AKIDTEST"
	testSecret = "test-secret-key"
)

// pathLog records what reached the backend.
type pathLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *pathLog) add(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paths = append(l.paths, p)
}

func (l *pathLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.paths...)
}

func startBackend(t *testing.T) (*httptest.Server, *pathLog) {
	t.Helper()
	log := &pathLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		log.add(r.URL.Path + "?" + r.Form.Encode())
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, log
}

func newSigningClient(t *testing.T, region, key, secret string) *http.Client {
	t.Helper()
	return newSigningClientVia(t, region, key, secret, http.DefaultTransport)
}

// newSigningClientVia signs with the AWS SDK (through prometheus/sigv4) and
// sends through next.
func newSigningClientVia(t *testing.T, region, key, secret string, next http.RoundTripper) *http.Client {
	t.Helper()
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	rt, err := sigv4.NewSigV4RoundTripper(&sigv4.SigV4Config{Region: region, AccessKey: key, SecretKey: config.Secret(secret)}, next)
	require.NoError(t, err)
	return &http.Client{Transport: rt, Timeout: 10 * time.Second}
}

func TestSigV4ProxyAcceptsSDKSignatures(t *testing.T) {
	backend, paths := startBackend(t)
	target, err := url.Parse(backend.URL)
	require.NoError(t, err)
	proxy := NewSigV4Proxy(target, &SigV4Verifier{Region: testRegion, Service: "aps", AccessKey: testKey, SecretKey: testSecret})
	srv := httptest.NewServer(proxy)
	defer srv.Close()

	client := newSigningClient(t, testRegion, testKey, testSecret)
	// POST with a form body, as the prom client sends.
	form := url.Values{"query": {`sum(rate(x{a="b c",d=~"e|f"}[5m])) by (g)`}, "time": {"1704067200"}}
	resp, err := client.Post(srv.URL+"/workspaces/ws-1/api/v1/query", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	requireStatus(t, resp, http.StatusOK)
	// GET with an awkward query string.
	resp, err = client.Get(srv.URL + "/api/v1/query?" + form.Encode() + "&x=%2Fa+b~")
	require.NoError(t, err)
	requireStatus(t, resp, http.StatusOK)

	require.EqualValues(t, 2, proxy.Accepted())
	got := paths.list()
	require.Len(t, got, 2)
	require.True(t, strings.HasPrefix(got[0], "/workspaces/ws-1/api/v1/query?"), got[0])
}

func TestSigV4ProxyRejects(t *testing.T) {
	backend, paths := startBackend(t)
	target, err := url.Parse(backend.URL)
	require.NoError(t, err)
	proxy := NewSigV4Proxy(target, &SigV4Verifier{Region: testRegion, Service: "aps", AccessKey: testKey, SecretKey: testSecret})
	srv := httptest.NewServer(proxy)
	defer srv.Close()

	cases := []struct {
		name     string
		client   *http.Client
		wantType string
	}{
		{"wrong secret", newSigningClient(t, testRegion, testKey, "not-the-secret"), "InvalidSignatureException"},
		{"wrong key", newSigningClient(t, testRegion, "AKIDOTHER", testSecret), "UnrecognizedClientException"},
		{"wrong region", newSigningClient(t, "eu-west-1", testKey, testSecret), "InvalidSignatureException"},
		{"unsigned", http.DefaultClient, "MissingAuthenticationTokenException"},
		{"body changed after signing", newSigningClientVia(t, testRegion, testKey, testSecret, tamper{next: http.DefaultTransport}),
			"InvalidSignatureException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client.Post(srv.URL+"/api/v1/query", "application/x-www-form-urlencoded", strings.NewReader("query=up"))
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))
			require.Equal(t, tc.wantType, resp.Header.Get("X-Amzn-ErrorType"))
			require.Contains(t, string(body), `"message"`)
		})
	}
	require.Empty(t, paths.list(), "nothing rejected may reach the backend")
	require.EqualValues(t, len(cases), proxy.Rejected())
}

// tamper replaces a signed request's body with another of the same length.
type tamper struct{ next http.RoundTripper }

func (t tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(strings.NewReader("query=go"))
	return t.next.RoundTrip(r)
}

func requireStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, want, resp.StatusCode, string(body))
}
