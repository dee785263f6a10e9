package testinfra

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	startAttempts      = 3
	versityReadyWithin = 30 * time.Second
)

// S3Server is a running versitygw S3 gateway with its posix backend, serving
// plain HTTP on 127.0.0.1 with one bucket already created.
type S3Server struct {
	Endpoint  string // "127.0.0.1:PORT", no scheme, as objstore's endpoint wants it
	Bucket    string // created before start
	AccessKey string
	SecretKey string
	Root      string // posix backend root: bucket B lives in Root/B, object K in Root/B/K
	// Sidecar is set when user xattrs do not work under Root: the posix
	// backend then keeps object metadata (ETags, parts, user metadata) in
	// files under this directory. (--nometa is no substitute: versitygw
	// v1.8.0 then fails every multipart upload.)
	Sidecar string
	Process *Process
}

// StartVersityGW starts versitygw on a free loopback port with a fresh posix
// root in t.TempDir() and a bucket named "costfed-test", and waits until it
// answers HTTP. It is stopped when the test ends.
func StartVersityGW(t testing.TB) *S3Server {
	t.Helper()
	return startVersityGW(t, false)
}

// startVersityGW lets tests force the sidecar mode that machines without
// user xattrs get.
func startVersityGW(t testing.TB, forceSidecar bool) *S3Server {
	t.Helper()
	bin := NeedBinary(t, "versitygw")
	s := &S3Server{
		Bucket:    "costfed-test",
		AccessKey: "costfedtestkey",
		SecretKey: "costfedtestsecret123",
		Root:      t.TempDir(),
	}
	if err := os.Mkdir(filepath.Join(s.Root, s.Bucket), 0o755); err != nil {
		t.Fatalf("versitygw: create bucket directory: %v", err)
	}
	if forceSidecar || !userXattrsWork(s.Root) {
		s.Sidecar = t.TempDir()
	}

	for attempt := 1; ; attempt++ {
		s.Endpoint = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		args := []string{
			"--access", s.AccessKey,
			"--secret", s.SecretKey,
			"--port", s.Endpoint,
			"--quiet",
			"posix",
		}
		if s.Sidecar != "" {
			args = append(args, "--sidecar", s.Sidecar)
		}
		args = append(args, s.Root)
		s.Process = StartProcess(t, bin, args...)
		err := pollHTTP(s.URL()+"/", AnyStatus, versityReadyWithin, s.Process.Done())
		if err == nil {
			return s
		}
		if retryOnFreshPort(err, s.Process, attempt) {
			t.Logf("versitygw: port %s was taken, retrying on another", s.Endpoint)
			continue
		}
		s.Process.Stop()
		t.Fatalf("versitygw on %s: %v (its log follows)", s.Endpoint, err)
	}
}

// retryOnFreshPort reports whether a start failed only because another
// process took the port between FreePort and the bind.
func retryOnFreshPort(err error, p *Process, attempt int) bool {
	return attempt < startAttempts && errors.Is(err, errExited) &&
		strings.Contains(p.Log(), "address already in use")
}

// URL is the server's base URL, "http://127.0.0.1:PORT".
func (s *S3Server) URL() string {
	return "http://" + s.Endpoint
}

// CreateBucket adds a bucket, as a directory under Root; the running server
// sees it at once.
func (s *S3Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(s.Root, name), 0o755); err != nil {
		t.Fatalf("versitygw: create bucket %q: %v", name, err)
	}
}

// S3ConfigYAML returns the provider config for this server, the document that
// github.com/thanos-io/objstore/providers/s3.NewBucket parses (strictly):
// bucket, endpoint, keys, insecure (plain HTTP), path-style lookup and a
// 5 MiB part size, so objects above 5 MiB take the multipart path. extra is
// appended verbatim as further top-level keys of that config, e.g.
// "send_content_md5: false\n".
func (s *S3Server) S3ConfigYAML(extra string) []byte {
	var b strings.Builder
	s.writeConfig(&b, "")
	b.WriteString(ensureNewline(extra))
	return []byte(b.String())
}

// StoreYAML returns a federated-store.yaml (the thanos-objstore client
// config: type, config, prefix) for this server, with the settings described
// at S3ConfigYAML. The config mapping comes last and extra is appended
// verbatim, so lines indented by two spaces add S3 settings and unindented
// lines add top-level keys; put the indented ones first:
//
//	s.StoreYAML("  put_user_metadata: {team: a}\nprefix: team-a\n")
func (s *S3Server) StoreYAML(extra string) []byte {
	var b strings.Builder
	b.WriteString("type: S3\nconfig:\n")
	s.writeConfig(&b, "  ")
	b.WriteString(ensureNewline(extra))
	return []byte(b.String())
}

func (s *S3Server) writeConfig(b *strings.Builder, indent string) {
	kv := func(k, v string) { fmt.Fprintf(b, "%s%s: %s\n", indent, k, v) }
	kv("bucket", yamlString(s.Bucket))
	kv("endpoint", yamlString(s.Endpoint))
	kv("access_key", yamlString(s.AccessKey))
	kv("secret_key", yamlString(s.SecretKey))
	kv("insecure", "true")
	kv("bucket_lookup_type", "path")
	kv("part_size", "5242880")
}

// yamlString quotes s for YAML: a JSON string is a valid YAML double-quoted
// scalar.
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

func ensureNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
