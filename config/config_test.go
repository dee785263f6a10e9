package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testEnv is the environment the testdata files expand from.
var testEnv = map[string]string{
	"PROM_PASSWORD": "hunter2-prom-password",
	"SERVE_TOKEN":   "serve-token-0123456789",
	"S3_SECRET_KEY": "s3-secret-key-value",
	"AZURE_KEY":     "azure-storage-account-key",
}

func testLookup(name string) (string, bool) {
	v, ok := testEnv[name]
	return v, ok
}

// load loads a testdata file as its detected kind and returns its redacted
// effective config.
func load(t *testing.T, path string) ([]byte, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	switch DetectKind(data) {
	case KindStore:
		s, err := LoadStore(path, testLookup)
		if err != nil {
			return nil, err
		}
		return s.Redacted()
	case KindAgent:
		a, err := LoadAgent(path, testLookup)
		if err != nil {
			return nil, err
		}
		return a.Redacted()
	default:
		f, err := LoadFederator(path, testLookup)
		if err != nil {
			return nil, err
		}
		return f.Redacted()
	}
}

func TestGoodConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := load(t, f)
			require.NoError(t, err)
			for _, secret := range testEnv {
				require.NotContains(t, string(out), secret)
			}
			require.NotContains(t, string(out), "gcs-private-key-material")
		})
	}
}

