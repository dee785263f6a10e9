package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/internal/testinfra"
)

// lockedBuffer is a bytes.Buffer safe to write from a command's goroutine
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr is a free loopback address, "127.0.0.1:PORT".
func freeAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", testinfra.FreePort(t))
}

// background is a long-running costfed command (agent, federator, serve,
// demo --serve) run in-process by a test.
type background struct {
	cancel         context.CancelFunc
	done           chan int
	stdout, stderr lockedBuffer
}

// startBackground runs costfed with args until stop is called.
func startBackground(args ...string) *background {
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{cancel: cancel, done: make(chan int, 1)}
	go func() { b.done <- run(ctx, &env{stdout: &b.stdout, stderr: &b.stderr}, args) }()
	return b
}

// stop cancels the command, as SIGTERM does, and requires it to exit with
// status 0 within 20 s.
func (b *background) stop(t *testing.T) {
	t.Helper()
	b.cancel()
	select {
	case code := <-b.done:
		require.Equal(t, 0, code, b.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not stop on cancellation")
	}
}

// httpGet returns the body of a GET that must answer 200.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, b)
	return string(b)
}
