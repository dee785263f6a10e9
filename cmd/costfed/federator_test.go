package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore/providers/filesystem"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/internal/testinfra"
	"github.com/costfed/costfed/store"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), &env{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestFederatorOnce(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "bucket")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "federated-store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+data+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "federator.yaml"), []byte("store: federated-store.yaml\n"), 0o600))

	bkt, err := filesystem.NewBucket(data)
	require.NoError(t, err)
	st := store.New(bkt, store.Options{})
	// Yesterday: the command runs on the wall clock, and older windows fall
	// outside the default 91-day retention.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	w := allocation.Window{Start: today.Add(-24 * time.Hour), End: today}
	for _, c := range []string{"east", "west"} {
		_, err := st.Commit(context.Background(), []store.Block{{
			Meta: store.BlockMeta{Cluster: c, Resolution: store.Daily, Window: w, BuildTime: w.End},
			Rows: blocktest.Rows(c, w, 7, 1),
		}}, store.CommitOptions{})
		require.NoError(t, err)
	}

	code, out, errOut := runCmd(t, "federator", "--config", filepath.Join(dir, "federator.yaml"), "--once")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "clusters=2 merged_1h=0 merged_1d=1")
	ix, err := st.ReadIndex(context.Background(), store.CombinedID, store.Daily)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 1)
	require.Equal(t, 14, ix.Blocks[0].Rows)

	code, out, _ = runCmd(t, "federator", "--config", filepath.Join(dir, "federator.yaml"), "--once")
	require.Equal(t, 0, code)
	require.Contains(t, out, "merged_1d=0", "second pass has nothing to do")

	code, out, errOut = runCmd(t, "status", "--store", filepath.Join(dir, "federated-store.yaml"))
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `east\s+1d\s+1\s+0\s+\S+\s+\S+\s+none\s+1\s+0`, out)
	require.Regexp(t, `combined\s+1d\s+1`, out)
	code, out, _ = runCmd(t, "status", "--store", filepath.Join(dir, "federated-store.yaml"), "--format", "json")
	require.Equal(t, 0, code)
	require.Contains(t, out, `"federated": 1`)
	code, _, _ = runCmd(t, "status", "--format", "yaml")
	require.Equal(t, 2, code)
}

func TestFederatorBadInvocations(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "federator.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("schedule: every day\nclusters:\n  allow: [\"../x\"]\n"), 0o600))
	for name, args := range map[string][]string{
		"no config":      {"federator", "--once"},
		"bad flag":       {"federator", "--nope"},
		"bad config":     {"federator", "--config", bad, "--once"},
		"missing config": {"federator", "--config", filepath.Join(dir, "absent.yaml")},
		"bad log level":  {"federator", "--config", bad, "--log.level", "loud"},
	} {
		code, _, errOut := runCmd(t, args...)
		require.Equal(t, 2, code, "%s: %s", name, errOut)
		require.NotContains(t, errOut, "goroutine", name)
	}
	code, _, errOut := runCmd(t, "federator", "--config", bad, "--once")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "schedule")
	require.Contains(t, errOut, "clusters.allow[0]")
}

func TestFederatorServesOpsEndpointsAndStops(t *testing.T) {
	dir := t.TempDir()
	port := testinfra.FreePort(t)
	cfg := fmt.Sprintf("store: federated-store.yaml\nlisten_address: 127.0.0.1:%d\nschedule: \"*/5 * * * *\"\n", port)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "federated-store.yaml"), []byte("type: FILESYSTEM\nconfig:\n  directory: "+filepath.Join(dir, "b")+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "federator.yaml"), []byte(cfg), 0o600))

	fed := startBackground("federator", "--config", filepath.Join(dir, "federator.yaml"))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testinfra.WaitHTTP(t, base+"/healthz", testinfra.StatusIs(200), 10*time.Second)
	require.Eventually(t, func() bool {
		return strings.Contains(httpGet(t, base+"/metrics"), `costfed_federator_passes_total{result="success"} 1`)
	}, 10*time.Second, 50*time.Millisecond, "the first pass runs at start")
	require.Contains(t, httpGet(t, base+"/status"), `"merged"`)
	fed.stop(t)
}

// Issue 16 row 7: a truncated combined block is found by `status` and by
// the next `federator --once`, which merges its window again: the block is
// its old bytes again and the answers are whole, without a warning.
func TestFederatorRepairsTruncatedCombinedBlock(t *testing.T) {
	f := newQueryFixture(t)
	fedYAML := filepath.Join(f.dir, "federator.yaml")
	require.NoError(t, os.WriteFile(fedYAML, []byte("store: federated-store.yaml\n"), 0o600))
	query := []string{"--store", f.storeYAML, "--window", f.window, "--aggregate", "cluster", "--format", "json"}
	// (Its warnings name the clusters stale: the query reads the wall clock.)
	code, whole, wholeWarnings := runQueryCmd(t, query...)
	require.Equal(t, 0, code, wholeWarnings)

	key := store.BlockKey(store.CombinedID, store.Daily, allocation.Window{Start: queryDay, End: queryDay.Add(24 * time.Hour)})
	path := filepath.Join(f.dir, "bucket", filepath.FromSlash(key))
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, good[:len(good)/2], 0o600))

	code, out, errOut := runCmd(t, "status", "--store", f.storeYAML)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `combined\s+1d\s+1\s+1\s+.*1 damaged block\(s\): the next federator pass merges them again`, out)
	require.Contains(t, out, "damaged combined 1d block "+key+": object size does not match the index: ")
	code, out, _ = runCmd(t, "status", "--store", f.storeYAML, "--check", "none")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "damaged")
	code, damaged, errOut := runQueryCmd(t, query...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "warning: ", "the day is missing from the answer, and it says so")
	require.NotEqual(t, wholeWarnings, errOut)
	require.NotEqual(t, whole, damaged)

	code, out, errOut = runCmdAt(t, queryDay.Add(25*time.Hour), "federator", "--config", fedYAML, "--once")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "merged_1h=0 merged_1d=1")
	require.Contains(t, out, fmt.Sprintf("damaged combined block %s: object size does not match the index: %d bytes, index says %d; its window was merged again\n", key, len(good)/2, len(good)))
	// The block is whole again (with this binary's producer version).
	ix, err := f.st.ReadIndex(context.Background(), store.CombinedID, store.Daily)
	require.NoError(t, err)
	require.Len(t, ix.Blocks, 1)
	blk, err := f.st.ReadBlock(context.Background(), store.CombinedID, store.Daily, ix.Blocks[0])
	require.NoError(t, err)
	require.Len(t, blk.Rows, 60)
	require.True(t, blk.Meta.Complete)

	code, out, errOut = runCmd(t, "status", "--store", f.storeYAML)
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "damaged")
	code, again, errOut := runQueryCmd(t, query...)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, wholeWarnings, errOut)
	require.Equal(t, whole, again)
}
