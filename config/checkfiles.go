package config

import (
	"errors"
	"io/fs"
	"os"
)

// CheckFiles reports the files the agent config references (credential and
// TLS files) that do not exist or are not regular files, each naming its field
// and line. Validate does not: the agent reads these files when it uses them
// (a rotated token is picked up), and a file may appear after the config is
// written (a mounted secret). `costfed config check` runs both.
func (a Agent) CheckFiles() error {
	p := &problems{src: a.src}
	for _, f := range []struct{ field, path string }{
		{"prometheus.auth.password_file", a.Prometheus.Auth.PasswordFile},
		{"prometheus.auth.bearer_token_file", a.Prometheus.Auth.BearerTokenFile},
		{"prometheus.tls.ca_file", a.Prometheus.TLS.CAFile},
		{"prometheus.tls.cert_file", a.Prometheus.TLS.CertFile},
		{"prometheus.tls.key_file", a.Prometheus.TLS.KeyFile},
	} {
		checkFile(p, f.field, f.path)
	}
	return p.err()
}

// CheckFiles reports a server.bearer_token_file that does not exist or is not
// a regular file (see Agent.CheckFiles).
func (f Federator) CheckFiles() error {
	p := &problems{src: f.src}
	checkFile(p, "server.bearer_token_file", f.Server.BearerTokenFile)
	return p.err()
}

func checkFile(p *problems, field, path string) {
	if path == "" {
		return
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.addf(field, "file %s does not exist", path)
	case err != nil:
		p.addf(field, "%v", err)
	case !st.Mode().IsRegular():
		p.addf(field, "%s is not a regular file", path)
	}
}
