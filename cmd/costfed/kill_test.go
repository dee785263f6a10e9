package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/internal/simtest"
	"github.com/costfed/costfed/internal/testinfra"
	"github.com/costfed/costfed/sim"
	"github.com/costfed/costfed/store"
)

// TestKill9Converges is issue 16 point 1's process-level crash test. The
// costfed binary runs as a subprocess, a central agent's backfill from a
// TSDB directory (two simulated clusters) and then `federator --once`,
// first uninterrupted, then killed with SIGKILL at a bucket write
// (COSTFED_TEST_CRASH_WRITE: before it, halfway through its body, or after
// it landed) and rerun to completion. Every rerun must leave the bucket
// holding exactly the uninterrupted run's objects, byte for byte: the clock
// is pinned (COSTFED_TEST_NOW), so build times are equal, and nothing else
// in a block or index depends on time. Temporary files a FILESYSTEM upload
// killed halfway leaves are not objects (listings skip them); they are
// counted, not compared. Three runs are killed: the backfill (three hours
// of two clusters, allocations and assets, 1h and 1d) at a sample spread
// over its writes; the federator's first pass at every write; and a second
// pass an hour later, after the agent rebuilt the last hour and with a
// retention that expires the first (block replacements, index rewrites and
// deletes), at every write. Each write gets one of the three kill points in
// turn (COSTFED_TEST_KILL_ALL=1: every write of all three runs, at all three
// points; minutes). It runs on FILESYSTEM and on versitygw (skipped
// without the binary, failing under CI=true), in about 50-90 s.
func TestKill9Converges(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it about a hundred and fifty times")
	}
	k := newKillRig(t)
	// In parallel: the runs wait on fsync and the network more than on CPU.
	t.Run("filesystem", func(t *testing.T) {
		t.Parallel()
		k.converge(t, filesystemBackend(t))
	})
	t.Run("versitygw", func(t *testing.T) {
		t.Parallel()
		k.converge(t, s3Backend(t, testinfra.StartVersityGW(t)))
	})
}

// killRig is the binary and the simulated source every backend shares.
type killRig struct {
	bin, dir   string
	from, to   string
	end        time.Time // the simulated data's end
	now        time.Time
	agentPaths func(storeYAML string) string
}

func newKillRig(t *testing.T) *killRig {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "costfed")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))

	cfg := sim.DefaultConfig()
	cfg.Clusters, cfg.NodesPerCluster = 2, 1
	cfg.Start = cfg.End.Add(-3 * time.Hour)
	fleet := simtest.Fleet(t, cfg)
	tsdb := simtest.TSDB(t, fleet)
	k := &killRig{bin: bin, dir: dir, end: cfg.End, from: cfg.Start.Format(time.RFC3339), to: cfg.End.Format(time.RFC3339), now: cfg.End.Add(time.Hour)}
	n := 0
	k.agentPaths = func(storeYAML string) string {
		n++
		path := filepath.Join(dir, fmt.Sprintf("agent-%d.yaml", n))
		y := "clusters:\n  ids: [cluster-01, cluster-02]\nstore: " + storeYAML + "\nproducer_instance: test\nprometheus:\n  tsdb_path: " + tsdb + "\n"
		require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
		return path
	}
	return k
}

// killBackend makes fresh, empty stores of one kind.
type killBackend struct {
	// fresh returns the path of a federated-store.yaml for a new empty
	// store, and the store's bucket opened in-process.
	fresh func(t *testing.T) (string, objstore.Bucket)
	// temps counts the temporary files crashed uploads left (FILESYSTEM).
	temps func() int
}

func filesystemBackend(t *testing.T) killBackend {
	dir := t.TempDir()
	n := 0
	return killBackend{
		fresh: func(t *testing.T) (string, objstore.Bucket) {
			n++
			data := filepath.Join(dir, fmt.Sprintf("store-%d", n))
			path := filepath.Join(dir, fmt.Sprintf("store-%d.yaml", n))
			require.NoError(t, os.WriteFile(path, []byte("type: FILESYSTEM\nconfig:\n  directory: "+data+"\n"), 0o600))
			return path, openStoreBucket(t, path)
		},
		temps: func() int {
			count := 0
			_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), store.TempPrefix) {
					count++
				}
				return nil
			})
			return count
		},
	}
}

