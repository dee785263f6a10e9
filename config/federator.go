package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// Federator is federator.yaml: how the federator merges cluster blocks into the
// combined store, and (section server) how `costfed serve` answers queries.
type Federator struct {
	// Store is the path of federated-store.yaml; "" uses DefaultStore.
	Store string `yaml:"store"`
	// Schedule is the cron spec of merge passes (ignored with --once).
	Schedule string          `yaml:"schedule"`
	Clusters ClusterSelector `yaml:"clusters"`
	// Cutoff, when set, ignores windows that end before it.
	Cutoff    Time      `yaml:"cutoff,omitempty"`
	Retention Retention `yaml:"retention"`
	// ListenAddress serves /metrics, /healthz and /status of the federator.
	ListenAddress string `yaml:"listen_address"`
	// StaleAfter marks a cluster stale when its newest block is older.
	StaleAfter Duration `yaml:"stale_after"`
	// CheckCombined is how each pass verifies the combined blocks before
	// planning, so a damaged one is merged again: size, digest or none.
	CheckCombined string `yaml:"check_combined"`
	Server        Server `yaml:"server"`

	src *source
}

// ClusterSelector chooses the clusters to federate: every cluster in Allow (all
// clusters when Allow is empty) except those in Deny.
type ClusterSelector struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}

// Allowed reports whether cluster id is federated.
func (c ClusterSelector) Allowed(id string) bool {
	if slices.Contains(c.Deny, id) {
		return false
	}
	return len(c.Allow) == 0 || slices.Contains(c.Allow, id)
}

// Retention is how far back the combined store is merged and kept, per
// resolution.
type Retention struct {
	Hourly Duration `yaml:"1h"`
	Daily  Duration `yaml:"1d"`
	// MaxExpireShare is the largest fraction (0 < share ≤ 1) of a resolution's
	// combined windows one pass may expire; more halts the federator unless
	// it runs with --force. A clock, retention or store far from what was
	// meant (a demo store from 2024, 49m typed for 49h) then stops with a
	// message instead of emptying the combined store.
	MaxExpireShare float64 `yaml:"max_expire_share"`
}

// Values of check_combined.
const (
	// CheckSize compares each combined block's size with the index: one
	// attributes (HEAD) call a window a pass.
	CheckSize = "size"
	// CheckDigest downloads each combined block and compares its SHA-256:
	// the whole combined store read on every pass.
	CheckDigest = "digest"
	// CheckNone trusts the combined index.
	CheckNone = "none"
)

// DefaultMaxExpireShare is retention.max_expire_share's default.
const DefaultMaxExpireShare = 0.5

