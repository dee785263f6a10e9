package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore/providers/filesystem"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/store"
)

// queryDay is the day the query fixtures hold, as a 1d block per cluster.
var queryDay = time.Date(2024, 5, 5, 0, 0, 0, 0, time.UTC)

// queryFixture is a FILESYSTEM store with two clusters' blocks for queryDay,
// federated, and the federated-store.yaml naming it.
type queryFixture struct {
	dir, storeYAML string
	st             *store.Store
	inputCost      float64
	window         string // queryDay as a Unix pair
}

func newQueryFixture(t *testing.T) *queryFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "bucket")
	f := &queryFixture{dir: dir, storeYAML: filepath.Join(dir, "federated-store.yaml"),
		window: fmt.Sprintf("%d,%d", queryDay.Unix(), queryDay.Add(24*time.Hour).Unix())}
	require.NoError(t, os.WriteFile(f.storeYAML, []byte("type: FILESYSTEM\nconfig:\n  directory: "+data+"\n"), 0o600))
	bkt, err := filesystem.NewBucket(data)
	require.NoError(t, err)
	f.st = store.New(bkt, store.Options{})
	w := allocation.Window{Start: queryDay, End: queryDay.Add(24 * time.Hour)}
	for i, c := range []string{"east", "west"} {
		rows := blocktest.Rows(c, w, 30, uint64(i+1))
		for j := range rows {
			f.inputCost += rows[j].TotalCost()
		}
		_, err := f.st.Commit(ctx, []store.Block{{
			Meta: store.BlockMeta{Cluster: c, Resolution: store.Daily, Window: w, Complete: true, BuildTime: w.End, ProducerInstance: c},
			Rows: rows,
		}}, store.CommitOptions{})
		require.NoError(t, err)
	}
	_, err = federator.New(f.st, federator.Options{Now: func() time.Time { return w.End.Add(time.Hour) }}).RunOnce(ctx)
	require.NoError(t, err)
	return f
}

func runQueryCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), &env{stdout: &out, stderr: &errb}, append([]string{"query"}, args...))
	return code, out.String(), errb.String()
}

func TestQueryTable(t *testing.T) {
	f := newQueryFixture(t)
	code, out, errOut := runQueryCmd(t, "--store", f.storeYAML, "--window", f.window, "--aggregate", "namespace", "--idle")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, "window 2024-05-05T00:00Z .. 2024-05-06T00:00Z", lines[0])
	require.Regexp(t, `^NAME\s+CPU CORES\s+RAM GIB\s+CPU\s+GPU\s+RAM\s+PV\s+NETWORK\s+LB\s+SHARED\s+TOTAL\s+EFFICIENCY$`, lines[1])
	require.Regexp(t, `^ns-\d+\s+\d+\.\d\d\s+\d+\.\d\d\s+\$\d+\.\d\d`, lines[2])
	last := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(last, "TOTAL "), last)
	require.Contains(t, last, fmt.Sprintf("$%.2f", f.inputCost), "the total line is the sum of every input row")
	// Columns are aligned: every line is as long as the header.
	for _, l := range lines[2:] {
		require.Len(t, []rune(l), len(lines[1]), l)
	}
	require.Contains(t, out, "__idle__")
}

func TestQueryJSON(t *testing.T) {
	f := newQueryFixture(t)
	code, out, errOut := runQueryCmd(t, "--store", f.storeYAML, "--window", f.window, "--aggregate", "cluster", "--format", "json", "--share-idle", "--idle")
	require.Equal(t, 0, code, errOut)
	var resp struct {
		Code int                                     `json:"code"`
		Data []map[string]map[string]json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &resp))
	require.Equal(t, 200, resp.Code)
	require.Len(t, resp.Data, 1)
	require.Contains(t, resp.Data[0], "east")
	require.Contains(t, resp.Data[0], "west")
	var total float64
	for _, a := range resp.Data[0] {
		var v float64
		require.NoError(t, json.Unmarshal(a["totalCost"], &v))
		total += v
	}
	require.InDelta(t, f.inputCost, total, 1e-4, "shared idle, and what idle rows carry besides CPU, RAM and GPU, stay in the total")
}

