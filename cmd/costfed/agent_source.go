package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/prom"
)

// httpConfig maps agent.yaml's prometheus section onto the HTTP source's
// config. The config package has validated it.
func httpConfig(cfg config.Agent) prom.HTTPConfig {
	p := cfg.Prometheus
	hc := prom.HTTPConfig{
		URL:           p.URL,
		UserAgent:     userAgent(),
		ClusterLabel:  p.ClusterLabel,
		QueryTimeout:  time.Duration(p.QueryTimeout),
		Concurrency:   p.Concurrency,
		Retries:       p.Retries,
		RetryMaxWait:  time.Duration(p.RetryMaxWait),
		MaxQueryRange: time.Duration(p.MaxQueryRange),
		TLS: prom.TLSConfig{
			CAFile: p.TLS.CAFile, CertFile: p.TLS.CertFile, KeyFile: p.TLS.KeyFile,
			ServerName: p.TLS.ServerName, InsecureSkipVerify: p.TLS.InsecureSkipVerify,
		},
	}
	if p.Retries == 0 {
		hc.Retries = -1 // "retries: 0" in the file means none; 0 is the default in prom
	}
	if p.ClusterFilter {
		hc.ClusterFilter = cfg.ClusterID
	}
	if len(p.Headers) > 0 {
		hc.Headers = make(map[string]string, len(p.Headers))
		for k, v := range p.Headers {
			hc.Headers[k] = string(v)
		}
	}
	a := p.Auth
	switch p.AuthType() {
	case config.AuthBasic:
		hc.BasicAuth = &prom.BasicAuth{Username: a.Username, Password: string(a.Password), PasswordFile: a.PasswordFile}
	case config.AuthBearer:
		hc.BearerAuth = &prom.BearerAuth{Token: string(a.BearerToken), TokenFile: a.BearerTokenFile}
	case config.AuthSigV4:
		hc.SigV4 = &prom.SigV4Auth{
			Region: p.SigV4Region(), AccessKey: string(a.SigV4.AccessKey), SecretKey: string(a.SigV4.SecretKey),
			Profile: a.SigV4.Profile, RoleARN: a.SigV4.RoleARN, ExternalID: a.SigV4.ExternalID,
		}
	}
	return hc
}

// promSource is the agent's opened source: the HTTP endpoint of
// prometheus.url, or the TSDB directory of prometheus.tsdb_path read
// in-process (offline).
type promSource struct {
	prom.Source
	close func()
	// offline is the local source when tsdb_path is set, else nil.
	offline *prom.LocalSource
}

// openPromSource opens the agent's source: HTTP for prometheus.url, the
// local TSDB (read-only) for prometheus.tsdb_path.
func openPromSource(ctx context.Context, cfg config.Agent, logger *slog.Logger, reg prometheus.Registerer) (promSource, error) {
	if cfg.Prometheus.Offline() {
		return openLocalSource(cfg, logger)
	}
	opts := []prom.HTTPOption{prom.WithHTTPLogger(logger)}
	if reg != nil {
		opts = append(opts, prom.WithHTTPRegisterer(reg))
	}
	src, err := prom.NewHTTP(ctx, httpConfig(cfg), opts...)
	if err != nil {
		return promSource{}, fmt.Errorf("open prometheus source: %w", err)
	}
	return promSource{Source: src, close: src.Close}, nil
}

// openLocalSource opens prometheus.tsdb_path read-only, with the same cluster
// filter the HTTP source would apply. Nothing is written into the directory.
func openLocalSource(cfg config.Agent, logger *slog.Logger) (promSource, error) {
	p := cfg.Prometheus
	opts := []prom.LocalOption{prom.LocalTimeout(time.Duration(p.QueryTimeout)), prom.LocalLogger(logger.With("component", "tsdb"))}
	if p.ClusterFilter {
		opts = append(opts, prom.LocalClusterFilter(p.ClusterLabel, cfg.ClusterID))
	}
	src, err := prom.OpenLocal(p.TSDBPath, opts...)
	if err != nil {
		return promSource{}, fmt.Errorf("open prometheus.tsdb_path: %w", err)
	}
	first, last := src.TimeRange()
	logger.Info("reading a local TSDB directory (offline)", "tsdb_path", p.TSDBPath,
		"first", first.Format(time.RFC3339), "last", last.Format(time.RFC3339))
	if prom.HasWAL(p.TSDBPath) {
		logger.Warn("the directory has a write-ahead log, which is not read: its samples (a live Prometheus's last hours) are missing; use a snapshot (POST /api/v1/admin/tsdb/snapshot) to have them as blocks",
			"tsdb_path", p.TSDBPath)
	}
	return promSource{Source: src, offline: src, close: func() {
		if err := src.Close(); err != nil {
			logger.Warn("close the local TSDB", "err", err)
		}
	}}, nil
}

// offlineNow is the time an offline source's backfill or rebuild runs "as
// of": its newest sample plus Prometheus's lookback (5m), as if the agent ran
// when the data was captured. Windows starting after the newest sample are
// not built (a snapshot's end says nothing about later windows), and the
// window holding it is final only if it ends within the lookback.
func offlineNow(src *prom.LocalSource) (newest, now time.Time) {
	_, newest = src.TimeRange()
	return newest, newest.Add(prom.LocalDefaultLookbackDelta)
}
