package duckdb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkDuckDB times the four questions of issue 10's table with DuckDB
// on a combined store: by namespace, by cluster, by label and by pod with a
// namespace filter, cold (a new in-memory database per run, nothing cached)
// and warm (one database, after a first untimed run).
//
// COSTFED_DUCKDB_DIR is the store's root (holding federated/combined/...) or
// the directory of the daily blocks; without it the benchmark runs on the
// demo's store. The window is the span of the block names. COSTFED_DUCKDB_LABEL
// (default app) and COSTFED_DUCKDB_NAMESPACE (default: the first namespace by
// name) choose the label and the filter:
//
//	cd tools/duckdb
//	COSTFED_DUCKDB_DIR=/tmp/costfed-api-bench-123 go test -run '^$' -bench DuckDB -benchtime 3x
//
// Peak RSS of one cold query: go run ./cmd/duckq (see its doc).
func BenchmarkDuckDB(b *testing.B) {
	dir := os.Getenv("COSTFED_DUCKDB_DIR")
	if dir == "" {
		dir = filepath.Join(demoDir(b), "store")
	}
	glob, w, err := Locate(dir)
	if err != nil {
		b.Fatal(err)
	}
	label := envOr("COSTFED_DUCKDB_LABEL", "app")
	ns := os.Getenv("COSTFED_DUCKDB_NAMESPACE")
	if ns == "" {
		ns = firstNamespace(b, glob, w)
	}
	b.Logf("%s, %s .. %s, label %q, namespace %q", glob, w.Start.Format(time.DateOnly), w.End.Format(time.DateOnly), label, ns)
	for _, q := range Questions(glob, w, label, ns) {
		b.Run("cold/"+q.Name, func(b *testing.B) {
			for b.Loop() {
				db, err := Open()
				if err != nil {
					b.Fatal(err)
				}
				run(b, db, q.SQL)
				db.Close()
			}
		})
		b.Run("warm/"+q.Name, func(b *testing.B) {
			db, err := Open()
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			run(b, db, q.SQL) // the first run reads and caches
			for b.Loop() {
				run(b, db, q.SQL)
			}
		})
	}
}

func run(b *testing.B, db *sql.DB, query string) {
	got, err := Totals(context.Background(), db, query)
	if err != nil {
		b.Fatalf("%v\n%s", err, query)
	}
	if len(got) == 0 {
		b.Fatalf("no rows from\n%s", query)
	}
}

func firstNamespace(b *testing.B, glob string, w Window) string {
	db, err := Open()
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	got, err := Totals(context.Background(), db, ByNamespace(glob, w))
	if err != nil {
		b.Fatal(err)
	}
	var names []string
	for k := range got {
		if !strings.HasPrefix(k, "__") {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		b.Fatal("no namespaces in the store")
	}
	return slices.Min(names)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
