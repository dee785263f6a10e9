package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore/providers/s3"
	"go.yaml.in/yaml/v3"
)

// sharedFixture is the federated-store.yaml of the AMP integration guide; it
// must parse unchanged.
const sharedFixture = "../testdata/federated-store.amp-guide.yaml"

func TestSharedFixtureParsesUnchanged(t *testing.T) {
	s, err := LoadStore(sharedFixture, nil)
	require.NoError(t, err)
	require.Equal(t, StoreS3, s.Type)
	require.Equal(t, "", s.Prefix)
	require.Equal(t, "s3://kubecost-etl-metrics", s.Location())

	// what objstore will get: the user's values plus objstore's defaults
	c := s3.DefaultConfig
	c.PutUserMetadata = nil
	require.NoError(t, yaml.Unmarshal(s.ProviderConfig(), &c))
	require.Equal(t, "kubecost-etl-metrics", c.Bucket)
	require.Equal(t, "s3.amazonaws.com", c.Endpoint)
	require.Equal(t, "us-east-1", c.Region)
	require.Equal(t, map[string]string{"X-Amz-Acl": "bucket-owner-full-control"}, c.PutUserMetadata)
	require.Equal(t, 90*time.Second, time.Duration(c.HTTPConfig.IdleConnTimeout))
	require.Equal(t, 2*time.Minute, time.Duration(c.HTTPConfig.ResponseHeaderTimeout))
	require.Equal(t, 10*time.Second, time.Duration(c.HTTPConfig.TLSHandshakeTimeout)) // default
	require.True(t, c.TraceConfig.Enable)
	require.Equal(t, uint64(134217728), c.PartSize)
	require.True(t, c.SendContentMd5) // default
	require.False(t, c.AWSSDKAuth)

	// the fixture file itself is untouched by loading
	data, err := os.ReadFile(sharedFixture)
	require.NoError(t, err)
	again, err := ParseStore(data, "again.yaml", nil)
	require.NoError(t, err)
	require.Equal(t, s.ProviderConfig(), again.ProviderConfig())
}

func TestObjstoreDefaultsNotMutated(t *testing.T) {
	_, err := ParseStore([]byte("type: S3\nconfig:\n  bucket: b\n  endpoint: e\n  put_user_metadata: {X-Test: y}\n"), "s.yaml", nil)
	require.NoError(t, err)
	require.Empty(t, s3.DefaultConfig.PutUserMetadata)
}

func TestStoreTypeCaseInsensitive(t *testing.T) {
	for _, typ := range []string{"s3", "S3", " s3 "} {
		s, err := ParseStore([]byte("type: "+typ+"\nconfig: {bucket: b, endpoint: e}\n"), "s.yaml", nil)
		require.NoError(t, err)
		require.Equal(t, StoreS3, s.Type)
	}
	for _, typ := range []string{"filesystem", "Gcs", "azure"} {
		_, err := ParseStore([]byte("type: "+typ+"\n"), "s.yaml", nil)
		require.NoError(t, err)
	}
}

func TestStoreMissingType(t *testing.T) {
	_, err := ParseStore([]byte("config:\n  bucket: b\n"), "s.yaml", nil)
	require.EqualError(t, err, "s.yaml: type: required: one of S3, GCS, AZURE, FILESYSTEM")
}

func TestStoreMissingConfig(t *testing.T) {
	s, err := ParseStore([]byte("type: FILESYSTEM\n"), "s.yaml", nil)
	require.NoError(t, err)
	require.EqualError(t, s.Validate(), "s.yaml: config.directory: required")
}

func TestDefaultStore(t *testing.T) {
	s := DefaultStore()
	require.Equal(t, StoreFilesystem, s.Type)
	require.Equal(t, "", s.Prefix)
	require.Equal(t, "./data", s.Location())
	require.Equal(t, "directory: ./data\n", string(s.ProviderConfig()))
	require.NoError(t, s.Validate())

	same, err := LoadStoreOrDefault("", nil)
	require.NoError(t, err)
	require.Equal(t, s.ProviderConfig(), same.ProviderConfig())

	fs, err := NewFilesystemStore("/tmp/x y", "p")
	require.NoError(t, err)
	require.NoError(t, fs.Validate())
	require.Equal(t, "/tmp/x y", fs.Location())
	require.Equal(t, "p", fs.Prefix)
}

