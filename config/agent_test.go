package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultAgent(t *testing.T) {
	a := DefaultAgent()
	require.Equal(t, "", a.ClusterID)
	require.Equal(t, "", a.Store)
	require.Equal(t, "", a.ProducerInstance)
	p := a.Prometheus
	require.Equal(t, "", p.URL)
	require.Equal(t, "", p.Auth.Type)
	require.Equal(t, AuthNone, p.AuthType())
	require.Equal(t, "cluster_id", p.ClusterLabel)
	require.False(t, p.ClusterFilter)
	require.Equal(t, time.Minute, time.Duration(p.QueryStep))
	require.Equal(t, 5, p.Concurrency)
	require.Equal(t, 2*time.Minute, time.Duration(p.QueryTimeout))
	require.Equal(t, 24*time.Hour, time.Duration(p.MaxQueryRange))
	require.Equal(t, 5, p.Retries)
	require.Equal(t, 10*time.Second, time.Duration(p.RetryMaxWait))
	require.Equal(t, []Resolution{
		{Resolution: Duration(time.Hour), Retention: Duration(49 * time.Hour)},
		{Resolution: Duration(24 * time.Hour), Retention: Duration(91 * 24 * time.Hour)},
	}, a.Resolutions)
	require.Equal(t, "*/10 * * * *", a.Schedule)
	require.Equal(t, 10*time.Minute, time.Duration(a.SettleDelay))
	require.Equal(t, ":9004", a.ListenAddress)
	require.Equal(t, Price{
		CPUCoreHour: 0.031611, RAMGiBHour: 0.004237, GPUHour: 0.95, PVGiBHour: 0.00005479,
		Spot: SpotPrice{CPUCoreHour: 0.006655, RAMGiBHour: 0.000892},
	}, a.Prices.Default)

	// defaults plus the two required fields make a valid config
	a.ClusterID = "c1"
	a.Prometheus.URL = "http://localhost:9090"
	require.NoError(t, a.Validate())
}

func TestDefaultFederator(t *testing.T) {
	f := DefaultFederator()
	require.Equal(t, "*/30 * * * *", f.Schedule)
	require.Empty(t, f.Clusters.Allow)
	require.Empty(t, f.Clusters.Deny)
	require.True(t, f.Cutoff.IsZero())
	require.Equal(t, Retention{Hourly: Duration(49 * time.Hour), Daily: Duration(91 * 24 * time.Hour), MaxExpireShare: 0.5}, f.Retention)
	require.Equal(t, ":9005", f.ListenAddress)
	require.Equal(t, 3*time.Hour, time.Duration(f.StaleAfter))
	require.Equal(t, Server{
		ListenAddress: ":9003",
		CacheBytes:    256 << 20,
		ReadTimeout:   Duration(30 * time.Second),
		WriteTimeout:  Duration(2 * time.Minute),
	}, f.Server)
	require.NoError(t, f.Validate())
}

func TestLoadAgentGood(t *testing.T) {
	a, err := LoadAgent("testdata/agent.good.yml", testLookup)
	require.NoError(t, err)
	require.Equal(t, "prod-eu-1", a.ClusterID)
	require.Equal(t, filepath.Join("testdata", "federated-store.yaml"), a.Store) // relative to the file
	require.Equal(t, AuthBasic, a.Prometheus.Auth.Type)
	require.Equal(t, "hunter2-prom-password", string(a.Prometheus.Auth.Password))
	require.Equal(t, "tenant-1", string(a.Prometheus.Headers["X-Scope-OrgID"]))
	require.Equal(t, 5*time.Minute, time.Duration(a.Prometheus.QueryStep))
	require.Equal(t, Duration(97*time.Hour), a.Resolutions[0].Retention)
	require.Equal(t, Duration(91*24*time.Hour), a.Resolutions[1].Retention) // 13w
	require.Equal(t, 0.10, a.Prices.ClusterManagementHour)
	require.Equal(t, 0.048, a.Prices.For("m5.xlarge").CPUCoreHour)
	require.Equal(t, 0.005, a.Prices.For("m5.xlarge").RAMGiBHour) // inherited
	require.Equal(t, 0.018, a.Prices.For("m5.xlarge").Spot.CPUCoreHour)
	require.Equal(t, 0.0015, a.Prices.For("m5.xlarge").Spot.RAMGiBHour) // inherited
	require.Equal(t, a.Prices.Default, a.Prices.For("unknown"))
}