// Server is the query API of `costfed serve`.
type Server struct {
	// ListenAddress defaults to :9003, OpenCost's port.
	ListenAddress string `yaml:"listen_address"`
	// BearerToken, when set, is required on every query request.
	BearerToken     Secret `yaml:"bearer_token"`
	BearerTokenFile string `yaml:"bearer_token_file"`
	// CacheBytes bounds the in-memory cache of per-block answers (a block
	// aggregated for one question); 0 disables it.
	CacheBytes   Bytes    `yaml:"cache_bytes"`
	ReadTimeout  Duration `yaml:"read_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
}

// DefaultFederator returns federator.yaml's defaults.
func DefaultFederator() Federator {
	return Federator{
		Schedule:      "*/30 * * * *",
		Retention:     Retention{Hourly: DefaultHourlyRetention, Daily: DefaultDailyRetention, MaxExpireShare: DefaultMaxExpireShare},
		ListenAddress: ":9005",
		StaleAfter:    Duration(3 * time.Hour),
		CheckCombined: CheckSize,
		Server: Server{
			ListenAddress: ":9003",
			CacheBytes:    256 << 20,
			ReadTimeout:   Duration(30 * time.Second),
			WriteTimeout:  Duration(2 * time.Minute),
		},
	}
}

// ParseFederator decodes federator.yaml strictly over DefaultFederator and
// expands ${VAR} through lookupEnv (nil: no variable is set). It does not
// validate; call Validate, or use LoadFederator.
func ParseFederator(data []byte, filename string, lookupEnv func(string) (string, bool)) (Federator, error) {
	f, _, err := parseFederator(data, filename, lookupEnv)
	if err != nil {
		return Federator{}, err
	}
	return f, nil
}

// parseFederator is ParseFederator that also returns what it could decode when
// partial.
func parseFederator(data []byte, filename string, lookupEnv func(string) (string, bool)) (Federator, bool, error) {
	f := DefaultFederator()
	src, partial, err := decodeFile(data, filename, lookupEnv, &f)
	if src == nil || !partial {
		return Federator{}, false, err
	}
	f.src = src
	return f, true, err
}

// LoadFederator reads, parses and validates federator.yaml, returning every
// problem at once. Relative file paths in it (store, server.bearer_token_file)
// are taken relative to the directory of path.
func LoadFederator(path string, lookupEnv func(string) (string, bool)) (Federator, error) {
	data, err := ReadFile(path)
	if err != nil {
		return Federator{}, fmt.Errorf("read federator config: %w", err)
	}
	f, partial, err := parseFederator(data, path, lookupEnv)
	if err != nil && !partial {
		return Federator{}, err
	}
	dir := filepath.Dir(path)
	f.Store = resolvePath(dir, f.Store)
	f.Server.BearerTokenFile = resolvePath(dir, f.Server.BearerTokenFile)
	if err != nil {
		return Federator{}, withValidation(err, f.Validate())
	}
	if err := f.Validate(); err != nil {
		return Federator{}, err
	}
	return f, nil
}

// Redacted returns the effective federator config as YAML with every secret
// replaced by "<redacted>".
func (f Federator) Redacted() ([]byte, error) { return marshalRedacted(f) }

// Validate reports every problem at once, each naming its field path (and line
// when the config came from a file).
func (f Federator) Validate() error {
	p := &problems{src: f.src}
	if err := ValidateSchedule(f.Schedule); err != nil {
		p.add("schedule", err)
	}
	for _, list := range []struct {
		field string
		ids   []string
	}{{"clusters.allow", f.Clusters.Allow}, {"clusters.deny", f.Clusters.Deny}} {
		for i, id := range list.ids {
			if err := ValidateClusterID(id); err != nil {
				p.add(indexPath(list.field, i), err)
			}
		}
	}
	for i, id := range f.Clusters.Deny {
		if slices.Contains(f.Clusters.Allow, id) {
			p.addf(indexPath("clusters.deny", i), "%q is in both allow and deny", id)
		}
	}
	if f.Retention.Hourly < Duration(time.Hour) {
		p.addf("retention.1h", "must be at least 1h")
	}
	if f.Retention.Daily < Duration(24*time.Hour) {
		p.addf("retention.1d", "must be at least 1d")
	}
	if !(f.Retention.MaxExpireShare > 0 && f.Retention.MaxExpireShare <= 1) {
		p.addf("retention.max_expire_share", "must be more than 0 and at most 1")
	}
	validateListen(p, "listen_address", f.ListenAddress)
	if f.StaleAfter <= 0 {
		p.addf("stale_after", "must be positive")
	}
	if !slices.Contains([]string{CheckSize, CheckDigest, CheckNone}, f.CheckCombined) {
		p.addf("check_combined", "%q is not size, digest or none", f.CheckCombined)
	}
	s := f.Server
	validateListen(p, "server.listen_address", s.ListenAddress)
	validateExclusive(p, "server.bearer_token", s.BearerToken != "", s.BearerTokenFile != "", "bearer_token", "bearer_token_file")
	if s.CacheBytes < 0 {
		p.addf("server.cache_bytes", "must not be negative")
	}
	if s.ReadTimeout <= 0 {
		p.addf("server.read_timeout", "must be positive")
	}
	if s.WriteTimeout <= 0 {
		p.addf("server.write_timeout", "must be positive")
	}
	return p.err()
}
