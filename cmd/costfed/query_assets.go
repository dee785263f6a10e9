package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/costfed/costfed/api"
	"github.com/costfed/costfed/asset"
	"github.com/costfed/costfed/store"
)

// assetQuery turns the flags of "costfed query --assets" into an asset
// query; flags that only mean something for allocations are refused.
func (f *queryFlags) assetQuery(now time.Time) (api.AssetQuery, error) {
	switch {
	case f.idle || f.idleByNode || f.split || f.shareIdle.value != "" || f.p.Step != "" ||
		f.p.ShareNamespaces != "" || f.p.ShareLabels != "" || f.p.ShareCost != "" || f.p.ShareSplit != "":
		return api.AssetQuery{}, usagef("--assets takes --window, --aggregate, --filter, --accumulate, --cluster and --format only")
	}
	for _, lf := range legacyFilterFlags(&f.p) {
		if *lf.dest != "" {
			return api.AssetQuery{}, usagef("--%s: not for --assets (use --filter)", lf.name)
		}
	}
	p := api.AssetParams{Window: f.p.Window, Aggregate: f.p.Aggregate, Filter: f.p.Filter}
	switch f.accumulate.value {
	case "":
	case "all", "true":
		p.Accumulate = "true"
	default:
		return api.AssetQuery{}, usagef("--accumulate: assets accumulate over the whole window only (bare --accumulate)")
	}
	q, err := p.Parse(now)
	if err != nil {
		return api.AssetQuery{}, flagError(err)
	}
	return q, nil
}

// runAssetQuery answers "costfed query --assets".
func runAssetQuery(ctx context.Context, e *env, st *store.Store, f *queryFlags, q api.AssetQuery) error {
	cluster := f.cluster
	if cluster == "" {
		cluster = store.CombinedID
	}
	ans, err := api.Assets(ctx, st, cluster, q)
	if err != nil {
		return err
	}
	for _, w := range ans.Warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	switch f.format {
	case "json":
		return api.WriteJSON(e.stdout, api.NewAssetResponse(ans), true)
	case "csv":
		return writeAssetCSV(e.stdout, ans.Sets)
	}
	return writeAssetTable(e.stdout, ans.Sets)
}

// assetRows are a set's assets, most expensive first, then by key.
func assetRows(s api.AssetSet) ([]string, []asset.Asset) {
	keys := make([]string, 0, len(s.Assets))
	for k := range s.Assets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := s.Assets[keys[i]], s.Assets[keys[j]]
		if c := cmpFloat(b.TotalCost(), a.TotalCost()); c != 0 {
			return c < 0
		}
		return keys[i] < keys[j]
	})
	rows := make([]asset.Asset, len(keys))
	for i, k := range keys {
		rows[i] = s.Assets[k]
	}
	return keys, rows
}

func assetType(a *asset.Asset) string {
	if a.Kind == "" || a.Kind == "Any" {
		return "-"
	}
	return string(a.Kind)
}

// writeAssetTable prints each set as an aligned table with a total line.
func writeAssetTable(w io.Writer, sets []api.AssetSet) error {
	if len(sets) == 0 {
		_, err := fmt.Fprintln(w, "no assets in the window")
		return err
	}
	for i, s := range sets {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "window %s .. %s\n", s.Window.Start.Format("2006-01-02T15:04Z"), s.Window.End.Format("2006-01-02T15:04Z"))
		keys, rows := assetRows(s)
		lines := [][]string{{"NAME", "TYPE", "HOURS", "CPU CORES", "RAM GIB", "CPU", "RAM", "GPU", "IDLE", "OTHER", "TOTAL"}}
		var total asset.Asset
		for j := range rows {
			a := &rows[j]
			lines = append(lines, []string{keys[j], assetType(a), fmt.Sprintf("%.2f", a.Hours), fmt.Sprintf("%.2f", a.CPUCores()),
				fmt.Sprintf("%.2f", a.RAMBytes()/(1<<30)), dollars(a.CPUCost), dollars(a.RAMCost), dollars(a.GPUCost),
				dollars(a.IdleCost()), dollars(a.Cost), dollars(a.TotalCost())})
			total.CPUCost += a.CPUCost
			total.RAMCost += a.RAMCost
			total.GPUCost += a.GPUCost
			total.Cost += a.Cost
			total.Adjustment += a.TotalCost()
			total.CPUCostAllocated += a.IdleCost()
		}
		lines = append(lines, []string{"TOTAL", "", "", "", "", dollars(total.CPUCost), dollars(total.RAMCost), dollars(total.GPUCost),
			dollars(total.CPUCostAllocated), dollars(total.Cost), dollars(total.Adjustment)})
		if err := printAligned(w, lines); err != nil {
			return err
		}
	}
	return nil
}

// writeAssetCSV writes one record per asset per set.
func writeAssetCSV(w io.Writer, sets []api.AssetSet) error {
	cw := csv.NewWriter(w)
	head := []string{"window_start", "window_end", "name", "type", "cluster", "provider_id", "start", "end", "minutes", "hours",
		"cpu_cores", "ram_bytes", "gpu_count", "cpu_core_hours", "ram_byte_hours", "gpu_hours", "cpu_cost", "ram_cost", "gpu_cost",
		"idle_cost", "byte_hours", "cost", "adjustment", "total_cost", "node_type", "preemptible", "storage_class", "claim_namespace", "claim_name", "ip", "private"}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, s := range sets {
		keys, rows := assetRows(s)
		keys = slices.Clone(keys)
		for j := range rows {
			a := &rows[j]
			rec := []string{s.Window.Start.Format(time.RFC3339), s.Window.End.Format(time.RFC3339), keys[j], assetType(a), a.Properties.Cluster,
				a.Properties.ProviderID, a.Start.Format(time.RFC3339), a.End.Format(time.RFC3339)}
			for _, v := range []float64{a.Minutes(), a.Hours, a.CPUCores(), a.RAMBytes(), a.GPUCount(), a.CPUCoreHours, a.RAMByteHours, a.GPUHours,
				a.CPUCost, a.RAMCost, a.GPUCost, a.IdleCost(), a.ByteHours, a.Cost, a.Adjustment, a.TotalCost()} {
				rec = append(rec, csvNumber(v))
			}
			rec = append(rec, a.NodeType, fmt.Sprint(a.Preemptible), a.StorageClass, a.ClaimNamespace, a.ClaimName, a.IP, fmt.Sprint(a.Private))
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
