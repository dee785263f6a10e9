package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/store"
)

// runStatus implements "costfed status": coverage per cluster and resolution
// read from the store's index objects.
func runStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "status", "status [--store federated-store.yaml | --config federator.yaml] [--format table|json] [--stale-after 3h] [--check size|digest|none]")
	storePath := fs.String("store", "", "path of federated-store.yaml (default: FILESYSTEM store under ./data, or federator.yaml's store with --config)")
	fedPath := fs.String("config", "", "path of federator.yaml: also show the combined store's retention horizon and what the next pass expires")
	format := fs.String("format", "table", "output format: table or json")
	staleAfter := durationFlagOf(fs, "stale-after", 3*time.Hour, "a cluster whose newest block is older than this is stale")
	check := fs.String("check", config.CheckSize, "verify the combined blocks against their index: size (one attributes call a block), digest (downloads every block) or none")
	var lf logFlags
	lf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return usagef("--format: %q is not table or json", *format)
	}
	if *staleAfter <= 0 {
		return usagef("--stale-after must be positive")
	}
	if *check != config.CheckSize && *check != config.CheckDigest && *check != config.CheckNone {
		return usagef("--check: %q is not size, digest or none", *check)
	}
	logger, err := lf.logger(e)
	if err != nil {
		return err
	}
	var fedCfg *config.Federator
	if *fedPath != "" {
		cfg, _, err := loadFederatorConfig(ctx, e, *fedPath, lf)
		if err != nil {
			return err
		}
		fedCfg = &cfg
		if *storePath == "" {
			*storePath = cfg.Store
		}
	}
	storeCfg, err := loadConfig(ctx, func() (config.Store, error) { return config.LoadStoreOrDefault(*storePath, lookupEnvFrom(e)) })
	if err != nil {
		return err
	}
	if dir, missing := missingStoreDir(storeCfg); missing {
		// An empty table would read as "no clusters yet"; a wrong path
		// (or the default ./data, run from another directory) is likelier.
		return fmt.Errorf("store directory %s does not exist: nothing was ever written there (check --store, or the directory in the store config)", dir)
	}
	bkt, err := openBucket(ctx, e, logger, *storePath, nil)
	if err != nil {
		return err
	}
	defer bkt.Close()
	now := time.Now()
	st := store.New(bkt, store.Options{Logger: logger})
	cov, err := federator.ReadCoverage(ctx, st, now, *staleAfter)
	if err != nil {
		return err
	}
	if *check != config.CheckNone {
		if err := cov.CheckCombined(ctx, st, checkMode(*check), 16); err != nil {
			return err
		}
	}
	maxShare := 0.0
	if fedCfg != nil {
		cov.ApplyRetention(now, map[store.Resolution]time.Duration{store.Hourly: time.Duration(fedCfg.Retention.Hourly), store.Daily: time.Duration(fedCfg.Retention.Daily)})
		maxShare = fedCfg.Retention.MaxExpireShare
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cov)
	}
	printCoverage(e.stdout, cov)
	if fedCfg != nil {
		printRetention(e.stdout, cov, maxShare)
	}
	return nil
}

// missingStoreDir returns the directory of a FILESYSTEM store (its prefix
// included) when it does not exist.
func missingStoreDir(cfg config.Store) (string, bool) {
	dir, ok := filesystemRoot(cfg)
	if !ok {
		return "", false
	}
	_, err := os.Stat(dir)
	return dir, errors.Is(err, fs.ErrNotExist)
}

