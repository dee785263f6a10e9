package config

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Prometheus auth types.
const (
	AuthNone   = "none"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
	AuthSigV4  = "sigv4"
)

// Default retentions per resolution, as Kubecost's federated ETL keeps them
// (etlHourlyStoreDurationHours 49, etlDailyStoreDurationDays 91).
const (
	DefaultHourlyRetention = Duration(49 * time.Hour)
	DefaultDailyRetention  = Duration(91 * 24 * time.Hour)
)

// Agent is agent.yaml: how one cluster's agent reads its metrics, which windows
// it builds and where it writes them. With Clusters set it is a central agent
// (the Quick-Start architecture): one process builds the blocks of many
// clusters that share one workspace, each exactly as ForCluster's per-cluster
// config would.
type Agent struct {
	// ClusterID names this cluster's prefix federated/<cluster_id>/; required
	// unless Clusters is set, and empty when it is.
	ClusterID string `yaml:"cluster_id"`
	// Clusters, when set, makes this a central agent for the clusters it
	// lists or discovers; nil is a per-cluster agent for ClusterID.
	Clusters *Clusters `yaml:"clusters,omitempty"`
	// Store is the path of federated-store.yaml; "" uses DefaultStore.
	Store string `yaml:"store"`
	// ProducerInstance is recorded in each block's metadata; "" lets the
	// command use the host name.
	ProducerInstance string       `yaml:"producer_instance"`
	Prometheus       Prometheus   `yaml:"prometheus"`
	Resolutions      []Resolution `yaml:"resolutions"`
	// Schedule is the cron spec of build runs.
	Schedule string `yaml:"schedule"`
	// SettleDelay is how long after a window ends it is still rebuilt, so late
	// samples and the last scrape make it in before it is final.
	SettleDelay   Duration `yaml:"settle_delay"`
	ListenAddress string   `yaml:"listen_address"`
	Prices        Prices   `yaml:"prices"`

	src *source
}

// Clusters is the central agent's set of clusters: exactly one of IDs and
// Discover.
type Clusters struct {
	// IDs lists the clusters to build, each a valid cluster id.
	IDs []string `yaml:"ids,omitempty"`
	// Discover finds the cluster ids present in the workspace through
	// prometheus.cluster_label, once per schedule tick.
	Discover bool `yaml:"discover,omitempty"`
}

// Central reports whether a is a central agent (clusters: is set).
func (a Agent) Central() bool { return a.Clusters != nil }

// ForCluster returns the per-cluster config a central agent builds cluster id
// with: a's settings with cluster_id set to id, clusters unset and
// prometheus.cluster_filter on, so that every selector is restricted to
// cluster_label="<id>". Blocks built from it are those a per-cluster agent
// with that config would build.
func (a Agent) ForCluster(id string) Agent {
	out := a
	out.ClusterID = id
	out.Clusters = nil
	out.Prometheus.ClusterFilter = true
	return out
}

// Prometheus is where and how the agent queries metrics.
type Prometheus struct {
	// URL is the base URL of the Prometheus-compatible API, without /api/v1:
	// http://prometheus:9090, an AMP workspace
	// https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>, or a SigV4
	// proxy http://localhost:8005/workspaces/<id>.
	URL string `yaml:"url"`
	// TSDBPath is a Prometheus TSDB directory (a snapshot, downloaded
	// blocks, or promtool's output) read in-process instead of URL, for
	// backfill and rebuild of history the live store no longer holds.
	// Exactly one of URL and TSDBPath is set; auth, headers and tls mean
	// nothing with it and are rejected.
	TSDBPath string            `yaml:"tsdb_path"`
	Auth     Auth              `yaml:"auth"`
	Headers  map[string]Secret `yaml:"headers"`
	TLS      TLS               `yaml:"tls"`
	// ClusterLabel is the label that carries the cluster id on every series.
	ClusterLabel string `yaml:"cluster_label"`
	// ClusterFilter adds ClusterLabel="<cluster_id>" to every selector (a
	// workspace shared by several clusters).
	ClusterFilter bool     `yaml:"cluster_filter"`
	QueryStep     Duration `yaml:"query_step"`
	Concurrency   int      `yaml:"concurrency"`
	QueryTimeout  Duration `yaml:"query_timeout"`
	MaxQueryRange Duration `yaml:"max_query_range"`
	Retries       int      `yaml:"retries"`
	RetryMaxWait  Duration `yaml:"retry_max_wait"`
}

