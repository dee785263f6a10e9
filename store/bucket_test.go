package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/config"
)

func TestBucketFilesystemRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.NewFilesystemStore(dir, "")
	require.NoError(t, err)
	bkt, err := NewBucket(t.Context(), nil, cfg, nil)
	require.NoError(t, err)

	require.NoError(t, bkt.Upload(t.Context(), "a/b.txt", bytes.NewReader([]byte("hello"))))
	require.Equal(t, "hello", readObject(t, bkt, "a/b.txt"))
	onDisk, err := os.ReadFile(filepath.Join(dir, "a", "b.txt"))
	require.NoError(t, err)
	require.Equal(t, "hello", string(onDisk))
}

func TestBucketPrefix(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.ParseStore([]byte("type: filesystem\nconfig:\n  directory: "+dir+"\nprefix: /team-a/costs/\n"), "s.yaml", nil)
	require.NoError(t, err)
	bkt, err := NewBucket(t.Context(), nil, cfg, nil)
	require.NoError(t, err)

	require.NoError(t, bkt.Upload(t.Context(), "federated/c1/x", strings.NewReader("data")))
	_, err = os.Stat(filepath.Join(dir, "team-a", "costs", "federated", "c1", "x"))
	require.NoError(t, err, "object must land under the prefix directory")
	_, err = os.Stat(filepath.Join(dir, "federated"))
	require.True(t, errors.Is(err, os.ErrNotExist))
	require.Equal(t, "data", readObject(t, bkt, "federated/c1/x"))

	var names []string
	require.NoError(t, bkt.Iter(t.Context(), "", func(name string) error {
		names = append(names, name)
		return nil
	}, objstore.WithRecursiveIter()))
	require.Equal(t, []string{"federated/c1/x"}, names)
}

func TestBucketDefaultStore(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	bkt, err := NewBucket(t.Context(), nil, config.DefaultStore(), nil)
	require.NoError(t, err)
	require.NoError(t, bkt.Upload(t.Context(), "probe", strings.NewReader("x")))
	_, err = os.Stat(filepath.Join(dir, "data", "probe"))
	require.NoError(t, err, "the default store lives in ./data")
}

func TestBucketS3ConstructsWithoutNetwork(t *testing.T) {
	// port 1 on loopback: nothing listens, and construction must not care
	cfg, err := config.ParseStore([]byte(`type: S3
config:
  bucket: costfed-test
  endpoint: 127.0.0.1:1
  insecure: true
  access_key: test-access-key
  secret_key: test-secret-key
prefix: p
`), "s.yaml", nil)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	bkt, err := NewBucket(t.Context(), slog.New(slog.DiscardHandler), cfg, reg)
	require.NoError(t, err)
	require.Equal(t, objstore.S3, bkt.Provider())

	families, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	require.Contains(t, names, "objstore_bucket_operations_total")

	// a second bucket in the same registry is an error, not a panic
	_, err = NewBucket(t.Context(), nil, cfg, reg)
	require.ErrorContains(t, err, "register bucket metrics")
}

func TestBucketSharedFixtureConstructs(t *testing.T) {
	cfg, err := config.LoadStore("../testdata/federated-store.amp-guide.yaml", nil)
	require.NoError(t, err)
	bkt, err := NewBucket(t.Context(), nil, cfg, nil)
	require.NoError(t, err)
	require.Equal(t, "kubecost-etl-metrics", bkt.Name())
}

func TestBucketMetricsCountOperations(t *testing.T) {
	cfg, err := config.NewFilesystemStore(t.TempDir(), "")
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	bkt, err := NewBucket(t.Context(), nil, cfg, reg)
	require.NoError(t, err)
	require.NoError(t, bkt.Upload(t.Context(), "k", strings.NewReader("v")))

	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "objstore_bucket_operations_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["operation"] == "upload" {
				require.Equal(t, "costfed", labels["bucket"])
				require.Equal(t, 1.0, m.GetCounter().GetValue())
				return
			}
		}
	}
	t.Fatal("no upload operation counted")
}

func TestBucketInvalidConfig(t *testing.T) {
	_, err := NewBucket(t.Context(), nil, config.Store{Type: config.StoreS3}, nil)
	require.ErrorContains(t, err, "validate store config")
	require.ErrorContains(t, err, "config.endpoint: required")
}

func TestBucketErrorsAreScrubbed(t *testing.T) {
	cfg, err := config.ParseStore([]byte("type: S3\nconfig: {bucket: b, endpoint: e, access_key: AKIA-SCRUB-ME, secret_key: secret-scrub-me}\n"), "s.yaml", nil)
	require.NoError(t, err)
	inner := errors.New("signature for AKIA-SCRUB-ME/secret-scrub-me rejected")
	err = scrubbed(cfg, inner)
	require.Equal(t, "signature for <redacted>/<redacted> rejected", err.Error())
	require.NotErrorIs(t, err, inner, "the chain would still hold the secret")

	plain := errors.New("connection refused")
	require.ErrorIs(t, scrubbed(cfg, plain), plain)
}

func TestBucketKitLoggerAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := kitLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	require.NoError(t, level.Warn(l).Log("msg", "slow upload", "key", "a/b", "seconds", 3))
	require.NoError(t, level.Debug(l).Log("msg", "trace"))
	require.NoError(t, l.Log("odd"))
	out := buf.String()
	require.Contains(t, out, `level=WARN msg="slow upload" key=a/b seconds=3`)
	require.Contains(t, out, `level=DEBUG msg=trace`)
	require.Contains(t, out, `level=INFO msg="" odd=(MISSING)`)

	buf.Reset()
	quiet := kitLogger{slog.New(slog.NewTextHandler(&buf, nil))}
	require.NoError(t, level.Debug(quiet).Log("msg", "hidden"))
	require.Empty(t, buf.String())
}

func readObject(t *testing.T, bkt objstore.Bucket, name string) string {
	t.Helper()
	rc, err := bkt.Get(context.Background(), name)
	require.NoError(t, err)
	defer rc.Close()
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(data)
}

// TestTwoS3BucketsInOneProcess guards against objstore's S3 parser sharing
// s3.DefaultConfig's put_user_metadata map: the second bucket built from the
// AMP guide's config used to fail with "key already set in map".
func TestTwoS3BucketsInOneProcess(t *testing.T) {
	for i := 0; i < 3; i++ {
		cfg, err := config.LoadStore("../testdata/federated-store.amp-guide.yaml", nil)
		require.NoError(t, err)
		bkt, err := NewBucket(context.Background(), nil, cfg, nil)
		require.NoError(t, err, "bucket %d", i+1)
		require.NoError(t, bkt.Close())
	}
}
