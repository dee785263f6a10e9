package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"strings"

	"github.com/thanos-io/objstore/exthttp"
	"github.com/thanos-io/objstore/providers/azure"
	"github.com/thanos-io/objstore/providers/filesystem"
	"github.com/thanos-io/objstore/providers/gcs"
	"github.com/thanos-io/objstore/providers/s3"
	"go.yaml.in/yaml/v3"
)

// Store types accepted in federated-store.yaml. The file may spell them in any
// case; Store.Type always holds the upper-case form.
const (
	StoreS3         = "S3"
	StoreGCS        = "GCS"
	StoreAzure      = "AZURE"
	StoreFilesystem = "FILESYSTEM"
)

// DefaultStoreDirectory is where the embedded default store (DefaultStore) keeps
// its objects, relative to the working directory.
const DefaultStoreDirectory = "./data"

// Store is a parsed federated-store.yaml: the thanos-io/objstore bucket config
// (type, config, prefix) exactly as Thanos and Kubecost users write it.
//
// The provider config, which holds the credentials, is reachable only through a
// function value: fmt (every verb, even through unexported fields of an
// enclosing struct, where String is not called), slog and encoding/json print
// only Type, the location and Prefix. Hand ProviderConfig() to the provider's
// NewBucket; print with Redacted(). For the same reason two parsed Stores are
// never reflect.DeepEqual: compare Type, Prefix and ProviderConfig().
type Store struct {
	Type   string // S3, GCS, AZURE or FILESYSTEM
	Prefix string // key prefix inside the bucket, "" for none
	p      func() *storeProvider
}

type storeProvider struct {
	cfg any    // s3.Config, gcs.Config, azure.Config or filesystem.Config, env expanded, defaults applied
	raw []byte // cfg as YAML, for the provider's own NewBucket
	src *source
}

// storeFile is the top level of federated-store.yaml; config is decoded in a
// second step, once type says which provider struct it is.
type storeFile struct {
	Type   string    `yaml:"type"`
	Config yaml.Node `yaml:"config"`
	Prefix string    `yaml:"prefix"`
}

// storeView is the shape Redacted prints: the whole effective file.
type storeView struct {
	Type   string `yaml:"type"`
	Config any    `yaml:"config"`
	Prefix string `yaml:"prefix"`
}

// newProviderConfig returns a pointer to a fresh copy of the provider's defaults.
func newProviderConfig(typ string) (any, bool) {
	switch typ {
	case StoreS3:
		c := s3.DefaultConfig
		// DefaultConfig shares its map; decoding into it would change objstore's default.
		c.PutUserMetadata = map[string]string{}
		return &c, true
	case StoreGCS:
		c := gcs.DefaultConfig
		return &c, true
	case StoreAzure:
		c := azure.DefaultConfig
		return &c, true
	case StoreFilesystem:
		return &filesystem.Config{}, true
	}
	return nil, false
}

func providerType(cfg any) string {
	switch cfg.(type) {
	case s3.Config:
		return StoreS3
	case gcs.Config:
		return StoreGCS
	case azure.Config:
		return StoreAzure
	case filesystem.Config:
		return StoreFilesystem
	}
	return ""
}

func storeTypeProblem(typ string) error {
	if strings.TrimSpace(typ) == "" {
		return fmt.Errorf("required: one of %s, %s, %s, %s", StoreS3, StoreGCS, StoreAzure, StoreFilesystem)
	}
	return fmt.Errorf("unsupported store type %q (supported: %s, %s, %s, %s)", truncate(typ, 40), StoreS3, StoreGCS, StoreAzure, StoreFilesystem)
}

// DefaultStore is the store used when none is configured: FILESYSTEM under
// ./data, no prefix.
func DefaultStore() Store {
	return Store{Type: StoreFilesystem, p: hide(&storeProvider{
		cfg: filesystem.Config{Directory: DefaultStoreDirectory},
		raw: []byte("directory: " + DefaultStoreDirectory + "\n"),
	})}
}

// NewFilesystemStore returns a FILESYSTEM store rooted at dir, e.g. for tests and
// the demo.
func NewFilesystemStore(dir, prefix string) (Store, error) {
	return newStore(StoreFilesystem, prefix, filesystem.Config{Directory: dir}, nil)
}

func newStore(typ, prefix string, cfg any, src *source) (Store, error) {
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return Store{}, fmt.Errorf("encode %s provider config: %w", typ, err)
	}
	return Store{Type: typ, Prefix: prefix, p: hide(&storeProvider{cfg: cfg, raw: raw, src: src})}, nil
}

