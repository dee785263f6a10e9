package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const sharedStoreFixture = "../../testdata/federated-store.amp-guide.yaml"

// runConfigCmd runs "costfed <args>" in-process with the given environment.
func runConfigCmd(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, lookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	code = run(t.Context(), e, args)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestConfigCheckSharedFixture(t *testing.T) {
	code, out, errOut := runConfigCmd(t, nil, "config", "check", sharedStoreFixture)
	require.Equal(t, 0, code, errOut)
	require.Empty(t, errOut)
	require.Contains(t, out, "# effective store config")
	require.Contains(t, out, "type: S3")
	require.Contains(t, out, "bucket: kubecost-etl-metrics")
	require.Contains(t, out, "part_size: 134217728")
	require.Contains(t, out, "X-Amz-Acl: bucket-owner-full-control")
	require.Contains(t, out, "send_content_md5: true") // a default, shown
}

func TestConfigCheckRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	store := writeFile(t, dir, "federated-store.yaml", `type: S3
config:
  bucket: b
  endpoint: minio:9000
  access_key: costfed
  secret_key: ${S3_SECRET}
`)
	vars := map[string]string{"S3_SECRET": "very-secret-s3-value", "PROM_PW": "very-secret-prom-value"}
	code, out, errOut := runConfigCmd(t, vars, "config", "check", store)
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "very-secret-s3-value")
	require.Contains(t, out, "secret_key: <redacted>")

	agent := writeFile(t, dir, "agent.yaml", `cluster_id: prod-1
store: federated-store.yaml
prometheus:
  url: http://prometheus:9090
  auth:
    username: costfed
    password: ${PROM_PW}
`)
	code, out, errOut = runConfigCmd(t, vars, "config", "check", agent)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "# effective agent config")
	require.Contains(t, out, "type: basic")
	require.Contains(t, out, "password: <redacted>")
	require.Contains(t, out, "concurrency: 5")
	for _, v := range vars {
		require.NotContains(t, out+errOut, v)
	}
}

func TestConfigCheckBadFile(t *testing.T) {
	dir := t.TempDir()
	agent := writeFile(t, dir, "agent.yaml", `cluster_id: prod-1
prometheus:
  url: http://prometheus:9090
  concurrency: 0
  foo: bar
schedule: "every ten minutes"
`)
	code, out, errOut := runConfigCmd(t, nil, "config", "check", agent)
	require.Equal(t, 2, code)
	require.Empty(t, out)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Equal(t, []string{ // one line per problem, in file order, then the summary
		agent + ":4: prometheus.concurrency: must be from 1 to 100",
		agent + `:5: unknown field "foo" in prometheus`,
		agent + `:6: schedule: want 5 fields (minute hour day-of-month month day-of-week) or a descriptor such as @hourly, got 3`,
		"costfed config: " + agent + ": 3 problem(s) in the agent config",
	}, lines)
}

func TestConfigCheckErrors(t *testing.T) {
	dir := t.TempDir()
	store := writeFile(t, dir, "store.yaml", "type: S3\nconfig:\n  bucket: b\n  endpoint: e\n  secret_key: ${MISSING_SECRET}\n")
	missingStore := writeFile(t, dir, "agent.yaml", "cluster_id: a\nstore: nope.yaml\nprometheus: {url: 'http://p:9090'}\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unset env", []string{"config", "check", store}, `config.secret_key: environment variable "MISSING_SECRET" is not set`},
		{"wrong kind", []string{"config", "check", "--kind", "agent", store}, `unknown field "type"`},
		{"bad kind", []string{"config", "check", "--kind", "cluster", store}, `--kind must be store, agent or federator, got "cluster"`},
		{"no file", []string{"config", "check"}, "want exactly one FILE, got 0 arguments"},
		{"two files", []string{"config", "check", store, store}, "want exactly one FILE, got 2 arguments"},
		{"missing file", []string{"config", "check", filepath.Join(dir, "absent.yaml")}, "read config: open "},
		{"missing store of agent", []string{"config", "check", missingStore}, "read store config: open " + filepath.Join(dir, "nope.yaml")},
		{"no subcommand", []string{"config"}, `missing subcommand: want "check"`},
		{"bad subcommand", []string{"config", "lint"}, `unknown subcommand "lint"`},
		{"bad flag", []string{"config", "check", "--strict", store}, "flag provided but not defined: -strict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runConfigCmd(t, nil, tc.args...)
			require.Equal(t, 2, code, errOut)
			require.Empty(t, out)
			require.Contains(t, errOut, tc.want)
		})
	}
}

