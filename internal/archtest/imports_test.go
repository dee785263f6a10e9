package archtest

import (
	"go/build"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/costfed/costfed/"

// rule is one row of DESIGN.md's package table: the project packages a
// package may import, and the external import paths (by prefix) it may use
// besides the standard library.
type rule struct {
	project  []string
	external []string
}

// metrics is allowed everywhere that has metrics: the style guide wants
// them through an injected prometheus.Registerer.
var metrics = "github.com/prometheus/client_golang/prometheus"

// table is DESIGN.md's "Packages" table. Entries under internal/ are
// stdlib-only helpers shared across a boundary (internal/textdist). Where the code goes beyond the
// table on purpose, the entry says so; any other import across a boundary
// fails the test.
var table = map[string]rule{
	// stdlib, yaml. Beyond the table: objstore's provider config structs,
	// so unknown keys inside a provider section are reported with lines.
	"config": {project: []string{"internal/textdist"}, external: []string{"go.yaml.in/yaml/v3", "github.com/thanos-io/objstore/"}},
	// config; client_golang api, sigv4, the Prometheus engine for the local
	// TSDB source.
	"prom": {project: []string{"config"}, external: []string{"github.com/prometheus/", metrics}},
	// The domain is pure: stdlib only, and allocation computes the asset
	// rows of the same pass (asset's types only; asset imports nothing).
	"allocation": {project: []string{"asset"}},
	"asset":      {},
	// allocation, objstore, arrow. Beyond the table: config, to build a
	// bucket from federated-store.yaml (its own job per the table's role),
	// and errgroup, to list cluster prefixes a few at a time (ListClusters).
	"store":     {project: []string{"allocation", "asset", "config"}, external: []string{"github.com/thanos-io/objstore", "github.com/apache/arrow-go/v18/", metrics, "golang.org/x/sync/errgroup"}},
	"etl":       {project: []string{"allocation", "asset", "prom", "store"}, external: []string{metrics, "github.com/prometheus/common/model", "golang.org/x/sync/errgroup"}},
	"federator": {project: []string{"allocation", "asset", "store"}, external: []string{metrics, "golang.org/x/sync/errgroup"}},
	"api":       {project: []string{"allocation", "asset", "store", "internal/textdist"}, external: []string{metrics, "golang.org/x/sync/errgroup"}},
	// allocation (types only). Beyond the table: Prometheus's TSDB and
	// model packages, to write the fleet as TSDB blocks.
	"sim": {project: []string{"allocation"}, external: []string{"github.com/prometheus/common/model", "github.com/prometheus/prometheus/"}},
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find this file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestImportsFollowDesign fails when a package's non-test code imports a
// project package or an external module its row of DESIGN.md's table does
// not allow.
func TestImportsFollowDesign(t *testing.T) {
	root := repoRoot(t)
	for pkg, r := range table {
		bp, err := build.ImportDir(filepath.Join(root, pkg), 0)
		if err != nil {
			t.Fatalf("read package %s: %v", pkg, err)
		}
		if len(bp.GoFiles) == 0 {
			t.Fatalf("package %s has no Go files: is the table stale?", pkg)
		}
		for _, imp := range bp.Imports {
			if ok, why := allowed(imp, r); !ok {
				t.Errorf("%s imports %s: %s (DESIGN.md, \"Packages\")", pkg, imp, why)
			}
		}
	}
}

func allowed(imp string, r rule) (bool, string) {
	if rest, ok := strings.CutPrefix(imp, module); ok {
		top, _, _ := strings.Cut(rest, "/")
		if slices.Contains(r.project, top) || slices.Contains(r.project, rest) {
			return true, ""
		}
		return false, "a project package outside its row"
	}
	if first, _, _ := strings.Cut(imp, "/"); !strings.Contains(first, ".") {
		return true, "" // the standard library
	}
	for _, p := range r.external {
		if imp == p || strings.HasPrefix(imp, strings.TrimSuffix(p, "/")+"/") {
			return true, ""
		}
	}
	return false, "an external module outside its row"
}

// TestImportRuleCatchesABreak checks the checker: the imports a boundary
// break would add are refused.
func TestImportRuleCatchesABreak(t *testing.T) {
	for _, c := range []struct {
		pkg, imp string
	}{
		{"allocation", module + "store"},
		{"allocation", "github.com/prometheus/client_golang/api"},
		{"api", module + "etl"},
		{"federator", module + "prom"},
		{"store", module + "api"},
		{"etl", "github.com/apache/arrow-go/v18/arrow"},
	} {
		if ok, _ := allowed(c.imp, table[c.pkg]); ok {
			t.Errorf("%s importing %s was allowed", c.pkg, c.imp)
		}
	}
	if ok, _ := allowed("fmt", table["allocation"]); !ok {
		t.Error("the standard library was refused")
	}
}
