package store

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/internal/testinfra"
)

// userAgents is a reverse proxy in front of an S3 server that records the
// User-Agent of every request it forwards.
type userAgents struct {
	mu  sync.Mutex
	got []string
}

func (u *userAgents) proxy(t *testing.T, target string) *httptest.Server {
	t.Helper()
	to, err := url.Parse("http://" + target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(to)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, r.Method+" "+r.Header.Get("User-Agent"))
		u.mu.Unlock()
		// The Host header stays the proxy's, the one the client signed.
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (u *userAgents) all() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.got...)
}

// Issue 16 item 8: every S3 request carries costfed/<version> first in its
// User-Agent, and the real S3 server (versitygw) still accepts the
// signatures: commit, read, list, delete through a recording proxy.
func TestBucketS3UserAgent(t *testing.T) {
	ctx := context.Background()
	srv := testinfra.StartVersityGW(t)
	var uas userAgents
	proxy := uas.proxy(t, srv.Endpoint)
	yaml := strings.Replace(string(srv.StoreYAML("")), srv.Endpoint, strings.TrimPrefix(proxy.URL, "http://"), 1)
	require.Contains(t, yaml, proxy.Listener.Addr().String())
	cfg, err := config.ParseStore([]byte(yaml), "federated-store.yaml", nil)
	require.NoError(t, err)
	bkt, err := NewBucket(ctx, nil, cfg, nil, WithUserAgent("costfed/v1.2.3-test"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = bkt.Close() })

	st := New(bkt, Options{})
	b := testBlock("cluster-a", 5, 1)
	entries, err := st.Commit(ctx, []Block{b}, CommitOptions{})
	require.NoError(t, err, "the server accepts the signed requests")
	got, err := st.ReadBlock(ctx, "cluster-a", Daily, entries[0])
	require.NoError(t, err)
	require.Len(t, got.Rows, 5)
	l, err := st.ListClusters(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"cluster-a"}, l.Clusters)
	require.NoError(t, bkt.Delete(ctx, b.Meta.Ref().Key()))

	seen := uas.all()
	methods := map[string]bool{}
	for _, s := range seen {
		method, ua, _ := strings.Cut(s, " ")
		methods[method] = true
		require.True(t, strings.HasPrefix(ua, "costfed/v1.2.3-test "), "User-Agent %q", ua)
		require.Contains(t, ua, "minio-go/", "the client library's own token follows")
		require.Equal(t, 1, strings.Count(ua, "costfed/v1.2.3-test"), "retries do not repeat it: %q", ua)
	}
	for _, m := range []string{"PUT", "GET", "DELETE"} {
		require.True(t, methods[m], "no %s request seen among %v", m, seen)
	}
}

// The transport never changes the caller's request and does not stack the
// token twice.
func TestUserAgentTransport(t *testing.T) {
	var sent []string
	rt := bucketOptions{userAgent: "costfed/x"}.wrapTransport()(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = append(sent, r.Header.Get("User-Agent"))
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}))
	for _, ua := range []string{"", "lib/1", "costfed/x lib/1", "costfed/x"} {
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		require.NoError(t, err)
		if ua != "" {
			req.Header.Set("User-Agent", ua)
		}
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, ua, req.Header.Get("User-Agent"), "the caller's request is untouched")
	}
	require.Equal(t, []string{"costfed/x", "costfed/x lib/1", "costfed/x lib/1", "costfed/x"}, sent)
	require.Nil(t, bucketOptions{}.wrapTransport())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
