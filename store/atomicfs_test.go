package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/filesystem"

	"github.com/costfed/costfed/config"
)

// failingReader yields the first n bytes of data, then fails: a writer that
// dies halfway through an upload.
type failingReader struct {
	data []byte
	n    int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("writer crashed")
	}
	k := copy(p, r.data[:min(r.n, len(r.data))])
	r.data, r.n = r.data[k:], r.n-k
	return k, nil
}

func listAll(t *testing.T, bkt objstore.Bucket) []string {
	t.Helper()
	var names []string
	require.NoError(t, bkt.Iter(context.Background(), "", func(name string) error {
		names = append(names, name)
		return nil
	}, objstore.WithRecursiveIter()))
	return names
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	}))
	return out
}

// Issue 16, row 1: a write that dies halfway must leave the previous object
// whole and no partial object, on the bucket NewBucket builds for FILESYSTEM.
func TestAtomicFilesystemFailedUploadKeepsPrevious(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, err := config.NewFilesystemStore(dir, "")
	require.NoError(t, err)
	bkt, err := NewBucket(ctx, nil, cfg, nil)
	require.NoError(t, err)

	key := "federated/combined/1h/index.json"
	old := bytes.Repeat([]byte("old index "), 100)
	require.NoError(t, bkt.Upload(ctx, key, bytes.NewReader(old)))

	next := bytes.Repeat([]byte("new index "), 100)
	err = bkt.Upload(ctx, key, &failingReader{data: next, n: len(next) / 2})
	require.ErrorContains(t, err, "writer crashed")
	require.Equal(t, string(old), readObject(t, bkt, key), "the previous object must survive a failed write")
	require.Equal(t, []string{key}, listAll(t, bkt))
	require.Equal(t, []string{key}, dirEntries(t, dir), "a failed write leaves no temporary file")

	// A first write that fails leaves no object at all (not an empty one).
	err = bkt.Upload(ctx, "federated/c1/1d/index.json", &failingReader{data: next, n: 10})
	require.Error(t, err)
	ok, err := bkt.Exists(ctx, "federated/c1/1d/index.json")
	require.NoError(t, err)
	require.False(t, ok)

	require.NoError(t, bkt.Upload(ctx, key, bytes.NewReader(next)))
	require.Equal(t, string(next), readObject(t, bkt, key))
}

// The in-place provider, for contrast: the same failure truncates the object.
// If objstore ever makes its uploads atomic this documents that the wrapper
// can go.
func TestFilesystemProviderTruncatesInPlace(t *testing.T) {
	ctx := context.Background()
	bkt, err := filesystem.NewBucket(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, bkt.Upload(ctx, "index.json", strings.NewReader("old index")))
	require.Error(t, bkt.Upload(ctx, "index.json", &failingReader{data: []byte("new index"), n: 3}))
	require.Equal(t, "new", readObject(t, bkt, "index.json"))
}

// A store commit whose index upload dies halfway leaves the committed index
// readable.
func TestAtomicFilesystemStoreIndexSurvivesCrash(t *testing.T) {
	ctx := context.Background()
	fs, err := NewFilesystemBucket(t.TempDir())
	require.NoError(t, err)
	_, err = New(fs, Options{}).Commit(ctx, []Block{testBlock("cluster-a", 40, 1)}, CommitOptions{})
	require.NoError(t, err)

	v2 := testBlock("cluster-a", 45, 2)
	v2.Meta.BuildTime = v2.Meta.BuildTime.Add(time.Hour)
	_, err = New(crashOnIndex{fs}, Options{}).Commit(ctx, []Block{v2}, CommitOptions{})
	require.Error(t, err)

	st := New(fs, Options{})
	ix, err := st.ReadIndex(ctx, "cluster-a", Daily)
	require.NoError(t, err, "the index must stay readable after a crashed write")
	require.Len(t, ix.Blocks, 1)
	_, err = st.ReadBlock(ctx, "cluster-a", Daily, ix.Blocks[0])
	require.NoError(t, err)
	clusters, err := st.Clusters(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"cluster-a"}, clusters)

	_, err = st.Commit(ctx, []Block{v2}, CommitOptions{})
	require.NoError(t, err)
}

// crashOnIndex feeds every index upload a body that fails halfway.
type crashOnIndex struct{ objstore.Bucket }

func (b crashOnIndex) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	if strings.HasSuffix(name, "/index.json") {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		r = &failingReader{data: data, n: len(data) / 2}
	}
	return b.Bucket.Upload(ctx, name, r, opts...)
}

// Readers racing a writer see a whole old or whole new object, never an empty
// or partial one.
func TestAtomicFilesystemReadersNeverSeePartial(t *testing.T) {
	ctx := context.Background()
	bkt, err := NewFilesystemBucket(t.TempDir())
	require.NoError(t, err)
	a, b := bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 64<<10)
	require.NoError(t, bkt.Upload(ctx, "x/index.json", bytes.NewReader(a)))

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			body := a
			if i%2 == 1 {
				body = b
			}
			if err := bkt.Upload(ctx, "x/index.json", chunked(body)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	// A number of reads, not a duration: a loaded machine cannot make the
	// loop end before it read anything.
	for range 300 {
		got := readObject(t, bkt, "x/index.json")
		if got != string(a) && got != string(b) {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("read %d bytes, neither the old nor the new object", len(got))
		}
	}
	stop.Store(true)
	wg.Wait()
}