func TestQueryCSVStepsAndCluster(t *testing.T) {
	f := newQueryFixture(t)
	// One cluster's own blocks, in two 12h steps: the 1d block cannot be
	// split and there are no 1h blocks, so the step is refused with the
	// finest step that reads the data (never an empty answer).
	code, _, errOut := runQueryCmd(t, "--store", f.storeYAML, "--window", f.window, "--aggregate", "namespace",
		"--cluster", "east", "--format", "csv", "--step", "12h")
	require.Equal(t, 2, code, errOut)
	require.Contains(t, errOut, "--step: 12h0m0s splits days")
	require.Contains(t, errOut, "2024-05-05T00:00:00Z to 2024-05-06T00:00:00Z")
	require.Contains(t, errOut, "step=1d")

	code, out, errOut := runQueryCmd(t, "--store", f.storeYAML, "--window", f.window, "--aggregate", "namespace",
		"--cluster", "east", "--format", "csv", "--accumulate", "--filter", `namespace:"ns-1","ns-2"`)
	require.Equal(t, 0, code, errOut)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"window_start", "window_end", "name", "minutes"}, recs[0][:4])
	require.Len(t, recs, 3)
	require.Equal(t, "ns-1", recs[1][2])
	require.Equal(t, "2024-05-05T00:00:00Z", recs[1][0])
	total, err := strconv.ParseFloat(recs[1][len(recs[1])-4], 64)
	require.NoError(t, err)
	require.Greater(t, total, 0.0)
}

func TestQueryLegacyFiltersAndSplitIdle(t *testing.T) {
	f := newQueryFixture(t)
	names := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runQueryCmd(t, append([]string{"--store", f.storeYAML, "--window", f.window, "--format", "csv", "--accumulate"}, args...)...)
		require.Equal(t, 0, code, errOut)
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		require.NoError(t, err)
		var got []string
		for _, r := range recs[1:] {
			got = append(got, r[2])
		}
		return got
	}
	require.Equal(t, []string{"ns-1", "ns-2"}, names("--aggregate", "namespace", "--filter-namespaces", "ns-1,ns-2"))
	require.Equal(t, []string{"ns-1"}, names("--aggregate", "namespace", "--filter-namespaces", "ns-1,ns-2", "--filter", `namespace!:"ns-2"`))
	require.Equal(t, []string{"east"}, names("--aggregate", "cluster", "--filter-clusters", "ea*"))
	require.Equal(t, []string{"__idle__", "ns-1"}, names("--aggregate", "namespace", "--filter-namespaces", "ns-1", "--idle"))
	require.Equal(t, []string{"east/__idle__", "ns-1", "west/__idle__"}, names("--aggregate", "namespace", "--filter-namespaces", "ns-1", "--idle", "--split-idle"))
}

func TestQueryBadFlags(t *testing.T) {
	f := newQueryFixture(t)
	for name, tc := range map[string]struct {
		args []string
		flag string
	}{
		"no window":         {[]string{}, "--window"},
		"bad window":        {[]string{"--window", "forever"}, "--window"},
		"bad aggregate":     {[]string{"--window", "1d", "--aggregate", "planet"}, "--aggregate"},
		"bad filter":        {[]string{"--window", "1d", "--filter", "namespace:web"}, "--filter"},
		"bad legacy filter": {[]string{"--window", "1d", "--filter-labels", "app"}, "--filter-labels: \"app\": want name:value"},
		"single date":       {[]string{"--window", "2024-05-05"}, "--window: \"2024-05-05\" is a single date"},
		"bad step":          {[]string{"--window", "1d", "--step", "90m"}, "--step"},
		"bad accumulate":    {[]string{"--window", "1d", "--accumulate=fortnight"}, "--accumulate"},
		"bad share idle":    {[]string{"--window", "1d", "--share-idle=lots"}, "--share-idle"},
		"bad share cost":    {[]string{"--window", "1d", "--share-cost", "x"}, "--share-cost"},
		"bad share labels":  {[]string{"--window", "1d", "--share-labels", "app"}, "--share-labels"},
		"bad format":        {[]string{"--window", "1d", "--format", "yaml"}, "--format"},
		"bad cluster":       {[]string{"--window", "1d", "--cluster", "../etc"}, "--cluster"},
		"unknown flag":      {[]string{"--window", "1d", "--colour"}, "-colour"},
		"extra argument":    {[]string{"--window", "1d", "now"}, "unexpected argument"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runQueryCmd(t, append([]string{"--store", f.storeYAML}, tc.args...)...)
			require.Equal(t, 2, code, errOut)
			require.Empty(t, out)
			require.Contains(t, errOut, tc.flag)
			if name != "unknown flag" {
				require.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			}
		})
	}
}