func TestLoadAgentTSDBPath(t *testing.T) {
	a, err := LoadAgent("testdata/agent-tsdb.good.yml", nil)
	require.NoError(t, err)
	require.True(t, a.Prometheus.Offline())
	require.Empty(t, a.Prometheus.URL)
	require.Equal(t, filepath.Join("testdata", "snapshots", "20240108T000000Z"), a.Prometheus.TSDBPath, "relative to the file")

	abs, err := ParseAgent([]byte("cluster_id: a\nprometheus:\n  tsdb_path: /data/snap\n"), "a.yaml", nil)
	require.NoError(t, err)
	require.NoError(t, abs.Validate())
	require.Equal(t, "/data/snap", abs.Prometheus.TSDBPath)

	neither, err := ParseAgent([]byte("cluster_id: a\nprometheus:\n  cluster_filter: true\n"), "a.yaml", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"a.yaml:2: prometheus.url: required (e.g. http://prometheus:9090 or https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>), or tsdb_path for a TSDB directory"},
		errorStrings(Problems(neither.Validate())))
}

func TestAgentInference(t *testing.T) {
	a, err := LoadAgent("testdata/agent-amp.good.yml", nil)
	require.NoError(t, err)
	require.Equal(t, AuthSigV4, a.Prometheus.Auth.Type)
	require.Equal(t, "us-west-2", a.Prometheus.Auth.SigV4.Region)

	for _, tc := range []struct {
		auth string
		want string
	}{
		{"{}", AuthNone},
		{"{username: u}", AuthBasic},
		{"{password_file: /p}", AuthBasic},
		{"{bearer_token_file: /t}", AuthBearer},
		{"{sigv4: {region: eu-west-1}}", AuthSigV4},
		{"{type: SigV4}", AuthSigV4},
	} {
		a, err := ParseAgent([]byte("cluster_id: a\nprometheus:\n  url: http://x:9090\n  auth: "+tc.auth+"\n"), "a.yaml", nil)
		require.NoError(t, err)
		require.Equal(t, tc.want, a.Prometheus.Auth.Type, tc.auth)
	}

	// resolution listed without retention gets that resolution's default
	a, err = ParseAgent([]byte("cluster_id: a\nresolutions:\n  - resolution: 1d\n"), "a.yaml", nil)
	require.NoError(t, err)
	require.Equal(t, []Resolution{{Resolution: Duration(24 * time.Hour), Retention: DefaultDailyRetention}}, a.Resolutions)
}

func TestAuthFieldsForOtherType(t *testing.T) {
	a, err := ParseAgent([]byte(`cluster_id: a
prometheus:
  url: http://x:9090
  headers: {Authorization: "Bearer abc"}
  auth:
    type: sigv4
    username: u
    bearer_token: t
`), "a.yaml", nil)
	require.NoError(t, err)
	require.Equal(t, []string{
		`a.yaml:4: prometheus.headers["Authorization"]: conflicts with auth.type sigv4; set one of them`,
		"a.yaml:7: prometheus.auth.username: username/password set but auth.type is sigv4",
		"a.yaml:8: prometheus.auth.bearer_token: bearer token set but auth.type is sigv4",
	}, errorStrings(Problems(a.Validate())))
}

