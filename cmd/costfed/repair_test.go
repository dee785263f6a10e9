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
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/store"
)

// Issue 16 item 2: costfed repair rebuilds lost or garbage indexes of a
// FILESYSTEM store from the blocks, sets aside a truncated block with its
// reason, and writes nothing in a dry run.
func TestRepairCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "bucket")
	cfg := filepath.Join(dir, "federated-store.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("type: FILESYSTEM\nconfig:\n  directory: "+data+"\n"), 0o600))
	bkt, err := store.NewFilesystemBucket(data)
	require.NoError(t, err)
	st := store.New(bkt, store.Options{})
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	want := map[string]store.Index{}
	for _, c := range []string{"east", "west"} {
		var blocks []store.Block
		for d := range 2 {
			w := allocation.Window{Start: day.Add(time.Duration(d) * 24 * time.Hour), End: day.Add(time.Duration(d+1) * 24 * time.Hour)}
			blocks = append(blocks, store.Block{
				Meta: store.BlockMeta{Cluster: c, Resolution: store.Daily, Window: w, Complete: true, BuildTime: w.End},
				Rows: blocktest.Rows(c, w, 9, uint64(d+1)),
			})
		}
		_, err := st.Commit(ctx, blocks, store.CommitOptions{})
		require.NoError(t, err)
		want[c], err = st.ReadIndex(ctx, c, store.Daily)
		require.NoError(t, err)
	}

	for name, args := range map[string][]string{
		"neither":        {"repair", "--store", cfg},
		"both":           {"repair", "--store", cfg, "--cluster", "east", "--all"},
		"bad resolution": {"repair", "--store", cfg, "--all", "--resolution", "1h,2h"},
		"bad cluster":    {"repair", "--store", cfg, "--cluster", "../east"},
		"argument":       {"repair", "--store", cfg, "--all", "extra"},
		"bad pipeline":   {"repair", "--store", cfg, "--all", "--pipeline", "nodes"},
	} {
		code, out, errOut := runCmd(t, args...)
		require.Equal(t, 2, code, name)
		require.Empty(t, out, name)
		require.Equal(t, 1, strings.Count(errOut, "\n"), "%s: one error line, got %q", name, errOut)
	}

	// Damage: east's daily index deleted, west's garbage, west's second day
	// truncated.
	require.NoError(t, bkt.Delete(ctx, store.IndexKey("east", store.Daily)))
	require.NoError(t, bkt.Upload(ctx, store.IndexKey("west", store.Daily), strings.NewReader("garbage\n")))
	badWindow := want["west"].Blocks[1].Window()
	badKey := store.BlockKey("west", store.Daily, badWindow)
	objs, err := blocktest.Objects(ctx, bkt, "")
	require.NoError(t, err)
	require.NoError(t, bkt.Upload(ctx, badKey, strings.NewReader(objs[badKey][:100])))
	before, err := blocktest.Objects(ctx, bkt, "")
	require.NoError(t, err)

	code, out, errOut := runCmd(t, "repair", "--store", cfg, "--all", "--dry-run")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, store.Prefix("east", store.Daily)+": index missing; 2 blocks found, 2 entries, 0 set aside: would write an index of 2 entries")
	require.Contains(t, out, store.Prefix("west", store.Daily)+": index unreadable (decode index")
	require.Contains(t, out, "set aside "+badKey+": not a readable parquet file")
	require.Contains(t, out, store.Prefix("east", store.Hourly)+": no index and no blocks, nothing to repair")
	require.Contains(t, out, "prefixes=12 indexes to write (dry run, nothing written)=2 set_aside=1 failed=0")
	after, err := blocktest.Objects(ctx, bkt, "")
	require.NoError(t, err)
	require.Equal(t, before, after, "a dry run writes nothing")

	code, out, errOut = runCmd(t, "repair", "--store", cfg, "--all", "--resolution", "1d")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, store.Prefix("east", store.Daily)+": index missing; 2 blocks found, 2 entries, 0 set aside: wrote an index of 2 entries")
	require.Contains(t, out, "set aside "+badKey+": not a readable parquet file")
	require.Contains(t, out, "wrote an index of 1 entries")
	require.Contains(t, out, "prefixes=6 indexes written=2 set_aside=1 failed=0")
	got, err := st.ReadIndex(ctx, "east", store.Daily)
	require.NoError(t, err)
	require.Equal(t, want["east"], got)
	got, err = st.ReadIndex(ctx, "west", store.Daily)
	require.NoError(t, err)
	require.Equal(t, want["west"].Blocks[:1], got.Blocks)
	after, err = blocktest.Objects(ctx, bkt, "")
	require.NoError(t, err)
	require.Equal(t, objs[badKey][:100], after[badKey], "the set-aside block is left in place")

	code, out, errOut = runCmd(t, "repair", "--store", cfg, "--cluster", "east", "--resolution", "1d")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "index readable (2 entries); 2 blocks found, 2 entries, 0 set aside: index already correct, nothing written")

	code, _, errOut = runCmd(t, "repair", "--store", filepath.Join(dir, "nope.yaml"), "--all")
	require.Equal(t, 2, code, errOut)
}