func s3Backend(t *testing.T, srv *testinfra.S3Server) killBackend {
	dir := t.TempDir()
	n := 0
	return killBackend{
		fresh: func(t *testing.T) (string, objstore.Bucket) {
			n++
			b := *srv
			b.Bucket = fmt.Sprintf("kill-%d", n)
			srv.CreateBucket(t, b.Bucket)
			path := filepath.Join(dir, b.Bucket+".yaml")
			require.NoError(t, os.WriteFile(path, b.StoreYAML(""), 0o600))
			return path, openStoreBucket(t, path)
		},
		temps: func() int { return 0 },
	}
}

func openStoreBucket(t *testing.T, path string) objstore.Bucket {
	t.Helper()
	cfg, err := config.LoadStore(path, nil)
	require.NoError(t, err)
	bkt, err := store.NewBucket(context.Background(), nil, cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bkt.Close() })
	return bkt
}

// snapshot reads every object of a bucket.
func snapshot(t *testing.T, bkt objstore.Bucket) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	require.NoError(t, bkt.Iter(ctx, "", func(name string) error {
		rc, err := bkt.Get(ctx, name)
		if err != nil {
			return err
		}
		defer rc.Close()
		var b bytes.Buffer
		if _, err := b.ReadFrom(rc); err != nil {
			return err
		}
		out[name] = b.Bytes()
		return nil
	}, objstore.WithRecursiveIter()))
	return out
}

// copyObjects writes every object of src into dst.
func copyObjects(t *testing.T, dst objstore.Bucket, src map[string][]byte) {
	t.Helper()
	for name, b := range src {
		require.NoError(t, dst.Upload(context.Background(), name, bytes.NewReader(b)))
	}
}

// runBin runs the binary with the clock pinned and extra environment;
// killed reports whether it died of SIGKILL.
func (k *killRig) runBin(t *testing.T, now time.Time, env []string, args ...string) (code int, killed bool, out string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), k.bin, args...)
	cmd.Env = append(os.Environ(), append(env, envTestNow+"="+now.Format(time.RFC3339))...)
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return -1, true, string(b)
		}
		return ee.ExitCode(), false, string(b)
	}
	require.NoError(t, err, string(b))
	return 0, false, string(b)
}