// Issue 16, row 9: a 48 MB config ran 13 minutes; over 1 MiB is one error,
// before parsing.
func TestConfigCheckOversizedFile(t *testing.T) {
	big := writeFile(t, t.TempDir(), "agent.yaml", "cluster_id: a\n#"+strings.Repeat("x", 1<<20)+"\n")
	code, out, errOut := runConfigCmd(t, nil, "config", "check", big)
	require.Equal(t, 2, code, errOut)
	require.Empty(t, out)
	require.Equal(t, "costfed config: read config: "+big+": larger than 1048576 bytes (1 MiB), the limit of a config file\n", errOut)
}

// Issue 16, item 8: config check reports referenced files that do not exist.
func TestConfigCheckMissingFiles(t *testing.T) {
	dir := t.TempDir()
	agent := writeFile(t, dir, "agent.yaml", `cluster_id: prod-1
prometheus:
  url: https://prometheus:9090
  auth:
    type: bearer
    bearer_token_file: token
  tls:
    ca_file: /nonexistent/ca.pem
`)
	code, out, errOut := runConfigCmd(t, nil, "config", "check", agent)
	require.Equal(t, 2, code, errOut)
	require.Empty(t, out)
	require.Equal(t, []string{
		agent + ":6: prometheus.auth.bearer_token_file: file " + filepath.Join(dir, "token") + " does not exist",
		agent + ":8: prometheus.tls.ca_file: file /nonexistent/ca.pem does not exist",
		"costfed config: " + agent + ": 2 problem(s) in the agent config",
	}, strings.Split(strings.TrimSpace(errOut), "\n"))

	writeFile(t, dir, "token", "t0ken\n")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "ca"), 0o755))
	fed := writeFile(t, dir, "federator.yaml", "server:\n  bearer_token_file: ca\n")
	code, _, errOut = runConfigCmd(t, nil, "config", "check", fed)
	require.Equal(t, 2, code, errOut)
	require.Contains(t, errOut, fed+":2: server.bearer_token_file: "+filepath.Join(dir, "ca")+" is not a regular file")

	fed = writeFile(t, dir, "federator.yaml", "server:\n  bearer_token_file: token\n")
	code, _, errOut = runConfigCmd(t, nil, "config", "check", fed)
	require.Equal(t, 0, code, errOut)
}

func TestConfigCheckKinds(t *testing.T) {
	dir := t.TempDir()
	fed := writeFile(t, dir, "federator.yaml", "server:\n  bearer_token: ${TOKEN}\n")
	code, out, errOut := runConfigCmd(t, map[string]string{"TOKEN": "serve-token-value"}, "config", "check", fed)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "# effective federator config")
	require.Contains(t, out, "bearer_token: <redacted>")
	require.Contains(t, out, "listen_address: :9003")
	require.NotContains(t, out, "serve-token-value")

	code, out, errOut = runConfigCmd(t, nil, "config", "check", "--kind", "store", sharedStoreFixture)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "type: S3")
}

func TestConfigHelp(t *testing.T) {
	code, out, _ := runConfigCmd(t, nil, "config", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Usage: costfed config check [--kind store|agent|federator] FILE")

	code, out, errOut := runConfigCmd(t, nil, "config", "check", "--help")
	require.Equal(t, 0, code)
	require.Empty(t, errOut)
	require.Contains(t, out, "Usage: costfed config check [--kind store|agent|federator] FILE")
	require.Contains(t, out, "-kind")
}