// hide wraps the provider in a closure, which fmt prints as an address only.
func hide(p *storeProvider) func() *storeProvider {
	return func() *storeProvider { return p }
}

// get returns the hidden provider, or nil.
func (s Store) get() *storeProvider {
	if s.p == nil {
		return nil
	}
	return s.p()
}

// ParseStore decodes a federated-store.yaml strictly: unknown keys, at the top
// level and inside the provider's config, are errors with their line. ${VAR} in
// values is replaced through lookupEnv (nil: no variable is set). It does not
// validate; call Validate, or use LoadStore, which does both.
func ParseStore(data []byte, filename string, lookupEnv func(string) (string, bool)) (Store, error) {
	s, _, err := parseStore(data, filename, lookupEnv)
	if err != nil {
		return Store{}, err
	}
	return s, nil
}

// parseStore is ParseStore that also returns what it could decode when partial.
func parseStore(data []byte, filename string, lookupEnv func(string) (string, bool)) (s Store, partial bool, err error) {
	d := newDecoder(filename, lookupEnv)
	root, err := d.parse(data)
	if err != nil {
		return Store{}, false, err
	}
	d.expand(root, "")
	var f storeFile
	d.check(root, reflect.TypeOf(f), "")
	d.decode(root, &f)
	d.crossCheck(root, reflect.TypeOf(f))
	typ := strings.ToUpper(strings.TrimSpace(f.Type))
	cfg, ok := newProviderConfig(typ)
	if !ok {
		if !d.envErr {
			d.fail(d.src.lineOf("type"), "type", storeTypeProblem(f.Type))
		}
		return Store{Type: typ, Prefix: f.Prefix, p: hide(&storeProvider{src: d.src})}, d.decoded, d.err()
	}
	if !isNull(&f.Config) {
		d.check(&f.Config, reflect.TypeOf(cfg), "config")
		d.decode(&f.Config, cfg)
		d.crossCheck(&f.Config, reflect.TypeOf(cfg))
	}
	s, err = newStore(typ, f.Prefix, reflect.ValueOf(cfg).Elem().Interface(), d.src)
	if err != nil {
		return Store{}, false, err
	}
	return s, d.decoded, d.err()
}

// LoadStore reads, parses and validates a federated-store.yaml, returning every
// problem at once.
func LoadStore(path string, lookupEnv func(string) (string, bool)) (Store, error) {
	data, err := ReadFile(path)
	if err != nil {
		return Store{}, fmt.Errorf("read store config: %w", err)
	}
	s, partial, err := parseStore(data, path, lookupEnv)
	switch {
	case err != nil && !partial:
		return Store{}, err
	case err != nil:
		return Store{}, withValidation(err, s.Validate())
	}
	if err := s.Validate(); err != nil {
		return Store{}, err
	}
	return s, nil
}

// LoadStoreOrDefault is LoadStore, or DefaultStore when path is empty (the
// "store:" field of agent.yaml and federator.yaml).
func LoadStoreOrDefault(path string, lookupEnv func(string) (string, bool)) (Store, error) {
	if path == "" {
		return DefaultStore(), nil
	}
	return LoadStore(path, lookupEnv)
}

// provider returns the provider config for s.Type: the parsed one, or the
// provider's defaults for a Store built in code.
func (s Store) provider() any {
	if p := s.get(); p != nil && providerType(p.cfg) == s.Type {
		return p.cfg
	}
	c, ok := newProviderConfig(s.Type)
	if !ok {
		return nil
	}
	return reflect.ValueOf(c).Elem().Interface()
}

func (s Store) source() *source {
	if p := s.get(); p != nil {
		return p.src
	}
	return nil
}

// ProviderConfig returns the provider's config as YAML (env expanded, defaults
// applied) for objstore's provider NewBucket. It holds credentials: never log it.
// It is nil for a Store that was not parsed or built by this package.
func (s Store) ProviderConfig() []byte {
	p := s.get()
	if p == nil || providerType(p.cfg) != s.Type {
		return nil
	}
	return bytes.Clone(p.raw)
}

// Redacted returns the whole effective store config as YAML with every secret
// replaced by "<redacted>".
func (s Store) Redacted() ([]byte, error) {
	return marshalRedacted(storeView{Type: s.Type, Config: s.provider(), Prefix: s.Prefix})
}

// Location names the bucket without credentials: s3://bucket, gs://bucket,
// azure://account/container or the directory.
func (s Store) Location() string {
	switch c := s.provider().(type) {
	case s3.Config:
		return "s3://" + c.Bucket
	case gcs.Config:
		return "gs://" + c.Bucket
	case azure.Config:
		return "azure://" + c.StorageAccountName + "/" + c.ContainerName
	case filesystem.Config:
		return c.Directory
	}
	return ""
}

