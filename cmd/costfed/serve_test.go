package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer safe for the server's log and the test.

func TestServeAnswersAndStops(t *testing.T) {
	f := newQueryFixture(t)
	tokenFile := filepath.Join(f.dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("t0ken\n"), 0o600))
	cfg := filepath.Join(f.dir, "federator.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("store: federated-store.yaml\nserver:\n  bearer_token_file: token\n  read_timeout: 2s\n  write_timeout: 5s\n"), 0o600))

	addr := freeAddr(t)
	srv := startBackground("serve", "--config", cfg, "--listen", addr)
	stderr := &srv.stderr
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond, "server did not come up: %s", stderr.String())

	get := func(path, token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	q := "/allocation?aggregate=namespace&includeIdle=true&window=" + f.window
	code, _ := get(q, "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := get(q, "t0ken")
	require.Equal(t, http.StatusOK, code, body)
	var resp struct {
		Data []map[string]struct {
			TotalCost float64 `json:"totalCost"`
		} `json:"data"`
		Warnings []string `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &resp))
	var total float64
	for _, a := range resp.Data[0] {
		total += a.TotalCost
	}
	require.InDelta(t, f.inputCost, total, 1e-3)
	// The fixture's blocks were built long ago: both clusters are stale.
	require.Contains(t, strings.Join(resp.Warnings, "\n"), "stale clusters (no recent block; their latest costs are missing): east, west")

	code, body = get("/status", "t0ken")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"cluster":"east"`)
	code, body = get("/metrics", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `costfed_api_requests_total{code="401",path="/allocation"} 1`)
	require.Contains(t, body, "costfed_api_block_cache_misses_total 1")
	code, body = get("/model/allocation?window=soon", "t0ken")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, `"message":"window: `)

	srv.stop(t)
	require.NotContains(t, stderr.String(), "t0ken", "the token never reaches the log")
}

func TestServeBadInvocations(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "federator.yaml")
	require.NoError(t, os.WriteFile(good, []byte("server:\n  bearer_token_file: missing-token\n"), 0o600))
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("server:\n  read_timeout: -1s\n"), 0o600))
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no config":      {[]string{"serve"}, "--config is required"},
		"missing config": {[]string{"serve", "--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		"bad config":     {[]string{"serve", "--config", bad}, "server.read_timeout"},
		"token file":     {[]string{"serve", "--config", good}, "server.bearer_token_file"},
		"bad log level":  {[]string{"serve", "--config", good, "--log.level", "loud"}, "log.level"},
		"extra argument": {[]string{"serve", "--config", good, "now"}, "unexpected argument"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), &env{stdout: &out, stderr: &errb}, tc.args)
			require.Equal(t, 2, code, errb.String())
			require.Contains(t, errb.String(), tc.want)
		})
	}
	t.Run("listen in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		cfg := filepath.Join(dir, "plain.yaml")
		require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("store: %q\n", filepath.Join(dir, "store.yaml"))), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+filepath.Join(dir, "data")+"\n"), 0o600))
		var out, errb bytes.Buffer
		code := run(context.Background(), &env{stdout: &out, stderr: &errb}, []string{"serve", "--config", cfg, "--listen", ln.Addr().String()})
		require.Equal(t, 1, code)
		require.Contains(t, errb.String(), "listen on")
	})
}
