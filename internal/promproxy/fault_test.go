package promproxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newFaultServer(t *testing.T, rules ...Rule) (*FaultProxy, string, *pathLog) {
	t.Helper()
	backend, paths := startBackend(t)
	target, err := url.Parse(backend.URL)
	require.NoError(t, err)
	fp := NewFaultProxy(target, rules...)
	srv := httptest.NewServer(fp)
	t.Cleanup(srv.Close)
	return fp, srv.URL, paths
}

func postQuery(ctx context.Context, t *testing.T, client *http.Client, base, path string, form url.Values) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body), nil
}

func TestFaultProxyAnswers(t *testing.T) {
	cases := []struct {
		fault      Fault
		wantStatus int
		wantBody   string
		wantHeader string
	}{
		{Fault{Kind: Fault429, RetryAfter: "2"}, http.StatusTooManyRequests, "Rate exceeded", "2"},
		{Fault{Kind: Fault429}, http.StatusTooManyRequests, "Rate exceeded", ""},
		{Fault{Kind: FaultThrottling400}, http.StatusBadRequest, "ThrottlingException", ""},
		{Fault{Kind: Fault503, RetryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"}, http.StatusServiceUnavailable, "unavailable", "Wed, 21 Oct 2015 07:28:00 GMT"},
		{Fault{Kind: Fault504}, http.StatusGatewayTimeout, "Gateway Time-out", ""},
		{Fault{Kind: Fault422}, http.StatusUnprocessableEntity, "too many samples", ""},
		{Fault{Kind: Fault413}, http.StatusRequestEntityTooLarge, "response larger than the max", ""},
	}
	for _, tc := range cases {
		t.Run(tc.fault.Kind.String(), func(t *testing.T) {
			fp, base, paths := newFaultServer(t, Rule{Match: OnIndex(0), Fault: tc.fault})
			resp, body, err := postQuery(context.Background(), t, http.DefaultClient, base, "/api/v1/query", url.Values{"query": {"up"}})
			require.NoError(t, err)
			require.Equal(t, tc.wantStatus, resp.StatusCode)
			require.Contains(t, body, tc.wantBody)
			require.Equal(t, tc.wantHeader, resp.Header.Get("Retry-After"))
			// The second request is not in the script: forwarded.
			resp, body, err = postQuery(context.Background(), t, http.DefaultClient, base, "/api/v1/query", url.Values{"query": {"up"}})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "ok", body)
			require.Equal(t, map[FaultKind]int{tc.fault.Kind: 1}, fp.Injected())
			require.Equal(t, 2, fp.Requests())
			require.Equal(t, 1, fp.Forwarded())
			require.Len(t, paths.list(), 1)
		})
	}
}

func TestFaultProxyReset(t *testing.T) {
	fp, base, _ := newFaultServer(t, Rule{Fault: Fault{Kind: FaultReset}, Times: 1})
	_, _, err := postQuery(context.Background(), t, http.DefaultClient, base, "/api/v1/query", url.Values{"query": {"up"}})
	require.Error(t, err)
	require.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "%v", err)
	require.Equal(t, 1, fp.Injected()[FaultReset])
}

func TestFaultProxySlowStopsWhenClientGivesUp(t *testing.T) {
	fp, base, paths := newFaultServer(t, Rule{Fault: Fault{Kind: FaultSlow, Delay: 10 * time.Second}, Times: 1},
		Rule{Match: QueryContains("fast"), Fault: Fault{Kind: FaultSlow, Delay: 10 * time.Millisecond}})
	// The client gives up once the proxy holds its request (not after a
	// fixed delay, which a loaded machine can spend before the request
	// even arrives, so the slow rule would catch the next request).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/query", strings.NewReader(url.Values{"query": {"up"}}.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				_ = resp.Body.Close()
			}
		}
		errc <- err
	}()
	require.Eventually(t, func() bool { return fp.Injected()[FaultSlow] == 1 }, time.Minute, 5*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)

	resp, body, err := postQuery(context.Background(), t, http.DefaultClient, base, "/api/v1/query", url.Values{"query": {"fast"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok", body)
	require.Eventually(t, func() bool { return len(paths.list()) == 1 }, time.Second, 10*time.Millisecond)
	require.Equal(t, 2, fp.Injected()[FaultSlow])
	require.Equal(t, 1, fp.Forwarded())
}

func TestFaultProxyRangeRuleAndSeen(t *testing.T) {
	fp, base, _ := newFaultServer(t, Rule{Match: RangeLongerThan(time.Hour), Fault: Fault{Kind: Fault422}})
	day := url.Values{"query": {"up"}, "start": {"1704067200"}, "end": {"1704153600"}, "step": {"300"}}
	hour := url.Values{"query": {"up"}, "start": {"2024-01-01T00:00:00Z"}, "end": {"2024-01-01T01:00:00Z"}, "step": {"5m"}}
	resp, _, err := postQuery(context.Background(), t, http.DefaultClient, base, "/api/v1/query_range", day)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp, _, err = postQuery(context.Background(), t, http.DefaultClient, base, "/api/v1/query_range", hour)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// GET parameters are read too.
	resp, err = http.Get(base + "/prefix/api/v1/query_range?" + day.Encode())
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	seen := fp.Seen()
	require.Len(t, seen, 3)
	require.Equal(t, 24*time.Hour, seen[0].Span())
	require.Equal(t, 5*time.Minute, seen[0].Step)
	require.Equal(t, time.Hour, seen[1].Span())
	require.Equal(t, 2, seen[2].Index)
	require.Equal(t, "/prefix/api/v1/query_range", seen[2].Path)
	require.Equal(t, 2, fp.Injected()[Fault422])
}