// badConfigs lists every testdata/*.bad.yml with its problems, in order.
var badConfigs = []struct {
	file string
	want []string // the problems, in this order (prefixes of their messages)
}{
	{"agent-unknown-top.bad.yml", []string{`agent-unknown-top.bad.yml:4: unknown field "foo"`}},
	{"agent-unknown-nested.bad.yml", []string{`agent-unknown-nested.bad.yml:7: unknown field "urll" in prometheus (did you mean "url"?)`}},
	{"agent-bad-duration.bad.yml", []string{
		`agent-bad-duration.bad.yml:4: prometheus.query_timeout: invalid duration "2 minutes"`,
		`agent-bad-duration.bad.yml:5: settle_delay: invalid duration "600": missing unit`,
	}},
	{"agent-bad-type.bad.yml", []string{
		"agent-bad-type.bad.yml:4: prometheus.concurrency: cannot unmarshal !!str `many` into int",
		"agent-bad-type.bad.yml:5: prometheus.cluster_filter: cannot unmarshal !!str `maybe` into bool",
	}},
	{"agent-cluster-dotdot.bad.yml", []string{`agent-cluster-dotdot.bad.yml:1: cluster_id: "../x" must start with a letter or digit`}},
	{"agent-cluster-combined.bad.yml", []string{`agent-cluster-combined.bad.yml:1: cluster_id: "combined" is reserved`}},
	{"agent-cluster-empty.bad.yml", []string{`agent-cluster-empty.bad.yml:1: cluster_id: required`}},
	{"agent-bad-cron.bad.yml", []string{`agent-bad-cron.bad.yml:4: schedule: want 5 fields`}},
	{"agent-bad-cron-range.bad.yml", []string{`agent-bad-cron-range.bad.yml:4: schedule: hour field "25"`}},
	{"agent-unset-env.bad.yml", []string{`agent-unset-env.bad.yml:6: prometheus.auth.password: environment variable "COSTFED_TEST_UNSET" is not set`}},
	{"agent-retention.bad.yml", []string{
		`agent-retention.bad.yml:6: resolutions[0].retention: must be at least the resolution (1h)`,
		`agent-retention.bad.yml:7: resolutions[1].resolution: must be 1h or 1d, got 5m`,
	}},
	{"agent-amp-no-sigv4.bad.yml", []string{
		`agent-amp-no-sigv4.bad.yml:3: prometheus.url: must be the base URL, without /api/v1`,
		`agent-amp-no-sigv4.bad.yml:5: prometheus.auth.type: an AMP workspace URL needs auth.type sigv4`,
	}},
	{"agent-sigv4-half-keys.bad.yml", []string{`agent-sigv4-half-keys.bad.yml:5: prometheus.auth.sigv4.secret_key: access_key and secret_key must be set together`}},
	{"agent-multi.bad.yml", []string{
		`agent-multi.bad.yml:1: cluster_id: "bad/id" contains '/'`,
		`agent-multi.bad.yml:3: prometheus.url: must be an absolute http(s) URL`,
		`agent-multi.bad.yml:4: prometheus.auth.bearer_token: bearer_token or bearer_token_file required`,
		`agent-multi.bad.yml:6: prometheus.concurrency: must be from 1 to 100`,
		`agent-multi.bad.yml:7: prometheus.cluster_label: must be a Prometheus label name`,
		`agent-multi.bad.yml:8: resolutions: at least one resolution`,
		`agent-multi.bad.yml:9: schedule: unknown descriptor "@fortnightly"`,
		`agent-multi.bad.yml:10: listen_address: must be [host]:port`,
		`agent-multi.bad.yml:13: prices.default.cpu_core_hour: must be a finite, non-negative price`,
		`agent-multi.bad.yml:14: prices.cluster_management_hour: must be a finite, non-negative price`,
	}},
	{"agent-tsdb-url.bad.yml", []string{`agent-tsdb-url.bad.yml:4: prometheus.tsdb_path: cannot be combined with url`}},
	{"agent-tsdb-http-options.bad.yml", []string{
		`agent-tsdb-http-options.bad.yml:4: prometheus.headers["X-Scope-OrgID"]: only applies to url (an HTTP endpoint); a tsdb_path directory is read in-process`,
		`agent-tsdb-http-options.bad.yml:5: prometheus.tls: only applies to url`,
		`agent-tsdb-http-options.bad.yml:7: prometheus.auth: only applies to url`,
	}},
	{"agent-central.bad.yml", []string{
		`agent-central.bad.yml:1: cluster_id: must be empty when clusters is set`,
		`agent-central.bad.yml:2: clusters: set ids or discover: true, not both`,
		`agent-central.bad.yml:5: clusters.ids[1]: "combined" is reserved`,
		`agent-central.bad.yml:6: clusters.ids[2]: "prod-eu-1" is listed twice (also clusters.ids[0])`,
		`agent-central.bad.yml:10: prometheus.cluster_filter: must be true (or unset) when clusters is set`,
	}},
	{"agent-central-empty.bad.yml", []string{`agent-central-empty.bad.yml:1: clusters: set ids (a list of cluster ids) or discover: true`}},
	{"empty.bad.yml", []string{`empty.bad.yml: config is empty`}},
	{"syntax.bad.yml", []string{`syntax.bad.yml:4: invalid YAML: mapping values are not allowed`}},
	{"list.bad.yml", []string{`list.bad.yml:1: top level must be a mapping of keys to values, not a list`}},
	{"store-unknown-s3.bad.yml", []string{
		`store-unknown-s3.bad.yml:8: unknown field "ca_flie" in config.http_config.tls_config (did you mean "ca_file"?)`,
		`store-unknown-s3.bad.yml:9: unknown field "endpont" in config (did you mean "endpoint"?)`,
	}},
	{"store-unknown-top.bad.yml", []string{`store-unknown-top.bad.yml:5: unknown field "prefixx" (did you mean "prefix"?)`}},
	{"store-azure-unknown.bad.yml", []string{`store-azure-unknown.bad.yml:5: unknown field "storage_acount_key" in config`}},
	{"store-gcs-unknown.bad.yml", []string{`store-gcs-unknown.bad.yml:4: unknown field "no_auth" in config`}},
	{"store-bad-type.bad.yml", []string{`store-bad-type.bad.yml:1: type: unsupported store type "DROPBOX" (supported: S3, GCS, AZURE, FILESYSTEM)`}},
	{"store-sdk-and-keys.bad.yml", []string{`store-sdk-and-keys.bad.yml:5: config.aws_sdk_auth: cannot be combined with access_key/secret_key`}},
	{"store-only-access-key.bad.yml", []string{`store-only-access-key.bad.yml:2: config.secret_key: required when access_key is set`}},
	{"store-s3-bad-values.bad.yml", []string{
		"store-s3-bad-values.bad.yml:5: config.insecure: cannot unmarshal !!str `notabool` into bool",
		`store-s3-bad-values.bad.yml:7: config.http_config.idle_conn_timeout: not a valid duration string: "soon"`,
	}},
	{"store-s3-invalid.bad.yml", []string{
		`store-s3-invalid.bad.yml:2: config.bucket: required`,
		`store-s3-invalid.bad.yml:3: config.endpoint: must be host[:port] without a scheme`,
		`store-s3-invalid.bad.yml:4: config.bucket_lookup_type: unsupported bucket lookup type: sideways`,
		`store-s3-invalid.bad.yml:5: config.part_size: must be at least 5 MiB`,
		`store-s3-invalid.bad.yml:6: config.sse_config.kms_key_id: required when sse_config.type is SSE-KMS`,
		`store-s3-invalid.bad.yml:8: prefix: must not contain "." or ".." segments`,
	}},
	{"store-unset-env.bad.yml", []string{
		`store-unset-env.bad.yml:5: config.access_key: environment variable "COSTFED_TEST_UNSET_A" is not set`,
		`store-unset-env.bad.yml:6: config.secret_key: environment variable "COSTFED_TEST_UNSET_B" is not set`,
	}},
	{"federator-bad.bad.yml", []string{
		`federator-bad.bad.yml:1: schedule: minute field "61"`,
		`federator-bad.bad.yml:3: clusters.allow[1]: "combined" is reserved`,
		`federator-bad.bad.yml:4: clusters.deny[0]: "a" is in both allow and deny`,
		`federator-bad.bad.yml:5: cutoff: invalid time "yesterday"`,
		`federator-bad.bad.yml:7: retention.1h: must be at least 1h`,
		`federator-bad.bad.yml:8: unknown field "1w" in retention`,
		`federator-bad.bad.yml:10: server.bearer_token: set bearer_token or bearer_token_file, not both`,
		`federator-bad.bad.yml:12: server.cache_bytes: invalid size "lots"`,
	}},
	{"federator-bad-values.bad.yml", []string{
		`federator-bad-values.bad.yml:3: retention.1d: must be at least 1d`,
		`federator-bad-values.bad.yml:4: retention.max_expire_share: must be more than 0 and at most 1`,
		`federator-bad-values.bad.yml:5: stale_after: must be positive`,
		`federator-bad-values.bad.yml:7: server.read_timeout: must be positive`,
		`federator-bad-values.bad.yml:8: server.listen_address: port must be a number from 0 to 65535`,
	}},
	{"store-no-type.bad.yml", []string{`store-no-type.bad.yml: type: required: one of S3, GCS, AZURE, FILESYSTEM`}},
}

