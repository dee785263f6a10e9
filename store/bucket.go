package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/azure"
	"github.com/thanos-io/objstore/providers/filesystem"
	"github.com/thanos-io/objstore/providers/gcs"
	"github.com/thanos-io/objstore/providers/s3"

	"github.com/costfed/costfed/config"
)

// bucketComponent names costfed to the providers (user agents) and labels the
// bucket metrics (bucket="costfed").
const bucketComponent = "costfed"

// NewBucket builds the bucket a federated-store.yaml describes, through the
// provider's own constructor (not objstore/client, which links every provider),
// under cfg.Prefix when set, and counting operations in reg (objstore_bucket_*
// metrics, bucket="costfed") when reg is not nil.
//
// FILESYSTEM uploads are atomic (AtomicFilesystem); the object stores' PUTs
// already are.
//
// S3 and GCS constructors only build a client; Azure, with its default
// storage_create_container: true, checks (and creates) the container on the way.
//
// Options add to the providers' HTTP clients (WithUserAgent).
//
// Errors never carry credentials: provider messages are scrubbed of the config's
// secret values. Registering metrics twice in one registry is an error, not a
// panic; give each bucket its own registry or wrap reg with a label.
func NewBucket(ctx context.Context, logger *slog.Logger, cfg config.Store, reg prometheus.Registerer, opts ...BucketOption) (objstore.Bucket, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("validate store config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var o bucketOptions
	for _, opt := range opts {
		opt(&o)
	}
	bkt, err := newProviderBucket(ctx, kitLogger{logger.With("component", "objstore")}, cfg, o.wrapTransport())
	if err != nil {
		return nil, scrubbed(cfg, fmt.Errorf("create %s bucket %s: %w", cfg.Type, cfg.Location(), err))
	}
	if cfg.Prefix != "" {
		bkt = objstore.NewPrefixedBucket(bkt, cfg.Prefix)
	}
	if reg == nil {
		return bkt, nil
	}
	safe := &collectingRegisterer{reg: reg}
	instrumented := objstore.WrapWithMetrics(bkt, safe, bucketComponent)
	if len(safe.errs) > 0 {
		return nil, fmt.Errorf("register bucket metrics: %w", errors.Join(safe.errs...))
	}
	return instrumented, nil
}

// BucketOption tunes NewBucket.
type BucketOption func(*bucketOptions)

type bucketOptions struct {
	userAgent string
}

// WithUserAgent puts ua (costfed/<version>) first in the User-Agent of every
// request the S3, GCS and Azure clients send, ahead of the client library's
// own tokens, so server access logs and CloudTrail name costfed and its
// version. No request signature covers User-Agent (SigV4 and V2 leave it
// out, as do Azure shared keys and GCS tokens), so setting it after the
// client signed is safe.
func WithUserAgent(ua string) BucketOption {
	return func(o *bucketOptions) { o.userAgent = ua }
}

// wrapTransport is the providers' wrapRoundtripper hook for the options; nil
// when there is nothing to wrap.
func (o bucketOptions) wrapTransport() func(http.RoundTripper) http.RoundTripper {
	if o.userAgent == "" {
		return nil
	}
	return func(next http.RoundTripper) http.RoundTripper {
		return userAgentTransport{userAgent: o.userAgent, next: next}
	}
}

// userAgentTransport prefixes each request's User-Agent with userAgent.
type userAgentTransport struct {
	userAgent string
	next      http.RoundTripper
}

func (t userAgentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	cur := req.Header.Get("User-Agent")
	if cur == t.userAgent || strings.HasPrefix(cur, t.userAgent+" ") {
		return t.next.RoundTrip(req)
	}
	ua := t.userAgent
	if cur != "" {
		ua += " " + cur
	}
	// A RoundTripper must not change the caller's request.
	r := req.Clone(req.Context())
	r.Header.Set("User-Agent", ua)
	return t.next.RoundTrip(r)
}

func newProviderBucket(ctx context.Context, logger kitLogger, cfg config.Store, wrap func(http.RoundTripper) http.RoundTripper) (objstore.Bucket, error) {
	raw := cfg.ProviderConfig()
	switch cfg.Type {
	case config.StoreS3:
		// From the typed config, not YAML: objstore's S3 parser shares
		// s3.DefaultConfig's map between calls (see config.Store.S3Config).
		c, _ := cfg.S3Config()
		return s3.NewBucketWithConfig(logger, c, bucketComponent, wrap)
	case config.StoreGCS:
		return gcs.NewBucket(ctx, logger, raw, bucketComponent, wrap)
	case config.StoreAzure:
		return azure.NewBucket(logger, raw, bucketComponent, wrap)
	case config.StoreFilesystem:
		bkt, err := filesystem.NewBucketFromConfig(raw)
		if err != nil {
			return nil, err
		}
		// Location is the directory for FILESYSTEM. Uploads there are made
		// atomic (temporary file, fsync, rename): the provider writes in place.
		return AtomicFilesystem(bkt, cfg.Location())
	}
	return nil, fmt.Errorf("unsupported store type %q", cfg.Type)
}

// scrubbed returns err, or when its message contains one of the store's secret
// values, a plain error with those values redacted (dropping the chain, which
// would still hold them).
func scrubbed(cfg config.Store, err error) error {
	msg := err.Error()
	if clean := cfg.RedactString(msg); clean != msg {
		return errors.New(clean)
	}
	return err
}

// collectingRegisterer turns the panics of MustRegister (which objstore's
// promauto calls) into errors collected for the caller.
type collectingRegisterer struct {
	reg  prometheus.Registerer
	errs []error
}

func (c *collectingRegisterer) Register(col prometheus.Collector) error { return c.reg.Register(col) }

func (c *collectingRegisterer) MustRegister(cols ...prometheus.Collector) {
	for _, col := range cols {
		if err := c.reg.Register(col); err != nil {
			c.errs = append(c.errs, err)
		}
	}
}

func (c *collectingRegisterer) Unregister(col prometheus.Collector) bool {
	return c.reg.Unregister(col)
}

// kitLogger adapts slog to the go-kit log.Logger objstore wants: "msg" becomes
// the message, "level" (go-kit's level package) the level, and every other pair
// an attribute.
type kitLogger struct{ l *slog.Logger }

func (k kitLogger) Log(keyvals ...any) error {
	level := slog.LevelInfo
	msg := ""
	attrs := make([]slog.Attr, 0, len(keyvals)/2)
	for i := 0; i < len(keyvals); i += 2 {
		key := fmt.Sprint(keyvals[i])
		var val any = "(MISSING)"
		if i+1 < len(keyvals) {
			val = keyvals[i+1]
		}
		switch {
		case key == "level":
			level = kitLevel(val)
			continue
		case key == "msg" && msg == "":
			msg = fmt.Sprint(val)
			continue
		}
		attrs = append(attrs, slog.Any(key, val))
	}
	ctx := context.Background()
	if k.l.Enabled(ctx, level) {
		k.l.LogAttrs(ctx, level, msg, attrs...)
	}
	return nil
}

// kitLevel maps go-kit's level values (their String is debug, info, warn or
// error) to slog levels; anything else is info.
func kitLevel(v any) slog.Level {
	switch fmt.Sprint(v) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
