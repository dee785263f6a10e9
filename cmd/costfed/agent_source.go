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
		UserAgent:     "costfed/" + version,
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

// openPromSource opens the agent's Prometheus-compatible source.
func openPromSource(ctx context.Context, cfg config.Agent, logger *slog.Logger, reg prometheus.Registerer) (*prom.HTTPSource, error) {
	opts := []prom.HTTPOption{prom.WithHTTPLogger(logger)}
	if reg != nil {
		opts = append(opts, prom.WithHTTPRegisterer(reg))
	}
	src, err := prom.NewHTTP(ctx, httpConfig(cfg), opts...)
	if err != nil {
		return nil, fmt.Errorf("open prometheus source: %w", err)
	}
	return src, nil
}
