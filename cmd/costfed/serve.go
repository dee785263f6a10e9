package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/costfed/costfed/api"
	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/store"
)

// coverageTTL is how long /status and the stale-cluster warnings reuse one
// reading of every index.
const coverageTTL = 30 * time.Second

// runServe implements "costfed serve": the OpenCost-compatible query API over
// the combined store, until SIGTERM.
func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "serve --config federator.yaml [--listen addr]")
	cfgPath := fs.String("config", "", "path of federator.yaml (required; its server section configures the API)")
	listen := fs.String("listen", "", "listen address (default: server.listen_address, :9003)")
	var lf logFlags
	lf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, logger, err := loadFederatorConfig(ctx, e, *cfgPath, lf)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.ListenAddress = *listen
	}
	// The token file may be a FIFO or a secret mount that blocks: SIGTERM
	// must still stop serve (loadConfig reads interruptibly).
	token, err := loadConfig(ctx, func() (string, error) { return bearerToken(cfg.Server) })
	if err != nil {
		return err
	}
	reg := newRegistry()
	bkt, err := openBucket(ctx, e, logger, cfg.Store, reg)
	if err != nil {
		return err
	}
	defer bkt.Close()
	h, err := newServeHandler(store.New(bkt, store.Options{Logger: logger}), cfg, token, logger, reg, time.Now)
	if err != nil {
		return err
	}
	srv := api.NewServer(h, api.ServerOptions{ReadTimeout: time.Duration(cfg.Server.ReadTimeout), WriteTimeout: time.Duration(cfg.Server.WriteTimeout)})
	return serveUntilDone(ctx, logger, cfg.Server.ListenAddress, srv)
}

// bearerToken returns the configured token, read from its file when one is
// named; "" means no authentication.
func bearerToken(s config.Server) (string, error) {
	if s.BearerTokenFile == "" {
		return string(s.BearerToken), nil
	}
	data, err := os.ReadFile(s.BearerTokenFile)
	if err != nil {
		return "", fmt.Errorf("server.bearer_token_file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("server.bearer_token_file: %s is empty", s.BearerTokenFile)
	}
	return tok, nil
}

// newServeHandler wires the store, its coverage and the config into the API
// handler.
func newServeHandler(st *store.Store, cfg config.Federator, token string, logger *slog.Logger, reg *prometheus.Registry, now func() time.Time) (http.Handler, error) {
	staleAfter := time.Duration(cfg.StaleAfter)
	cov := api.NewTTLCache(coverageTTL, now, func(ctx context.Context) (federator.Coverage, error) {
		return federator.ReadCoverage(ctx, st, now(), staleAfter)
	})
	eng, err := api.NewEngine(st, api.EngineOptions{
		CacheBytes:    int64(cfg.Server.CacheBytes),
		StaleClusters: func(ctx context.Context) ([]string, error) { return staleClusters(ctx, cov) },
		Logger:        logger,
		Registerer:    reg,
	})
	if err != nil {
		return nil, err
	}
	return api.NewHandler(api.HandlerOptions{
		Engine:       eng,
		Assets:       st,
		BearerToken:  token,
		QueryTimeout: time.Duration(cfg.Server.WriteTimeout),
		Now:          now,
		Status:       func(ctx context.Context) (any, error) { return cov.Get(ctx) },
		Gatherer:     reg,
		Logger:       logger,
		Registerer:   reg,
	})
}

func staleClusters(ctx context.Context, cov *api.TTLCache[federator.Coverage]) ([]string, error) {
	c, err := cov.Get(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, cc := range c.Clusters {
		if cc.Stale {
			out = append(out, cc.Cluster)
		}
	}
	return out, nil
}
