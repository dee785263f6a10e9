package testinfra

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gokitlog "github.com/go-kit/log"
	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/s3"
	"go.yaml.in/yaml/v3"
)

// bucketFromStoreYAML builds an S3 bucket from a federated-store.yaml the way
// a caller of objstore would: the provider gets the config mapping only.
func bucketFromStoreYAML(t *testing.T, storeYAML []byte, rt func(http.RoundTripper) http.RoundTripper) (objstore.Bucket, string) {
	t.Helper()
	var doc struct {
		Type   string    `yaml:"type"`
		Config yaml.Node `yaml:"config"`
		Prefix string    `yaml:"prefix"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(storeYAML))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&doc), "store yaml:\n%s", storeYAML)
	require.Equal(t, "S3", doc.Type)
	cfg, err := yaml.Marshal(&doc.Config)
	require.NoError(t, err)
	bkt, err := s3.NewBucket(gokitlog.NewNopLogger(), cfg, "test", rt)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bkt.Close() })
	return bkt, doc.Prefix
}

// countingTransport counts multipart part uploads (PUT …?partNumber=N).
type countingTransport struct {
	next  http.RoundTripper
	parts *atomic.Int64
}

func (c countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && req.URL.Query().Has("partNumber") {
		c.parts.Add(1)
	}
	return c.next.RoundTrip(req)
}

func TestVersityGW(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		exerciseS3(t, StartVersityGW(t))
	})
	// What machines without user xattrs get.
	t.Run("sidecar metadata", func(t *testing.T) {
		t.Parallel()
		srv := startVersityGW(t, true)
		require.NotEmpty(t, srv.Sidecar)
		exerciseS3(t, srv)
	})
}

func exerciseS3(t *testing.T, srv *S3Server) {
	ctx := context.Background()

	var parts atomic.Int64
	bkt, prefix := bucketFromStoreYAML(t, srv.StoreYAML(""), func(rt http.RoundTripper) http.RoundTripper {
		return countingTransport{next: rt, parts: &parts}
	})
	require.Empty(t, prefix)

	t.Run("upload get attributes iterate delete", func(t *testing.T) {
		small := map[string]string{
			"dir/a.txt":     "alpha",
			"dir/sub/b.txt": "bravo!",
			"top.txt":       "top",
		}
		for name, body := range small {
			require.NoError(t, bkt.Upload(ctx, name, strings.NewReader(body)))
		}
		for name, body := range small {
			rc, err := bkt.Get(ctx, name)
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			require.NoError(t, rc.Close())
			require.NoError(t, err)
			require.Equal(t, body, string(got))

			attrs, err := bkt.Attributes(ctx, name)
			require.NoError(t, err)
			require.Equal(t, int64(len(body)), attrs.Size)
		}
		rc, err := bkt.GetRange(ctx, "dir/sub/b.txt", 1, 3)
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, rc.Close())
		require.NoError(t, err)
		require.Equal(t, "rav", string(got))

		iter := func(dir string, opts ...objstore.IterOption) []string {
			var names []string
			require.NoError(t, bkt.Iter(ctx, dir, func(name string) error {
				names = append(names, name)
				return nil
			}, opts...))
			sort.Strings(names)
			return names
		}
		require.Equal(t, []string{"dir/", "top.txt"}, iter(""))
		require.Equal(t, []string{"dir/a.txt", "dir/sub/"}, iter("dir/"))
		require.Equal(t, []string{"dir/a.txt", "dir/sub/b.txt", "top.txt"}, iter("", objstore.WithRecursiveIter()))

		for name := range small {
			require.NoError(t, bkt.Delete(ctx, name))
		}
		_, err = bkt.Get(ctx, "dir/a.txt")
		require.True(t, bkt.IsObjNotFoundErr(err), "get after delete: %v", err)
		ok, err := bkt.Exists(ctx, "top.txt")
		require.NoError(t, err)
		require.False(t, ok)
		require.Empty(t, iter("", objstore.WithRecursiveIter()))
	})

	t.Run("multipart 12 MiB", func(t *testing.T) {
		data := make([]byte, 12<<20)
		for i := range data {
			data[i] = byte(i*7 + i>>13)
		}
		before := parts.Load()
		require.NoError(t, bkt.Upload(ctx, "big/blob.bin", bytes.NewReader(data)))
		require.Equal(t, int64(3), parts.Load()-before, "12 MiB with 5 MiB parts is 3 part uploads")

		attrs, err := bkt.Attributes(ctx, "big/blob.bin")
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), attrs.Size)
		rc, err := bkt.Get(ctx, "big/blob.bin")
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, rc.Close())
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got), "multipart object read back differs")

		// The posix backend stores the object as a plain file.
		fi, err := os.Stat(filepath.Join(srv.Root, srv.Bucket, "big", "blob.bin"))
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), fi.Size())
	})

	t.Run("extra yaml", func(t *testing.T) {
		_, prefix := bucketFromStoreYAML(t, srv.StoreYAML("  send_content_md5: false\nprefix: team-a"), nil)
		require.Equal(t, "team-a", prefix)
		_, err := s3.NewBucket(gokitlog.NewNopLogger(), srv.S3ConfigYAML("send_content_md5: false\n"), "test", nil)
		require.NoError(t, err)
	})

	t.Run("second bucket", func(t *testing.T) {
		srv.CreateBucket(t, "other")
		other := *srv
		other.Bucket = "other"
		ob, _ := bucketFromStoreYAML(t, other.StoreYAML(""), nil)
		require.NoError(t, ob.Upload(ctx, "x", strings.NewReader("in other")))
		ok, err := bkt.Exists(ctx, "x")
		require.NoError(t, err)
		require.False(t, ok, "buckets must be separate")
	})

	t.Run("wrong secret rejected", func(t *testing.T) {
		bad := *srv
		bad.SecretKey = "not-the-secret"
		bb, _ := bucketFromStoreYAML(t, bad.StoreYAML(""), nil)
		err := bb.Upload(ctx, "denied.txt", strings.NewReader("no"))
		require.Error(t, err)
		require.Contains(t, strings.ToLower(err.Error()), "signature")
		_, err = bb.Exists(ctx, "top.txt")
		require.Error(t, err)
		_, statErr := os.Stat(filepath.Join(srv.Root, srv.Bucket, "denied.txt"))
		require.True(t, os.IsNotExist(statErr))
	})
}

// The fixture: one hour of 1-minute samples ending at a fixed time.
var promEnd = time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)

const promSteps = 60 // samples at end-60m … end

func writeOpenMetrics(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	start := promEnd.Add(-promSteps * time.Minute).Unix()
	b.WriteString("# HELP test_gauge A gauge: pod a is the minute index, pod b 100 more.\n# TYPE test_gauge gauge\n")
	for _, pod := range []struct {
		name   string
		offset int
	}{{"a", 0}, {"b", 100}} {
		for i := 0; i <= promSteps; i++ {
			fmt.Fprintf(&b, "test_gauge{pod=%q} %d %d\n", pod.name, pod.offset+i, start+int64(i)*60)
		}
	}
	b.WriteString("# HELP foo A counter growing by 1 per second.\n# TYPE foo counter\n")
	for i := 0; i <= promSteps; i++ {
		fmt.Fprintf(&b, "foo_total{job=\"x\"} %d %d\n", 60*i, start+int64(i)*60)
	}
	b.WriteString("# EOF\n")
	path := filepath.Join(t.TempDir(), "data.om")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

func promAPI(t *testing.T, base, path string, params url.Values) []promSample {
	t.Helper()
	resp, err := http.PostForm(base+path, params)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var out struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &out))
	require.Equal(t, "success", out.Status)
	return out.Data.Result
}

// point decodes a [unixSeconds, "value"] pair.
func point(t *testing.T, p [2]any) (int64, float64) {
	t.Helper()
	ts, ok := p[0].(float64)
	require.True(t, ok, "timestamp %v", p[0])
	s, ok := p[1].(string)
	require.True(t, ok, "value %v", p[1])
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return int64(ts), v
}

func TestPrometheus(t *testing.T) {
	t.Parallel()
	tsdb := t.TempDir()
	BackfillOpenMetrics(t, writeOpenMetrics(t), tsdb)
	prom := StartPrometheus(t, tsdb)
	end := strconv.FormatInt(promEnd.Unix(), 10)

	t.Run("instant", func(t *testing.T) {
		res := promAPI(t, prom.URL, "/api/v1/query", url.Values{"query": {"test_gauge"}, "time": {end}})
		require.Len(t, res, 2)
		got := map[string]float64{}
		for _, s := range res {
			ts, v := point(t, s.Value)
			require.Equal(t, promEnd.Unix(), ts)
			got[s.Metric["pod"]] = v
		}
		require.Equal(t, map[string]float64{"a": 60, "b": 160}, got)

		res = promAPI(t, prom.URL, "/api/v1/query", url.Values{"query": {"rate(foo_total[5m])"}, "time": {end}})
		require.Len(t, res, 1)
		require.Equal(t, "x", res[0].Metric["job"])
		_, v := point(t, res[0].Value)
		require.InDelta(t, 1.0, v, 1e-9)
	})

	t.Run("range", func(t *testing.T) {
		start := promEnd.Add(-10 * time.Minute).Unix()
		res := promAPI(t, prom.URL, "/api/v1/query_range", url.Values{
			"query": {"sum(test_gauge)"},
			"start": {strconv.FormatInt(start, 10)},
			"end":   {end},
			"step":  {"300"},
		})
		require.Len(t, res, 1)
		require.Len(t, res[0].Values, 3)
		for k, want := range []float64{200, 210, 220} {
			ts, v := point(t, res[0].Values[k])
			require.Equal(t, start+int64(k)*300, ts)
			require.Equal(t, want, v)
		}
	})

	t.Run("outside the data", func(t *testing.T) {
		after := strconv.FormatInt(promEnd.Add(10*time.Minute).Unix(), 10)
		res := promAPI(t, prom.URL, "/api/v1/query", url.Values{"query": {"test_gauge"}, "time": {after}})
		require.Empty(t, res, "lookback is 5m")
	})
}

func TestBackfillRejectsMilliseconds(t *testing.T) {
	// Check the guard against the silent promtool pitfall with a fake TB, so
	// the failure does not fail this test.
	NeedBinary(t, "promtool")
	path := filepath.Join(t.TempDir(), "ms.om")
	ms := promEnd.UnixMilli()
	om := fmt.Sprintf("# TYPE g gauge\ng 1 %d\ng 2 %d\n# EOF\n", ms, ms+60000)
	require.NoError(t, os.WriteFile(path, []byte(om), 0o644))
	ft := runFake(t, func(tb testing.TB) { BackfillOpenMetrics(tb, path, t.TempDir()) })
	require.True(t, ft.fatal)
	require.Contains(t, ft.msg, "milliseconds")

	noEOF := filepath.Join(t.TempDir(), "noeof.om")
	require.NoError(t, os.WriteFile(noEOF, []byte("# TYPE g gauge\ng 1 1704672000\n"), 0o644))
	ft = runFake(t, func(tb testing.TB) { BackfillOpenMetrics(tb, noEOF, t.TempDir()) })
	require.True(t, ft.fatal)
	require.Contains(t, ft.msg, "EOF", "promtool's output is in the message")
}

func TestNeedBinaryMissing(t *testing.T) {
	const name = "costfed-no-such-binary"
	t.Setenv("CI", "")
	ft := runFake(t, func(tb testing.TB) { NeedBinary(tb, name) })
	require.True(t, ft.skipped)
	require.False(t, ft.fatal)

	t.Setenv("CI", "true")
	ft = runFake(t, func(tb testing.TB) { NeedBinary(tb, name) })
	require.True(t, ft.fatal)
	require.Contains(t, ft.msg, name)

	// Found through $GOBIN even when PATH lacks it.
	dir := t.TempDir()
	bin := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	t.Setenv("GOBIN", dir)
	require.Equal(t, bin, NeedBinary(t, name))
}

func TestLogTail(t *testing.T) {
	p := &Process{LogPath: filepath.Join(t.TempDir(), "log")}
	require.NoError(t, os.WriteFile(p.LogPath, []byte("1\n2\n3\n4\n"), 0o644))
	require.Equal(t, "3\n4", p.LogTail(2))
	require.Equal(t, "1\n2\n3\n4", p.LogTail(10))
}

// fakeTB records Fatal and Skip instead of ending the real test.
type fakeTB struct {
	testing.TB
	fatal, skipped bool
	msg            string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Skip(args ...any) {
	f.skipped, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

// runFake runs fn with a fakeTB on its own goroutine, as Fatal and Skip end
// the goroutine.
func runFake(t *testing.T, fn func(testing.TB)) *fakeTB {
	ft := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
	}()
	<-done
	return ft
}