// printRetention prints the combined store's retention horizon per
// resolution and what the next federator pass would expire.
func printRetention(w io.Writer, cov federator.Coverage, maxShare float64) {
	fmt.Fprintln(w, "\nRetention of the combined store (windows ending at or before the horizon expire):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RES\tRETENTION\tHORIZON\tDUE TO EXPIRE\tNOTE")
	for _, r := range cov.Combined {
		if r.Horizon.IsZero() {
			continue
		}
		note := ""
		if r.Windows > 0 && float64(r.DueToExpire) > maxShare*float64(r.Windows) {
			note = fmt.Sprintf("over retention.max_expire_share (%.0f %%): the next pass halts unless --force", 100*maxShare)
		}
		share := 0.0
		if r.Windows > 0 {
			share = 100 * float64(r.DueToExpire) / float64(r.Windows)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d of %d (%.0f %%)\t%s\n", r.Resolution, config.Duration(r.Retention), fmtTime(r.Horizon), r.DueToExpire, r.Windows, share, note)
	}
	_ = tw.Flush()
}

func printCoverage(w io.Writer, cov federator.Coverage) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tRES\tWINDOWS\tCOMPLETE\tFIRST\tLAST\tGAPS\tFEDERATED\tQUARANTINED\tNEWEST BUILD\tSTATE")
	for _, c := range cov.Clusters {
		state := "ok"
		if c.Stale {
			state = "stale"
		}
		for _, r := range c.Resolutions {
			if r.IndexError != "" {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\tindex unreadable: %s\n", c.Cluster, r.Resolution, r.IndexError)
				continue
			}
			rstate := state
			if r.Damaged != "" {
				rstate = "damaged: " + r.Damaged
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", c.Cluster, r.Resolution, r.Windows, r.Complete,
				fmtTime(r.First), fmtTime(r.Last), fmtGaps(r.Gaps), r.Federated, r.Quarantined, fmtTime(c.NewestBuild), rstate)
		}
		for _, r := range c.Assets {
			if r.Windows == 0 && r.IndexError == "" && r.Damaged == "" {
				continue // no assets (a store written before them)
			}
			if r.IndexError != "" {
				fmt.Fprintf(tw, "%s\t%s assets\t-\t-\t-\t-\t-\t-\t-\t-\tindex unreadable: %s\n", c.Cluster, r.Resolution, r.IndexError)
				continue
			}
			astate := "-"
			if r.Damaged != "" {
				astate = "damaged: " + r.Damaged
			}
			fmt.Fprintf(tw, "%s\t%s assets\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t-\t%s\n", c.Cluster, r.Resolution, r.Windows, r.Complete,
				fmtTime(r.First), fmtTime(r.Last), fmtGaps(r.Gaps), r.Federated, r.Quarantined, astate)
		}
	}
	for _, r := range cov.Combined {
		state := r.IndexError
		if n := len(r.DamagedBlocks); n > 0 {
			state = fmt.Sprintf("%d damaged block(s): the next federator pass merges them again", n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t-\t-\t-\t%s\n", store.CombinedID, r.Resolution, r.Windows, r.Complete,
			fmtTime(r.First), fmtTime(r.Last), fmtGaps(r.Gaps), state)
	}
	for _, r := range cov.CombinedAssets {
		if r.Windows == 0 && r.IndexError == "" {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s assets\t%d\t%d\t%s\t%s\t%s\t-\t-\t-\t%s\n", store.CombinedID, r.Resolution, r.Windows, r.Complete,
			fmtTime(r.First), fmtTime(r.Last), fmtGaps(r.Gaps), r.IndexError)
	}
	_ = tw.Flush()
	for _, r := range cov.Combined {
		for _, d := range r.DamagedBlocks {
			fmt.Fprintf(w, "damaged combined %s %s\n", r.Resolution, d)
		}
	}
	if len(cov.Ignored) > 0 {
		fmt.Fprintf(w, "\nIgnored %d prefix(es) without a costfed index or blocks (not costfed clusters, e.g. Kubecost's etl/bingen): %s\n",
			len(cov.Ignored), strings.Join(cov.Ignored, ", "))
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04Z")
}

func fmtGaps(gaps []federator.Gap) string {
	if len(gaps) == 0 {
		return "none"
	}
	parts := make([]string, 0, 3)
	for i, g := range gaps {
		if i == 2 {
			parts = append(parts, fmt.Sprintf("+%d more", len(gaps)-2))
			break
		}
		parts = append(parts, fmtTime(g.Start)+".."+fmtTime(g.End))
	}
	return strings.Join(parts, ",")
}
