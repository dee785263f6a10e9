package prom

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// RetryReason says why a request was retried; it is the reason label of
// costfed_prom_retries_total.
type RetryReason string

// Retry reasons.
const (
	// RetryThrottled: 429, or a 4xx whose body names ThrottlingException.
	RetryThrottled RetryReason = "throttled"
	// RetryUnavailable: 503 (Prometheus also answers 503 to a query that hit
	// its own timeout).
	RetryUnavailable RetryReason = "unavailable"
	// RetryGatewayTimeout: 504 from a proxy or load balancer.
	RetryGatewayTimeout RetryReason = "gateway_timeout"
	// RetryTimeout: no answer within HTTPConfig.QueryTimeout.
	RetryTimeout RetryReason = "timeout"
	// RetryConnection: no HTTP answer (refused, reset, cut short).
	RetryConnection RetryReason = "connection"
)

// RetryReasons lists every reason, in a fixed order.
func RetryReasons() []RetryReason {
	return []RetryReason{RetryThrottled, RetryUnavailable, RetryGatewayTimeout, RetryTimeout, RetryConnection}
}

// withRetries sends r until it succeeds, fails for a reason retrying cannot
// fix, or runs out of retries. The caller's cancellation ends it at once and
// is returned as ctx.Err().
func (s *HTTPSource) withRetries(ctx context.Context, r apiRequest) (Result, error) {
	for retry := 0; ; retry++ {
		res, err := s.attempt(ctx, r)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		reason, ok := classifyRetry(err)
		if !ok {
			return Result{}, err
		}
		if retry >= s.cfg.Retries {
			if retry == 0 {
				return Result{}, err
			}
			return Result{}, fmt.Errorf("%w (gave up after %d retries)", err, retry)
		}
		wait := s.backoff(retry, err)
		s.counters.retry(reason)
		s.log.Debug("retrying query", "reason", string(reason), "retry", retry+1, "wait", wait, "err", err)
		if err := s.sleep(ctx, wait); err != nil {
			return Result{}, err
		}
	}
}

// classifyRetry says whether err is worth retrying unchanged, and why.
func classifyRetry(err error) (RetryReason, bool) {
	if he, ok := errors.AsType[*HTTPError](err); ok {
		switch {
		case he.Throttled():
			return RetryThrottled, true
		case he.StatusCode == http.StatusServiceUnavailable:
			return RetryUnavailable, true
		case he.StatusCode == http.StatusGatewayTimeout:
			return RetryGatewayTimeout, true
		}
		return "", false
	}
	if _, ok := errors.AsType[*attemptTimeoutError](err); ok {
		return RetryTimeout, true
	}
	if te, ok := errors.AsType[*transportError](err); ok && !permanentTransportError(te.err) {
		return RetryConnection, true
	}
	return "", false
}

// permanentTransportError reports transport failures that repeat on every
// attempt: certificate problems and unreadable credential files.
func permanentTransportError(err error) bool {
	if _, ok := errors.AsType[*credentialFileError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok { // TLS to a plain-HTTP port
		return true
	}
	return false
}

// backoff is the wait before retry number retry+1: the server's Retry-After
// when it sent one, else a full-jitter draw from [0, base·2^retry]; capped by
// RetryMaxWait either way.
func (s *HTTPSource) backoff(retry int, err error) time.Duration {
	maxWait := s.cfg.RetryMaxWait
	if he, ok := errors.AsType[*HTTPError](err); ok && he.HasRetryAfter {
		return min(he.RetryAfter, maxWait)
	}
	ceiling := maxWait
	if retry < 32 {
		if c := s.cfg.RetryBaseWait << retry; c > 0 && c < maxWait {
			ceiling = c
		}
	}
	return min(max(s.jitter(ceiling), 0), ceiling)
}

// RetryReasonOf says whether err, returned by a Source, is one that retrying
// later may fix (the store was unreachable, overloaded or throttling), and
// why. Callers above the source use it to tell an outage from a query the
// store refuses.
func RetryReasonOf(err error) (RetryReason, bool) {
	return classifyRetry(err)
}