func TestStoreBuiltInCode(t *testing.T) {
	// a Store that was not parsed validates against the provider's defaults
	require.ErrorContains(t, Store{Type: StoreS3}.Validate(), "config.endpoint: required")
	require.Nil(t, Store{Type: StoreS3}.ProviderConfig())
	require.EqualError(t, Store{}.Validate(), "type: required: one of S3, GCS, AZURE, FILESYSTEM")
}

// secretStore uses every secret field of the S3 provider.
const secretStore = `type: S3
config:
  bucket: b
  endpoint: minio:9000
  access_key: AKIA-ACCESS-KEY-ID
  secret_key: ${S3_SECRET}
  session_token: "session-token-value"
  sse_config:
    type: SSE-C
    encryption_key: /keys/sse-c-key-path
prefix: p
`

// everyVerb prints a value with verbs that fmt applies by reflection when a
// Store sits in an unexported field (a variable, so vet lets %d through).
var everyVerb = "%+v %v %#v %s %x %d"

func TestStoreSecretsNeverPrint(t *testing.T) {
	env := func(string) (string, bool) { return "super-secret-s3-key", true }
	s, err := ParseStore([]byte(secretStore), "s.yaml", env)
	require.NoError(t, err)
	require.NoError(t, s.Validate())
	secrets := []string{"AKIA-ACCESS-KEY-ID", "super-secret-s3-key", "session-token-value", "/keys/sse-c-key-path"}

	// the provider config carries them, for objstore
	for _, v := range secrets {
		require.Contains(t, string(s.ProviderConfig()), v)
	}

	red, err := s.Redacted()
	require.NoError(t, err)
	require.Contains(t, string(red), "secret_key: <redacted>")
	require.Contains(t, string(red), "access_key: <redacted>")
	require.Contains(t, string(red), "session_token: <redacted>")
	require.Contains(t, string(red), "bucket: b")

	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("store", "store", s, "ptr", &s)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("store", "store", s, "any", []any{s})
	jsonOut, err := json.Marshal(s)
	require.NoError(t, err)
	wrapped := struct {
		Name  string
		Store Store
		inner Store
	}{"w", s, s}

	outputs := map[string]string{
		"redacted": string(red),
		"%v":       fmt.Sprintf("%v", s),
		"%+v":      fmt.Sprintf("%+v", s),
		"%#v":      fmt.Sprintf("%#v", s),
		"%s":       fmt.Sprintf("%s", s),
		"%q":       fmt.Sprintf("%q", s),
		"%x":       fmt.Sprintf("%x", s),
		"ptr %+v":  fmt.Sprintf("%+v", &s),
		"nested":   fmt.Sprintf(everyVerb, wrapped, wrapped, wrapped, wrapped, wrapped, wrapped),
		"slog":     logs.String(),
		"json":     string(jsonOut),
		"scrubbed": s.RedactString("dial minio:9000 with AKIA-ACCESS-KEY-ID/super-secret-s3-key failed"),
	}
	for name, out := range outputs {
		for _, v := range secrets {
			require.NotContains(t, out, v, "%s leaks %q: %s", name, v, out)
		}
	}
	require.Equal(t, `Store{type: S3, location: s3://b, prefix: "p"}`, outputs["%v"])
	require.Contains(t, outputs["slog"], "store.type=S3")
	require.Equal(t, "dial minio:9000 with <redacted>/<redacted> failed", outputs["scrubbed"])
}

