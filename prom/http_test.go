package prom

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

var fakeEnd = time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)

func TestQueryDecodesVectorStatsAndKeepsPathPrefix(t *testing.T) {
	fake := newFakeProm(t)
	srv := fake.start("/workspaces/ws-123")
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: srv.URL + "/workspaces/ws-123/", QueryTimeout: 90 * time.Second})

	res, err := src.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)
	vec, ok := res.Value.(model.Vector)
	require.True(t, ok)
	require.Len(t, vec, 2)
	require.Equal(t, model.SampleValue(fakeValue(1, fakeEnd)), vec[1].Value)
	require.EqualValues(t, 42, res.SamplesProcessed)

	reqs := fake.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "/workspaces/ws-123/api/v1/query", r.Path)
	require.Equal(t, "up", r.Form.Get("query"))
	require.Equal(t, "1704672000", r.Form.Get("time"))
	require.Equal(t, "all", r.Form.Get("stats"))
	require.Equal(t, "90", r.Form.Get("timeout"))

	st := src.Stats()
	require.EqualValues(t, 1, st.Queries)
	require.EqualValues(t, 1, st.Requests)
	require.EqualValues(t, 42, st.Samples)
	require.Zero(t, st.Failures)
}

func TestQueryRangeDecodesMatrixAndWarnings(t *testing.T) {
	fake := newFakeProm(t)
	srv := fake.start("")
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: srv.URL})
	start := fakeEnd.Add(-time.Hour)
	res, err := src.QueryRange(context.Background(), "up", start, fakeEnd, 5*time.Minute)
	require.NoError(t, err)
	requireSameHTTPMatrix(t, fakeMatrix(start, fakeEnd, 5*time.Minute), res.Value)
	require.Equal(t, []string{"fake warning"}, res.Warnings)
	require.EqualValues(t, 26, res.SamplesProcessed)
	f := fake.requests()[0].Form
	require.Equal(t, "1704668400", f.Get("start"))
	require.Equal(t, "1704672000", f.Get("end"))
	require.Equal(t, "300", f.Get("step"))
}

func TestQueryScalarAndString(t *testing.T) {
	fake := newFakeProm(t)
	fake.script = func(n int, r fakeReq, w http.ResponseWriter, _ *http.Request) bool {
		if r.Form.Get("query") == "1" {
			_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"scalar","result":[1704672000,"1"]}}`)
		} else {
			_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"string","result":[1704672000,"x"]}}`)
		}
		return true
	}
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
	res, err := src.Query(context.Background(), "1", fakeEnd)
	require.NoError(t, err)
	require.Equal(t, model.SampleValue(1), res.Value.(*model.Scalar).Value)
	require.Zero(t, res.SamplesProcessed)
	res, err = src.Query(context.Background(), `"x"`, time.Time{})
	require.NoError(t, err)
	require.Equal(t, "x", res.Value.(*model.String).Value)
	require.False(t, fake.requests()[1].Form.Has("time"), "zero time means the store's now")
}

