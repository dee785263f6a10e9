package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/etl"
	"github.com/costfed/costfed/store"
)

// Issue 16, item 8: every subcommand's --help goes to stdout (exit 0), and a
// bad flag is one error line on stderr (exit 2), not the error twice plus the
// usage.
func TestEverySubcommandHelpAndBadFlag(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, c.name, "--help")
			require.Equal(t, 0, code, errOut)
			require.Empty(t, errOut)
			require.Contains(t, out, "Usage: costfed "+c.name)

			args := []string{c.name, "--no-such-flag"}
			if c.name == "config" {
				args = []string{"config", "check", "--no-such-flag"}
			}
			code, out, errOut = runCmd(t, args...)
			require.Equal(t, 2, code, errOut)
			require.Empty(t, out)
			lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
			require.Len(t, lines, 1, "one error line, got:\n%s", errOut)
			require.Contains(t, lines[0], "flag provided but not defined: -no-such-flag")
			require.Contains(t, lines[0], "--help")
		})
	}
}

// Issue 16, item 8: status on a FILESYSTEM store whose directory does not
// exist says so, instead of printing an empty table.
func TestStatusMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	cfg := filepath.Join(dir, "federated-store.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("type: FILESYSTEM\nconfig:\n  directory: "+missing+"\n"), 0o600))
	code, out, errOut := runCmd(t, "status", "--store", cfg)
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "store directory "+missing+" does not exist")

	withPrefix := filepath.Join(dir, "prefixed.yaml")
	require.NoError(t, os.WriteFile(withPrefix, []byte("type: FILESYSTEM\nconfig:\n  directory: "+dir+"\nprefix: team-a\n"), 0o600))
	code, _, errOut = runCmd(t, "status", "--store", withPrefix)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "store directory "+filepath.Join(dir, "team-a")+" does not exist")

	// An existing, empty directory is an empty store, not an error.
	require.NoError(t, os.Mkdir(missing, 0o755))
	code, _, errOut = runCmd(t, "status", "--store", cfg)
	require.Equal(t, 0, code, errOut)
}

// Issue 16, item 8: duration flags take the configs' syntax (1d) too.
func TestDurationFlagsTakeConfigSyntax(t *testing.T) {
	var d time.Duration
	f := durationFlag{&d}
	for in, want := range map[string]time.Duration{
		"1d": 24 * time.Hour, "2w": 14 * 24 * time.Hour, "90s": 90 * time.Second, "3h": 3 * time.Hour,
		"1h30m": 90 * time.Minute, "1.5h": 90 * time.Minute, "0": 0,
	} {
		require.NoError(t, f.Set(in), in)
		require.Equal(t, want, d, in)
	}
	require.Error(t, f.Set("soon"))
	d = 3 * time.Hour
	require.Equal(t, "3h", f.String())

	dir := t.TempDir()
	cfg := filepath.Join(dir, "federated-store.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("type: FILESYSTEM\nconfig:\n  directory: "+dir+"\n"), 0o600))
	code, _, errOut := runCmd(t, "status", "--store", cfg, "--stale-after", "1d")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = runCmd(t, "status", "--store", cfg, "--stale-after", "soon")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `invalid value "soon" for flag -stale-after: not a duration`)

	code, out, _ := runCmd(t, "status", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "(default 3h)")
}

// Issue 16, item 8: backfill's summary gives rows and cost per resolution;
// their sum counted the same range's cost once per resolution.
func TestRangeSummaryPerResolution(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out}
	s := &rangeSummary{started: time.Now()}
	for _, r := range []etl.Result{
		{Task: etl.Task{Resolution: store.Hourly}, Rows: 3, Cost: 4},
		{Task: etl.Task{Resolution: store.Hourly}, Rows: 2, Cost: 6},
		{Task: etl.Task{Resolution: store.Daily}, Rows: 2, Cost: 10},
		{Task: etl.Task{Resolution: store.Daily}, Err: errors.New("boom")},
	} {
		s.add(e, r, false)
	}
	out.Reset()
	s.print(e, "backfill", false)
	require.Contains(t, out.String(), "backfill: 3 window(s) built, 1 failed, 0 skipped; 1d 2 rows $10.00, 1h 5 rows $10.00; ")
	require.NotContains(t, out.String(), "$20.00")

	out.Reset()
	(&rangeSummary{started: time.Now()}).print(e, "backfill", false)
	require.Contains(t, out.String(), "0 skipped; no rows; ")
}

// Issue 16, item 8: /metrics names the build, and Prometheus requests carry
// costfed/<version> as User-Agent.
func TestBuildInfoAndUserAgent(t *testing.T) {
	mfs, err := newRegistry().Gather()
	require.NoError(t, err)
	var found bool
	for _, mf := range mfs {
		if mf.GetName() != "costfed_build_info" {
			continue
		}
		found = true
		require.Len(t, mf.GetMetric(), 1)
		require.Equal(t, 1.0, mf.GetMetric()[0].GetGauge().GetValue())
		labels := map[string]string{}
		for _, l := range mf.GetMetric()[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		require.Equal(t, version, labels["version"])
		require.NotEmpty(t, labels["goversion"])
	}
	require.True(t, found, "costfed_build_info registered")

	require.Equal(t, "costfed/"+version, httpConfig(config.Agent{}).UserAgent)
}