func TestStoreSecretsAllProviders(t *testing.T) {
	for _, tc := range []struct {
		yaml    string
		secrets []string
	}{
		{"type: GCS\nconfig:\n  bucket: b\n  service_account: '{\"private_key\": \"gcs-pk-0001\"}'\n", []string{"gcs-pk-0001"}},
		{"type: AZURE\nconfig:\n  storage_account: sa\n  container: c\n  storage_account_key: az-key-0001\n", []string{"az-key-0001"}},
		{"type: AZURE\nconfig:\n  storage_account: sa\n  container: c\n  storage_connection_string: az-conn-0001\n", []string{"az-conn-0001"}},
		{"type: AZURE\nconfig:\n  storage_account: sa\n  container: c\n  az_tenant_id: t\n  client_id: id\n  client_secret: az-cs-0001\n", []string{"az-cs-0001"}},
	} {
		s, err := ParseStore([]byte(tc.yaml), "s.yaml", nil)
		require.NoError(t, err)
		require.NoError(t, s.Validate())
		red, err := s.Redacted()
		require.NoError(t, err)
		for _, v := range tc.secrets {
			require.NotContains(t, string(red), v)
			require.NotContains(t, fmt.Sprintf("%v %+v %#v", s, s, s), v)
			require.Contains(t, string(s.ProviderConfig()), v)
		}
		require.Contains(t, string(red), redactedText)
	}
}

func TestRedactedKeepsEmptySecretsVisible(t *testing.T) {
	s, err := LoadStore(sharedFixture, nil)
	require.NoError(t, err)
	red, err := s.Redacted()
	require.NoError(t, err)
	require.Contains(t, string(red), "secret_key: \"\"")
	require.NotContains(t, string(red), redactedText)
	// the redacted output is itself a valid store config
	back, err := ParseStore(red, "redacted.yaml", nil)
	require.NoError(t, err)
	require.NoError(t, back.Validate())
	require.Equal(t, s.ProviderConfig(), back.ProviderConfig())
}

func TestValidateGCSServiceAccountNotEchoed(t *testing.T) {
	s, err := ParseStore([]byte("type: GCS\nconfig:\n  bucket: b\n  service_account: /path/to/not-json-secret\n"), "s.yaml", nil)
	require.NoError(t, err)
	err = s.Validate()
	require.EqualError(t, err, "s.yaml:4: config.service_account: must be the JSON text of a service account key (not a file path)")
}

func TestValidateAzure(t *testing.T) {
	s, err := ParseStore([]byte("type: AZURE\nconfig:\n  user_assigned_id: u\n  client_id: c\n  storage_account_key: k\n  storage_connection_string: cs\n"), "s.yaml", nil)
	require.NoError(t, err)
	require.Equal(t, []string{
		"s.yaml:2: config.storage_account: required",
		"s.yaml:2: config.container: required",
		"s.yaml:2: config.client_secret: az_tenant_id, client_id and client_secret must be set together",
		"s.yaml:3: config.user_assigned_id: cannot be combined with storage_account_key",
		"s.yaml:3: config.user_assigned_id: cannot be combined with storage_connection_string",
		"s.yaml:3: config.user_assigned_id: cannot be combined with client_id",
		"s.yaml:6: config.storage_connection_string: cannot be combined with storage_account_key",
	}, errorStrings(Problems(s.Validate())))
}

// TestSharedFixtureCopyIsCurrent keeps testdata's copy of the workspace's
// shared fixture identical to it, where the workspace is checked out beside
// the repository (CI's layout); elsewhere there is nothing to compare.
func TestSharedFixtureCopyIsCurrent(t *testing.T) {
	for copyPath, shared := range map[string]string{
		sharedFixture: "../../shared/fixtures/federated-store.yaml",
		"../testdata/recording-rules.amp-guide.yaml": "../../shared/fixtures/recording-rules.yaml",
	} {
		want, err := os.ReadFile(shared)
		if errors.Is(err, os.ErrNotExist) {
			t.Skipf("%s is not checked out beside the repository", shared)
		}
		require.NoError(t, err)
		got, err := os.ReadFile(copyPath)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "%s differs from %s: copy it again", copyPath, shared)
	}
}
