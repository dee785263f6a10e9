package config

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// isSecretKey reports whether a YAML key holds a credential in any of our configs
// or any objstore provider. Matching by key name, over the whole tree, covers
// providers and fields added later without a per-struct list.
//
// access_key is treated as secret: an AWS access key id is an identifier, not a
// credential, but it names the IAM user and many teams handle it as sensitive.
// encryption_key is a file path in objstore's S3 SSE-C, redacted anyway in case
// key material is put there.
func isSecretKey(key string) bool {
	switch strings.ToLower(key) {
	case "secret_key", "access_key", "session_token", "service_account",
		"storage_account_key", "storage_connection_string", "client_secret",
		"encryption_key", "password", "bearer_token", "token", "credentials",
		"secret", "api_key", "private_key", "sas_token", "access_token",
		"refresh_token", "auth_token":
		return true
	}
	return false
}

// isSensitiveHeader reports whether an HTTP header probably carries a credential.
func isSensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"auth", "token", "key", "secret", "cookie", "password", "session", "credential", "signature"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func isURLKey(key string) bool {
	switch strings.ToLower(key) {
	case "url", "endpoint", "proxy_url", "sts_endpoint":
		return true
	}
	return false
}

// redactTree replaces, in place, the value of every secret key, of every
// sensitive header and the password of every URL with user info.
func redactTree(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			redactTree(c)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case isSecretKey(k.Value):
				redactValue(v)
			case strings.EqualFold(k.Value, "headers") && v.Kind == yaml.MappingNode:
				redactHeaders(v)
			case isURLKey(k.Value) && v.Kind == yaml.ScalarNode:
				v.Value = redactURL(v.Value)
			default:
				redactTree(v)
			}
		}
	}
}

func redactHeaders(m *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if isSensitiveHeader(m.Content[i].Value) {
			redactValue(m.Content[i+1])
		}
	}
}

// redactValue hides a value but keeps an empty one visible as empty, so the
// output still shows whether a secret is configured.
func redactValue(v *yaml.Node) {
	if v.Kind == yaml.ScalarNode && (v.Value == "" || v.ShortTag() == "!!null") {
		return
	}
	*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: redactedText}
}

// redactURL hides the password of a URL with user info ("https://u:p@host").
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); !ok {
		return s
	}
	return u.Redacted()
}

// marshalRedacted encodes v as YAML (two-space indent) with every secret redacted.
func marshalRedacted(v any) ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	redactTree(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}

// scrub replaces every occurrence of a secret value in msg. Values shorter than
// four bytes are left alone: replacing them would mangle ordinary words.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, redactedText)
		}
	}
	return msg
}
