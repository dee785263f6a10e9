package etl

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/store"
)

var t0 = time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)

func at(hhmm string) time.Time {
	d, err := time.ParseDuration(strings.Replace(hhmm, ":", "h", 1) + "m")
	if err != nil {
		panic(err)
	}
	return t0.Add(d)
}

func committed(res store.Resolution, entries ...string) store.Index {
	ix := store.Index{Cluster: "c", Resolution: res}
	for _, e := range entries {
		start, state, _ := strings.Cut(e, "=")
		s := at(start)
		ix.Put(store.IndexEntry{Start: s.Unix(), End: s.Add(res.Duration()).Unix(), Complete: state == "complete", Rows: 1, TotalCost: 1, SHA256: strings.Repeat("0", 64)})
	}
	return ix
}

// show renders tasks as "HH:MM reason[ final][ partial]" relative to t0.
func show(tasks []Task, skips []Skip) []string {
	var out []string
	for _, tk := range tasks {
		s := fmt.Sprintf("%s %s", rel(tk.Window.Start), tk.Reason)
		if tk.Final {
			s += " final"
		}
		if tk.Partial {
			s += " partial"
		}
		out = append(out, s)
	}
	for _, sk := range skips {
		out = append(out, fmt.Sprintf("%s skip: %s", rel(sk.Window.Start), sk.Reason))
	}
	return out
}

func rel(t time.Time) string {
	d := t.Sub(t0)
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%02d:%02d", sign, int(d.Hours()), int(d.Minutes())%60)
}

func TestPlanAgentHourly(t *testing.T) {
	hourly := Policy{Resolution: store.Hourly, Retention: 3 * time.Hour}
	cases := []struct {
		name string
		in   PlanInput
		want []string
	}{
		{"nothing committed: every window in retention, the open one included",
			PlanInput{Now: at("02:05"), Policy: hourly, SettleDelay: 10 * time.Minute},
			[]string{"00:00 missing final", "01:00 missing", "02:00 missing"}},
		{"the open window is rebuilt on every tick",
			PlanInput{Now: at("02:40"), Policy: hourly, SettleDelay: 10 * time.Minute, Committed: committed(store.Hourly, "00:00=complete", "01:00=complete", "02:00=open")},
			[]string{"02:00 open"}},
		{"a closed window is rebuilt until it settles…",
			PlanInput{Now: at("03:05"), Policy: hourly, SettleDelay: 10 * time.Minute, Committed: committed(store.Hourly, "01:00=complete", "02:00=open")},
			[]string{"02:00 closed, settling", "03:00 missing"}},
		{"…then built once more, final…",
			PlanInput{Now: at("03:10"), Policy: hourly, SettleDelay: 10 * time.Minute, Committed: committed(store.Hourly, "01:00=complete", "02:00=open", "03:00=open")},
			[]string{"02:00 closed but not final final", "03:00 open"}},
		{"…and never again",
			PlanInput{Now: at("03:30"), Policy: hourly, SettleDelay: 10 * time.Minute, Committed: committed(store.Hourly, "01:00=complete", "02:00=complete", "03:00=open")},
			[]string{"03:00 open"}},
		{"windows older than the source are never built",
			PlanInput{Now: at("02:05"), Policy: hourly, SettleDelay: 10 * time.Minute, OldestSample: at("01:00")},
			[]string{"01:00 missing", "02:00 missing", "00:00 skip: no source data"}},
		{"a window the source covers in part is built and flagged",
			PlanInput{Now: at("02:05"), Policy: hourly, SettleDelay: 10 * time.Minute, OldestSample: at("00:30")},
			[]string{"00:00 missing final partial", "01:00 missing", "02:00 missing"}},
		{"now exactly at a boundary: the closed window is final, the empty new one waits",
			PlanInput{Now: at("02:00"), Policy: hourly, SettleDelay: 0, Committed: committed(store.Hourly, "00:00=complete", "01:00=open")},
			[]string{"01:00 closed but not final final"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tasks, skips, err := Plan(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, show(tasks, skips))
		})
	}
}

