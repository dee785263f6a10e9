package config

// Check is `costfed config check`: it loads and validates path as kind, with
// the store file an agent or federator config names, checks that the
// credential and TLS files it references exist, and returns the effective
// config with defaults applied and secrets redacted. lookup is the
// environment for ${VAR} expansion. tools/helmtest runs it on every config
// the Helm chart renders.
func Check(kind Kind, path string, lookup func(string) (string, bool)) ([]byte, error) {
	switch kind {
	case KindStore:
		s, err := LoadStore(path, lookup)
		if err != nil {
			return nil, err
		}
		return s.Redacted()
	case KindAgent:
		a, err := LoadAgent(path, lookup)
		if err != nil {
			return nil, err
		}
		if err := a.CheckFiles(); err != nil {
			return nil, err
		}
		if _, err := LoadStoreOrDefault(a.Store, lookup); err != nil {
			return nil, err
		}
		return a.Redacted()
	default:
		f, err := LoadFederator(path, lookup)
		if err != nil {
			return nil, err
		}
		if err := f.CheckFiles(); err != nil {
			return nil, err
		}
		if _, err := LoadStoreOrDefault(f.Store, lookup); err != nil {
			return nil, err
		}
		return f.Redacted()
	}
}
