package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/store"
)

// logFlags are the logging flags every long-running command takes.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log.level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&l.format, "log.format", "logfmt", "log format: logfmt or json")
}

func (l *logFlags) logger(e *env) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usagef("-log.level: %q is not debug, info, warn or error", l.level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch l.format {
	case "logfmt":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return nil, usagef("-log.format: %q is not logfmt or json", l.format)
}

// newRegistry returns a registry with the Go and process collectors, as every
// Prometheus-instrumented daemon exposes.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	return reg
}

// buildInfo is costfed_build_info{version, goversion} 1, telling which build
// answers on /metrics.
func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "costfed_build_info",
		Help: "A metric with a constant '1' value labeled by the costfed version and the Go version it was built with.",
	}, []string{"version", "goversion"})
	g.WithLabelValues(version, runtime.Version()).Set(1)
	return g
}

// openBucket loads the store config at path (the embedded FILESYSTEM ./data
// default when empty) and builds its bucket. Config problems are usage errors.
func openBucket(ctx context.Context, e *env, logger *slog.Logger, path string, reg prometheus.Registerer) (objstore.Bucket, error) {
	cfg, err := loadConfig(ctx, func() (config.Store, error) { return config.LoadStoreOrDefault(path, lookupEnvFrom(e)) })
	if err != nil {
		return nil, err
	}
	bkt, err := store.NewBucket(ctx, logger, cfg, reg, store.WithUserAgent(userAgent()))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	hooked, err := withTestCrash(e, bkt)
	if err != nil {
		_ = bkt.Close()
		return nil, err
	}
	return hooked, nil
}

// userAgent is the User-Agent of costfed's requests to Prometheus and object
// stores: costfed/<version>.
func userAgent() string { return "costfed/" + version }

// runningServer is an HTTP server started by startHTTP.
type runningServer struct {
	srv    *http.Server
	done   chan struct{} // closed when Serve returns
	err    error         // Serve's error, other than ErrServerClosed
	logger *slog.Logger
}

// startHTTP listens on addr and serves srv in the background; it returns once
// the listener is up (or failed), so callers can go on.
func startHTTP(logger *slog.Logger, addr string, srv *http.Server) (*runningServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return startHTTPOn(logger, ln, srv), nil
}

// startHTTPOn serves srv on ln in the background.
func startHTTPOn(logger *slog.Logger, ln net.Listener, srv *http.Server) *runningServer {
	addr := ln.Addr().String()
	rs := &runningServer{srv: srv, done: make(chan struct{}), logger: logger}
	go func() {
		defer close(rs.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			rs.err = fmt.Errorf("serve on %s: %w", addr, err)
		}
	}()
	logger.Info("listening", "addr", addr)
	return rs
}

// Stop shuts the server down, giving running requests a few seconds, and
// returns what made it stop if it was not the shutdown.
func (rs *runningServer) Stop(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := rs.srv.Shutdown(sctx); err != nil {
		rs.logger.Warn("shutdown cut running requests", "err", err)
	}
	<-rs.done
	return rs.err
}

// serveUntilDone serves srv on addr until ctx is done (or the server fails),
// then shuts it down.
func serveUntilDone(ctx context.Context, logger *slog.Logger, addr string, srv *http.Server) error {
	rs, err := startHTTP(logger, addr, srv)
	if err != nil {
		return err
	}
	return rs.untilDone(ctx)
}

// untilDone waits until ctx is done (or the server fails), then shuts the
// server down.
func (rs *runningServer) untilDone(ctx context.Context) error {
	logger := rs.logger
	select {
	case <-rs.done:
	case <-ctx.Done():
		logger.Info("shutting down")
	}
	return rs.Stop(ctx)
}

// opsServer is the HTTP server of the long-running jobs' ops endpoints.
func opsServer(reg *prometheus.Registry, status func() any, ready func() (bool, string)) *http.Server {
	return &http.Server{Handler: opsMux(reg, status, ready), ReadHeaderTimeout: 10 * time.Second}
}

// opsMux serves /metrics from reg, /healthz (liveness: the process serves),
// /readyz (readiness: 503 with the reason while ready says no; 200 always
// when ready is nil), and /status from status().
func opsMux(reg *prometheus.Registry, status func() any, ready func() (bool, string)) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := true, "ok"
		if ready != nil {
			ok, why = ready()
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(why + "\n"))
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, status())
	})
	return mux
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || strings.TrimSpace(h) == "" {
		return "unknown"
	}
	return h
}
