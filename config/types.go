package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written the Prometheus way: a sequence of
// number+unit pairs, largest unit first, units ms, s, m, h, d (24h), w (7d) and
// y (365d), e.g. "90s", "5m", "49h", "91d", "1w", "1h30m". "0" is zero. Convert
// with time.Duration(d).
type Duration time.Duration

// durationUnit gives a unit's length and its rank (units must come in rank order).
func durationUnit(u string) (time.Duration, int, bool) {
	switch u {
	case "y":
		return 365 * 24 * time.Hour, 0, true
	case "w":
		return 7 * 24 * time.Hour, 1, true
	case "d":
		return 24 * time.Hour, 2, true
	case "h":
		return time.Hour, 3, true
	case "m":
		return time.Minute, 4, true
	case "s":
		return time.Second, 5, true
	case "ms":
		return time.Millisecond, 6, true
	}
	return 0, 0, false
}

// ParseDuration parses a Prometheus-style duration such as "5m" or "91d".
func ParseDuration(s string) (Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if s == "0" {
		return 0, nil
	}
	var total time.Duration
	lastRank := -1
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("expected a number at %q (durations look like 90s, 5m, 49h, 91d)", truncate(s[i:], 20))
		}
		k := j
		for k < len(s) && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z')) {
			k++
		}
		unit := s[j:k]
		if unit == "" {
			return 0, errors.New("missing unit after the number (e.g. 10m, 49h, 91d)")
		}
		size, rank, ok := durationUnit(unit)
		if !ok {
			return 0, fmt.Errorf("unknown unit %q (use ms, s, m, h, d, w or y)", truncate(unit, 10))
		}
		if rank <= lastRank {
			return 0, errors.New("each unit may appear once, largest first (e.g. 1h30m)")
		}
		lastRank = rank
		n, err := strconv.ParseInt(s[i:j], 10, 64)
		if err != nil || n > int64(math.MaxInt64/size) || total > time.Duration(math.MaxInt64)-time.Duration(n)*size {
			return 0, errors.New("duration out of range")
		}
		total += time.Duration(n) * size
		i = k
	}
	return Duration(total), nil
}

// String formats d in the single largest unit that divides it exactly (d, h, m,
// s, ms), so a round trip through ParseDuration is exact: 49h → "49h", 91d → "91d".
func (d Duration) String() string {
	if d == 0 {
		return "0s"
	}
	if d < 0 {
		return time.Duration(d).String()
	}
	td := time.Duration(d)
	for _, u := range []struct {
		suffix string
		size   time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if td%u.size == 0 {
			return strconv.FormatInt(int64(td/u.size), 10) + u.suffix
		}
	}
	return td.String()
}

// UnmarshalYAML parses the scalar's text directly (it never calls Node.Decode,
// which would lose strict decoding).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErrorf(n, "expected a duration such as 5m or 49h, got %s", kindName(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return typeErrorf(n, "invalid duration %q: %v", truncate(n.Value, 40), err)
	}
	*d = v
	return nil
}

// MarshalYAML prints d as String does.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// typeErrorf returns a yaml.TypeError so that yaml keeps decoding and reports
// this problem together with every other one, with its line.
func typeErrorf(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}

// Bytes is a size in bytes, written as a plain integer or with a unit: B, KB, MB,
// GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. "256MiB".
type Bytes int64

// ParseBytes parses a size such as "268435456", "256MiB" or "1GB".
func ParseBytes(s string) (Bytes, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("expected a non-negative number of bytes, e.g. 268435456 or 256MiB")
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, errors.New("size out of range")
	}
	unit, ok := byteUnit(strings.TrimSpace(t[i:]))
	if !ok {
		return 0, fmt.Errorf("unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", truncate(strings.TrimSpace(t[i:]), 10))
	}
	if n > math.MaxInt64/unit {
		return 0, errors.New("size out of range")
	}
	return Bytes(n * unit), nil
}

func byteUnit(u string) (int64, bool) {
	switch strings.ToLower(u) {
	case "", "b":
		return 1, true
	case "kb":
		return 1e3, true
	case "mb":
		return 1e6, true
	case "gb":
		return 1e9, true
	case "tb":
		return 1e12, true
	case "kib":
		return 1 << 10, true
	case "mib":
		return 1 << 20, true
	case "gib":
		return 1 << 30, true
	case "tib":
		return 1 << 40, true
	}
	return 0, false
}

// String formats b with the largest binary unit that divides it exactly.
func (b Bytes) String() string {
	if b <= 0 {
		return strconv.FormatInt(int64(b), 10)
	}
	for _, u := range []struct {
		suffix string
		size   Bytes
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// UnmarshalYAML parses the scalar's text directly.
func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErrorf(n, "expected a size such as 256MiB, got %s", kindName(n))
	}
	v, err := ParseBytes(n.Value)
	if err != nil {
		return typeErrorf(n, "invalid size %q: %v", truncate(n.Value, 40), err)
	}
	*b = v
	return nil
}

// MarshalYAML prints b as String does.
func (b Bytes) MarshalYAML() (any, error) { return b.String(), nil }

// Time is a point in time written as an RFC 3339 date ("2024-01-31", midnight UTC)
// or timestamp ("2024-01-31T06:00:00Z"). The zero Time means "not set".
type Time struct{ time.Time }

// UnmarshalYAML parses the scalar's text directly.
func (t *Time) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErrorf(n, "expected a date such as 2024-01-31, got %s", kindName(n))
	}
	if v, err := time.Parse(time.DateOnly, n.Value); err == nil {
		t.Time = v
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, n.Value)
	if err != nil {
		return typeErrorf(n, "invalid time %q: want an RFC 3339 date (2024-01-31) or timestamp (2024-01-31T06:00:00Z)", truncate(n.Value, 40))
	}
	t.Time = v
	return nil
}

// MarshalYAML prints a date when t is midnight UTC, else an RFC 3339 timestamp.
func (t Time) MarshalYAML() (any, error) {
	if t.IsZero() {
		return "", nil
	}
	if t.Location() == time.UTC && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format(time.DateOnly), nil
	}
	return t.Format(time.RFC3339Nano), nil
}

// redactedText replaces a secret's value wherever the config is printed.
const redactedText = "<redacted>"

// Secret is a string that never prints: fmt (%v, %+v, %#v, %s, %q), YAML, JSON and
// slog all show "<redacted>" (or "" when it is empty). Read the value with
// string(s) at the single place it is used.
type Secret string

// String returns "<redacted>" for a non-empty secret and "" for an empty one.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redactedText
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return "config.Secret(" + strconv.Quote(s.String()) + ")" }

// MarshalYAML prints the redacted form.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON prints the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText prints the redacted form (encoding.TextMarshaler users such as
// some log encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue keeps slog from logging the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