func TestBadConfigs(t *testing.T) {
	for _, tc := range badConfigs {
		t.Run(tc.file, func(t *testing.T) {
			_, err := load(t, filepath.Join("testdata", tc.file))
			require.Error(t, err)
			got := Problems(err)
			require.Len(t, got, len(tc.want), "problems: %v", err)
			for i, want := range tc.want {
				require.Contains(t, got[i].Error(), "testdata/"+want)
				require.NotContains(t, got[i].Error(), "\n")
			}
		})
	}
}

func TestAllBadFilesAreInTheTable(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yml")
	require.NoError(t, err)
	listed := map[string]bool{}
	for _, tc := range badConfigs {
		listed[tc.file] = true
	}
	for _, f := range files {
		require.True(t, listed[filepath.Base(f)], "%s has no entry in badConfigs", f)
	}
	require.Len(t, badConfigs, len(files))
}

func TestSentinelErrors(t *testing.T) {
	_, err := ParseAgent([]byte("cluster_id: a\nbogus: 1\n"), "a.yaml", nil)
	require.ErrorIs(t, err, ErrUnknownField)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, 2, fe.Line)
	require.Equal(t, "a.yaml", fe.File)

	_, err = ParseAgent([]byte("cluster_id: ${NOPE}\n"), "a.yaml", nil)
	require.ErrorIs(t, err, ErrUnsetEnv)
	require.EqualError(t, err, `a.yaml:1: cluster_id: environment variable "NOPE" is not set`)

	for _, empty := range []string{"", "\n\n", "# comment\n", "---\n", "~\n", "null\n"} {
		_, err = ParseFederator([]byte(empty), "f.yaml", nil)
		require.ErrorIs(t, err, ErrEmpty, "%q", empty)
	}
}

func TestParseErrorsWithoutValidation(t *testing.T) {
	// Parse reports only decoding problems; Validate the rest.
	a, err := ParseAgent([]byte("cluster_id: combined\n"), "a.yaml", nil)
	require.NoError(t, err)
	err = a.Validate()
	require.Error(t, err)
	require.Contains(t, err.Error(), `a.yaml:1: cluster_id: "combined" is reserved`)
	require.Contains(t, err.Error(), `a.yaml: prometheus.url: required`)
}

func TestMultipleDocumentsRejected(t *testing.T) {
	_, err := ParseStore([]byte("type: S3\n---\ntype: GCS\n"), "s.yaml", nil)
	require.EqualError(t, err, "s.yaml:2: more than one YAML document; a config file holds exactly one")
}