// costfed repair covers the asset prefixes: a lost asset index is rebuilt
// from the asset blocks, a truncated asset block is set aside, and
// --pipeline chooses the pipelines.
func TestRepairCommandAssets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "bucket")
	cfg := filepath.Join(dir, "federated-store.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("type: FILESYSTEM\nconfig:\n  directory: "+data+"\n"), 0o600))
	bkt, err := store.NewFilesystemBucket(data)
	require.NoError(t, err)
	st := store.New(bkt, store.Options{})
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var blocks []store.AssetBlock
	for d := range 2 {
		w := allocation.Window{Start: day.Add(time.Duration(d) * 24 * time.Hour), End: day.Add(time.Duration(d+1) * 24 * time.Hour)}
		aw := asset.Window{Start: w.Start, End: w.End}
		blocks = append(blocks, store.AssetBlock{
			Meta: store.BlockMeta{Cluster: "east", Resolution: store.Daily, Window: w, Complete: true, BuildTime: w.End},
			Assets: []asset.Asset{{Kind: asset.KindNode, Properties: asset.Properties{Cluster: "east", Name: "n1"},
				Window: aw, Start: w.Start, End: w.End, Hours: 24, CPUCoreHours: 96, CPUCost: float64(d + 1)}},
		})
	}
	_, err = st.CommitAssets(ctx, blocks, store.CommitOptions{})
	require.NoError(t, err)
	want, err := st.ReadAssetIndex(ctx, "east", store.Daily)
	require.NoError(t, err)
	require.Len(t, want.Blocks, 2)

	require.NoError(t, bkt.Delete(ctx, store.AssetIndexKey("east", store.Daily)))
	code, out, errOut := runCmd(t, "repair", "--store", cfg, "--all", "--pipeline", "allocations", "--dry-run")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "assets/")
	require.Contains(t, out, "prefixes=4 indexes to write (dry run, nothing written)=0 set_aside=0 failed=0")

	code, out, errOut = runCmd(t, "repair", "--store", cfg, "--cluster", "east", "--pipeline", "assets", "--resolution", "1d")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, store.AssetPrefix("east", store.Daily)+": index missing; 2 blocks found, 2 entries, 0 set aside: wrote an index of 2 entries")
	require.Contains(t, out, "prefixes=1 indexes written=1 set_aside=0 failed=0")
	got, err := st.ReadAssetIndex(ctx, "east", store.Daily)
	require.NoError(t, err)
	require.Equal(t, want, got)

	badKey := store.AssetBlockKey("east", store.Daily, want.Blocks[1].Window())
	objs, err := blocktest.Objects(ctx, bkt, "")
	require.NoError(t, err)
	require.NoError(t, bkt.Upload(ctx, badKey, strings.NewReader(objs[badKey][:100])))
	code, out, errOut = runCmd(t, "repair", "--store", cfg, "--all")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "set aside "+badKey+": not a readable parquet file")
	require.Contains(t, out, store.AssetPrefix("east", store.Daily)+": index readable (2 entries); 2 blocks found, 1 entries, 1 set aside: wrote an index of 1 entries")
	require.Contains(t, out, "dropped window "+want.Blocks[1].Window().String())
	require.Contains(t, out, "prefixes=8 indexes written=1 set_aside=1 failed=0")
	got, err = st.ReadAssetIndex(ctx, "east", store.Daily)
	require.NoError(t, err)
	require.Equal(t, want.Blocks[:1], got.Blocks)
}

// TestRepairRemovesStaleTempFiles: on a FILESYSTEM store, repair removes
// the temporary files of uploads a killed writer left (an hour old or more)
// and keeps a younger one, which may belong to an upload still running.
func TestRepairRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "bucket")
	cfg := filepath.Join(dir, "federated-store.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("type: FILESYSTEM\nconfig:\n  directory: "+data+"\n"), 0o600))
	prefix := filepath.Join(data, "federated", "east", "etl", "parquet", "allocations", "1d")
	require.NoError(t, os.MkdirAll(prefix, 0o755))
	now := time.Now()
	for name, age := range map[string]time.Duration{store.TempPrefix + "index.json-a": 2 * time.Hour, store.TempPrefix + "index.json-b": time.Minute} {
		p := filepath.Join(prefix, name)
		require.NoError(t, os.WriteFile(p, []byte("partial"), 0o600))
		require.NoError(t, os.Chtimes(p, now.Add(-age), now.Add(-age)))
	}
	code, out, errOut := runCmd(t, "repair", "--store", cfg, "--all", "--dry-run")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "removed temporary file", "a dry run removes nothing")
	code, out, errOut = runCmd(t, "repair", "--store", cfg, "--all")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "removed temporary file federated/east/etl/parquet/allocations/1d/"+store.TempPrefix+"index.json-a")
	require.NotContains(t, out, "index.json-b")
	_, err := os.Stat(filepath.Join(prefix, store.TempPrefix+"index.json-a"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(filepath.Join(prefix, store.TempPrefix+"index.json-b"))
	require.NoError(t, err)
}
