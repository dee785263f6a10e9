// Command duckq runs one of the benchmark questions with DuckDB on a combined
// store, in a fresh process, prints the answer and the time it took, and
// exits, so that the process's peak RSS is DuckDB's for that question:
//
//	cd tools/duckdb
//	go build -o /tmp/duckq ./cmd/duckq
//	/usr/bin/time -v /tmp/duckq --dir /path/to/store --question namespace 2>&1 | grep -E 'took|Maximum resident'
//
// --dir is the store's root (holding federated/combined/...) or the directory
// of the daily blocks. The window defaults to the span of the block names.
// --exec runs any SQL instead, with {{glob}} replaced by the blocks' glob:
//
//	duckq --dir STORE --exec "SELECT count(*) FROM read_parquet('{{glob}}')"
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/costfed/costfed/tools/duckdb"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "duckq:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "the store's root, or the directory of the combined daily blocks (required)")
	question := flag.String("question", "namespace", "namespace, cluster, label or filter")
	label := flag.String("label", "app", "the label of --question label")
	namespace := flag.String("namespace", "", "the namespace of --question filter (required for it)")
	from := flag.String("from", "", "window start, RFC 3339 or YYYY-MM-DD (default: the first block's)")
	to := flag.String("to", "", "window end, RFC 3339 or YYYY-MM-DD (default: the last block's)")
	threads := flag.Int("threads", 0, "DuckDB threads (default: DuckDB's, the number of CPUs)")
	printSQL := flag.Bool("sql", false, "print the SQL before running it")
	quiet := flag.Bool("q", false, "print only the row count and the time, not the rows")
	execSQL := flag.String("exec", "", "run this SQL instead of a question; {{glob}} is replaced by the blocks' glob")
	flag.Parse()
	if *dir == "" {
		return fmt.Errorf("--dir is required")
	}
	if *question == "filter" && *namespace == "" {
		return fmt.Errorf("--question filter needs --namespace")
	}
	glob, w, err := duckdb.Locate(*dir)
	if err != nil {
		return err
	}
	if w.Start, err = parseTime(*from, w.Start); err != nil {
		return err
	}
	if w.End, err = parseTime(*to, w.End); err != nil {
		return err
	}
	if *execSQL != "" {
		return runSQL(strings.ReplaceAll(*execSQL, "{{glob}}", glob), *threads)
	}
	qs := duckdb.Questions(glob, w, *label, *namespace)
	i := slices.IndexFunc(qs, func(q duckdb.Question) bool { return q.Name == *question })
	if i < 0 {
		return fmt.Errorf("--question %q: want namespace, cluster, label or filter", *question)
	}
	if *printSQL {
		fmt.Println(qs[i].SQL)
	}

	ctx := context.Background()
	start := time.Now()
	db, err := duckdb.Open()
	if err != nil {
		return err
	}
	defer db.Close()
	if *threads > 0 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", *threads)); err != nil {
			return err
		}
	}
	totals, err := duckdb.Totals(ctx, db, qs[i].SQL)
	if err != nil {
		return err
	}
	took := time.Since(start)
	if !*quiet {
		keys := make([]string, 0, len(totals))
		for k := range totals {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		width := 0
		for _, k := range keys {
			width = max(width, len(k))
		}
		for _, k := range keys {
			fmt.Printf("%-*s  %14.4f\n", width, k, totals[k])
		}
	}
	fmt.Printf("%s: %d rows, took %.3fs (%s, %s .. %s)\n", *question, len(totals), took.Seconds(), glob,
		w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
	return nil
}

// runSQL runs any query and prints its rows, tab-separated.
func runSQL(query string, threads int) error {
	ctx := context.Background()
	start := time.Now()
	db, err := duckdb.Open()
	if err != nil {
		return err
	}
	defer db.Close()
	if threads > 0 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", threads)); err != nil {
			return err
		}
	}
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	fmt.Println(strings.Join(cols, "\t"))
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		fmt.Println(strings.Join(parts, "\t"))
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Printf("%d rows, took %.3fs\n", n, time.Since(start).Seconds())
	return nil
}

func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	layout := time.RFC3339
	if !strings.Contains(s, "T") {
		layout = time.DateOnly
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("window: %w", err)
	}
	return t.UTC(), nil
}
