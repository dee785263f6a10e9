package duckdb

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAthenaDDLMatchesFiles checks that the CREATE EXTERNAL TABLE of
// docs/athena.md lists the columns of the demo's combined blocks, in file
// order, with the Athena (Hive) type of each column's Parquet type.
func TestAthenaDDLMatchesFiles(t *testing.T) {
	dir := demoDir(t)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "athena.md"))
	if err != nil {
		t.Fatal(err)
	}
	ddl := regexp.MustCompile("(?s)CREATE EXTERNAL TABLE \\w+ \\((.*?)\n\\)\n").FindSubmatch(doc)
	if ddl == nil {
		t.Fatal("docs/athena.md: no CREATE EXTERNAL TABLE name (\\n columns \\n)")
	}
	var got []column
	for _, line := range strings.Split(strings.TrimSpace(string(ddl[1])), "\n") {
		name, typ, ok := strings.Cut(strings.TrimSuffix(strings.TrimSpace(line), ","), " ")
		if !ok {
			t.Fatalf("docs/athena.md: column line %q", line)
		}
		got = append(got, column{strings.Trim(name, "`"), typ})
	}

	glob, _, err := Locate(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	var want []column
	for _, c := range describe(t, openDB(t), glob) {
		want = append(want, column{c.name, hiveType(t, c.typ)})
	}
	if len(got) != len(want) {
		t.Errorf("docs/athena.md has %d columns, the files %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		// Athena matches Parquet names without regard to case.
		if !strings.EqualFold(got[i].name, want[i].name) || !strings.EqualFold(got[i].typ, want[i].typ) {
			t.Errorf("column %d: docs/athena.md %s %s, the files %s %s", i+1, got[i].name, got[i].typ, want[i].name, want[i].typ)
		}
	}
}

// hiveType is the Hive/Athena spelling of a DuckDB type as DESCRIBE prints it.
func hiveType(t *testing.T, typ string) string {
	t.Helper()
	typ = strings.TrimSpace(typ)
	switch {
	case strings.HasSuffix(typ, "[]"):
		return "array<" + hiveType(t, strings.TrimSuffix(typ, "[]")) + ">"
	case strings.HasPrefix(typ, "MAP(") && strings.HasSuffix(typ, ")"):
		kv := splitTop(typ[len("MAP(") : len(typ)-1])
		if len(kv) != 2 {
			t.Fatalf("type %s", typ)
		}
		return "map<" + hiveType(t, kv[0]) + "," + hiveType(t, kv[1]) + ">"
	case strings.HasPrefix(typ, "STRUCT(") && strings.HasSuffix(typ, ")"):
		var fields []string
		for _, f := range splitTop(typ[len("STRUCT(") : len(typ)-1]) {
			name, ft, ok := strings.Cut(strings.TrimSpace(f), " ")
			if !ok {
				t.Fatalf("type %s", typ)
			}
			fields = append(fields, strings.Trim(name, `"`)+":"+hiveType(t, ft))
		}
		return "struct<" + strings.Join(fields, ",") + ">"
	}
	scalar := map[string]string{
		"VARCHAR": "string", "DOUBLE": "double", "BOOLEAN": "boolean", "BIGINT": "bigint",
		"TIMESTAMP WITH TIME ZONE": "timestamp", "TIMESTAMP": "timestamp",
	}
	if h, ok := scalar[typ]; ok {
		return h
	}
	t.Fatalf("no Hive type for DuckDB type %s", typ)
	return ""
}

// splitTop splits s at the commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, from := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[from:i])
				from = i + 1
			}
		}
	}
	return append(out, s[from:])
}
