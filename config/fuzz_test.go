package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thanos-io/objstore/providers/azure"
	"github.com/thanos-io/objstore/providers/gcs"
	"github.com/thanos-io/objstore/providers/s3"
)

// fuzzLookup sets every variable, so ${ANY} expands to a secret-looking value.
func fuzzLookup(name string) (string, bool) { return "env-secret-" + name, true }

func addSeeds(f *testing.F, glob string, extra ...string) {
	files, err := filepath.Glob(glob)
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, e := range extra {
		f.Add([]byte(e))
	}
}

// FuzzParseStore: parsing never panics; a parsed store validates, prints and
// redacts without panicking, and its redacted or printed forms do not depend on
// the values of its secrets (only on whether they are set).
func FuzzParseStore(f *testing.F) {
	addSeeds(f, "testdata/store-*.yml", secretStore, "", "type: s3", "type: FILESYSTEM\nconfig: {directory: ${D}}\nprefix: $$x",
		"type: S3\nconfig: &a {bucket: b, endpoint: e}\nprefix: *a", "type: GCS\nconfig:\n  <<: {bucket: b}\n")
	if data, err := os.ReadFile(sharedFixture); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStore(data, "fuzz.yaml", fuzzLookup)
		if err != nil {
			noCrossCheckFinding(t, err)
			return
		}
		_ = s.Validate()
		other := storeWithOtherSecrets(t, s)
		for _, pair := range [][2]string{
			{fmt.Sprintf("%v|%+v|%#v", s, s, s), fmt.Sprintf("%v|%+v|%#v", other, other, other)},
			{jsonOf(s), jsonOf(other)},
			{mustRedact(t, s), mustRedact(t, other)},
		} {
			if pair[0] != pair[1] {
				t.Fatalf("output depends on secret values:\n%s\n---\n%s", pair[0], pair[1])
			}
		}
	})
}

func storeWithOtherSecrets(t *testing.T, s Store) Store {
	change := func(v *string) {
		if *v != "" {
			*v = "OTHER"
		}
	}
	var cfg any
	switch c := s.get().cfg.(type) {
	case s3.Config:
		change(&c.AccessKey)
		change(&c.SecretKey)
		change(&c.SessionToken)
		change(&c.SSEConfig.EncryptionKey)
		cfg = c
	case gcs.Config:
		change(&c.ServiceAccount)
		cfg = c
	case azure.Config:
		change(&c.StorageAccountKey)
		change(&c.StorageConnectionString)
		change(&c.ClientSecret)
		cfg = c
	default:
		cfg = c
	}
	other, err := newStore(s.Type, s.Prefix, cfg, s.get().src)
	if err != nil {
		t.Fatal(err)
	}
	return other
}

// FuzzParseAgent: as FuzzParseStore, for agent.yaml.
func FuzzParseAgent(f *testing.F) {
	addSeeds(f, "testdata/agent*.yml", "", "cluster_id: a", "cluster_id: ${X}\nprometheus: {auth: {password: '$${Y}', sigv4: {secret_key: '${Z}'}}}",
		"prometheus:\n  headers: {Authorization: '${TOKEN}'}\nresolutions: [{resolution: 1h}]\nprices: {instance_types: {a: {gpu_hour: .nan}}}")
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAgent(data, "fuzz.yaml", fuzzLookup)
		if err != nil {
			noCrossCheckFinding(t, err)
			return
		}
		_ = a.Validate()
		other := a
		other.Prometheus.Headers = maps.Clone(a.Prometheus.Headers)
		for k := range other.Prometheus.Headers {
			other.Prometheus.Headers[k] = otherSecret(other.Prometheus.Headers[k])
		}
		auth := &other.Prometheus.Auth
		for _, s := range []*Secret{&auth.Password, &auth.BearerToken, &auth.SigV4.AccessKey, &auth.SigV4.SecretKey} {
			*s = otherSecret(*s)
		}
		for _, pair := range [][2]string{
			{fmt.Sprintf("%v|%+v|%#v", a, a, a), fmt.Sprintf("%v|%+v|%#v", other, other, other)},
			{jsonOf(a), jsonOf(other)},
			{mustRedact(t, a), mustRedact(t, other)},
		} {
			if pair[0] != pair[1] {
				t.Fatalf("output depends on secret values:\n%s\n---\n%s", pair[0], pair[1])
			}
		}
	})
}

// FuzzParseFederator: parsing, validating and redacting never panic.
func FuzzParseFederator(f *testing.F) {
	addSeeds(f, "testdata/federator*.yml", "", "cutoff: 2024-01-01T00:00:00Z", "server: {cache_bytes: 1TiB}")
	f.Fuzz(func(t *testing.T, data []byte) {
		fed, err := ParseFederator(data, "fuzz.yaml", fuzzLookup)
		if err != nil {
			noCrossCheckFinding(t, err)
			return
		}
		_ = fed.Validate()
		_ = mustRedact(t, fed)
		_ = DetectKind(data)
	})
}

// noCrossCheckFinding fails when yaml's strict mode found a problem the key
// checker missed.
func noCrossCheckFinding(t *testing.T, err error) {
	if strings.Contains(err.Error(), crossCheckMarker) {
		t.Fatalf("key checker missed a problem: %v", err)
	}
}

func otherSecret(s Secret) Secret {
	if s == "" {
		return s
	}
	return "OTHER"
}

// jsonOf returns v as JSON, or the error (NaN prices cannot be encoded).
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(b)
}

func mustRedact(t *testing.T, v interface{ Redacted() ([]byte, error) }) string {
	t.Helper()
	b, err := v.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