func TestDuplicateKeys(t *testing.T) {
	_, err := ParseAgent([]byte("cluster_id: a\ncluster_id: b\n"), "a.yaml", nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), `a.yaml:2:`)
	require.Contains(t, err.Error(), `already defined at line 1`)
}

// Issue 16, item 8: a duplicate key is one error, not also every field of its
// mapping reported missing (the YAML decoder refused the whole mapping).
func TestDuplicateKeyIsOneError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(path, []byte("cluster_id: a\ncluster_id: b\nprometheus:\n  url: http://x:9090\n  retries: 1\n  retries: 2\n"), 0o600))
	_, err := LoadAgent(path, nil)
	require.Equal(t, []string{
		path + `:2: mapping key "cluster_id" already defined at line 1`,
		path + `:6: mapping key "retries" already defined at line 5`,
	}, errorStrings(Problems(err)))

	// Merge keys are not duplicates of each other.
	_, err = ParseFederator([]byte("a: &a {stale_after: 1h}\nb: &b {listen_address: ':1'}\nserver:\n  <<: *a\n"), "f.yaml", nil)
	require.NotContains(t, fmt.Sprint(err), "already defined")
}

// Issue 16, item 8: a malformed file is reported as the kind it is.
func TestDetectKindOfMalformedFiles(t *testing.T) {
	for data, want := range map[string]Kind{
		"cluster_id: a\nprometheus: [\n":          KindAgent,
		"# store\ntype: S3\nconfig: {bucket: b\n": KindStore,
		"\"config\": {\n":                         KindStore,
		"server:\n  type: [\n":                    KindFederator,
		"server:\n  listen_address: [\n":          KindFederator,
	} {
		require.Equal(t, want, DetectKind([]byte(data)), "%q", data)
	}
}

func TestWrongShape(t *testing.T) {
	_, err := ParseAgent([]byte("cluster_id: a\nprometheus: http://x\nresolutions: 1h\n"), "a.yaml", nil)
	require.Error(t, err)
	require.Equal(t, []string{
		`a.yaml:2: prometheus: expected a mapping (key: value), got the value "http://x"`,
		`a.yaml:3: resolutions: expected a list, got the value "1h"`,
	}, errorStrings(Problems(err)))
}

func TestMergeKeysAndAnchors(t *testing.T) {
	data := `
cluster_id: a
prometheus: &p
  url: http://localhost:9090
  concurrency: 7
resolutions:
  - &hourly {resolution: 1h, retention: 72h}
  - <<: *hourly
    resolution: 1d
    retention: 30d
`
	a, err := ParseAgent([]byte(data), "a.yaml", nil)
	require.NoError(t, err)
	require.NoError(t, a.Validate())
	require.Equal(t, 7, a.Prometheus.Concurrency)
	require.Equal(t, Duration(30*24*3600e9), a.Resolutions[1].Retention)

	// an unknown key inside a merged mapping is still caught
	bad := "cluster_id: a\nbase: &b {urll: x}\nprometheus:\n  <<: *b\n"
	_, err = ParseAgent([]byte(bad), "a.yaml", nil)
	require.ErrorIs(t, err, ErrUnknownField)
	require.Contains(t, err.Error(), `unknown field "urll" in prometheus`)
}

func TestDetectKind(t *testing.T) {
	require.Equal(t, KindStore, DetectKind([]byte("type: S3\n")))
	require.Equal(t, KindStore, DetectKind([]byte("config: {}\n")))
	require.Equal(t, KindAgent, DetectKind([]byte("# x\ncluster_id: a\n")))
	// a central agent has no cluster_id; its clusters: differs from the federator's
	require.Equal(t, KindAgent, DetectKind([]byte("clusters: {discover: true}\n")))
	require.Equal(t, KindAgent, DetectKind([]byte("clusters:\n  ids: [a]\n")))
	require.Equal(t, KindAgent, DetectKind([]byte("prometheus: {url: http://x}\n")))
	require.Equal(t, KindFederator, DetectKind([]byte("clusters: {allow: [a], deny: [b]}\n")))
	require.Equal(t, KindFederator, DetectKind([]byte("schedule: '@hourly'\n")))
	require.Equal(t, KindFederator, DetectKind([]byte("[")))
	require.Equal(t, KindFederator, DetectKind(nil))
}