// Auth is how requests to Prometheus authenticate. An empty Type is inferred
// (see Prometheus.AuthType).
type Auth struct {
	Type            string `yaml:"type"`
	Username        string `yaml:"username"`
	Password        Secret `yaml:"password"`
	PasswordFile    string `yaml:"password_file"`
	BearerToken     Secret `yaml:"bearer_token"`
	BearerTokenFile string `yaml:"bearer_token_file"`
	SigV4           SigV4  `yaml:"sigv4"`
}

// SigV4 signs requests for Amazon Managed Service for Prometheus (service "aps").
// Without keys, the AWS SDK default credential chain is used (IRSA, env, files).
type SigV4 struct {
	Region     string `yaml:"region"`
	RoleARN    string `yaml:"role_arn"`
	AccessKey  Secret `yaml:"access_key"`
	SecretKey  Secret `yaml:"secret_key"`
	Profile    string `yaml:"profile"`
	ExternalID string `yaml:"external_id"`
}

// TLS is the client TLS config for the Prometheus connection.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Resolution is one block resolution the agent builds and how long its blocks
// are kept.
type Resolution struct {
	Resolution Duration `yaml:"resolution"`
	Retention  Duration `yaml:"retention"`
}

// Prices are the fallback prices, in dollars, for nodes without the cost
// exporter's price metrics.
type Prices struct {
	Default Price `yaml:"default"`
	// InstanceTypes overrides Default per node instance type (the
	// node.kubernetes.io/instance-type label); unset fields inherit Default.
	InstanceTypes map[string]PriceOverride `yaml:"instance_types"`
	// ClusterManagementHour is the cluster's management fee in dollars per
	// hour (EKS charges $0.10 per cluster-hour), charged as a
	// ClusterManagement asset while any node of the cluster exists; 0
	// means no such asset.
	ClusterManagementHour float64 `yaml:"cluster_management_hour"`
}

// Price is a full price list.
type Price struct {
	CPUCoreHour float64   `yaml:"cpu_core_hour"`
	RAMGiBHour  float64   `yaml:"ram_gib_hour"`
	GPUHour     float64   `yaml:"gpu_hour"`
	PVGiBHour   float64   `yaml:"pv_gib_hour"`
	Spot        SpotPrice `yaml:"spot"`
}

// SpotPrice is the price of CPU and RAM on spot nodes (GPUs cost GPUHour on
// spot nodes too).
type SpotPrice struct {
	CPUCoreHour float64 `yaml:"cpu_core_hour"`
	RAMGiBHour  float64 `yaml:"ram_gib_hour"`
}

// PriceOverride replaces some prices of Default for one instance type.
type PriceOverride struct {
	CPUCoreHour *float64     `yaml:"cpu_core_hour,omitempty"`
	RAMGiBHour  *float64     `yaml:"ram_gib_hour,omitempty"`
	GPUHour     *float64     `yaml:"gpu_hour,omitempty"`
	Spot        SpotOverride `yaml:"spot,omitempty"`
}

// SpotOverride replaces some spot prices of Default for one instance type.
type SpotOverride struct {
	CPUCoreHour *float64 `yaml:"cpu_core_hour,omitempty"`
	RAMGiBHour  *float64 `yaml:"ram_gib_hour,omitempty"`
}

// DefaultPrices are OpenCost's default custom prices.
func DefaultPrices() Prices {
	return Prices{Default: Price{
		CPUCoreHour: 0.031611,
		RAMGiBHour:  0.004237,
		GPUHour:     0.95,
		PVGiBHour:   0.00005479,
		Spot:        SpotPrice{CPUCoreHour: 0.006655, RAMGiBHour: 0.000892},
	}}
}

// For returns the prices of an instance type: Default with its overrides applied.
func (p Prices) For(instanceType string) Price {
	out := p.Default
	o, ok := p.InstanceTypes[instanceType]
	if !ok {
		return out
	}
	setIf(&out.CPUCoreHour, o.CPUCoreHour)
	setIf(&out.RAMGiBHour, o.RAMGiBHour)
	setIf(&out.GPUHour, o.GPUHour)
	setIf(&out.Spot.CPUCoreHour, o.Spot.CPUCoreHour)
	setIf(&out.Spot.RAMGiBHour, o.Spot.RAMGiBHour)
	return out
}