func TestAgentSecretsNeverPrint(t *testing.T) {
	env := map[string]string{"PW": "basic-password-1", "KEY": "sigv4-secret-key-1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	a, err := ParseAgent([]byte(`cluster_id: a
prometheus:
  url: https://prom.example.com
  headers:
    X-Api-Key: header-secret-1
  auth:
    type: sigv4
    sigv4:
      region: eu-west-1
      access_key: sigv4-access-key-1
      secret_key: ${KEY}
`), "a.yaml", lookup)
	require.NoError(t, err)
	require.NoError(t, a.Validate())
	require.Equal(t, "sigv4-secret-key-1", string(a.Prometheus.Auth.SigV4.SecretKey))

	b, err := ParseAgent([]byte("cluster_id: a\nprometheus:\n  url: http://x:9090\n  auth: {username: u, password: \"${PW}\"}\n"), "b.yaml", lookup)
	require.NoError(t, err)
	f, err := ParseFederator([]byte("server: {bearer_token: serve-token-1}\n"), "f.yaml", nil)
	require.NoError(t, err)
	secrets := []string{"basic-password-1", "sigv4-secret-key-1", "sigv4-access-key-1", "header-secret-1", "serve-token-1"}

	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		slog.New(h).Info("config", "agent", a, "b", b, "federator", f, "auth", a.Prometheus.Auth)
	}
	var out []string
	for _, v := range []any{a, b, f} {
		js, err := json.Marshal(v)
		require.NoError(t, err)
		out = append(out, string(js), fmt.Sprintf("%v|%+v|%#v|%s", v, v, v, v))
	}
	for _, v := range []interface{ Redacted() ([]byte, error) }{a, b, f} {
		red, err := v.Redacted()
		require.NoError(t, err)
		require.Contains(t, string(red), redactedText)
		out = append(out, string(red))
	}
	out = append(out, logs.String())
	all := strings.Join(out, "\n")
	for _, s := range secrets {
		require.NotContains(t, all, s)
	}
	red, err := a.Redacted()
	require.NoError(t, err)
	require.Contains(t, string(red), "region: eu-west-1")

	// a password in the URL is refused (it would print wherever the URL does),
	// and hidden should it be printed anyway
	a.Prometheus.URL = "https://user:url-password-1@prom.example.com"
	require.EqualError(t, a.Validate(), "a.yaml:3: prometheus.url: must not contain a password; use auth.type basic with password or password_file")
	red, err = a.Redacted()
	require.NoError(t, err)
	require.Contains(t, string(red), "url: https://user:xxxxx@prom.example.com")
}

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{"A": "alpha", "B": "b$ta", "EMPTY": "", "NL": "x\nfoo: injected", "INJ": "${A}"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct{ in, want, err string }{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "x-${A}-${A}", want: "x-alpha-alpha"},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "pa$word$", want: "pa$word$"},
		{in: "${B}", want: "b$ta"},   // values are not expanded again
		{in: "${INJ}", want: "${A}"}, // not even references
		{in: "${EMPTY}", want: ""},
		{in: "${A", err: `unterminated "${"`},
		{in: "${A-B}", err: `invalid environment variable reference "${A-B}"`},
		{in: "${}", err: "invalid environment variable reference"},
		{in: "${X}${Y}", err: "environment variable \"X\" is not set\nenvironment variable \"Y\" is not set"},
	} {
		got, err := expandEnv(tc.in, lookup)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}

	// values are expanded after parsing: a value cannot add keys
	a, err := ParseAgent([]byte("cluster_id: a\nproducer_instance: ${NL}\n"), "a.yaml", lookup)
	require.NoError(t, err)
	require.Equal(t, "x\nfoo: injected", a.ProducerInstance)

	// a plain scalar is re-typed after expansion, a quoted one stays a string
	num := func(k string) (string, bool) { return "7", true }
	a, err = ParseAgent([]byte("cluster_id: \"${ID}\"\nprometheus:\n  concurrency: ${N}\n  query_step: ${N}m\n  cluster_filter: ${T}\n"), "a.yaml",
		func(k string) (string, bool) {
			if k == "T" {
				return "true", true
			}
			return num(k)
		})
	require.NoError(t, err)
	require.Equal(t, "7", a.ClusterID)
	require.Equal(t, 7, a.Prometheus.Concurrency)
	require.Equal(t, 7*time.Minute, time.Duration(a.Prometheus.QueryStep))
	require.True(t, a.Prometheus.ClusterFilter)

	// keys are not expanded
	_, err = ParseAgent([]byte("${A}: x\n"), "a.yaml", lookup)
	require.ErrorContains(t, err, `unknown field "${A}"`)

	// a nil lookup means nothing is set
	_, err = ParseAgent([]byte("cluster_id: ${A}\n"), "a.yaml", nil)
	require.ErrorIs(t, err, ErrUnsetEnv)
}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"0", 0, "0s"},
		{"90s", 90 * time.Second, "90s"},
		{"5m", 5 * time.Minute, "5m"},
		{"1h30m", 90 * time.Minute, "90m"},
		{"49h", 49 * time.Hour, "49h"},
		{"91d", 91 * 24 * time.Hour, "91d"},
		{"1w", 7 * 24 * time.Hour, "7d"},
		{"1y", 365 * 24 * time.Hour, "365d"},
		{"1500ms", 1500 * time.Millisecond, "1500ms"},
		{"1d12h", 36 * time.Hour, "36h"},
	} {
		d, err := ParseDuration(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, time.Duration(d), tc.in)
		require.Equal(t, tc.out, d.String(), tc.in)
		back, err := ParseDuration(d.String())
		require.NoError(t, err)
		require.Equal(t, d, back)
	}
	for _, bad := range []string{"", "5", "600", "1.5h", "-1h", "5 m", "1m1h", "1h1h", "5x", "h", "99999999999999999999s", "300000y"} {
		_, err := ParseDuration(bad)
		require.Error(t, err, bad)
	}
}

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Bytes
		out  string
	}{
		{"0", 0, "0"}, {"1000", 1000, "1000"}, {"1024", 1024, "1KiB"}, {"256MiB", 256 << 20, "256MiB"},
		{"1 GiB", 1 << 30, "1GiB"}, {"1GB", 1e9, "1000000000"}, {"2tib", 2 << 40, "2TiB"},
	} {
		b, err := ParseBytes(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, b, tc.in)
		require.Equal(t, tc.out, b.String(), tc.in)
	}
	for _, bad := range []string{"", "-1", "lots", "1.5GiB", "10PB", "99999999999TiB"} {
		_, err := ParseBytes(bad)
		require.Error(t, err, bad)
	}
}

func TestCutoffTime(t *testing.T) {
	f, err := ParseFederator([]byte("cutoff: 2024-03-01\n"), "f.yaml", nil)
	require.NoError(t, err)
	require.Equal(t, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), f.Cutoff.Time)
	f, err = ParseFederator([]byte("cutoff: \"2024-03-01T06:30:00+02:00\"\n"), "f.yaml", nil)
	require.NoError(t, err)
	require.True(t, f.Cutoff.Equal(time.Date(2024, 3, 1, 4, 30, 0, 0, time.UTC)))
	red, err := f.Redacted()
	require.NoError(t, err)
	require.Contains(t, string(red), "cutoff: \"2024-03-01T06:30:00+02:00\"")
	_, err = ParseFederator([]byte("cutoff: 03/01/2024\n"), "f.yaml", nil)
	require.ErrorContains(t, err, `f.yaml:1: cutoff: invalid time "03/01/2024"`)
}

func TestValidateSchedule(t *testing.T) {
	for _, good := range []string{
		"*/10 * * * *", "0 * * * *", "5,35 1-5 * * MON-FRI", "0 0 1 jan,jul ?", "0 0 * * 0", "*/5 0-23/2 1-31 1-12 0-6",
		"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@every 10m", "@every 1h30m",
		"CRON_TZ=Europe/Paris 0 6 * * *", "TZ=UTC @daily",
	} {
		require.NoError(t, ValidateSchedule(good), good)
	}
	for _, bad := range []string{
		"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7",
		"*/0 * * * *", "5-1 * * * *", "a * * * *", ", * * * *", "@fortnightly", "@every 1d", "@every -5m", "CRON_TZ= * * * * *", "CRON_TZ=UTC",
	} {
		require.Error(t, ValidateSchedule(bad), bad)
	}
}

func TestValidateClusterID(t *testing.T) {
	for _, good := range []string{"a", "prod-eu-1", "Cluster_2.b", "0", strings.Repeat("x", 128)} {
		require.NoError(t, ValidateClusterID(good), good)
	}
	for _, bad := range []string{"", "../x", "..", ".", "-a", "_a", "a/b", "a b", "combined", "Combined", "a\x00", "é", strings.Repeat("x", 129)} {
		require.Error(t, ValidateClusterID(bad), bad)
	}
}

func TestClusterSelector(t *testing.T) {
	all := ClusterSelector{}
	require.True(t, all.Allowed("x"))
	deny := ClusterSelector{Deny: []string{"x"}}
	require.False(t, deny.Allowed("x"))
	require.True(t, deny.Allowed("y"))
	allow := ClusterSelector{Allow: []string{"x", "y"}, Deny: []string{"y"}}
	require.True(t, allow.Allowed("x"))
	require.False(t, allow.Allowed("y"))
	require.False(t, allow.Allowed("z"))
}

func TestSecretType(t *testing.T) {
	s := Secret("value-1")
	require.Equal(t, redactedText, s.String())
	require.Equal(t, `config.Secret("<redacted>")`, fmt.Sprintf("%#v", s))
	require.Equal(t, "", Secret("").String())
	js, err := json.Marshal(map[string]Secret{"k": s})
	require.NoError(t, err)
	var back map[string]string
	require.NoError(t, json.Unmarshal(js, &back))
	require.Equal(t, map[string]string{"k": redactedText}, back)
}

func TestLoadAgentCentral(t *testing.T) {
	a, err := LoadAgent("testdata/agent-central-discover.good.yml", nil)
	require.NoError(t, err)
	require.True(t, a.Central())
	require.Equal(t, &Clusters{Discover: true}, a.Clusters)
	require.Empty(t, a.ClusterID)
	require.True(t, a.Prometheus.ClusterFilter, "implied by clusters:")
	require.Equal(t, "cluster", a.Prometheus.ClusterLabel)
	red, err := a.Redacted()
	require.NoError(t, err)
	require.Contains(t, string(red), "clusters:\n  discover: true\n")
	require.Contains(t, string(red), "cluster_filter: true")

	// each cluster is built from the per-cluster config a filtered agent would have
	one := a.ForCluster("prod-eu-1")
	require.False(t, one.Central())
	require.Equal(t, "prod-eu-1", one.ClusterID)
	require.True(t, one.Prometheus.ClusterFilter)
	require.NoError(t, one.Validate())
	require.True(t, a.Central(), "ForCluster leaves its receiver alone")

	ids, err := LoadAgent("testdata/agent-central-ids.good.yml", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"prod-eu-1", "prod-us-1"}, ids.Clusters.IDs)

	// a single-cluster config has no clusters: and prints none
	single, err := LoadAgent("testdata/agent-minimal.good.yml", nil)
	require.NoError(t, err)
	require.False(t, single.Central())
	red, err = single.Redacted()
	require.NoError(t, err)
	require.NotContains(t, string(red), "clusters")

	// built in code: the filter must be on, as parsing sets it
	code := DefaultAgent()
	code.Prometheus.URL = "http://x:9090"
	code.Clusters = &Clusters{IDs: []string{"a"}}
	require.Equal(t, []string{"prometheus.cluster_filter: must be true (or unset) when clusters is set: a central agent reads each cluster's series through cluster_label"},
		errorStrings(Problems(code.Validate())))
	code.Prometheus.ClusterFilter = true
	require.NoError(t, code.Validate())

	// clusters: with no value keeps the default (none): cluster_id is then required
	empty, err := ParseAgent([]byte("clusters:\nprometheus: {url: http://x:9090}\n"), "a.yaml", nil)
	require.NoError(t, err)
	require.False(t, empty.Central())
	require.Equal(t, []string{"a.yaml: cluster_id: required (a unique id per cluster, e.g. prod-eu-1)"}, errorStrings(Problems(empty.Validate())))
	_, err = ParseAgent([]byte("clusters: {ids: [a], alow: [b]}\nprometheus: {url: http://x:9090}\n"), "a.yaml", nil)
	require.ErrorContains(t, err, `unknown field "alow" in clusters`)
}