// String never prints credentials.
func (s Store) String() string {
	return fmt.Sprintf("Store{type: %s, location: %s, prefix: %q}", s.Type, s.Location(), s.Prefix)
}

// GoString never prints credentials.
func (s Store) GoString() string {
	return fmt.Sprintf("config.Store{Type:%q, Prefix:%q, Location:%q}", s.Type, s.Prefix, s.Location())
}

// LogValue never logs credentials.
func (s Store) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", s.Type), slog.String("location", s.Location()), slog.String("prefix", s.Prefix))
}

// RedactString replaces every credential of s found in text by "<redacted>". Use
// it on error messages from provider SDKs before they reach a log.
func (s Store) RedactString(text string) string {
	return scrub(text, s.secrets())
}

// secrets lists the values of the provider config's secret keys.
func (s Store) secrets() []string {
	var n yaml.Node
	if err := n.Encode(s.provider()); err != nil {
		return nil
	}
	var out []string
	collectSecrets(&n, &out)
	return out
}

func collectSecrets(n *yaml.Node, out *[]string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			collectSecrets(c, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if isSecretKey(k.Value) && v.Kind == yaml.ScalarNode && v.Value != "" {
				*out = append(*out, v.Value)
				continue
			}
			collectSecrets(v, out)
		}
	}
}

// Validate reports every problem of the store config at once, each naming its
// field (e.g. "config.endpoint: required"). Messages never contain secret values.
func (s Store) Validate() error {
	p := &problems{src: s.source()}
	switch c := s.provider().(type) {
	case s3.Config:
		validateS3(p, c)
	case gcs.Config:
		validateGCS(p, c)
	case azure.Config:
		validateAzure(p, c)
	case filesystem.Config:
		if strings.TrimSpace(c.Directory) == "" {
			p.addf("config.directory", "required")
		}
	default:
		p.add("type", storeTypeProblem(s.Type))
	}
	validatePrefix(p, s.Prefix)
	return p.err()
}

func validatePrefix(p *problems, prefix string) {
	for _, seg := range strings.Split(prefix, "/") {
		if seg == "." || seg == ".." {
			p.addf("prefix", `must not contain "." or ".." segments`)
			return
		}
	}
	if strings.ContainsAny(prefix, "\\\x00") {
		p.addf("prefix", "must not contain backslashes or NUL")
	}
}

func validateS3(p *problems, c s3.Config) {
	if c.Bucket == "" {
		p.addf("config.bucket", "required")
	}
	switch {
	case c.Endpoint == "":
		p.addf("config.endpoint", "required (e.g. s3.amazonaws.com or s3.us-east-1.amazonaws.com)")
	case strings.Contains(c.Endpoint, "://"):
		p.addf("config.endpoint", "must be host[:port] without a scheme (set insecure: true for plain http)")
	case strings.Contains(c.Endpoint, "/"):
		p.addf("config.endpoint", "must be host[:port] without a path")
	}
	if c.AWSSDKAuth && (c.AccessKey != "" || c.SecretKey != "") {
		p.addf("config.aws_sdk_auth", "cannot be combined with access_key/secret_key: aws_sdk_auth uses the AWS SDK credential chain")
	}
	if c.AccessKey != "" && c.SecretKey == "" {
		p.addf("config.secret_key", "required when access_key is set (set both, or neither to use the environment, a credentials file or IAM)")
	}
	if c.SecretKey != "" && c.AccessKey == "" {
		p.addf("config.access_key", "required when secret_key is set (set both, or neither to use the environment, a credentials file or IAM)")
	}
	if c.SessionToken != "" && (c.AccessKey == "" || c.SecretKey == "") {
		p.addf("config.session_token", "only used together with access_key and secret_key")
	}
	switch c.ListObjectsVersion {
	case "", "v1", "v2":
	default:
		p.addf("config.list_objects_version", "must be v1 or v2, got %q", truncate(c.ListObjectsVersion, 20))
	}
	validateSSE(p, c.SSEConfig)
	if !c.DisableMultipart && c.PartSize != 0 && c.PartSize < 5<<20 {
		p.addf("config.part_size", "must be at least 5 MiB (S3's smallest multipart part), or 0 for the client's choice")
	}
	if c.PartSize > 5<<30 {
		p.addf("config.part_size", "must be at most 5 GiB (S3's largest multipart part)")
	}
	nonNegative(p, "config.max_retries", c.MaxRetries)
	validateHTTP(p, "config.http_config", c.HTTPConfig)
}

