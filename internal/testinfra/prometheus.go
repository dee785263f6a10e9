package testinfra

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const promReadyWithin = 60 * time.Second

// PromServer is a running Prometheus that serves a TSDB directory on
// 127.0.0.1 with no scrape targets.
type PromServer struct {
	URL     string // "http://127.0.0.1:PORT", no trailing slash
	TSDBDir string
	Process *Process
}

// StartPrometheus starts Prometheus on tsdbDir, used as is, and waits until
// /-/ready answers 200. Prometheus writes into the directory (wal/,
// chunks_head/, lock, compactions), so pass a copy in t.TempDir(). The config
// holds only `global: {}`: nothing is scraped, and retention is 3650d counted
// from the newest block, so backfilled history stays queryable. extraArgs are
// appended to the command line (e.g. "--query.max-samples=1000"). The server
// is stopped when the test ends; Stop on its Process frees the directory
// earlier.
func StartPrometheus(t testing.TB, tsdbDir string, extraArgs ...string) *PromServer {
	t.Helper()
	bin := NeedBinary(t, "prometheus")
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global: {}\n"), 0o644); err != nil {
		t.Fatalf("prometheus: write config: %v", err)
	}
	for attempt := 1; ; attempt++ {
		addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		args := append([]string{
			"--config.file=" + cfg,
			"--storage.tsdb.path=" + tsdbDir,
			"--storage.tsdb.retention.time=3650d",
			"--web.listen-address=" + addr,
		}, extraArgs...)
		s := &PromServer{URL: "http://" + addr, TSDBDir: tsdbDir}
		s.Process = StartProcess(t, bin, args...)
		err := pollHTTP(s.URL+"/-/ready", StatusIs(http.StatusOK), promReadyWithin, s.Process.Done())
		if err == nil {
			return s
		}
		if retryOnFreshPort(err, s.Process, attempt) {
			t.Logf("prometheus: port %s was taken, retrying on another", addr)
			continue
		}
		s.Process.Stop()
		t.Fatalf("prometheus on %s: %v (its log follows)", addr, err)
	}
}

// maxSaneBlockTimeMs is year 3000 in milliseconds: a block ending later was
// fed millisecond timestamps where OpenMetrics wants seconds.
const maxSaneBlockTimeMs = 32503680000 * 1000

// BackfillOpenMetrics turns an OpenMetrics file into TSDB blocks in tsdbDir
// with promtool, one block per 1000h so the file is parsed once or twice
// rather than once per 2h. The file needs timestamps in seconds, one
// contiguous family per metric, samples in time order and a final "# EOF".
// Never point it at the directory of a running Prometheus. The test fails
// with promtool's output when promtool fails, and when the blocks show
// millisecond timestamps (which promtool accepts silently).
func BackfillOpenMetrics(t testing.TB, openMetricsFile, tsdbDir string) {
	t.Helper()
	bin := NeedBinary(t, "promtool")
	cmd := exec.Command(bin, "tsdb", "create-blocks-from", "openmetrics",
		"--max-block-duration=1000h", "--quiet", openMetricsFile, tsdbDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool backfill %s: %v\n%s", openMetricsFile, err, strings.TrimSpace(string(out)))
	}
	metas, err := filepath.Glob(filepath.Join(tsdbDir, "*", "meta.json"))
	if err != nil || len(metas) == 0 {
		t.Fatalf("promtool backfill %s: no blocks in %s (no samples?)\n%s", openMetricsFile, tsdbDir, strings.TrimSpace(string(out)))
	}
	for _, path := range metas {
		var meta struct {
			MaxTime int64 `json:"maxTime"`
		}
		b, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(b, &meta)
		}
		if err != nil {
			t.Fatalf("promtool backfill: read %s: %v", path, err)
		}
		if meta.MaxTime > maxSaneBlockTimeMs {
			t.Fatalf("promtool backfill %s: block %s ends at %d ms (after year 3000): timestamps must be in seconds, not milliseconds",
				openMetricsFile, filepath.Base(filepath.Dir(path)), meta.MaxTime)
		}
	}
}