func setIf(dst *float64, v *float64) {
	if v != nil {
		*dst = *v
	}
}

// DefaultAgent returns agent.yaml's defaults; ClusterID and Prometheus.URL (or
// Prometheus.TSDBPath) have none and must be set.
func DefaultAgent() Agent {
	return Agent{
		Prometheus: Prometheus{
			ClusterLabel:  "cluster_id",
			QueryStep:     Duration(time.Minute),
			Concurrency:   5,
			QueryTimeout:  Duration(2 * time.Minute),
			MaxQueryRange: Duration(24 * time.Hour),
			Retries:       5,
			RetryMaxWait:  Duration(10 * time.Second),
		},
		Resolutions: []Resolution{
			{Resolution: Duration(time.Hour), Retention: DefaultHourlyRetention},
			{Resolution: Duration(24 * time.Hour), Retention: DefaultDailyRetention},
		},
		Schedule:      "*/10 * * * *",
		SettleDelay:   Duration(10 * time.Minute),
		ListenAddress: ":9004",
		Prices:        DefaultPrices(),
	}
}

// ParseAgent decodes agent.yaml strictly over DefaultAgent, expands ${VAR}
// through lookupEnv (nil: no variable is set) and fills derived defaults (auth
// type, SigV4 region, per-resolution retention). It does not validate; call
// Validate, or use LoadAgent.
func ParseAgent(data []byte, filename string, lookupEnv func(string) (string, bool)) (Agent, error) {
	a, _, err := parseAgent(data, filename, lookupEnv)
	if err != nil {
		return Agent{}, err
	}
	return a, nil
}

// parseAgent is ParseAgent that also returns what it could decode when partial.
func parseAgent(data []byte, filename string, lookupEnv func(string) (string, bool)) (Agent, bool, error) {
	a := DefaultAgent()
	src, partial, err := decodeFile(data, filename, lookupEnv, &a)
	if src == nil || !partial {
		return Agent{}, false, err
	}
	a.src = src
	a.Prometheus.Auth.Type = a.Prometheus.AuthType()
	if _, set := src.lines["prometheus.cluster_filter"]; a.Clusters != nil && !set {
		// a central agent always filters by cluster; show it in the effective config
		a.Prometheus.ClusterFilter = true
	}
	if a.Prometheus.Auth.Type == AuthSigV4 {
		a.Prometheus.Auth.SigV4.Region = a.Prometheus.SigV4Region()
	}
	for i := range a.Resolutions {
		if _, set := src.lines[indexPath("resolutions", i)+".retention"]; !set {
			a.Resolutions[i].Retention = defaultRetention(a.Resolutions[i].Resolution)
		}
	}
	return a, true, err
}

func defaultRetention(res Duration) Duration {
	if res == Duration(time.Hour) {
		return DefaultHourlyRetention
	}
	return DefaultDailyRetention
}

// LoadAgent reads, parses and validates agent.yaml, returning every problem at
// once. Relative file paths in it (store, tsdb_path, password_file,
// bearer_token_file, tls files) are taken relative to the directory of path, as Prometheus does.
func LoadAgent(path string, lookupEnv func(string) (string, bool)) (Agent, error) {
	data, err := ReadFile(path)
	if err != nil {
		return Agent{}, fmt.Errorf("read agent config: %w", err)
	}
	a, partial, err := parseAgent(data, path, lookupEnv)
	if err != nil && !partial {
		return Agent{}, err
	}
	dir := filepath.Dir(path)
	for _, f := range []*string{
		&a.Store, &a.Prometheus.TSDBPath, &a.Prometheus.Auth.PasswordFile, &a.Prometheus.Auth.BearerTokenFile,
		&a.Prometheus.TLS.CAFile, &a.Prometheus.TLS.CertFile, &a.Prometheus.TLS.KeyFile,
	} {
		*f = resolvePath(dir, *f)
	}
	if err != nil {
		return Agent{}, withValidation(err, a.Validate())
	}
	if err := a.Validate(); err != nil {
		return Agent{}, err
	}
	return a, nil
}

