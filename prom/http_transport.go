package prom

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/sigv4"
)

// validateAuth checks that at most one authentication is configured and
// that it is complete. It does not read files: a missing file is reported
// by the first request (files are re-read on every request anyway).
func validateAuth(cfg HTTPConfig) error {
	n := 0
	for _, set := range []bool{cfg.BasicAuth != nil, cfg.BearerAuth != nil, cfg.SigV4 != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return errors.New("auth: set at most one of basic, bearer and sigv4")
	}
	var errs []error
	if b := cfg.BasicAuth; b != nil {
		if b.Username == "" {
			errs = append(errs, errors.New("auth basic: username is empty"))
		}
		if (b.Password == "") == (b.PasswordFile == "") {
			errs = append(errs, errors.New("auth basic: set exactly one of password and password_file"))
		}
	}
	if b := cfg.BearerAuth; b != nil && (b.Token == "") == (b.TokenFile == "") {
		errs = append(errs, errors.New("auth bearer: set exactly one of token and token_file"))
	}
	if v := cfg.SigV4; v != nil {
		if (v.AccessKey == "") != (v.SecretKey == "") {
			errs = append(errs, errors.New("auth sigv4: set both access_key and secret_key, or neither"))
		}
		if v.ExternalID != "" && v.RoleARN == "" {
			errs = append(errs, errors.New("auth sigv4: external_id needs role_arn"))
		}
	}
	if (cfg.TLS.CertFile == "") != (cfg.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: set both cert_file and key_file, or neither"))
	}
	for name := range cfg.Headers {
		if http.CanonicalHeaderKey(name) == "Authorization" && n > 0 {
			errs = append(errs, errors.New("headers: Authorization conflicts with the configured auth"))
		}
	}
	return errors.Join(errs...)
}

// newRoundTripper stacks, from the outside in: the User-Agent, custom headers, then one of
// basic, bearer or SigV4 (which signs the custom headers too), then base (or
// a transport built from cfg.TLS).
func newRoundTripper(ctx context.Context, cfg HTTPConfig, base http.RoundTripper) (http.RoundTripper, error) {
	if base == nil {
		t, err := newBaseTransport(cfg)
		if err != nil {
			return nil, err
		}
		base = t
	}
	rt := base
	switch {
	case cfg.SigV4 != nil:
		signed, err := newSigV4RoundTripper(ctx, *cfg.SigV4, rt)
		if err != nil {
			return nil, err
		}
		rt = signed
	case cfg.BasicAuth != nil:
		rt = &basicAuthRoundTripper{auth: *cfg.BasicAuth, next: rt}
	case cfg.BearerAuth != nil:
		rt = &bearerRoundTripper{auth: *cfg.BearerAuth, next: rt}
	}
	if len(cfg.Headers) > 0 {
		h := make(http.Header, len(cfg.Headers))
		for k, v := range cfg.Headers {
			h.Set(k, v)
		}
		rt = &headerRoundTripper{headers: h, next: rt}
	}
	if cfg.UserAgent != "" {
		// Outermost: configured headers (a User-Agent among them) win.
		rt = &headerRoundTripper{headers: http.Header{"User-Agent": {cfg.UserAgent}}, next: rt}
	}
	return rt, nil
}

func newBaseTransport(cfg HTTPConfig) (*http.Transport, error) {
	tlsCfg, err := newTLSConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   max(cfg.Concurrency, 2),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsCfg,
	}, nil
}

func newTLSConfig(c TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // the operator's explicit choice
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: ca_file %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load cert_file and key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func newSigV4RoundTripper(ctx context.Context, a SigV4Auth, next http.RoundTripper) (http.RoundTripper, error) {
	cfg := &sigv4.SigV4Config{
		Region:      a.Region,
		AccessKey:   a.AccessKey,
		SecretKey:   config.Secret(a.SecretKey),
		Profile:     a.Profile,
		RoleARN:     a.RoleARN,
		ExternalID:  a.ExternalID,
		ServiceName: a.ServiceName,
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth sigv4: %w", err)
	}
	rt, err := sigv4.NewSigV4RoundTripper(cfg, next, sigv4.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("auth sigv4: %w", err)
	}
	return rt, nil
}

// credentialFileError is an unreadable password or token file: retrying
// does not help, so it is not classified as a connection error.
type credentialFileError struct {
	what, path string
	err        error
}

func (e *credentialFileError) Error() string {
	return fmt.Sprintf("read %s file %s: %v", e.what, e.path, e.err)
}

func (e *credentialFileError) Unwrap() error { return e.err }

// readSecret returns value, or the trimmed content of file, read now.
func readSecret(what, value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", &credentialFileError{what: what, path: file, err: err}
	}
	return strings.TrimSpace(string(b)), nil
}

type basicAuthRoundTripper struct {
	auth BasicAuth
	next http.RoundTripper
}

func (rt *basicAuthRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	pw, err := readSecret("password", rt.auth.Password, rt.auth.PasswordFile)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	req = req.Clone(req.Context())
	req.SetBasicAuth(rt.auth.Username, pw)
	return rt.next.RoundTrip(req)
}

type bearerRoundTripper struct {
	auth BearerAuth
	next http.RoundTripper
}

func (rt *bearerRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	token, err := readSecret("bearer token", rt.auth.Token, rt.auth.TokenFile)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+token)
	return rt.next.RoundTrip(req)
}

type headerRoundTripper struct {
	headers http.Header
	next    http.RoundTripper
}

func (rt *headerRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, vs := range rt.headers {
		req.Header[k] = append([]string(nil), vs...)
	}
	return rt.next.RoundTrip(req)
}

// closeBody honours the RoundTripper contract of closing the request body
// even on error.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
