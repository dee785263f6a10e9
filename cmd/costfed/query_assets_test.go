package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/store"
)

// withAssets commits a node and a disk asset per cluster for queryDay and
// federates them.
func withAssets(t *testing.T, f *queryFixture) {
	t.Helper()
	ctx := context.Background()
	w := allocation.Window{Start: queryDay, End: queryDay.Add(24 * time.Hour)}
	aw := asset.Window{Start: w.Start, End: w.End}
	for i, c := range []string{"east", "west"} {
		as := []asset.Asset{
			{Kind: asset.KindNode, Properties: asset.Properties{Cluster: c, Name: "n1"}, Window: aw, Start: w.Start, End: w.End, Hours: 24,
				CPUCoreHours: 96, RAMByteHours: 24 << 30, CPUCost: float64(i + 1), RAMCost: 0.5, CPUCostAllocated: 0.5, RAMCostAllocated: 0.25},
			{Kind: asset.KindDisk, Properties: asset.Properties{Cluster: c, Name: "pv1"}, Window: aw, Start: w.Start, End: w.End, Hours: 24,
				ByteHours: 24e9, Cost: 0.25, StorageClass: "gp3"},
		}
		_, err := f.st.CommitAssets(ctx, []store.AssetBlock{{
			Meta:   store.BlockMeta{Cluster: c, Resolution: store.Daily, Window: w, Complete: true, BuildTime: w.End, ProducerInstance: c},
			Assets: as,
		}}, store.CommitOptions{})
		require.NoError(t, err)
	}
	_, err := federator.New(f.st, federator.Options{Now: func() time.Time { return w.End.Add(time.Hour) }}).RunOnce(ctx)
	require.NoError(t, err)
}

func TestQueryAssets(t *testing.T) {
	f := newQueryFixture(t)
	withAssets(t, f)
	code, out, errOut := runQueryCmd(t, "--store", f.storeYAML, "--assets", "--window", f.window, "--aggregate", "type")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Regexp(t, `^NAME\s+TYPE\s+HOURS\s+CPU CORES\s+RAM GIB\s+CPU\s+RAM\s+GPU\s+IDLE\s+OTHER\s+TOTAL$`, lines[1])
	require.Regexp(t, `^Node\s+Node\s+24\.00\s+8\.00\s+2\.00\s+\$3\.00\s+\$1\.00\s+\$0\.00\s+\$2\.50\s+\$0\.00\s+\$4\.00$`, lines[2])
	require.Regexp(t, `^Disk\s+Disk\s+`, lines[3])
	require.Regexp(t, `^TOTAL\s.*\$4\.50$`, lines[len(lines)-1])

	code, out, errOut = runQueryCmd(t, "--store", f.storeYAML, "--assets", "--window", f.window, "--filter", `cluster:"west"`, "--format", "json", "--accumulate")
	require.Equal(t, 0, code, errOut)
	var resp struct {
		Code int                                     `json:"code"`
		Data []map[string]map[string]json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &resp))
	require.Len(t, resp.Data, 1)
	require.Len(t, resp.Data[0], 2)
	require.JSONEq(t, `"Node"`, string(resp.Data[0]["west/Node/n1"]["type"]))
	require.JSONEq(t, `2.5`, string(resp.Data[0]["west/Node/n1"]["totalCost"]))

	code, out, errOut = runQueryCmd(t, "--store", f.storeYAML, "--assets", "--window", f.window, "--format", "csv")
	require.Equal(t, 0, code, errOut)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 5)
	require.Equal(t, "type", recs[0][3])

	for _, bad := range [][]string{
		{"--assets", "--window", f.window, "--idle"},
		{"--assets", "--window", f.window, "--accumulate=day"},
		{"--assets", "--window", f.window, "--aggregate", "namespace"},
		{"--assets", "--window", f.window, "--filter-namespaces", "a"},
	} {
		code, _, errOut := runQueryCmd(t, append([]string{"--store", f.storeYAML}, bad...)...)
		require.Equal(t, 2, code, "%v: %s", bad, errOut)
		require.NotContains(t, errOut, "panic")
	}
}

// TestStatusShowsAssetCoverage: status lists asset prefixes beside the
// allocation ones, and leaves them out for a cluster without assets.
func TestStatusShowsAssetCoverage(t *testing.T) {
	f := newQueryFixture(t)
	code, out, errOut := runCmd(t, "status", "--store", f.storeYAML)
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "assets", "no assets yet")
	withAssets(t, f)
	code, out, errOut = runCmd(t, "status", "--store", f.storeYAML)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `(?m)^east\s+1d assets\s+1\s+1\s+2024-05-05T00:00Z\s+2024-05-06T00:00Z\s+none\s+1\s+0\s`, out)
	require.Regexp(t, `(?m)^combined\s+1d assets\s+1\s+1\s`, out)
	code, out, errOut = runCmd(t, "status", "--store", f.storeYAML, "--format", "json")
	require.Equal(t, 0, code, errOut)
	var cov federator.Coverage
	require.NoError(t, json.Unmarshal([]byte(out), &cov))
	require.Len(t, cov.Clusters, 2)
	require.Equal(t, 1, cov.Clusters[0].Assets[1].Federated)
}

func TestBackfillRejectsUnknownPipeline(t *testing.T) {
	code, _, errOut := runCmd(t, "backfill", "--config", "agent.yaml", "--from", "2024-01-01T00:00:00Z", "--to", "2024-01-02T00:00:00Z", "--pipeline", "allocation")
	require.Equal(t, 2, code, errOut)
	require.Contains(t, errOut, `--pipeline: unknown pipeline "allocation"`)
}
