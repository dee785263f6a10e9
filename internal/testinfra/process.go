package testinfra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	// stopGrace is how long a process gets to exit after SIGINT before it is
	// killed. Prometheus needs about 1.4 s to close its TSDB.
	stopGrace = 10 * time.Second
	// pollInterval is the pause between two readiness probes.
	pollInterval = 50 * time.Millisecond
	// logTailLines is how much of a process log a failed test prints.
	logTailLines = 60
)

// errExited is returned by readiness polls when the process ended first.
var errExited = errors.New("process exited before it was ready")

// Process is a child process started by StartProcess. Its output goes to
// LogPath; it is stopped when the test ends, or earlier by Stop.
type Process struct {
	Name    string // base name of the executable
	PID     int
	LogPath string // stdout and stderr, in the test's temp dir

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // result of Wait; read only after done is closed
}

// StartProcess starts name with args, its stdout and stderr written to a log
// file in t.TempDir(). When the test ends the process is sent SIGINT, given
// up to 10 s to exit, then SIGKILL; only that PID is ever signalled. When the
// test failed, the tail of the log is printed with t.Logf.
func StartProcess(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	base := filepath.Base(name)
	logFile, err := os.CreateTemp(t.TempDir(), base+"-*.log")
	if err != nil {
		t.Fatalf("start %s: create log file: %v", base, err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("start %s: %v", base, err)
	}
	// The child holds its own descriptor for the log.
	_ = logFile.Close()

	p := &Process{
		Name:    base,
		PID:     cmd.Process.Pid,
		LogPath: logFile.Name(),
		cmd:     cmd,
		done:    make(chan struct{}),
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.stop(stopGrace) {
			t.Logf("%s (pid %d) did not exit within %v of SIGINT: killed", p.Name, p.PID, stopGrace)
		}
		if t.Failed() {
			t.Logf("%s (pid %d, %s) log, last %d lines:\n%s", p.Name, p.PID, p.exitStatus(), logTailLines, p.LogTail(logTailLines))
		}
	})
	return p
}

// Stop sends SIGINT to the process, waits up to 10 s for it to exit, then
// kills it. It returns once the process has been reaped, so its port and
// directories can be reused. Calling Stop again is harmless.
func (p *Process) Stop() {
	p.stop(stopGrace)
}

// stop stops the process and reports whether it had to be killed.
func (p *Process) stop(grace time.Duration) (killed bool) {
	select {
	case <-p.done:
		return false
	default:
	}
	// os.Process signals the PID it started (through a pidfd where the
	// kernel has them), never a recycled one.
	if err := p.cmd.Process.Signal(os.Interrupt); err == nil {
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-p.done:
			return false
		case <-timer.C:
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return true
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} {
	return p.done
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitErr is the error returned by waiting for the process (nil for exit
// status 0). It is meaningful only after Done is closed.
func (p *Process) ExitErr() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

func (p *Process) exitStatus() string {
	select {
	case <-p.done:
	default:
		return "running"
	}
	if p.err == nil {
		return "exited with status 0"
	}
	return p.err.Error()
}

// Log returns everything the process has written so far.
func (p *Process) Log() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(read log: %v)", err)
	}
	return string(b)
}

// LogTail returns the last n lines of the log.
func (p *Process) LogTail(n int) string {
	b := bytes.TrimRight([]byte(p.Log()), "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

// WaitHTTP polls url every 50 ms until ready accepts the status of a GET,
// failing the test after timeout or as soon as the process exits.
func (p *Process) WaitHTTP(t testing.TB, url string, ready func(status int) bool, timeout time.Duration) {
	t.Helper()
	if err := pollHTTP(url, ready, timeout, p.done); err != nil {
		t.Fatalf("wait for %s (pid %d): %v (its log follows)", p.Name, p.PID, err)
	}
}

// WaitHTTP polls url every 50 ms until ready accepts the status of a GET,
// failing the test after timeout. Connection errors count as not ready.
func WaitHTTP(t testing.TB, url string, ready func(status int) bool, timeout time.Duration) {
	t.Helper()
	if err := pollHTTP(url, ready, timeout, nil); err != nil {
		t.Fatalf("wait for %s: %v", url, err)
	}
}

// AnyStatus accepts any HTTP answer: the server is listening and speaks HTTP.
func AnyStatus(int) bool { return true }

// StatusIs accepts exactly the given HTTP status.
func StatusIs(code int) func(status int) bool {
	return func(status int) bool { return status == code }
}

// pollHTTP returns nil once ready accepts a GET's status, errExited (wrapped)
// when exited is closed first, or an error naming the last answer on timeout.
func pollHTTP(url string, ready func(status int) bool, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	transport := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 2 * time.Second}

	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	last := "no answer yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if ready(resp.StatusCode) {
				return nil
			}
			last = "last status " + resp.Status
		} else {
			last = "last error: " + strings.TrimSpace(err.Error())
		}
		select {
		case <-exited:
			return fmt.Errorf("%w (%s)", errExited, last)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v (%s)", timeout, last)
		case <-ticker.C:
		}
	}
}