func TestPlanAgentDaily(t *testing.T) {
	daily := Policy{Resolution: store.Daily, Retention: 3 * 24 * time.Hour}
	tasks, _, err := Plan(PlanInput{Now: at("36:00"), Policy: daily, SettleDelay: time.Hour,
		Committed: committed(store.Daily, "-48:00=complete", "-24:00=complete", "00:00=open")})
	require.NoError(t, err)
	require.Equal(t, []string{"00:00 closed but not final final", "24:00 missing"}, show(tasks, nil))
}

func TestPlanBackfillAndRebuild(t *testing.T) {
	hourly := Policy{Resolution: store.Hourly, Retention: 3 * time.Hour}
	ix := committed(store.Hourly, "00:00=complete", "02:00=open")
	base := PlanInput{Now: at("10:00"), Policy: hourly, SettleDelay: 10 * time.Minute, Committed: ix, From: at("00:30"), To: at("04:00"), OldestSample: at("00:00")}

	backfill := base
	backfill.Mode = ModeBackfill
	tasks, skips, err := Plan(backfill)
	require.NoError(t, err)
	require.Equal(t, []string{"01:00 missing final", "02:00 closed but not final final", "03:00 missing final"}, show(tasks, skips),
		"range aligned outward; retention does not bound a backfill; complete windows are left alone")

	rebuild := base
	rebuild.Mode = ModeRebuild
	rebuild.OldestSample = at("01:00")
	tasks, skips, err = Plan(rebuild)
	require.NoError(t, err)
	require.Equal(t, []string{"01:00 requested final", "02:00 requested final", "03:00 requested final", "00:00 skip: no source data"}, show(tasks, skips),
		"a rebuild never touches a window the source no longer covers")
}

func TestPlanRejectsBadInput(t *testing.T) {
	for name, in := range map[string]PlanInput{
		"unknown resolution":       {Policy: Policy{Resolution: "5m", Retention: time.Hour}},
		"retention under a window": {Policy: Policy{Resolution: store.Daily, Retention: time.Hour}},
		"empty range":              {Mode: ModeBackfill, Policy: Policy{Resolution: store.Hourly}, From: at("02:00"), To: at("02:00")},
		"unknown mode":             {Mode: Mode(9), Policy: Policy{Resolution: store.Hourly, Retention: time.Hour}},
	} {
		_, _, err := Plan(in)
		require.Error(t, err, name)
	}
}

func TestPlanAssetsPipeline(t *testing.T) {
	now := time.Date(2024, 1, 7, 5, 30, 0, 0, time.UTC)
	h := func(i int) time.Time { return time.Date(2024, 1, 7, i, 0, 0, 0, time.UTC) }
	entry := func(i int, complete bool) store.IndexEntry {
		return store.IndexEntry{Start: h(i).Unix(), End: h(i + 1).Unix(), SHA256: strings.Repeat("a", 64), Complete: complete}
	}
	allocs := store.Index{Blocks: []store.IndexEntry{entry(0, true), entry(1, true), entry(2, true), entry(3, true)}}
	assets := store.Index{Pipeline: store.PipelineAssets, Blocks: []store.IndexEntry{entry(0, true), entry(2, false)}}
	in := PlanInput{Mode: ModeBackfill, Now: now, Policy: Policy{Resolution: store.Hourly}, SettleDelay: 10 * time.Minute,
		From: h(0), To: h(5), Committed: allocs, Assets: &assets}
	tasks, _, err := Plan(in)
	require.NoError(t, err)
	var got []string
	for _, tk := range tasks {
		got = append(got, fmt.Sprintf("%02d %s %v", tk.Window.Start.Hour(), tk.Reason, tk.AssetsOnly))
	}
	require.Equal(t, []string{"01 assets missing true", "02 assets missing true", "03 assets missing true", "04 missing false"}, got)

	in.OnlyAssets = true
	tasks, _, err = Plan(in)
	require.NoError(t, err)
	got = got[:0]
	for _, tk := range tasks {
		got = append(got, fmt.Sprintf("%02d %s %v", tk.Window.Start.Hour(), tk.Reason, tk.AssetsOnly))
	}
	require.Equal(t, []string{"01 missing true", "02 closed but not final true", "03 missing true", "04 missing true"}, got)

	in.OnlyAssets, in.Mode = false, ModeRebuild
	tasks, _, err = Plan(in)
	require.NoError(t, err)
	for _, tk := range tasks {
		require.False(t, tk.AssetsOnly, "a rebuild builds both pipelines")
	}
}
