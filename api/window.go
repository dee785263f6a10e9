package api

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/costfed/costfed/allocation"
)

// ParseWindow parses an OpenCost window parameter relative to now (UTC):
//
//	today, yesterday                 [00:00, 24:00) of that day
//	week, month                      from the start of this week (Sunday) or
//	                                 month to the end of today
//	lastweek, lastmonth              the whole previous week or month
//	<n>m, <n>h, <n>d, <n>w           the last n units, ending at now rounded
//	                                 up to the unit (a day for d and w)
//	<duration> offset <duration>     the same, ending that much earlier
//	<unix>,<unix>                    seconds since the epoch (OpenCost also
//	                                 separates them with '-' or '|')
//	<RFC3339>,<RFC3339>              two times
//
// As in OpenCost, a date without a time is not a window: a single date
// ("2024-01-01") and a pair of dates ("2024-01-01,2024-01-02") are refused
// with a message that spells out the RFC 3339 pair meaning that span. Errors
// say what was expected; the input is quoted, never executed.
func ParseWindow(s string, now time.Time) (allocation.Window, error) {
	now = now.UTC()
	s = strings.TrimSpace(s)
	if s == "" {
		return allocation.Window{}, fmt.Errorf("window is empty (want %s)", windowForms)
	}
	day := 24 * time.Hour
	today := now.Truncate(day)
	switch strings.ToLower(s) {
	case "today":
		return allocation.NewWindow(today, today.Add(day))
	case "yesterday":
		return allocation.NewWindow(today.Add(-day), today)
	case "week":
		return allocation.NewWindow(today.AddDate(0, 0, -int(today.Weekday())), today.Add(day))
	case "lastweek":
		start := today.AddDate(0, 0, -int(today.Weekday())-7)
		return allocation.NewWindow(start, start.AddDate(0, 0, 7))
	case "month":
		return allocation.NewWindow(time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), today.Add(day))
	case "lastmonth":
		end := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return allocation.NewWindow(end.AddDate(0, -1, 0), end)
	}
	if a, b, ok := strings.Cut(s, ","); ok {
		return parsePair(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	if m := unixPairPattern.FindStringSubmatch(s); m != nil {
		return parsePair(m[1], m[2])
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return allocation.Window{}, fmt.Errorf("window %q is a single date, not a span; for that day use %s,%s (or want %s)",
			s, d.Format(time.RFC3339), d.AddDate(0, 0, 1).Format(time.RFC3339), windowForms)
	}
	if !relativePattern.MatchString(s) {
		return allocation.Window{}, fmt.Errorf("window %q is not one of %s", s, windowForms)
	}
	span, offset := s, ""
	if i := strings.Index(s, " offset "); i >= 0 {
		span, offset = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+len(" offset "):])
	}
	d, unit, err := parseRelative(span)
	if err != nil {
		return allocation.Window{}, err
	}
	end := roundUp(now, unit)
	if offset != "" {
		od, _, err := parseRelative(offset)
		if err != nil {
			return allocation.Window{}, fmt.Errorf("offset: %w", err)
		}
		end = end.Add(-od)
	}
	return allocation.NewWindow(end.Add(-d), end)
}

// windowForms names the accepted windows, for error messages.
const windowForms = "today, yesterday, week, lastweek, month, lastmonth, <n>m, <n>h, <n>d or <n>w (e.g. 7d), " +
	"'<n>d offset <n>d', or start,end as RFC 3339 times (2024-01-01T00:00:00Z,2024-01-02T00:00:00Z) or Unix seconds"

var (
	// unixPairPattern is OpenCost's other spellings of a Unix pair: a-b, a|b.
	unixPairPattern = regexp.MustCompile(`^(\d+)[-|](\d+)$`)
	// relativePattern is roughly "<n><unit>[ offset <n><unit>]"; parseRelative
	// says exactly what is wrong with one that matches.
	relativePattern = regexp.MustCompile(`^[-+]?\d*[a-zA-Z]( offset .*)?$`)
)

// parseRelative parses "<n><m|h|d|w>" and returns its length and rounding unit.
func parseRelative(s string) (time.Duration, time.Duration, error) {
	if len(s) < 2 {
		return 0, 0, fmt.Errorf("window %q is not <n>m, <n>h, <n>d or <n>w", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 || n > 100000 {
		return 0, 0, fmt.Errorf("window %q: %q is not a positive whole number (up to 100000)", s, s[:len(s)-1])
	}
	var unit, round time.Duration
	switch s[len(s)-1] {
	case 'm':
		unit, round = time.Minute, time.Minute
	case 'h':
		unit, round = time.Hour, time.Hour
	case 'd':
		unit, round = 24*time.Hour, 24*time.Hour
	case 'w':
		unit, round = 7*24*time.Hour, 24*time.Hour
	default:
		return 0, 0, fmt.Errorf("window %q: unit %q is not m, h, d or w", s, s[len(s)-1:])
	}
	return time.Duration(n) * unit, round, nil
}

func roundUp(t time.Time, unit time.Duration) time.Time {
	r := t.Truncate(unit)
	if r.Before(t) {
		r = r.Add(unit)
	}
	return r
}

func parsePair(a, b string) (allocation.Window, error) {
	da, errA := time.Parse(time.DateOnly, a)
	db, errB := time.Parse(time.DateOnly, b)
	if errA == nil && errB == nil {
		return allocation.Window{}, fmt.Errorf("window %q: dates need a time of day (OpenCost refuses them too); for midnight to midnight UTC use %s,%s",
			a+","+b, da.Format(time.RFC3339), db.Format(time.RFC3339))
	}
	start, err := parseInstant(a)
	if err != nil {
		return allocation.Window{}, fmt.Errorf("window start: %w", err)
	}
	end, err := parseInstant(b)
	if err != nil {
		return allocation.Window{}, fmt.Errorf("window end: %w", err)
	}
	return allocation.NewWindow(start, end)
}

func parseInstant(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > 1<<40 {
			return time.Time{}, fmt.Errorf("%q is out of range for Unix seconds", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if d, err := time.Parse(time.DateOnly, s); err == nil {
			return time.Time{}, fmt.Errorf("%q is a date without a time; use %s", s, d.Format(time.RFC3339))
		}
		return time.Time{}, fmt.Errorf("%q is neither Unix seconds nor RFC 3339 (e.g. 2024-01-01T00:00:00Z)", s)
	}
	return t.UTC(), nil
}
