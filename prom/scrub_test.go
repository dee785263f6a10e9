package prom

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	echoToken  = "tok-9f8e7d6c5b4a-secret"
	echoHeader = "hdr-secret-0a1b2c3d"
	echoPass   = "pw-s3cr3t-value"
)

// echoServer answers every request with an error that quotes the request's
// headers, as some proxies and gateways do, in the form mode names.
func echoServer(t *testing.T, mode string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var dump bytes.Buffer
		_ = r.Header.Write(&dump)
		headers := dump.String()
		switch mode {
		case "plain503":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "upstream unavailable; request was:\n%s", headers)
		case "json400":
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": "bad request with " + headers})
		case "aws403":
			w.Header().Set("X-Amzn-Errortype", "AccessDeniedException")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": "denied: " + headers})
		case "status200":
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "internal", "error": headers})
		case "html200":
			_, _ = fmt.Fprintf(w, "<html>%s</html>", headers)
		case "warning200":
			_ = json.NewEncoder(w).Encode(map[string]any{
				"status":   "success",
				"data":     map[string]any{"resultType": "vector", "result": []any{}},
				"warnings": []string{"echo: " + headers},
			})
		case "huge400":
			// The token straddles the 4 KiB cap: its first 10 bytes are
			// inside it (capping before scrubbing would quote them).
			w.WriteHeader(http.StatusBadRequest)
			pad := strings.Repeat("x", maxUpstreamMessage-len("Bearer ")-10)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": pad + r.Header.Get("Authorization") + strings.Repeat("y", 8<<10)})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func requireNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		require.NotContains(t, text, s, "%s quotes a secret", what)
		require.NotContains(t, text, s[:8], "%s quotes the start of a secret", what)
	}
}

// Issue 16, row 8: an upstream that echoes the request headers in its error
// body must not get the bearer token or a secret header into errors or logs.
func TestUpstreamEchoIsScrubbed(t *testing.T) {
	for _, mode := range []string{"plain503", "json400", "aws403", "status200", "html200", "warning200", "huge400"} {
		t.Run(mode, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			src, _ := newTestHTTPSource(t, HTTPConfig{
				URL:        echoServer(t, mode).URL,
				BearerAuth: &BearerAuth{Token: echoToken},
				Headers:    map[string]string{"X-Api-Secret": echoHeader, "X-Scope-OrgID": "1"},
				Retries:    2,
			}, WithHTTPLogger(logger))
			res, err := src.Query(context.Background(), "up", fakeEnd)
			if mode == "warning200" {
				require.NoError(t, err)
				require.Len(t, res.Warnings, 1)
				require.Contains(t, res.Warnings[0], "Bearer "+Redacted)
				requireNoSecret(t, "warning", res.Warnings[0], echoToken, echoHeader)
				return
			}
			require.Error(t, err)
			msg := err.Error()
			requireNoSecret(t, "error", msg, echoToken, echoHeader)
			requireNoSecret(t, "log", logs.String(), echoToken, echoHeader)
			require.Contains(t, msg, Redacted, "the echo is still there, redacted")
			if mode == "plain503" {
				require.Contains(t, logs.String(), "retrying query", "the retry was logged")
			}
			if mode == "huge400" {
				require.Contains(t, msg, truncatedMark)
				require.Less(t, len(msg), maxUpstreamMessage+1024)
			}
		})
	}
}

func TestUpstreamEchoScrubsBasicAuthAndFiles(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte(echoPass+"\n"), 0o600))
	tokFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokFile, []byte(echoToken+"\n"), 0o600))
	b64 := base64.StdEncoding.EncodeToString([]byte("svc:" + echoPass))

	for name, cfg := range map[string]HTTPConfig{
		"basic":       {BasicAuth: &BasicAuth{Username: "svc", Password: echoPass}},
		"basic-file":  {BasicAuth: &BasicAuth{Username: "svc", PasswordFile: pwFile}},
		"bearer-file": {BearerAuth: &BearerAuth{TokenFile: tokFile}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.URL = echoServer(t, "json400").URL
			src, _ := newTestHTTPSource(t, cfg)
			_, err := src.Query(context.Background(), "up", fakeEnd)
			require.Error(t, err)
			requireNoSecret(t, "error", err.Error(), echoToken, echoPass, b64)
			require.Contains(t, err.Error(), Redacted)
		})
	}
}

func TestScrubberCoversSigV4AndEscapes(t *testing.T) {
	s := newScrubber(HTTPConfig{
		SigV4:   &SigV4Auth{Region: "us-east-1", AccessKey: "AKIDEXAMPLE", SecretKey: "wJalr/XUtnFEMI+K7MDENG"},
		Headers: map[string]string{"X-Org": "ab"},
	})
	got := s.clean(`key=wJalr/XUtnFEMI+K7MDENG json="wJalr\/XUtnFEMI+K7MDENG" org=ab`)
	require.Equal(t, `key=<redacted> json="<redacted>" org=ab`, got, "short header values are left alone")
	require.Equal(t, "x", (*scrubber)(nil).clean("x"))
	require.Equal(t, "abc", capText("abc", 3))
	require.Equal(t, "ab"+truncatedMark, capText("abc", 2))
}

// Transport errors keep their chain (for retry classification) but not the
// secrets in their text.
func TestTransportErrorIsScrubbed(t *testing.T) {
	s := newScrubber(HTTPConfig{BearerAuth: &BearerAuth{Token: echoToken}})
	inner := fmt.Errorf("proxy said %s", echoToken)
	err := &transportError{err: inner, scrub: s}
	require.Equal(t, "proxy said "+Redacted, err.Error())
	require.ErrorIs(t, err, inner)
}

// Issue 16, item 8: requests carry costfed's User-Agent; a configured
// User-Agent header wins.
func TestUserAgent(t *testing.T) {
	for _, tc := range []struct {
		cfg  HTTPConfig
		want string
	}{
		{HTTPConfig{}, "costfed"},
		{HTTPConfig{UserAgent: "costfed/1.2.3"}, "costfed/1.2.3"},
		{HTTPConfig{UserAgent: "costfed/1.2.3", Headers: map[string]string{"User-Agent": "mine"}}, "mine"},
		{HTTPConfig{UserAgent: "costfed/1.2.3", BearerAuth: &BearerAuth{Token: "t"}}, "costfed/1.2.3"},
	} {
		fake := newFakeProm(t)
		tc.cfg.URL = fake.start("").URL
		src, _ := newTestHTTPSource(t, tc.cfg)
		_, err := src.Query(context.Background(), "up", fakeEnd)
		require.NoError(t, err)
		require.Equal(t, tc.want, fake.requests()[0].Header.Get("User-Agent"))
	}
}
