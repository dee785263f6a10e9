package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// now is Wednesday 2024-01-10 15:20:30 UTC.
var now = time.Date(2024, 1, 10, 15, 20, 30, 0, time.UTC)

func TestParseWindow(t *testing.T) {
	d := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	cases := map[string][2]string{
		"today":                 {"2024-01-10T00:00:00Z", "2024-01-11T00:00:00Z"},
		"yesterday":             {"2024-01-09T00:00:00Z", "2024-01-10T00:00:00Z"},
		"week":                  {"2024-01-07T00:00:00Z", "2024-01-11T00:00:00Z"},
		"lastweek":              {"2023-12-31T00:00:00Z", "2024-01-07T00:00:00Z"},
		"month":                 {"2024-01-01T00:00:00Z", "2024-01-11T00:00:00Z"},
		"lastmonth":             {"2023-12-01T00:00:00Z", "2024-01-01T00:00:00Z"},
		"24h":                   {"2024-01-09T16:00:00Z", "2024-01-10T16:00:00Z"},
		"7d":                    {"2024-01-04T00:00:00Z", "2024-01-11T00:00:00Z"},
		"2w":                    {"2023-12-28T00:00:00Z", "2024-01-11T00:00:00Z"},
		"30m":                   {"2024-01-10T14:51:00Z", "2024-01-10T15:21:00Z"},
		"3d offset 1d":          {"2024-01-07T00:00:00Z", "2024-01-10T00:00:00Z"},
		"1704067200,1704153600": {"2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"},
		"1704067200-1704153600": {"2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"},
		"1704067200|1704153600": {"2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"},
		"2024-01-01T00:00:00Z,2024-01-03T12:00:00+02:00": {"2024-01-01T00:00:00Z", "2024-01-03T10:00:00Z"},
		" Today ": {"2024-01-10T00:00:00Z", "2024-01-11T00:00:00Z"},
	}
	for in, want := range cases {
		w, err := ParseWindow(in, now)
		require.NoError(t, err, in)
		require.Equal(t, d(want[0]), w.Start, in)
		require.Equal(t, d(want[1]), w.End, in)
	}
}

func TestParseWindowRejectsBadInput(t *testing.T) {
	cases := map[string]string{
		"":                      "window is empty",
		"tomorrow":              "is not one of today, yesterday",
		"7y":                    `unit "y" is not m, h, d or w`,
		"0d":                    "not a positive whole number",
		"-3d":                   "not a positive whole number",
		"999999999d":            "up to 100000",
		"3d offset soon":        "offset:",
		"1704153600,1704067200": "is not after start",
		"1704067200,":           "window end",
		"abc,1704067200":        "window start",
		"2024-01-01,2024-01-02": "use 2024-01-01T00:00:00Z,2024-01-02T00:00:00Z",
		"2024-01-01":            "is a single date, not a span; for that day use 2024-01-01T00:00:00Z,2024-01-02T00:00:00Z",
		"2024-01-01,1704153600": `"2024-01-01" is a date without a time; use 2024-01-01T00:00:00Z`,
		"2024-1-1":              "is not one of today",
		"1704153600-1704067200": "is not after start",
		"d":                     "is not <n>m",
	}
	for in, want := range cases {
		_, err := ParseWindow(in, now)
		require.ErrorContains(t, err, want, "%q", in)
	}
}

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"today", "7d", "3d offset 1d", "1704067200,1704153600", "2024-01-01T00:00:00Z,2024-01-02T00:00:00Z", "lastmonth", "", "2024-01-01", "1704067200-1704153600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWindow(s, now)
		if err != nil {
			return
		}
		if !w.End.After(w.Start) {
			t.Fatalf("%q gave an empty or inverted window %v", s, w)
		}
	})
}
