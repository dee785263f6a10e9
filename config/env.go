package config

import (
	"errors"
	"fmt"
	"strings"
)

// expandEnv replaces every ${NAME} in s with the value lookup returns for NAME and
// every $$ with a single $. Any other $ is kept as is, so "pa$word" survives. The
// result is not expanded again: a variable's value is taken literally. Every unset
// variable is reported; a nil lookup means no variable is set.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	var errs []error
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New(`unterminated "${" (write "$$" for a literal "$")`)
			}
			name := s[i+2 : i+2+end]
			if !validEnvName(name) {
				return "", fmt.Errorf("invalid environment variable reference %q: the name must match [A-Za-z_][A-Za-z0-9_]* (write \"$$\" for a literal \"$\")", truncate("${"+name+"}", 60))
			}
			v, ok := "", false
			if lookup != nil {
				v, ok = lookup(name)
			}
			if !ok {
				errs = append(errs, unsetEnvError{name})
			}
			b.WriteString(v)
			i += end + 3
		default:
			b.WriteByte('$')
			i++
		}
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return b.String(), nil
}

// validEnvName: environment variable names follow the same identifier rule
// as Prometheus label names ([A-Za-z_][A-Za-z0-9_]*).
func validEnvName(name string) bool { return validLabelName(name) }
