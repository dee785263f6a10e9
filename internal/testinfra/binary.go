package testinfra

import (
	"errors"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// NeedBinary returns the path of the executable name. It looks in PATH, then
// in the directories `go install` writes to ($GOBIN, then $GOPATH/bin for
// each GOPATH entry, with the defaults of the go command), because PATH often
// lacks them. When the binary is missing the test is skipped, or fails when
// the environment has CI=true.
func NeedBinary(t testing.TB, name string) string {
	t.Helper()
	if path, err := findBinary(name); err == nil {
		return path
	}
	msg := name + " not found in PATH, $GOBIN or $GOPATH/bin; run scripts/install-test-deps.sh (or `make test`)"
	if IsCI() {
		t.Fatalf("%s (CI=true: a missing test dependency is an error)", msg)
	}
	t.Skip(msg)
	return ""
}

// IsCI reports whether the environment has CI=true, in which case missing
// test dependencies fail tests instead of skipping them.
func IsCI() bool {
	return strings.EqualFold(os.Getenv("CI"), "true")
}

func findBinary(name string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	// The environment and go/build's defaults first; `go env` (a subprocess)
	// only when they miss, since it also knows `go env -w` settings.
	lookups := []func() []string{
		func() []string { return binDirs(os.Getenv("GOBIN"), build.Default.GOPATH) },
		goEnvBinDirs,
	}
	for _, dirs := range lookups {
		for _, dir := range dirs() {
			path := filepath.Join(dir, name)
			if isExecutable(path) {
				return path, nil
			}
		}
	}
	return "", errors.New(name + ": executable not found")
}

// binDirs lists where `go install` writes binaries: gobin if set, else the
// bin directory of each GOPATH entry.
func binDirs(gobin, gopath string) []string {
	var dirs []string
	if gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, p := range filepath.SplitList(gopath) {
		if p != "" {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	return dirs
}

func goEnvBinDirs() []string {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(out), "\r\n"), "\n")
	if len(lines) != 2 {
		return nil
	}
	return binDirs(strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1]))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago: it
// listens on port 0, reads the port the kernel chose and closes the listener.
// Another process can take the port before the caller binds it; the Start
// helpers of this package retry on a fresh port when that happens.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("find a free port: close listener: %v", err)
	}
	return port
}