// writes reads a write log (COSTFED_TEST_WRITE_LOG).
func writes(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// killPoint is a write to die at.
type killPoint struct {
	n    int
	when string
}

func (p killPoint) String() string { return fmt.Sprintf("%d:%s", p.n, p.when) }

// killPoints lists the writes to die at: every step-th write, each with
// one kill point in turn (after, mid, before), or with all three when all
// is set.
func killPoints(total, step int, all bool) []killPoint {
	whens := []string{"after", "mid", "before"}
	var out []killPoint
	for i, n := 0, 1; n <= total; i, n = i+1, n+step {
		if all {
			for _, w := range whens {
				out = append(out, killPoint{n, w})
			}
			continue
		}
		out = append(out, killPoint{n, whens[i%len(whens)]})
	}
	return out
}

func (k *killRig) converge(t *testing.T, be killBackend) {
	started := time.Now()
	backfill := func(storeYAML string) []string {
		return []string{"backfill", "--config", k.agentPaths(storeYAML), "--from", k.from, "--to", k.to, "--concurrency", "1"}
	}
	// The agent, uninterrupted.
	logPath := filepath.Join(t.TempDir(), "writes")
	path, bkt := be.fresh(t)
	code, _, out := k.runBin(t, k.now, []string{envTestWriteLog + "=" + logPath}, backfill(path)...)
	require.Equal(t, 0, code, out)
	agentWrites := writes(t, logPath)
	agentRef := snapshot(t, bkt)
	require.NotEmpty(t, agentRef)

	// The federator, uninterrupted, over the agents' objects.
	federate := func(extra string) func(storeYAML string) []string {
		return func(storeYAML string) []string {
			p := storeYAML + ".federator.yaml"
			require.NoError(t, os.WriteFile(p, []byte("store: "+storeYAML+"\n"+extra), 0o600))
			return []string{"federator", "--once", "--config", p}
		}
	}
	// reference runs args uninterrupted on a fresh store holding base and
	// returns its writes and the store it leaves.
	reference := func(now time.Time, args func(storeYAML string) []string, base map[string][]byte) ([]string, map[string][]byte) {
		logPath := filepath.Join(t.TempDir(), "writes")
		path, bkt := be.fresh(t)
		copyObjects(t, bkt, base)
		code, _, out := k.runBin(t, now, []string{envTestWriteLog + "=" + logPath}, args(path)...)
		require.Equal(t, 0, code, out)
		return writes(t, logPath), snapshot(t, bkt)
	}
	fedWrites, fedRef := reference(k.now, federate(""), agentRef)
	require.Greater(t, len(fedRef), len(agentRef), "the combined store was written")

	// A second federator pass an hour later, after the agent rebuilt the
	// last hour (new build time, so new bytes) and with a retention that
	// expires the first hour: replacements and expiry, deletes included.
	later := k.now.Add(time.Hour)
	path2, bkt2 := be.fresh(t)
	copyObjects(t, bkt2, fedRef)
	code, _, out = k.runBin(t, later, nil, "rebuild", "--config", k.agentPaths(path2), "--resolution", "1h", "--concurrency", "1",
		"--from", k.end.Add(-time.Hour).Format(time.RFC3339), "--to", k.end.Format(time.RFC3339))
	require.Equal(t, 0, code, out)
	secondBase := snapshot(t, bkt2)
	second := federate("retention:\n  1h: 4h\n")
	secondWrites, secondRef := reference(later, second, secondBase)
	require.Contains(t, strings.Join(secondWrites, "\n"), " delete ", "the second pass expires a window")

	check := func(t *testing.T, now time.Time, what string, p killPoint, total []string, args func(storeYAML string) []string, base, want map[string][]byte) {
		t.Helper()
		path, bkt := be.fresh(t)
		copyObjects(t, bkt, base)
		code, killed, out := k.runBin(t, now, []string{envTestCrashWrite + "=" + p.String()}, args(path)...)
		require.True(t, killed, "%s killed at write %s (%s) was not killed: status %d\n%s", what, p, total[p.n-1], code, out)
		code, _, out = k.runBin(t, now, nil, args(path)...)
		require.Equal(t, 0, code, "%s rerun after a kill at write %s (%s):\n%s", what, p, total[p.n-1], out)
		got := snapshot(t, bkt)
		for name := range want {
			_, ok := got[name]
			require.True(t, ok, "%s killed at write %s (%s): %s missing after the rerun", what, p, total[p.n-1], name)
		}
		for name, b := range got {
			w, ok := want[name]
			require.True(t, ok, "%s killed at write %s (%s): %s is not in the uninterrupted run's store", what, p, total[p.n-1], name)
			require.True(t, bytes.Equal(w, b), "%s killed at write %s (%s): %s differs from the uninterrupted run's", what, p, total[p.n-1], name)
		}
	}

	// The agent at a sample of its writes (about 5 of them), the
	// federator at every write; COSTFED_TEST_KILL_ALL=1 kills both at every
	// write, at each of the three points (minutes, not seconds).
	all := os.Getenv("COSTFED_TEST_KILL_ALL") != ""
	agentStep := max(1, len(agentWrites)/5)
	if all {
		agentStep = 1
	}
	agentPoints := killPoints(len(agentWrites), agentStep, all)
	for _, p := range agentPoints {
		check(t, k.now, "backfill", p, agentWrites, backfill, nil, agentRef)
	}
	fedPoints := killPoints(len(fedWrites), 1, all)
	for _, p := range fedPoints {
		check(t, k.now, "federator", p, fedWrites, federate(""), agentRef, fedRef)
	}
	secondPoints := killPoints(len(secondWrites), 1, all)
	for _, p := range secondPoints {
		check(t, later, "second federator pass", p, secondWrites, second, secondBase, secondRef)
	}
	kinds := map[string]int{}
	for _, w := range append(append(agentWrites, fedWrites...), secondWrites...) {
		kinds[strings.Fields(w)[1]]++
	}
	var ks []string
	for kind, n := range kinds {
		ks = append(ks, fmt.Sprintf("%d %s", n, kind))
	}
	sort.Strings(ks)
	t.Logf("backfill: %d writes, killed at %d points; federator: %d writes, killed at %d points; second pass: %d writes, killed at %d points (%s); %d temporary files left by killed uploads; every rerun converged byte for byte (%s)",
		len(agentWrites), len(agentPoints), len(fedWrites), len(fedPoints), len(secondWrites), len(secondPoints), strings.Join(ks, ", "), be.temps(), time.Since(started).Round(time.Millisecond))
}
