package prom

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"slices"
	"strings"
)

// Redacted replaces a configured secret value in upstream text.
const Redacted = "<redacted>"

// What an error or a warning quotes of an upstream answer is capped: a
// message the upstream gave (a JSON error field, a warning) at
// maxUpstreamMessage, a raw body (HTML from a proxy, say) at maxUpstreamBody.
// Longer text ends in truncatedMark.
const (
	maxUpstreamMessage = 4 << 10
	maxUpstreamBody    = 512
	truncatedMark      = "…(truncated)"
)

// minHeaderSecret is the shortest header value scrubbed: shorter values
// (X-Scope-OrgID: 1) would mangle every message they occur in by chance, and
// are no credential.
const minHeaderSecret = 4

// scrubber removes the configured secret values from text an upstream sent
// back: a proxy or a store that echoes the request (its headers) in an error
// body would otherwise put the bearer token, the basic-auth credentials or a
// secret header value into errors and logs. Secrets read from files are read
// again at scrub time (errors are rare), so a rotated token is covered.
type scrubber struct {
	static []string
	// tokenFile, passwordFile (with user): credentials read per request.
	tokenFile    string
	passwordFile string
	user         string
}

func newScrubber(cfg HTTPConfig) *scrubber {
	s := &scrubber{}
	if a := cfg.BearerAuth; a != nil {
		s.static = append(s.static, a.Token)
		s.tokenFile = a.TokenFile
	}
	if a := cfg.BasicAuth; a != nil {
		if a.Password != "" {
			s.static = append(s.static, a.Password, basicCredentials(a.Username, a.Password))
		}
		s.passwordFile, s.user = a.PasswordFile, a.Username
	}
	if a := cfg.SigV4; a != nil {
		s.static = append(s.static, a.SecretKey)
	}
	for _, v := range cfg.Headers {
		if len(strings.TrimSpace(v)) >= minHeaderSecret {
			s.static = append(s.static, strings.TrimSpace(v))
		}
	}
	return s
}

func basicCredentials(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pw))
}

// secrets returns every value to scrub, with the escaped forms a JSON body
// may carry them in, longest first (so that no secret is left half replaced
// by a shorter one inside it).
func (s *scrubber) secrets() []string {
	vals := slices.Clone(s.static)
	if s.tokenFile != "" {
		if b, err := os.ReadFile(s.tokenFile); err == nil {
			vals = append(vals, strings.TrimSpace(string(b)))
		}
	}
	if s.passwordFile != "" {
		if b, err := os.ReadFile(s.passwordFile); err == nil {
			pw := strings.TrimSpace(string(b))
			vals = append(vals, pw, basicCredentials(s.user, pw))
		}
	}
	out := make([]string, 0, 3*len(vals))
	for _, v := range vals {
		if v == "" {
			continue
		}
		out = append(out, v)
		if j, err := json.Marshal(v); err == nil {
			out = append(out, string(j[1:len(j)-1]))
		}
		out = append(out, strings.ReplaceAll(v, "/", `\/`))
	}
	slices.SortFunc(out, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

// clean scrubs text; a nil scrubber leaves it as it is.
func (s *scrubber) clean(text string) string {
	if s == nil || text == "" {
		return text
	}
	for _, v := range s.secrets() {
		text = strings.ReplaceAll(text, v, Redacted)
	}
	return text
}

// capText shortens text to limit bytes. Scrub before capping: a cut could
// keep the start of a secret.
func capText(text string, limit int) string {
	if len(text) <= limit {
		return text
	}
	return strings.ToValidUTF8(text[:limit], "") + truncatedMark
}

// upstreamText is a message from an upstream answer as errors and logs may
// quote it: scrubbed, trimmed and capped at maxUpstreamMessage.
func (s *scrubber) upstreamText(text string) string {
	return capText(strings.TrimSpace(s.clean(text)), maxUpstreamMessage)
}

// upstreamBody is a raw answer body as errors may quote it: scrubbed, trimmed
// and capped at maxUpstreamBody.
func (s *scrubber) upstreamBody(body []byte) string {
	return capText(strings.TrimSpace(s.clean(string(body))), maxUpstreamBody)
}
