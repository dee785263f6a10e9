package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/store"
)

// Issue 16 item 8: a prefix holding only an old Kubecost etl/bingen tree,
// next to real clusters, is ignored with one note by the federator, status
// and repair, and never shown as a stale cluster; a cluster whose blocks
// lost their index stays damaged.
func TestForeignPrefixesAreIgnoredWithOneNote(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "bucket")
	storeYAML := filepath.Join(dir, "federated-store.yaml")
	require.NoError(t, os.WriteFile(storeYAML, []byte("type: FILESYSTEM\nconfig:\n  directory: "+data+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "federator.yaml"), []byte("store: federated-store.yaml\n"), 0o600))

	bkt, err := store.NewFilesystemBucket(data)
	require.NoError(t, err)
	st := store.New(bkt, store.Options{})
	// Yesterday: the command runs on the wall clock, within the default retention.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	w := allocation.Window{Start: today.Add(-24 * time.Hour), End: today}
	block := func(c string) store.Block {
		return store.Block{Meta: store.BlockMeta{Cluster: c, Resolution: store.Daily, Window: w, BuildTime: w.End, Complete: true},
			Rows: blocktest.Rows(c, w, 7, 1)}
	}
	for _, c := range []string{"east", "south", "west"} {
		_, err := st.Commit(ctx, []store.Block{block(c)}, store.CommitOptions{})
		require.NoError(t, err)
	}
	// south loses its index: damaged, not foreign.
	require.NoError(t, bkt.Delete(ctx, store.IndexKey("south", store.Daily)))
	for _, key := range []string{
		"federated/legacy/etl/bingen/allocations/1d/1704585600-1704672000",
		"federated/legacy/etl/bingen/allocations/1h/1704585600-1704589200",
		"federated/legacy/etl/bingen/assets/1d/1704585600-1704672000",
	} {
		require.NoError(t, bkt.Upload(ctx, key, strings.NewReader("kubecost bingen")))
	}

	code, out, errOut := runCmd(t, "federator", "--config", filepath.Join(dir, "federator.yaml"), "--once")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "clusters=3 ")
	require.Equal(t, 1, strings.Count(errOut, "ignoring prefixes without a costfed index"), errOut)
	require.Contains(t, errOut, "prefixes=federated/legacy/")
	require.NotContains(t, errOut, "cluster=legacy")
	require.Contains(t, errOut, "cluster damaged")

	code, out, errOut = runCmd(t, "status", "--store", storeYAML, "--stale-after", "3d")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 1, strings.Count(out, "legacy"), out)
	require.Contains(t, out, "Ignored 1 prefix(es) without a costfed index or blocks (not costfed clusters, e.g. Kubecost's etl/bingen): federated/legacy/\n")
	require.Regexp(t, `south\s+1d\s+.*damaged: index missing \(1 blocks\)`, out)
	require.Regexp(t, `east\s+1d\s+1\s+1\s+.*ok\n`, out)
	code, out, _ = runCmd(t, "status", "--store", storeYAML, "--format", "json")
	require.Equal(t, 0, code)
	require.Contains(t, out, `"ignored": [`)
	require.NotContains(t, out, `"cluster": "legacy"`)

	code, out, errOut = runCmd(t, "repair", "--store", storeYAML, "--all", "--dry-run")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "ignored 1 prefix(es) without a costfed index or blocks: federated/legacy/\n")
	require.NotContains(t, out, "federated/legacy/etl/parquet")
}