// chunked returns data in small reads, so that an in-place write
// would expose a partial file for a while.
func chunked(data []byte) io.Reader {
	return &chunkReader{data: data, chunk: 4 << 10}
}

type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[k:]
	return k, nil
}

// A temporary file a killed writer left behind is not an object: listings and
// cluster discovery skip it, and the name is refused for uploads.
func TestAtomicFilesystemSkipsLeftoverTemporaries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bkt, err := NewFilesystemBucket(dir)
	require.NoError(t, err)
	require.NoError(t, bkt.Upload(ctx, "federated/cluster-a/1d/index.json", strings.NewReader("{}")))
	for _, p := range []string{"federated/cluster-a/1d/.tmp-index.json-0123", "federated/.tmp-x-1"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), nil, 0o644))
	}
	require.Equal(t, []string{"federated/cluster-a/1d/index.json"}, listAll(t, bkt))

	var top []string
	require.NoError(t, bkt.IterWithAttributes(ctx, "federated/", func(a objstore.IterObjectAttributes) error {
		top = append(top, a.Name)
		return nil
	}))
	require.Equal(t, []string{"federated/cluster-a/"}, top)

	clusters, err := New(bkt, Options{}).Clusters(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"cluster-a"}, clusters)

	require.Error(t, bkt.Upload(ctx, "federated/.tmp-y", strings.NewReader("x")))
	require.True(t, IsTempName("a/b/.tmp-index.json-1"))
	require.False(t, IsTempName("a/.tmp-dir/"))
	require.False(t, IsTempName("a/index.json"))
}

// The process-level crash: a writer killed (SIGKILL) in the middle of an
// upload leaves the previous object intact and readable.
func TestAtomicFilesystemKilledWriter(t *testing.T) {
	if os.Getenv("COSTFED_KILLED_WRITER_DIR") != "" {
		killedWriterChild()
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	bkt, err := NewFilesystemBucket(dir)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, bkt.Upload(ctx, "federated/combined/1h/index.json", strings.NewReader(`{"old":true}`)))

	cmd := exec.Command(os.Args[0], "-test.run=^TestAtomicFilesystemKilledWriter$")
	cmd.Env = append(os.Environ(), "COSTFED_KILLED_WRITER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	// The child blocks reading its stdin, which stays open until it is killed.
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	defer stdin.Close()
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "halfway") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child did not reach the middle of its write: %q %v", line, err)
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	require.Equal(t, `{"old":true}`, readObject(t, bkt, "federated/combined/1h/index.json"))
	require.Equal(t, []string{"federated/combined/1h/index.json"}, listAll(t, bkt))
}

// killedWriterChild starts an upload, says "halfway" once half the body is
// written, and blocks until killed.
func killedWriterChild() {
	bkt, err := NewFilesystemBucket(os.Getenv("COSTFED_KILLED_WRITER_DIR"))
	if err != nil {
		os.Exit(2)
	}
	_ = bkt.Upload(context.Background(), "federated/combined/1h/index.json", &halfwayReader{first: []byte(`{"new":`)})
	os.Exit(3)
}

// halfwayReader hands over its first bytes, and on the next Read (which the
// copy makes only after writing those bytes to the file) says "halfway" on
// stdout and blocks on stdin, which the parent holds open until it kills the
// process: no clock decides when the write is half done.
type halfwayReader struct {
	first []byte
	done  bool
}

func (r *halfwayReader) Read(p []byte) (int, error) {
	if !r.done {
		r.done = true
		return copy(p, r.first), nil
	}
	_, _ = os.Stdout.WriteString("halfway\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0, errors.New("stdin closed before the kill")
}

// TestRemoveStaleTempFiles: temporary files older than the cutoff go, younger
// ones (an upload that may still be running) and objects stay.
func TestRemoveStaleTempFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "federated", "c1", "etl", "parquet", "allocations", "1h")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	write := func(name string, mtime time.Time) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
	}
	cutoff := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	write(TempPrefix+"index.json-old", cutoff.Add(-time.Hour))
	write(TempPrefix+"index.json-new", cutoff.Add(time.Minute))
	write("index.json", cutoff.Add(-48*time.Hour))
	removed, err := RemoveStaleTempFiles(context.Background(), root, cutoff)
	require.NoError(t, err)
	require.Equal(t, []string{"federated/c1/etl/parquet/allocations/1h/" + TempPrefix + "index.json-old"}, removed)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{TempPrefix + "index.json-new", "index.json"}, names)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = RemoveStaleTempFiles(ctx, root, cutoff)
	require.ErrorIs(t, err, context.Canceled)
}