func TestErrorAnswersAreClear(t *testing.T) {
	cases := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   []string
	}{
		{"prometheus bad data", 400, nil, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}`,
			[]string{"HTTP 400 Bad Request", "bad_data", "1:5: parse error"}},
		{"aws access denied", 403, map[string]string{"X-Amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/coral/"},
			`{"Message":"User is not authorized to perform: aps:QueryMetrics"}`,
			[]string{"HTTP 403 Forbidden", "AccessDeniedException", "not authorized"}},
		{"plain text", 404, nil, "404 page not found\n", []string{"HTTP 404 Not Found", "404 page not found"}},
		{"server error", 500, nil, `{"status":"error","errorType":"internal","error":"boom"}`, []string{"HTTP 500", "internal", "boom"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeProm(t)
			fake.script = func(_ int, _ fakeReq, w http.ResponseWriter, _ *http.Request) bool {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
				return true
			}
			src, rec := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
			_, err := src.Query(context.Background(), "up", fakeEnd)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.Contains(t, err.Error(), `instant query "up"`)
			var he *HTTPError
			require.ErrorAs(t, err, &he)
			require.Equal(t, tc.status, he.StatusCode)
			require.Len(t, fake.requests(), 1, "not retried")
			require.Empty(t, rec.all())
			require.EqualValues(t, 1, src.Stats().Failures)
		})
	}
}

func TestFallsBackToGETWhenPOSTRefused(t *testing.T) {
	fake := newFakeProm(t)
	fake.script = func(_ int, r fakeReq, w http.ResponseWriter, _ *http.Request) bool {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return true
		}
		return false
	}
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL})
	_, err := src.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)
	reqs := fake.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, http.MethodGet, reqs[1].Method)
	require.Equal(t, "up", reqs[1].Form.Get("query"))
}

func TestNewHTTPRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  HTTPConfig
		want string
	}{
		{"no url", HTTPConfig{}, "want http(s)://host"},
		{"bad scheme", HTTPConfig{URL: "ftp://x"}, "want http(s)://host"},
		{"query string", HTTPConfig{URL: "http://x/?a=b"}, "no query string"},
		{"two auths", HTTPConfig{URL: "http://x", BasicAuth: &BasicAuth{Username: "u", Password: "p"}, BearerAuth: &BearerAuth{Token: "t"}}, "at most one"},
		{"basic without password", HTTPConfig{URL: "http://x", BasicAuth: &BasicAuth{Username: "u"}}, "exactly one of password"},
		{"basic without user", HTTPConfig{URL: "http://x", BasicAuth: &BasicAuth{Password: "p"}}, "username is empty"},
		{"bearer both", HTTPConfig{URL: "http://x", BearerAuth: &BearerAuth{Token: "t", TokenFile: "f"}}, "exactly one of token"},
		{"sigv4 half keys", HTTPConfig{URL: "http://x", SigV4: &SigV4Auth{Region: "r", AccessKey: "a"}}, "both access_key and secret_key"},
		{"sigv4 external id", HTTPConfig{URL: "http://x", SigV4: &SigV4Auth{Region: "r", ExternalID: "e"}}, "external_id needs role_arn"},
		{"tls half pair", HTTPConfig{URL: "http://x", TLS: TLSConfig{CertFile: "c"}}, "cert_file and key_file"},
		{"tls missing ca", HTTPConfig{URL: "https://x", TLS: TLSConfig{CAFile: "/nonexistent/ca.pem"}}, "read ca_file"},
		{"auth header clash", HTTPConfig{URL: "http://x", BearerAuth: &BearerAuth{Token: "t"}, Headers: map[string]string{"authorization": "x"}}, "Authorization conflicts"},
		{"negative", HTTPConfig{URL: "http://x", QueryTimeout: -1}, "negative"},
		{"bad cluster label", HTTPConfig{URL: "http://x", ClusterFilter: "c1", ClusterLabel: "a-b"}, "not a valid label name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHTTP(context.Background(), tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestSecretsDoNotLeakIntoErrors(t *testing.T) {
	_, err := NewHTTP(context.Background(), HTTPConfig{URL: "http://user:hunter2@x/?q=1"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestBasicAuthBearerAndHeaders(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("s3cret\n"), 0o600))
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("token-1"), 0o600))

	fake := newFakeProm(t)
	url := fake.start("").URL
	basic, _ := newTestHTTPSource(t, HTTPConfig{URL: url, BasicAuth: &BasicAuth{Username: "me", PasswordFile: pwFile},
		Headers: map[string]string{"X-Scope-OrgID": "tenant-1"}})
	_, err := basic.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)
	h := fake.requests()[0].Header
	require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("me:s3cret")), h.Get("Authorization"))
	require.Equal(t, "tenant-1", h.Get("X-Scope-OrgID"))

	bearer, _ := newTestHTTPSource(t, HTTPConfig{URL: url, BearerAuth: &BearerAuth{TokenFile: tokenFile}})
	_, err = bearer.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tokenFile, []byte("token-2\n"), 0o600)) // rotated
	_, err = bearer.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)
	reqs := fake.requests()
	require.Equal(t, "Bearer token-1", reqs[1].Header.Get("Authorization"))
	require.Equal(t, "Bearer token-2", reqs[2].Header.Get("Authorization"))

	// A token file that disappears is an error naming the file, not retried.
	require.NoError(t, os.Remove(tokenFile))
	_, err = bearer.Query(context.Background(), "up", fakeEnd)
	require.ErrorContains(t, err, "read bearer token file "+tokenFile)
	require.Len(t, fake.requests(), 3)
	require.Zero(t, bearer.Stats().RetriesTotal())
}

func TestSigV4SignsRequests(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	fake := newFakeProm(t)
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("/workspaces/ws-1").URL + "/workspaces/ws-1",
		SigV4:   &SigV4Auth{Region: "eu-west-1", AccessKey: "AKIDTEST", SecretKey: "secret"},
		Headers: map[string]string{"X-Scope-OrgID": "t1"}})
	_, err := src.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)
	h := fake.requests()[0].Header
	auth := h.Get("Authorization")
	require.True(t, strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/"), auth)
	require.Contains(t, auth, "/eu-west-1/aps/aws4_request")
	require.Contains(t, auth, "x-scope-orgid", "custom headers are signed")
	require.NotEmpty(t, h.Get("X-Amz-Date"))
}

func TestTLS(t *testing.T) {
	fake := newFakeProm(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", fake.serve)
	srv := newTLSServer(t, mux)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	withCA, _ := newTestHTTPSource(t, HTTPConfig{URL: srv.URL, TLS: TLSConfig{CAFile: caFile}})
	_, err := withCA.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)

	insecure, _ := newTestHTTPSource(t, HTTPConfig{URL: srv.URL, TLS: TLSConfig{InsecureSkipVerify: true}})
	_, err = insecure.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)

	untrusted, rec := newTestHTTPSource(t, HTTPConfig{URL: srv.URL})
	_, err = untrusted.Query(context.Background(), "up", fakeEnd)
	require.ErrorContains(t, err, "certificate")
	require.Empty(t, rec.all(), "a certificate error is not retried")
	require.EqualValues(t, 1, untrusted.Stats().Requests)

	wrongName, _ := newTestHTTPSource(t, HTTPConfig{URL: srv.URL, TLS: TLSConfig{CAFile: caFile, ServerName: "other.example"}})
	_, err = wrongName.Query(context.Background(), "up", fakeEnd)
	require.ErrorContains(t, err, "certificate")
}

func TestClusterFilterIsAppliedToEveryQuery(t *testing.T) {
	fake := newFakeProm(t)
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL, ClusterFilter: "c1"})
	_, err := src.Query(context.Background(), `sum by (pod) (rate(x[5m]))`, fakeEnd)
	require.NoError(t, err)
	_, err = src.QueryRange(context.Background(), `y or z{cluster_id="c2"}`, fakeEnd.Add(-time.Hour), fakeEnd, time.Minute)
	require.NoError(t, err)
	reqs := fake.requests()
	require.Equal(t, `sum by (pod) (rate(x{cluster_id="c1"}[5m]))`, reqs[0].Form.Get("query"))
	require.Equal(t, `y{cluster_id="c1"} or z{cluster_id="c2"}`, reqs[1].Form.Get("query"))

	_, err = src.Query(context.Background(), `sum(x`, fakeEnd)
	require.ErrorContains(t, err, "parse error")
	require.Len(t, fake.requests(), 2, "bad PromQL is refused before sending")
	require.EqualValues(t, 1, src.Stats().Failures)
}

func TestMetricsAreRegistered(t *testing.T) {
	fake := newFakeProm(t)
	fake.script = func(n int, _ fakeReq, w http.ResponseWriter, _ *http.Request) bool {
		if n == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}
	reg := prometheus.NewRegistry()
	src, _ := newTestHTTPSource(t, HTTPConfig{URL: fake.start("").URL}, WithHTTPRegisterer(reg))
	_, err := src.Query(context.Background(), "up", fakeEnd)
	require.NoError(t, err)

	got := gatherHTTPMetrics(t, reg)
	require.Equal(t, 1.0, got[`costfed_prom_queries_total{type="instant"}`])
	require.Equal(t, 0.0, got[`costfed_prom_queries_total{type="range"}`])
	require.Equal(t, 2.0, got[`costfed_prom_requests_total`])
	require.Equal(t, 1.0, got[`costfed_prom_retries_total{reason="throttled"}`])
	require.Equal(t, 0.0, got[`costfed_prom_retries_total{reason="connection"}`])
	require.Equal(t, 42.0, got[`costfed_prom_samples_processed_total`])
	require.Equal(t, 0.0, got[`costfed_prom_query_failures_total{type="instant"}`])
	require.Equal(t, 1.0, got[`costfed_prom_query_duration_seconds_count{type="instant"}`])

	_, err = NewHTTP(context.Background(), HTTPConfig{URL: "http://x"}, WithHTTPRegisterer(reg))
	require.ErrorContains(t, err, "register")
}

// gatherHTTPMetrics flattens a registry into "name{labels}" → value (histograms
// as their _count).
func gatherHTTPMetrics(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+`="`+lp.GetValue()+`"`)
			}
			key := mf.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[strings.Replace(key, mf.GetName(), mf.GetName()+"_count", 1)] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestCloseIsHarmless(t *testing.T) {
	src, err := NewHTTP(context.Background(), HTTPConfig{URL: "http://127.0.0.1:1"})
	require.NoError(t, err)
	src.Close()
	src.Close()
}
