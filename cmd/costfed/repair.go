package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/store"
)

// runRepair implements "costfed repair": rebuild the index of one or every
// prefix from its block objects (store.RepairIndex).
func runRepair(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "repair", "repair --store federated-store.yaml (--cluster ID | --all) [--resolution 1h,1d] [--pipeline allocations,assets] [--dry-run]\n\n"+
		"Rebuilds the index of each prefix from its blocks' footers, verifying every block and\n"+
		"setting aside (leaving unlisted, never deleting) the ones that fail. Stop the writers of\n"+
		"the prefixes first (the cluster's agent; the federator for --cluster combined or --all),\n"+
		"and run with --dry-run first.")
	storePath := fs.String("store", "", "path of federated-store.yaml (default: FILESYSTEM store under ./data)")
	cluster := fs.String("cluster", "", "cluster id whose indexes to rebuild ("+store.CombinedID+" for the combined store)")
	all := fs.Bool("all", false, "rebuild the indexes of every cluster and of the combined store")
	resFlag := fs.String("resolution", "1h,1d", "comma-separated resolutions to rebuild")
	pipelineFlag := fs.String("pipeline", "allocations,assets", "comma-separated pipelines whose prefixes to rebuild: allocations, assets")
	dryRun := fs.Bool("dry-run", false, "report what would be written, write nothing")
	var lf logFlags
	lf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if (*cluster == "") == !*all {
		return usagef("give exactly one of --cluster ID or --all")
	}
	if *cluster != "" {
		if err := store.ValidateClusterID(*cluster); err != nil {
			return usagef("--cluster: %v", err)
		}
	}
	var resolutions []store.Resolution
	for _, s := range strings.Split(*resFlag, ",") {
		r, err := store.ParseResolution(strings.TrimSpace(s))
		if err != nil {
			return usagef("--resolution: %v", err)
		}
		if !slices.Contains(resolutions, r) {
			resolutions = append(resolutions, r)
		}
	}
	pipelines, err := store.ParsePipelines(*pipelineFlag)
	if err != nil {
		return usagef("--pipeline: %v", err)
	}
	logger, err := lf.logger(e)
	if err != nil {
		return err
	}
	storeCfg, err := loadConfig(ctx, func() (config.Store, error) { return config.LoadStoreOrDefault(*storePath, lookupEnvFrom(e)) })
	if err != nil {
		return err
	}
	if dir, missing := missingStoreDir(storeCfg); missing {
		return fmt.Errorf("store directory %s does not exist: nothing to repair (check --store, or the directory in the store config)", dir)
	}
	bkt, err := openBucket(ctx, e, logger, *storePath, nil)
	if err != nil {
		return err
	}
	defer bkt.Close()
	st := store.New(bkt, store.Options{Logger: logger})

	clusters := []string{*cluster}
	if *all {
		list, err := st.ListClusters(ctx)
		if err != nil {
			return err
		}
		if len(list.Foreign) > 0 {
			// Nothing of costfed's to repair there (Kubecost's etl/bingen).
			fmt.Fprintf(e.stdout, "ignored %d prefix(es) without a costfed index or blocks: %s\n", len(list.Foreign), strings.Join(foreignPrefixes(list.Foreign), ", "))
		}
		clusters = append(list.Clusters, store.CombinedID)
	}
	var failed []error
	written, setAside := 0, 0
	for _, c := range clusters {
		for _, p := range pipelines {
			repair, prefix := st.RepairIndex, store.Prefix
			if p == store.PipelineAssets {
				repair, prefix = st.RepairAssetIndex, store.AssetPrefix
			}
			for _, res := range resolutions {
				if err := ctx.Err(); err != nil {
					return err
				}
				rep, err := repair(ctx, c, res, store.RepairOptions{DryRun: *dryRun})
				if err != nil {
					fmt.Fprintf(e.stdout, "%s: failed: %v\n", prefix(c, res), err)
					failed = append(failed, err)
					continue
				}
				printRepair(e.stdout, prefix(c, res), rep, *dryRun)
				setAside += len(rep.SetAside)
				if rep.Written || (*dryRun && !rep.Unchanged && !rep.Empty) {
					written++
				}
			}
		}
	}
	if dir, ok := filesystemRoot(storeCfg); ok && !*dryRun {
		// Temporary files of uploads a killed writer left: an hour old is
		// long past any upload still running.
		now := time.Now
		if e.now != nil {
			now = e.now
		}
		removed, err := store.RemoveStaleTempFiles(ctx, dir, now().Add(-staleTempAge))
		for _, r := range removed {
			fmt.Fprintf(e.stdout, "removed temporary file %s (left by an interrupted upload)\n", r)
		}
		if err != nil {
			failed = append(failed, err)
		}
	}
	verb := "written"
	if *dryRun {
		verb = "to write (dry run, nothing written)"
	}
	fmt.Fprintf(e.stdout, "prefixes=%d indexes %s=%d set_aside=%d failed=%d\n", len(clusters)*len(pipelines)*len(resolutions), verb, written, setAside, len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("%d prefixes could not be repaired: %w", len(failed), errors.Join(failed...))
	}
	return nil
}

// staleTempAge is how old a temporary upload file must be for repair to
// remove it.
const staleTempAge = time.Hour

// filesystemRoot is a FILESYSTEM store's root directory (its prefix
// included).
func filesystemRoot(cfg config.Store) (string, bool) {
	if cfg.Type != config.StoreFilesystem {
		return "", false
	}
	return filepath.Join(cfg.Location(), filepath.FromSlash(strings.Trim(cfg.Prefix, "/"))), true
}

// printRepair prints the repair of one prefix: what the index was, the
// blocks found and set aside, and what was (or would be) written.
func printRepair(w io.Writer, prefix string, rep store.RepairReport, dryRun bool) {
	if rep.Empty {
		fmt.Fprintf(w, "%s: no index and no blocks, nothing to repair\n", prefix)
		return
	}
	was := "index " + string(rep.Previous)
	switch rep.Previous {
	case store.IndexReadable:
		was = fmt.Sprintf("index readable (%d entries)", rep.PreviousEntries)
	case store.IndexUnreadable:
		was = fmt.Sprintf("index unreadable (%v)", rep.PreviousErr)
	}
	var outcome string
	switch {
	case rep.Unchanged:
		outcome = "index already correct, nothing written"
	case rep.Written:
		outcome = fmt.Sprintf("wrote an index of %d entries", len(rep.Index.Blocks))
	case dryRun:
		outcome = fmt.Sprintf("would write an index of %d entries", len(rep.Index.Blocks))
	}
	fmt.Fprintf(w, "%s: %s; %d blocks found, %d entries, %d set aside: %s\n",
		prefix, was, rep.Found, len(rep.Index.Blocks), len(rep.SetAside), outcome)
	for _, be := range rep.SetAside {
		fmt.Fprintf(w, "  set aside %s: %v", be.Key, be.Reason)
		if be.Detail != "" {
			fmt.Fprintf(w, ": %s", be.Detail)
		}
		fmt.Fprintln(w)
	}
	for _, d := range rep.Dropped {
		fmt.Fprintf(w, "  dropped window %s: the previous index listed it, no readable block holds it\n", d.Window())
	}
	for _, name := range rep.Ignored {
		fmt.Fprintf(w, "  ignored %s: not a block\n", name)
	}
}

// foreignPrefixes returns the key prefixes of ListClusters' foreign ids.
func foreignPrefixes(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, store.ForeignPrefix(id))
	}
	return out
}
