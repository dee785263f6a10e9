package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// CombinedClusterID is the reserved prefix segment of the combined store
// (federated/combined/…); no cluster may use it as its id.
const CombinedClusterID = "combined"

// ValidateClusterID checks that id can safely be one segment of an object key:
// 1–128 characters of [a-zA-Z0-9._-], starting with a letter or digit (so "." and
// ".." are impossible), and not the reserved "combined" in any case.
func ValidateClusterID(id string) error {
	switch {
	case id == "":
		return errors.New("required (a unique id per cluster, e.g. prod-eu-1)")
	case len(id) > 128:
		return errors.New("must be at most 128 characters")
	case strings.EqualFold(id, CombinedClusterID):
		return fmt.Errorf("%q is reserved for the combined store", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if i == 0 && !alnum {
			return fmt.Errorf("%q must start with a letter or digit (it is one segment of an object key)", truncate(id, 40))
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%q contains %q: use only letters, digits, '.', '_' and '-'", truncate(id, 40), rune(c))
		}
	}
	return nil
}

// ValidateSchedule checks a cron spec as robfig/cron's standard parser reads it:
// five fields (minute hour day-of-month month day-of-week) with *, ?, lists,
// ranges, steps and month/day names, or a descriptor (@yearly, @annually,
// @monthly, @weekly, @daily, @midnight, @hourly, @every <Go duration>), with an
// optional CRON_TZ=<zone> prefix. It checks syntax and ranges, not the zone name.
func ValidateSchedule(spec string) error {
	s := strings.TrimSpace(spec)
	if s == "" {
		return errors.New(`required (a cron spec such as "*/10 * * * *")`)
	}
	if strings.HasPrefix(s, "CRON_TZ=") || strings.HasPrefix(s, "TZ=") {
		tz, rest, ok := strings.Cut(s, " ")
		_, zone, _ := strings.Cut(tz, "=")
		if !ok || zone == "" {
			return errors.New("a CRON_TZ=<zone> prefix must name a zone and be followed by a schedule")
		}
		s = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(s, "@") {
		return validateDescriptor(s)
	}
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return fmt.Errorf("want 5 fields (minute hour day-of-month month day-of-week) or a descriptor such as @hourly, got %d", len(fields))
	}
	for i, f := range fields {
		spec := cronFields(i)
		if err := validateCronField(f, spec); err != nil {
			return fmt.Errorf("%s field %q: %w", spec.name, truncate(f, 30), err)
		}
	}
	return nil
}

func validateDescriptor(s string) error {
	switch s {
	case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d <= 0 {
			return fmt.Errorf("@every needs a positive Go duration such as 10m or 1h30m, got %q", truncate(rest, 30))
		}
		return nil
	}
	return fmt.Errorf("unknown descriptor %q (use @yearly, @monthly, @weekly, @daily, @hourly or @every <duration>)", truncate(s, 30))
}

type cronField struct {
	name   string
	lo, hi int
	names  []string // names[i] stands for lo+i
}

func cronFields(i int) cronField {
	switch i {
	case 0:
		return cronField{name: "minute", lo: 0, hi: 59}
	case 1:
		return cronField{name: "hour", lo: 0, hi: 23}
	case 2:
		return cronField{name: "day-of-month", lo: 1, hi: 31}
	case 3:
		return cronField{name: "month", lo: 1, hi: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}}
	default:
		return cronField{name: "day-of-week", lo: 0, hi: 6, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}}
	}
}

func validateCronField(f string, spec cronField) error {
	for _, part := range strings.Split(f, ",") {
		rng, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 {
				return fmt.Errorf("step %q must be a positive number", truncate(step, 10))
			}
		}
		if rng == "*" || rng == "?" {
			continue
		}
		a, b, isRange := strings.Cut(rng, "-")
		start, err := cronValue(a, spec)
		if err != nil {
			return err
		}
		if !isRange {
			continue
		}
		end, err := cronValue(b, spec)
		if err != nil {
			return err
		}
		if start > end {
			return fmt.Errorf("range %q starts after it ends", truncate(rng, 20))
		}
	}
	return nil
}

func cronValue(s string, spec cronField) (int, error) {
	for i, n := range spec.names {
		if strings.EqualFold(s, n) {
			return spec.lo + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < spec.lo || v > spec.hi {
		return 0, fmt.Errorf("%q is not a value from %d to %d", truncate(s, 10), spec.lo, spec.hi)
	}
	return v, nil
}

// validateListen checks a host:port listen address (host may be empty).
func validateListen(p *problems, field, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.addf(field, "must be [host]:port, e.g. :9003, got %q", truncate(addr, 60))
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.addf(field, "port must be a number from 0 to 65535, got %q", truncate(port, 10))
	}
}

// validatePrice checks one price in dollars: finite and not negative.
func validatePrice(p *problems, field string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		p.addf(field, "must be a finite, non-negative price in dollars")
	}
}

// validateExclusive reports two alternatives (a value and its *_file variant) set together.
func validateExclusive(p *problems, field string, a, b bool, aName, bName string) {
	if a && b {
		p.addf(field, "set %s or %s, not both", aName, bName)
	}
}
