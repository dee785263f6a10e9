package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/store"
)

// runFederator implements "costfed federator": merge every cluster's blocks
// into the combined store, once (--once, for a Kubernetes Job) or on the
// config's cron schedule, serving /metrics, /healthz and /status.
func runFederator(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "federator", "federator --config federator.yaml [--once] [--force]")
	cfgPath := fs.String("config", "", "path of federator.yaml (required)")
	once := fs.Bool("once", false, "run one pass and exit (status 1 if it had errors); for a Job or CronJob")
	force := fs.Bool("force", false, "expire what retention says even when it is more than retention.max_expire_share of the combined store")
	var lf logFlags
	lf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, logger, err := loadFederatorConfig(ctx, e, *cfgPath, lf)
	if err != nil {
		return err
	}
	reg := newRegistry()
	bkt, err := openBucket(ctx, e, logger, cfg.Store, reg)
	if err != nil {
		return err
	}
	defer bkt.Close()
	fed := federator.New(store.New(bkt, store.Options{Logger: logger}), federator.Options{
		Allowed:           cfg.Clusters.Allowed,
		Cutoff:            cfg.Cutoff.Time,
		Retention:         map[store.Resolution]time.Duration{store.Hourly: time.Duration(cfg.Retention.Hourly), store.Daily: time.Duration(cfg.Retention.Daily)},
		MaxExpireShare:    cfg.Retention.MaxExpireShare,
		Force:             *force,
		StaleAfter:        time.Duration(cfg.StaleAfter),
		CheckCombined:     checkMode(cfg.CheckCombined),
		SkipCombinedCheck: cfg.CheckCombined == config.CheckNone,
		Version:           version,
		Now:               e.now,
		Logger:            logger,
		Registerer:        reg,
	})

	if *once {
		rep, err := fed.RunOnce(ctx)
		printPassSummary(e, rep)
		return err
	}

	ops, err := startHTTP(logger, cfg.ListenAddress, opsServer(reg, func() any { return fed.LastReport() }, nil))
	if err != nil {
		return err
	}
	defer func() { _ = ops.Stop(ctx) }()

	c := cron.New(cron.WithChain(cron.Recover(cronLogger{logger}), cron.SkipIfStillRunning(cronLogger{logger})))
	// A halted federator (federator.HaltError) skips every later pass without
	// touching the store until it is restarted; the schedule keeps ticking.
	pass := func() { _, _ = fed.RunOnce(ctx) }
	if _, err := c.AddFunc(cfg.Schedule, pass); err != nil {
		return usagef("schedule %q: %v", cfg.Schedule, err)
	}
	logger.Info("federator started", "schedule", cfg.Schedule, "listen_address", cfg.ListenAddress)
	go pass() // a pass at start, so a restart does not wait for the schedule
	c.Start()
	<-ctx.Done()
	logger.Info("shutting down; waiting for a running pass")
	<-c.Stop().Done()
	return nil
}

func printPassSummary(e *env, rep federator.Report) {
	fmt.Fprintf(e.stdout, "clusters=%d merged_1h=%d merged_1d=%d expired=%d quarantined=%d duration=%s\n",
		len(rep.Clusters), rep.Merged[store.Hourly], rep.Merged[store.Daily],
		rep.Expired[store.Hourly]+rep.Expired[store.Daily], len(rep.Quarantined), rep.Duration.Round(time.Millisecond))
	for _, res := range store.Resolutions {
		if x, ok := rep.LastExpired[res]; ok && rep.Expired[res] > 0 {
			fmt.Fprintf(e.stdout, "expired %s: %d windows, %s .. %s\n", res, x.Windows, x.First.Format(time.RFC3339), x.Last.Format(time.RFC3339))
		}
	}
	if rep.Halted != "" {
		fmt.Fprintf(e.stdout, "halted: %s\n", rep.Halted)
	}
	for _, key := range rep.RepairedIndexes {
		fmt.Fprintf(e.stdout, "repaired %s: it was unreadable; rebuilt from the combined blocks\n", key)
	}
	for _, d := range rep.DamagedCombined {
		// d.Reason is the *store.BlockError's text: "block KEY: reason: detail".
		fmt.Fprintf(e.stdout, "damaged combined %s; its window was merged again\n", d.Reason)
	}
	for _, q := range rep.Quarantined {
		fmt.Fprintf(e.stdout, "quarantined %s: %s\n", q.Key, q.Reason)
	}
	for _, c := range rep.Clusters {
		if len(c.DuplicateProducers) > 0 {
			fmt.Fprintf(e.stdout, "cluster %s is written by several producers: %v\n", c.Cluster, c.DuplicateProducers)
		}
		for _, d := range c.Damaged {
			fmt.Fprintf(e.stdout, "cluster %s is damaged (its combined rows are kept, windows without them are incomplete): %s\n", c.Cluster, d)
		}
	}
}

// checkMode maps check_combined to the store's check (none is
// federator.Options.SkipCombinedCheck).
func checkMode(s string) store.CheckMode {
	if s == config.CheckDigest {
		return store.CheckDigest
	}
	return store.CheckSize
}

// cronLogger adapts slog to cron's logger interface.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Info("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// loadFederatorConfig is what federator and serve share: a required
// --config, the logger, and federator.yaml loaded and validated.
func loadFederatorConfig(ctx context.Context, e *env, path string, lf logFlags) (config.Federator, *slog.Logger, error) {
	if path == "" {
		return config.Federator{}, nil, usagef("--config is required")
	}
	logger, err := lf.logger(e)
	if err != nil {
		return config.Federator{}, nil, err
	}
	cfg, err := loadConfig(ctx, func() (config.Federator, error) { return config.LoadFederator(path, lookupEnvFrom(e)) })
	if err != nil {
		return config.Federator{}, nil, err
	}
	return cfg, logger, nil
}
