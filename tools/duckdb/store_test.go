package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ddb "github.com/duckdb/duckdb-go/v2"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/api"
	"github.com/costfed/costfed/config"
	"github.com/costfed/costfed/store"
)

// The demo's default window (`costfed demo` simulates 3 days ending
// 2024-01-08T00:00:00Z); the README's SQL uses it.
var demoWindow = Window{
	Start: time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC),
	End:   time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC),
}

// readmeGlob is the glob of the README's SQL: relative to the demo's --dir.
const readmeGlob = "store/" + DailyDir + "/*.parquet"

var demo struct {
	once sync.Once
	dir  string
	out  string
	err  error
}

// demoDir runs `costfed demo --dir DIR` once per test binary, with its
// defaults, as the README tells a user to, and returns DIR.
func demoDir(t testing.TB) string {
	t.Helper()
	demo.once.Do(func() {
		demo.dir, demo.err = os.MkdirTemp("", "costfed-duckdb-")
		if demo.err != nil {
			return
		}
		// The main module is two directories up; `go run` builds costfed
		// with its own go.mod, as a user would.
		cmd := exec.Command("go", "run", "./cmd/costfed", "demo", "--dir", demo.dir)
		cmd.Dir = filepath.Join("..", "..")
		out, err := cmd.CombinedOutput()
		demo.out = string(out)
		if err != nil {
			demo.err = fmt.Errorf("costfed demo: %w\n%s", err, out)
		}
	})
	if demo.err != nil {
		t.Fatal(demo.err)
	}
	return demo.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if demo.dir != "" {
		os.RemoveAll(demo.dir)
	}
	os.Exit(code)
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	cfg, err := config.NewFilesystemStore(filepath.Join(dir, "store"), "")
	if err != nil {
		t.Fatal(err)
	}
	bkt, err := store.NewBucket(context.Background(), nil, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bkt.Close() })
	return store.New(bkt, store.Options{})
}

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestReadmeSQLMatchesEngine runs the README's SQL, verbatim, in the demo's
// directory and checks its totals against costfed's engine for the same
// window; then the label and namespace-filter queries of the benchmarks, and
// the grand total with idle.
func TestReadmeSQLMatchesEngine(t *testing.T) {
	dir := demoDir(t)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, dir)
	eng, err := api.NewEngine(st, api.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t)
	t.Chdir(dir) // the README's glob is relative to the demo's --dir

	engine := func(t *testing.T, aggregate, filter string, includeIdle bool) map[string]float64 {
		t.Helper()
		by, err := allocation.ParseAggregateBy(aggregate)
		if err != nil {
			t.Fatal(err)
		}
		f, err := allocation.ParseFilter(filter)
		if err != nil {
			t.Fatal(err)
		}
		w, err := allocation.NewWindow(demoWindow.Start, demoWindow.End)
		if err != nil {
			t.Fatal(err)
		}
		ans, err := eng.Answer(context.Background(), api.Query{Window: w, Accumulate: allocation.AccumulateAll,
			Options: allocation.AggregateOptions{By: by, Filter: f, Idle: allocation.IdleOptions{Include: includeIdle}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ans.Warnings) > 0 {
			t.Fatalf("engine warnings: %v", ans.Warnings)
		}
		if len(ans.Sets) != 1 {
			t.Fatalf("engine: %d sets, want 1", len(ans.Sets))
		}
		out := map[string]float64{}
		for i := range ans.Sets[0].Allocations {
			a := &ans.Sets[0].Allocations[i]
			out[a.Name] += a.TotalCost()
		}
		return out
	}

	for _, c := range []struct {
		name, aggregate, filter, sql string
		inReadme                     bool
	}{
		{"cluster", "cluster", "", ByCluster(readmeGlob, demoWindow), true},
		{"namespace", "namespace", "", ByNamespace(readmeGlob, demoWindow), true},
		{"label", "label:app", "", ByLabel(readmeGlob, "app", demoWindow), false},
		{"namespace filter", "pod", `namespace:"ml"`, PodsOfNamespace(readmeGlob, "ml", demoWindow), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.inReadme && !strings.Contains(string(readme), c.sql) {
				t.Fatalf("README.md does not hold this query verbatim:\n%s", c.sql)
			}
			got, err := Totals(context.Background(), db, c.sql)
			if err != nil {
				t.Fatalf("%v\n%s", err, c.sql)
			}
			want := engine(t, c.aggregate, c.filter, false)
			compareTotals(t, got, want)
		})
	}

	t.Run("total with idle", func(t *testing.T) {
		q := fmt.Sprintf("SELECT 'all', sum(%s) FROM read_parquet(%s) WHERE %s", TotalCost, quote(readmeGlob), demoWindow.where())
		got, err := Totals(context.Background(), db, q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		var sum float64
		for _, v := range engine(t, "cluster", "", true) {
			sum += v
		}
		compareTotals(t, got, map[string]float64{"all": sum})
	})
}

func compareTotals(t *testing.T, got, want map[string]float64) {
	t.Helper()
	if len(want) < 1 {
		t.Fatal("the engine answered nothing")
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok && !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		g, okG := got[k]
		w, okW := want[k]
		if !okG || !okW {
			t.Errorf("%q: SQL has it %v ($%.6f), engine has it %v ($%.6f)", k, okG, g, okW, w)
			continue
		}
		if d := math.Abs(g - w); d > 1e-6*math.Max(math.Abs(g), math.Abs(w)) && d > 1e-12 {
			t.Errorf("%q: SQL $%.9f, engine $%.9f (relative difference %.2g)", k, g, w, d/math.Abs(w))
		}
	}
	t.Logf("%d keys agree", len(keys))
}

// TestEveryColumnReads reads every column of every combined daily block with
// DuckDB (strings, timestamps, floats, maps, a list of strings, lists of
// structs) and checks each row against the store's own decoding.
func TestEveryColumnReads(t *testing.T) {
	dir := demoDir(t)
	ctx := context.Background()
	st := openStore(t, dir)
	glob, _, err := Locate(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}

	// What the store decodes, by block file and row name.
	want := map[string]*allocation.Allocation{}
	ix, err := st.ReadIndex(ctx, store.CombinedID, store.Daily)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ix.Blocks {
		b, err := st.ReadBlock(ctx, store.CombinedID, store.Daily, e)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Base(store.BlockKey(store.CombinedID, store.Daily, b.Meta.Window))
		for i := range b.Rows {
			want[file+" "+b.Rows[i].Name] = &b.Rows[i]
		}
	}

	db := openDB(t)
	wantTypes := map[string]string{
		"name": "VARCHAR", "start": "TIMESTAMP WITH TIME ZONE", "end": "TIMESTAMP WITH TIME ZONE",
		"cluster": "VARCHAR", "namespace": "VARCHAR", "cpuCost": "DOUBLE",
		"services": "VARCHAR[]", "labels": "MAP(VARCHAR, VARCHAR)", "annotations": "MAP(VARCHAR, VARCHAR)",
		"namespaceLabels": "MAP(VARCHAR, VARCHAR)", "namespaceAnnotations": "MAP(VARCHAR, VARCHAR)",
		"pvs":           "STRUCT(\"key\" VARCHAR, byteHours DOUBLE, \"cost\" DOUBLE, providerID VARCHAR, adjustment DOUBLE)[]",
		"lbAllocations": "STRUCT(\"key\" VARCHAR, service VARCHAR, \"cost\" DOUBLE, private BOOLEAN, ip VARCHAR, hours DOUBLE, adjustment DOUBLE)[]",
		"priceSource":   "VARCHAR",
	}
	described := describe(t, db, glob)
	types := map[string]string{}
	for _, c := range described {
		types[c.name] = c.typ
	}
	columns := len(described)
	for col, typ := range wantTypes {
		if norm(types[col]) != norm(typ) {
			t.Errorf("column %s: DuckDB type %q, want %q", col, types[col], typ)
		}
	}

	// Every column, every row: SELECT * proves each one decodes; the
	// columns with nested types are compared with the store's rows.
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT *, parse_filename(filename) AS file
FROM read_parquet(%s, filename = true)`, quote(glob)))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != columns+2 {
		t.Fatalf("SELECT * gave %d columns, DESCRIBE %d", len(cols)-2, columns)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	seen := 0
	var withLabels, withServices, withPVs, withLBs int
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]any{}
		for i, c := range cols {
			row[c] = vals[i]
		}
		id := row["file"].(string) + " " + row["name"].(string)
		a := want[id]
		if a == nil {
			t.Fatalf("row %s: not in the store's blocks", id)
		}
		seen++
		check := func(col string, got, want any) {
			if !reflect.DeepEqual(got, want) {
				t.Errorf("row %s, %s: DuckDB %#v, store %#v", id, col, got, want)
			}
		}
		check("start", row["start"].(time.Time).UTC(), a.Start.UTC())
		check("end", row["end"].(time.Time).UTC(), a.End.UTC())
		check("namespace", row["namespace"], a.Properties.Namespace)
		check("cpuCost", row["cpuCost"], a.CPUCost)
		check("priceSource", row["priceSource"], a.PriceSource)
		check("services", stringList(row["services"]), orNil(a.Properties.Services))
		check("labels", stringMap(row["labels"]), mapOrNil(a.Properties.Labels))
		check("annotations", stringMap(row["annotations"]), mapOrNil(a.Properties.Annotations))
		check("namespaceLabels", stringMap(row["namespaceLabels"]), mapOrNil(a.Properties.NamespaceLabels))
		check("namespaceAnnotations", stringMap(row["namespaceAnnotations"]), mapOrNil(a.Properties.NamespaceAnnotations))
		var pvs []allocation.PVAllocation
		for _, s := range structList(row["pvs"]) {
			pvs = append(pvs, allocation.PVAllocation{Key: s["key"].(string), ByteHours: s["byteHours"].(float64), Cost: s["cost"].(float64),
				ProviderID: s["providerID"].(string), Adjustment: s["adjustment"].(float64)})
		}
		check("pvs", pvs, orNil(a.PVs))
		var lbs []allocation.LBAllocation
		for _, s := range structList(row["lbAllocations"]) {
			lbs = append(lbs, allocation.LBAllocation{Key: s["key"].(string), Service: s["service"].(string), Cost: s["cost"].(float64),
				Private: s["private"].(bool), IP: s["ip"].(string), Hours: s["hours"].(float64), Adjustment: s["adjustment"].(float64)})
		}
		check("lbAllocations", lbs, orNil(a.LoadBalancers))
		withLabels += min(len(a.Properties.Labels), 1)
		withServices += min(len(a.Properties.Services), 1)
		withPVs += min(len(a.PVs), 1)
		withLBs += min(len(a.LoadBalancers), 1)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("DuckDB read %d rows, the store's blocks hold %d", seen, len(want))
	}
	// The demo must exercise the nested columns, or this test proves little.
	if withLabels == 0 || withServices == 0 || withPVs == 0 || withLBs == 0 {
		t.Errorf("rows with labels %d, services %d, pvs %d, load balancers %d: want some of each", withLabels, withServices, withPVs, withLBs)
	}
	t.Logf("%d rows, %d columns; with labels %d, services %d, pvs %d, load balancers %d", seen, columns, withLabels, withServices, withPVs, withLBs)
}

type column struct{ name, typ string }

// describe is DuckDB's name and type of each column of the files, in order.
func describe(t *testing.T, db *sql.DB, glob string) []column {
	t.Helper()
	rows, err := db.Query(fmt.Sprintf("DESCRIBE SELECT * FROM read_parquet(%s)", quote(glob)))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&c.name, &c.typ, &null, &key, &def, &extra); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func norm(s string) string { return strings.ReplaceAll(strings.ToLower(s), `"`, "") }

func orNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func mapOrNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func stringList(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		out = append(out, e.(string))
	}
	return out
}

func structList(v any) []map[string]any {
	var out []map[string]any
	l, _ := v.([]any)
	for _, e := range l {
		out = append(out, e.(map[string]any))
	}
	return out
}

// stringMap turns a DuckDB MAP (scanned as a duckdb.OrderedMap) into a map
// of strings; it fails on a duplicate key.
func stringMap(v any) map[string]string {
	if v == nil {
		return nil
	}
	om, ok := v.(ddb.OrderedMap)
	if !ok {
		panic(fmt.Sprintf("MAP scanned as %T", v))
	}
	if om.Len() == 0 {
		return nil
	}
	out := map[string]string{}
	keys, vals := om.Keys(), om.Values()
	for i, k := range keys {
		ks := k.(string)
		if _, dup := out[ks]; dup {
			panic(fmt.Sprintf("MAP with key %q twice", ks))
		}
		out[ks] = vals[i].(string)
	}
	return out
}
