package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/internal/testinfra"
)

// Issue 16 item 8: the commands' S3 requests carry costfed/<version> as the
// first User-Agent token; a recording proxy sits in front of a real S3
// server (versitygw), which still accepts every signature.
func TestCommandsSendUserAgentToS3(t *testing.T) {
	srv := testinfra.StartVersityGW(t)
	to, err := url.Parse("http://" + srv.Endpoint)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(to)
	var mu sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("User-Agent"))
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	dir := t.TempDir()
	storeYAML := strings.Replace(string(srv.StoreYAML("")), srv.Endpoint, proxy.Listener.Addr().String(), 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "federated-store.yaml"), []byte(storeYAML), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "federator.yaml"), []byte("store: federated-store.yaml\n"), 0o600))

	code, _, errOut := runCmd(t, "federator", "--config", filepath.Join(dir, "federator.yaml"), "--once")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = runCmd(t, "status", "--store", filepath.Join(dir, "federated-store.yaml"))
	require.Equal(t, 0, code, errOut)

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, seen)
	for _, ua := range seen {
		require.True(t, strings.HasPrefix(ua, "costfed/"+version+" "), "User-Agent %q", ua)
	}
}