func validateSSE(p *problems, c s3.SSEConfig) {
	switch c.Type {
	case "", s3.SSES3:
	case s3.SSEKMS:
		if c.KMSKeyID == "" {
			p.addf("config.sse_config.kms_key_id", "required when sse_config.type is SSE-KMS")
		}
	case s3.SSEC:
		if c.EncryptionKey == "" {
			p.addf("config.sse_config.encryption_key", "required when sse_config.type is SSE-C (path to the key file)")
		}
	default:
		p.addf("config.sse_config.type", "must be SSE-S3, SSE-KMS or SSE-C, got %q", truncate(c.Type, 20))
	}
}

func validateHTTP(p *problems, field string, c exthttp.HTTPConfig) {
	nonNegative(p, field+".max_idle_conns", c.MaxIdleConns)
	nonNegative(p, field+".max_idle_conns_per_host", c.MaxIdleConnsPerHost)
	nonNegative(p, field+".max_conns_per_host", c.MaxConnsPerHost)
	validateCertPair(p, field+".tls_config", c.TLSConfig.CertFile, c.TLSConfig.KeyFile)
}

func validateCertPair(p *problems, field, cert, key string) {
	if cert != "" && key == "" {
		p.addf(field+".key_file", "required when cert_file is set")
	}
	if key != "" && cert == "" {
		p.addf(field+".cert_file", "required when key_file is set")
	}
}

func validateGCS(p *problems, c gcs.Config) {
	if c.Bucket == "" {
		p.addf("config.bucket", "required")
	}
	if c.ServiceAccount != "" && !json.Valid([]byte(c.ServiceAccount)) {
		p.addf("config.service_account", "must be the JSON text of a service account key (not a file path)")
	}
	nonNegative(p, "config.grpc_conn_pool_size", c.GRPCConnPoolSize)
	nonNegative(p, "config.chunk_size_bytes", c.ChunkSizeBytes)
	nonNegative(p, "config.max_retries", c.MaxRetries)
	validateHTTP(p, "config.http_config", c.HTTPConfig)
}

func validateAzure(p *problems, c azure.Config) {
	if c.StorageAccountName == "" {
		p.addf("config.storage_account", "required")
	}
	if c.ContainerName == "" {
		p.addf("config.container", "required")
	}
	if c.Endpoint == "" {
		p.addf("config.endpoint", "required (e.g. blob.core.windows.net)")
	}
	if c.UserAssignedID != "" {
		for _, other := range []struct {
			name string
			set  bool
		}{
			{"storage_account_key", c.StorageAccountKey != ""},
			{"storage_connection_string", c.StorageConnectionString != ""},
			{"client_id", c.ClientID != ""},
		} {
			if other.set {
				p.addf("config.user_assigned_id", "cannot be combined with %s", other.name)
			}
		}
	}
	n := 0
	for _, v := range []string{c.AzTenantID, c.ClientID, c.ClientSecret} {
		if v != "" {
			n++
		}
	}
	if n != 0 && n != 3 {
		p.addf("config.client_secret", "az_tenant_id, client_id and client_secret must be set together")
	}
	if c.StorageAccountKey != "" && c.StorageConnectionString != "" {
		p.addf("config.storage_connection_string", "cannot be combined with storage_account_key")
	}
	nonNegative(p, "config.pipeline_config.max_tries", int(c.PipelineConfig.MaxTries))
	nonNegative(p, "config.reader_config.max_retry_requests", c.ReaderConfig.MaxRetryRequests)
	nonNegative(p, "config.max_retries", c.MaxRetries)
	validateHTTP(p, "config.http_config", c.HTTPConfig)
}

func nonNegative(p *problems, field string, v int) {
	if v < 0 {
		p.addf(field, "must not be negative")
	}
}

// S3Config returns the parsed S3 provider config (defaults applied, env
// expanded) when s is an S3 store. Its maps are copies, so the caller may
// keep it. Building the bucket from it (s3.NewBucketWithConfig) rather than
// from YAML avoids objstore's parser, which decodes into the package-level
// s3.DefaultConfig and so shares its put_user_metadata map between buckets:
// the second S3 bucket of a process would then fail with "key already set".
func (s Store) S3Config() (s3.Config, bool) {
	c, ok := s.provider().(s3.Config)
	if !ok {
		return s3.Config{}, false
	}
	c.PutUserMetadata = maps.Clone(c.PutUserMetadata)
	if c.PutUserMetadata == nil {
		c.PutUserMetadata = map[string]string{}
	}
	c.SSEConfig.KMSEncryptionContext = maps.Clone(c.SSEConfig.KMSEncryptionContext)
	return c, true
}
