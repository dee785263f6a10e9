package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	// The DuckDB database/sql driver ("duckdb").
	_ "github.com/duckdb/duckdb-go/v2"
)

// DailyDir is where the combined store keeps its daily blocks, relative to
// the store's root (store.Prefix(store.CombinedID, store.Daily)).
const DailyDir = "federated/combined/etl/parquet/allocations/1d"

// TotalCost is the SQL expression of a row's total cost, as
// allocation.Allocation.TotalCost defines it: every resource's cost plus its
// adjustment (the PV cost being the sum of the row's pvs[].cost), plus shared
// and external cost.
const TotalCost = `cpuCost + cpuCostAdjustment + gpuCost + gpuCostAdjustment
      + ramCost + ramCostAdjustment
      + coalesce(list_sum(list_transform(pvs, lambda p: p.cost)), 0) + pvCostAdjustment
      + networkCost + networkCostAdjustment
      + loadBalancerCost + loadBalancerCostAdjustment
      + sharedCost + externalCost`

// Window is the span a query sums: rows whose [start, end) lies inside it.
// With daily blocks it should be whole UTC days.
type Window struct {
	Start, End time.Time
}

func (w Window) where() string {
	const f = "2006-01-02 15:04:05"
	return fmt.Sprintf(`"start" >= TIMESTAMPTZ '%s+00'
  AND "end" <= TIMESTAMPTZ '%s+00'`, w.Start.UTC().Format(f), w.End.UTC().Format(f))
}

// notIdle leaves out idle rows (named …/__idle__), as /allocation does
// without includeIdle. In LIKE '_' matches any character, hence the escapes.
const notIdle = `name NOT LIKE '%/\_\_idle\_\_' ESCAPE '\'`

// key is a grouping expression for a string property: the property, or
// __unallocated__ when empty, as the API names a row without that property.
func key(col string) string {
	return fmt.Sprintf("CASE WHEN %[1]s = '' THEN '__unallocated__' ELSE %[1]s END", col)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// ByCluster is total cost by cluster over w, idle left out: the totals of
// /allocation?aggregate=cluster&accumulate=true.
func ByCluster(glob string, w Window) string {
	return fmt.Sprintf(`SELECT %s AS cluster,
  sum(%s) AS totalCost
FROM read_parquet(%s)
WHERE %s
  AND %s
GROUP BY 1
ORDER BY 1;`, key("cluster"), TotalCost, quote(glob), w.where(), notIdle)
}

// ByNamespace is total cost by namespace over w, idle left out: the totals
// of /allocation?aggregate=namespace&accumulate=true. Unmounted volumes are
// already in their namespace (or __unmounted__) in the store.
func ByNamespace(glob string, w Window) string {
	return fmt.Sprintf(`SELECT %s AS namespace,
  sum(%s) AS totalCost
FROM read_parquet(%s)
WHERE %s
  AND %s
GROUP BY 1
ORDER BY 1;`, key("namespace"), TotalCost, quote(glob), w.where(), notIdle)
}

// ByLabel is total cost by the value of one pod label over w, idle left
// out: /allocation?aggregate=label:NAME&accumulate=true. Rows without the
// label are __unmounted__ for unmounted volumes, else __unallocated__.
func ByLabel(glob, label string, w Window) string {
	return fmt.Sprintf(`SELECT coalesce(nullif(labels[%s], ''),
    CASE WHEN name LIKE '%%/\_\_unmounted\_\_' ESCAPE '\' THEN '__unmounted__' ELSE '__unallocated__' END) AS label,
  sum(%s) AS totalCost
FROM read_parquet(%s)
WHERE %s
  AND %s
GROUP BY 1
ORDER BY 1;`, quote(label), TotalCost, quote(glob), w.where(), notIdle)
}

// PodsOfNamespace is total cost by pod of one namespace over w, idle left
// out: /allocation?aggregate=pod&filter=namespace:"NS"&accumulate=true.
func PodsOfNamespace(glob, namespace string, w Window) string {
	return fmt.Sprintf(`SELECT %s AS pod,
  sum(%s) AS totalCost
FROM read_parquet(%s)
WHERE %s
  AND %s
  AND namespace = %s
GROUP BY 1
ORDER BY 1;`, key("pod"), TotalCost, quote(glob), w.where(), notIdle, quote(namespace))
}

// Question is one of the benchmarked questions.
type Question struct {
	Name string // namespace, cluster, label or filter
	SQL  string
}

// Questions are the questions of the benchmarks and of duckq: by namespace,
// by cluster, by the given label, and by pod of the given namespace.
func Questions(glob string, w Window, label, namespace string) []Question {
	return []Question{
		{"namespace", ByNamespace(glob, w)},
		{"cluster", ByCluster(glob, w)},
		{"label", ByLabel(glob, label, w)},
		{"filter", PodsOfNamespace(glob, namespace, w)},
	}
}

// Open opens an in-memory DuckDB. Each call is a cold database: nothing read
// before is cached.
func Open() (*sql.DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	// database/sql may open several connections; keep one so a warm run
	// reuses what the first one read.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db, nil
}

// Totals runs a query whose rows are (key, totalCost) and returns them by key.
func Totals(ctx context.Context, db *sql.DB, query string) (map[string]float64, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var k string
		var v sql.NullFloat64
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] += v.Float64
	}
	return out, rows.Err()
}

var blockName = regexp.MustCompile(`^(\d+)-(\d+)\.parquet$`)

// Locate finds the daily blocks under dir, which is either a store's root
// (holding federated/combined/...) or the directory of the blocks itself. It
// returns the glob for read_parquet and the window the block names span.
func Locate(dir string) (string, Window, error) {
	blocks := dir
	if st, err := os.Stat(filepath.Join(dir, DailyDir)); err == nil && st.IsDir() {
		blocks = filepath.Join(dir, DailyDir)
	}
	entries, err := os.ReadDir(blocks)
	if err != nil {
		return "", Window{}, err
	}
	var w Window
	for _, e := range entries {
		m := blockName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		s, _ := strconv.ParseInt(m[1], 10, 64)
		en, _ := strconv.ParseInt(m[2], 10, 64)
		start, end := time.Unix(s, 0).UTC(), time.Unix(en, 0).UTC()
		if w.Start.IsZero() || start.Before(w.Start) {
			w.Start = start
		}
		if end.After(w.End) {
			w.End = end
		}
	}
	if w.Start.IsZero() {
		return "", Window{}, fmt.Errorf("no blocks (<start>-<end>.parquet) in %s", blocks)
	}
	return filepath.Join(blocks, "*.parquet"), w, nil
}