func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// AuthType returns Auth.Type, or when it is empty the type the other fields
// imply: sigv4 when a sigv4 field is set or the URL is an AMP workspace, bearer
// when a bearer token is set, basic when a username or password is set, else none.
func (p Prometheus) AuthType() string {
	a := p.Auth
	switch {
	case a.Type != "":
		return strings.ToLower(a.Type)
	case a.SigV4 != (SigV4{}) || ampRegion(p.URL) != "":
		return AuthSigV4
	case a.BearerToken != "" || a.BearerTokenFile != "":
		return AuthBearer
	case a.Username != "" || a.Password != "" || a.PasswordFile != "":
		return AuthBasic
	}
	return AuthNone
}

// SigV4Region returns Auth.SigV4.Region, or the region of an AMP workspace URL
// (https://aps-workspaces.<region>.amazonaws.com/…), or "" (the SDK's default).
func (p Prometheus) SigV4Region() string {
	if p.Auth.SigV4.Region != "" {
		return p.Auth.SigV4.Region
	}
	return ampRegion(p.URL)
}

// ampRegion returns the region of an AMP workspace URL, "" for any other URL.
func ampRegion(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	rest, ok := strings.CutPrefix(host, "aps-workspaces.")
	if !ok {
		rest, ok = strings.CutPrefix(host, "aps-workspaces-fips.")
	}
	if !ok {
		return ""
	}
	region, domain, ok := strings.Cut(rest, ".")
	if !ok || (domain != "amazonaws.com" && domain != "amazonaws.com.cn") {
		return ""
	}
	return region
}

// Redacted returns the effective agent config as YAML with every secret
// replaced by "<redacted>".
func (a Agent) Redacted() ([]byte, error) { return marshalRedacted(a) }

// Validate reports every problem at once, each naming its field path (and line
// when the config came from a file).
func (a Agent) Validate() error {
	p := &problems{src: a.src}
	if a.Clusters == nil {
		if err := ValidateClusterID(a.ClusterID); err != nil {
			p.add("cluster_id", err)
		}
	} else {
		a.validateCentral(p)
	}
	if len(a.ProducerInstance) > 253 || strings.IndexFunc(a.ProducerInstance, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		p.addf("producer_instance", "must be at most 253 printable characters without spaces")
	}
	a.Prometheus.validate(p, "prometheus")
	validateResolutions(p, a.Resolutions, a.Prometheus.QueryStep)
	if err := ValidateSchedule(a.Schedule); err != nil {
		p.add("schedule", err)
	}
	if a.SettleDelay < 0 {
		p.addf("settle_delay", "must not be negative")
	}
	validateListen(p, "listen_address", a.ListenAddress)
	a.Prices.validate(p, "prices")
	return p.err()
}

// validateCentral checks a central agent's clusters: section and what it
// excludes.
func (a Agent) validateCentral(p *problems) {
	c := a.Clusters
	if a.ClusterID != "" {
		p.addf("cluster_id", "must be empty when clusters is set: a central agent builds every cluster in clusters.ids or found by clusters.discover (remove cluster_id, or remove clusters for a per-cluster agent)")
	}
	switch {
	case len(c.IDs) > 0 && c.Discover:
		p.addf("clusters", "set ids or discover: true, not both")
	case len(c.IDs) == 0 && !c.Discover:
		p.addf("clusters", "set ids (a list of cluster ids) or discover: true (find them through prometheus.cluster_label)")
	}
	seen := make(map[string]int, len(c.IDs))
	for i, id := range c.IDs {
		field := indexPath("clusters.ids", i)
		if err := ValidateClusterID(id); err != nil {
			p.add(field, err)
			continue
		}
		if j, dup := seen[id]; dup {
			p.addf(field, "%q is listed twice (also clusters.ids[%d])", id, j)
			continue
		}
		seen[id] = i
	}
	if !a.Prometheus.ClusterFilter {
		p.addf("prometheus.cluster_filter", "must be true (or unset) when clusters is set: a central agent reads each cluster's series through cluster_label")
	}
}