func TestProblemsFlattens(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	require.Equal(t, []error{a, b, c}, Problems(errors.Join(a, errors.Join(b, c))))
	require.Equal(t, []error{a}, Problems(a))
	require.Nil(t, Problems(nil))
}

func errorStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

func TestErrorsNeverSpanLines(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yml")
	require.NoError(t, err)
	for _, f := range files {
		_, err := load(t, f)
		for _, p := range Problems(err) {
			require.False(t, strings.Contains(p.Error(), "\n"), "%s: %q", f, p.Error())
		}
	}
}

func TestAliasBombIsCheap(t *testing.T) {
	// nine levels of nine aliases: 9^9 nodes if expanded
	var b strings.Builder
	b.WriteString("clusters:\n  allow: &l0 [a, b]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "  deny: &l%d [", i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	start := time.Now()
	_, err := ParseFederator([]byte(b.String()), "bomb.yaml", nil)
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
}

// Issue 16, row 9 (size): a config file over 1 MiB is one clear error, found
// before parsing (a 48 MB file ran 13 minutes at 1.6 GB).
func TestOversizedFileIsOneError(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("cluster_id: a\nprometheus:\n  url: http://prom:9090\n  headers:\n")
	for i := 0; b.Len() <= MaxFileSize; i++ {
		fmt.Fprintf(&b, "    X-H%d: value-%d\n", i, i)
	}
	big := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(big, []byte(b.String()), 0o600))

	start := time.Now()
	for name, load := range map[string]func() error{
		"agent":     func() error { _, err := LoadAgent(big, nil); return err },
		"federator": func() error { _, err := LoadFederator(big, nil); return err },
		"store":     func() error { _, err := LoadStore(big, nil); return err },
		"parse":     func() error { _, err := ParseAgent([]byte(b.String()), big, nil); return err },
	} {
		err := load()
		require.ErrorIs(t, err, ErrTooLarge, name)
		require.Len(t, Problems(err), 1, name)
		require.Contains(t, err.Error(), big+": larger than 1048576 bytes (1 MiB)", name)
	}
	require.Less(t, time.Since(start), 2*time.Second)

	// Exactly the limit is read (and parsed: here, a valid file padded by a
	// comment).
	ok := []byte("type: FILESYSTEM\nconfig:\n  directory: /tmp/x\n#")
	ok = append(ok, []byte(strings.Repeat("x", MaxFileSize-len(ok)-1)+"\n")...)
	require.Len(t, ok, MaxFileSize)
	path := filepath.Join(dir, "store.yaml")
	require.NoError(t, os.WriteFile(path, ok, 0o600))
	_, err := LoadStore(path, nil)
	require.NoError(t, err)
	data, err := ReadFile(path)
	require.NoError(t, err)
	require.Len(t, data, MaxFileSize)
}

// Issue 16, row 9 (time): 80,000 headers took 90 s to validate, quadratic in
// the YAML decoder's duplicate-key check. A mapping over MaxMappingKeys is one
// error, found before decoding; up to the limit stays fast.
func TestLargeMappingIsOneError(t *testing.T) {
	headers := func(n int) []byte {
		var b strings.Builder
		b.WriteString("cluster_id: a\nprometheus:\n  url: http://prom:9090\n  headers:\n")
		for i := range n {
			fmt.Fprintf(&b, "    X-H%d: v%d\n", i, i)
		}
		return []byte(b.String())
	}
	start := time.Now()
	_, err := ParseAgent(headers(MaxMappingKeys+1), "a.yaml", nil)
	require.Len(t, Problems(err), 1)
	require.EqualError(t, err, "a.yaml:5: a mapping of 1025 keys; a config mapping holds at most 1024 (headers, instance_types…)")

	_, err = ParseAgent(headers(MaxMappingKeys), "a.yaml", nil)
	require.NoError(t, err)

	// Anywhere in the file, aliases included only where anchored.
	var b strings.Builder
	b.WriteString("clusters:\n  allow: [a]\nextra: &big\n")
	for i := range MaxMappingKeys + 1 {
		fmt.Fprintf(&b, "  k%d: 1\n", i)
	}
	b.WriteString("more: *big\n")
	_, err = ParseFederator([]byte(b.String()), "f.yaml", nil)
	require.EqualError(t, err, "f.yaml:3: a mapping of 1025 keys; a config mapping holds at most 1024 (headers, instance_types…)")
	require.Less(t, time.Since(start), 5*time.Second)
}
