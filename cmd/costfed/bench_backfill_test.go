package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/internal/testinfra"
)

// BenchmarkBackfillRealPrometheus is issue 5's benchmark: a backfill (1h and
// 1d) of one simulated cluster (default 104 nodes ≈ 2,000 containers, 7 days)
// against a real Prometheus, with costfed and Prometheus as separate processes
// so each one's CPU time and peak RSS can be read. Setting it up takes
// minutes, so it runs only when COSTFED_BENCH_BACKFILL is set:
//
//	COSTFED_BENCH_BACKFILL=1 COSTFED_BENCH_NODES=104 COSTFED_BENCH_DAYS=7 \
//	  go test ./cmd/costfed -run '^$' -bench BackfillRealPrometheus -benchtime 1x -timeout 60m -v
func BenchmarkBackfillRealPrometheus(b *testing.B) {
	if os.Getenv("COSTFED_BENCH_BACKFILL") == "" {
		b.Skip("set COSTFED_BENCH_BACKFILL=1: setting up takes minutes")
	}
	t := b
	nodes, days := envInt(t, "COSTFED_BENCH_NODES", 104), envInt(t, "COSTFED_BENCH_DAYS", 7)
	dir := t.TempDir()
	bin := filepath.Join(dir, "costfed")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	start := time.Now()
	sim := exec.Command(bin, "simulate", "--out", filepath.Join(dir, "fleet"), "--format", "tsdb", "--clusters", "1",
		"--nodes", strconv.Itoa(nodes), "--days", strconv.Itoa(days))
	out, err = sim.CombinedOutput()
	require.NoError(t, err, string(out))
	t.Logf("simulate: %s (%s)", strings.TrimSpace(string(out)), time.Since(start).Round(time.Second))

	prom := testinfra.StartPrometheus(t, filepath.Join(dir, "fleet", "tsdb"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "agent.yaml"), []byte(fmt.Sprintf(
		"cluster_id: cluster-01\nstore: store.yaml\nprometheus:\n  url: %s\n", prom.URL)), 0o600))
	end := time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)
	from := end.Add(-time.Duration(days) * 24 * time.Hour)
	run := 0
	b.ResetTimer()
	for b.Loop() {
		run++
		// A fresh store each time, so every run builds every window.
		require.NoError(t, os.WriteFile(filepath.Join(dir, "store.yaml"), []byte(fmt.Sprintf("type: FILESYSTEM\nconfig:\n  directory: %s/data-%d\n", dir, run)), 0o600))
		promCPU0 := procCPU(t, prom.Process.PID)
		start = time.Now()
		backfill := exec.Command(bin, "backfill", "--config", filepath.Join(dir, "agent.yaml"),
			"--from", from.Format(time.RFC3339), "--to", end.Format(time.RFC3339), "--concurrency", "2")
		out, err = backfill.CombinedOutput()
		wall := time.Since(start)
		require.NoError(t, err, tail(string(out), 20))
		promCPU := procCPU(t, prom.Process.PID) - promCPU0
		ru := backfill.ProcessState.SysUsage().(*syscall.Rusage)
		agentCPU := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		share := 100 * agentCPU.Seconds() / (agentCPU + promCPU).Seconds()
		t.Logf("backfill summary: %s", lastLine(string(out)))
		t.Logf("wall %s; costfed CPU %s, Prometheus CPU %s: costfed's share of the CPU %.1f %%; costfed peak RSS %d MiB",
			wall.Round(time.Millisecond), agentCPU.Round(time.Millisecond), promCPU.Round(time.Millisecond), share, ru.Maxrss/1024)
		b.ReportMetric(share, "costfed-cpu-%")
		b.ReportMetric(float64(ru.Maxrss)/1024, "costfed-peak-rss-MiB")
	}
}

func envInt(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

// procCPU reads a process's user+system CPU time from /proc/<pid>/stat.
func procCPU(t testing.TB, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	fields := strings.Fields(string(data)[strings.LastIndexByte(string(data), ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}

func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			last = sc.Text()
		}
	}
	return last
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
