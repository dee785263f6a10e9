package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
	fs := newFlagSet(e, "status", "status [--store federated-store.yaml] [--format table|json] [--stale-after 3h]")
	storePath := fs.String("store", "", "path of federated-store.yaml (default: FILESYSTEM store under ./data)")
	format := fs.String("format", "table", "output format: table or json")
	staleAfter := durationFlagOf(fs, "stale-after", 3*time.Hour, "a cluster whose newest block is older than this is stale")
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
	logger, err := lf.logger(e)
	if err != nil {
		return err
	}
	cfg, err := config.LoadStoreOrDefault(*storePath, lookupEnvFrom(e))
	if err != nil {
		return usageError{err}
	}
	if dir, missing := missingStoreDir(cfg); missing {
		// An empty table would read as "no clusters yet"; a wrong path
		// (or the default ./data, run from another directory) is likelier.
		return fmt.Errorf("store directory %s does not exist: nothing was ever written there (check --store, or the directory in the store config)", dir)
	}
	bkt, err := openBucket(ctx, e, logger, *storePath, nil)
	if err != nil {
		return err
	}
	defer bkt.Close()
	cov, err := federator.ReadCoverage(ctx, store.New(bkt, store.Options{Logger: logger}), time.Now(), *staleAfter)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cov)
	}
	printCoverage(e.stdout, cov)
	return nil
}

// missingStoreDir returns the directory of a FILESYSTEM store (its prefix
// included) when it does not exist.
func missingStoreDir(cfg config.Store) (string, bool) {
	if cfg.Type != config.StoreFilesystem {
		return "", false
	}
	dir := filepath.Join(cfg.Location(), filepath.FromSlash(strings.Trim(cfg.Prefix, "/")))
	_, err := os.Stat(dir)
	return dir, errors.Is(err, fs.ErrNotExist)
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
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", c.Cluster, r.Resolution, r.Windows, r.Complete,
				fmtTime(r.First), fmtTime(r.Last), fmtGaps(r.Gaps), r.Federated, r.Quarantined, fmtTime(c.NewestBuild), state)
		}
	}
	for _, r := range cov.Combined {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t-\t-\t-\t%s\n", store.CombinedID, r.Resolution, r.Windows, r.Complete,
			fmtTime(r.First), fmtTime(r.Last), fmtGaps(r.Gaps), r.IndexError)
	}
	_ = tw.Flush()
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