// Offline reports whether the source is a local TSDB directory (tsdb_path)
// rather than an HTTP endpoint.
func (p Prometheus) Offline() bool { return p.TSDBPath != "" }

func (pr Prometheus) validate(p *problems, field string) {
	switch {
	case pr.URL != "" && pr.TSDBPath != "":
		p.addf(field+".tsdb_path", "cannot be combined with url; set url for a live endpoint or tsdb_path for a TSDB directory, not both")
	case pr.TSDBPath != "":
		pr.validateOffline(p, field)
	default:
		validatePromURL(p, field+".url", pr.URL)
	}
	if pr.TSDBPath == "" {
		pr.validateAuth(p, field+".auth")
	}
	for _, name := range slices.Sorted(maps.Keys(pr.Headers)) {
		if !validHeaderName(name) {
			p.addf(keyPath(field+".headers", name), "not a valid HTTP header name")
		}
		if strings.EqualFold(name, "Authorization") && pr.AuthType() != AuthNone {
			p.addf(keyPath(field+".headers", name), "conflicts with auth.type %s; set one of them", pr.AuthType())
		}
	}
	validateCertPair(p, field+".tls", pr.TLS.CertFile, pr.TLS.KeyFile)
	if !validLabelName(pr.ClusterLabel) {
		p.addf(field+".cluster_label", "must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
	}
	step := time.Duration(pr.QueryStep)
	switch {
	case step < time.Second || step > time.Hour:
		p.addf(field+".query_step", "must be from 1s to 1h")
	case time.Hour%step != 0:
		p.addf(field+".query_step", "must divide 1h evenly (e.g. 30s, 1m, 5m)")
	}
	if pr.Concurrency < 1 || pr.Concurrency > 100 {
		p.addf(field+".concurrency", "must be from 1 to 100")
	}
	if pr.QueryTimeout <= 0 {
		p.addf(field+".query_timeout", "must be positive")
	}
	if pr.MaxQueryRange <= 0 || pr.MaxQueryRange < pr.QueryStep {
		p.addf(field+".max_query_range", "must be positive and at least query_step")
	}
	if pr.Retries < 0 || pr.Retries > 20 {
		p.addf(field+".retries", "must be from 0 to 20")
	}
	if pr.Retries > 0 && pr.RetryMaxWait <= 0 {
		p.addf(field+".retry_max_wait", "must be positive when retries is set")
	}
}

// validateOffline rejects the HTTP-only settings next to tsdb_path: a TSDB
// directory is read in-process, so there is nothing to authenticate to.
func (pr Prometheus) validateOffline(p *problems, field string) {
	if strings.ContainsRune(pr.TSDBPath, 0) {
		p.addf(field+".tsdb_path", "must be a directory path")
	}
	const why = "only applies to url (an HTTP endpoint); a tsdb_path directory is read in-process"
	auth := pr.Auth
	if strings.EqualFold(auth.Type, AuthNone) {
		auth.Type = "" // parsing fills in the implied "none"
	}
	if auth != (Auth{}) {
		p.addf(field+".auth", "%s", why)
	}
	for _, name := range slices.Sorted(maps.Keys(pr.Headers)) {
		p.addf(keyPath(field+".headers", name), "%s", why)
	}
	if pr.TLS != (TLS{}) {
		p.addf(field+".tls", "%s", why)
	}
}

func validatePromURL(p *problems, field, raw string) {
	if raw == "" {
		p.addf(field, "required (e.g. http://prometheus:9090 or https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>), or tsdb_path for a TSDB directory")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.addf(field, "must be an absolute http(s) URL")
		return
	}
	if strings.Contains(u.Path, "/api/v1") {
		p.addf(field, "must be the base URL, without /api/v1/… (the client adds it)")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		p.addf(field, "must not have a query or fragment")
	}
	if _, ok := u.User.Password(); ok {
		p.addf(field, "must not contain a password; use auth.type basic with password or password_file")
	}
}

func (pr Prometheus) validateAuth(p *problems, field string) {
	a := pr.Auth
	typ := pr.AuthType()
	// fields set for another auth type are mistakes, not silently ignored
	basicSet := a.Username != "" || a.Password != "" || a.PasswordFile != ""
	bearerSet := a.BearerToken != "" || a.BearerTokenFile != ""
	sigv4Set := a.SigV4 != (SigV4{})
	switch typ {
	case AuthNone:
	case AuthBasic:
		if a.Username == "" {
			p.addf(field+".username", "required when auth.type is basic")
		}
		validateExclusive(p, field+".password", a.Password != "", a.PasswordFile != "", "password", "password_file")
	case AuthBearer:
		if !bearerSet {
			p.addf(field+".bearer_token", "bearer_token or bearer_token_file required when auth.type is bearer")
		}
		validateExclusive(p, field+".bearer_token", a.BearerToken != "", a.BearerTokenFile != "", "bearer_token", "bearer_token_file")
	case AuthSigV4:
		s := a.SigV4
		if (s.AccessKey == "") != (s.SecretKey == "") {
			p.addf(field+".sigv4.secret_key", "access_key and secret_key must be set together (or neither, for the AWS credential chain)")
		}
		if s.Profile != "" && s.AccessKey != "" {
			p.addf(field+".sigv4.profile", "cannot be combined with access_key/secret_key")
		}
		if s.ExternalID != "" && s.RoleARN == "" {
			p.addf(field+".sigv4.external_id", "only used with role_arn")
		}
	default:
		p.addf(field+".type", "must be none, basic, bearer or sigv4, got %q", truncate(a.Type, 20))
		return
	}
	if basicSet && typ != AuthBasic {
		p.addf(field+".username", "username/password set but auth.type is %s", typ)
	}
	if bearerSet && typ != AuthBearer {
		p.addf(field+".bearer_token", "bearer token set but auth.type is %s", typ)
	}
	if sigv4Set && typ != AuthSigV4 {
		p.addf(field+".sigv4", "sigv4 set but auth.type is %s", typ)
	}
	if typ != AuthSigV4 && ampRegion(pr.URL) != "" {
		p.addf(field+".type", "an AMP workspace URL needs auth.type sigv4 (or use a SigV4 proxy URL)")
	}
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validLabelName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func validateResolutions(p *problems, rs []Resolution, step Duration) {
	if len(rs) == 0 {
		p.addf("resolutions", "at least one resolution (1h or 1d) is required")
	}
	seen := map[Duration]bool{}
	for i, r := range rs {
		field := indexPath("resolutions", i)
		if r.Resolution != Duration(time.Hour) && r.Resolution != Duration(24*time.Hour) {
			p.addf(field+".resolution", "must be 1h or 1d, got %s", r.Resolution)
			continue
		}
		if seen[r.Resolution] {
			p.addf(field+".resolution", "%s is listed twice", r.Resolution)
		}
		seen[r.Resolution] = true
		if r.Retention < r.Resolution {
			p.addf(field+".retention", "must be at least the resolution (%s)", r.Resolution)
		}
	}
}

func (pr Prices) validate(p *problems, field string) {
	d := pr.Default
	validatePrice(p, field+".default.cpu_core_hour", d.CPUCoreHour)
	validatePrice(p, field+".default.ram_gib_hour", d.RAMGiBHour)
	validatePrice(p, field+".default.gpu_hour", d.GPUHour)
	validatePrice(p, field+".default.pv_gib_hour", d.PVGiBHour)
	validatePrice(p, field+".default.spot.cpu_core_hour", d.Spot.CPUCoreHour)
	validatePrice(p, field+".default.spot.ram_gib_hour", d.Spot.RAMGiBHour)
	validatePrice(p, field+".cluster_management_hour", pr.ClusterManagementHour)
	for _, name := range slices.Sorted(maps.Keys(pr.InstanceTypes)) {
		o := pr.InstanceTypes[name]
		f := keyPath(field+".instance_types", name)
		if strings.TrimSpace(name) == "" {
			p.addf(f, "instance type name must not be empty")
		}
		for _, v := range []struct {
			name string
			v    *float64
		}{
			{"cpu_core_hour", o.CPUCoreHour}, {"ram_gib_hour", o.RAMGiBHour}, {"gpu_hour", o.GPUHour},
			{"spot.cpu_core_hour", o.Spot.CPUCoreHour}, {"spot.ram_gib_hour", o.Spot.RAMGiBHour},
		} {
			if v.v != nil {
				validatePrice(p, f+"."+v.name, *v.v)
			}
		}
	}
}
