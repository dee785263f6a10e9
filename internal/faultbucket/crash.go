package faultbucket

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/thanos-io/objstore"
)

// When says where in a write a Crasher kills the process.
type When int

// Kill points of a write.
const (
	// KillAfter kills once the write returned: it landed, its caller never
	// learns so.
	KillAfter When = iota
	// KillBefore kills before the write starts.
	KillBefore
	// KillMid kills halfway through an upload's body (a Delete has no
	// body: it is killed before it starts).
	KillMid
)

func (w When) String() string {
	switch w {
	case KillBefore:
		return "before"
	case KillMid:
		return "mid"
	}
	return "after"
}

// ParseCrashPoint parses "N", "N:before", "N:mid" or "N:after" (N ≥ 1, the
// write to die at, counted from 1; the default is after).
func ParseCrashPoint(s string) (n int, w When, err error) {
	num, when, cut := strings.Cut(strings.TrimSpace(s), ":")
	n, err = strconv.Atoi(num)
	if err != nil || n < 1 || (cut && when == "") {
		return 0, 0, fmt.Errorf("crash point %q: want N[:before|mid|after] with N ≥ 1", s)
	}
	switch when {
	case "", "after":
		w = KillAfter
	case "before":
		w = KillBefore
	case "mid":
		w = KillMid
	default:
		return 0, 0, fmt.Errorf("crash point %q: want N[:before|mid|after] with N ≥ 1", s)
	}
	return n, w, nil
}

// Crasher counts the writes (Upload and Delete) through a bucket, records
// each one in Log when set ("N upload KEY"), and calls Kill at the N-th
// write, at the point When says. Kill is meant to end the process at once
// (SIGKILL to itself), as `kill -9` would: a process-level crash test runs
// the binary with a Crasher and checks that a rerun converges. Reads pass
// through untouched.
type Crasher struct {
	objstore.Bucket
	N    int // the write to die at, from 1; 0 never kills
	When When
	Kill func()
	Log  io.Writer

	mu    sync.Mutex
	count int
}

// begin counts a write and reports whether it is the one to die at.
func (c *Crasher) begin(op Op, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count++
	if c.Log != nil {
		fmt.Fprintf(c.Log, "%d %s %s\n", c.count, op, name)
	}
	return c.N > 0 && c.count == c.N
}

// Upload implements objstore.Bucket.
func (c *Crasher) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	die := c.begin(OpUpload, name)
	if die && c.When == KillBefore {
		c.Kill()
	}
	if die && c.When == KillMid {
		size, err := objstore.TryToGetSize(r)
		if err != nil || size < 2 {
			c.Kill()
		}
		r = &killingReader{r: r, size: size, left: size / 2, kill: c.Kill}
	}
	err := c.Bucket.Upload(ctx, name, r, opts...)
	if die && c.When != KillBefore {
		c.Kill() // after it, or a mid-body kill the upload never reached
	}
	return err
}

// Delete implements objstore.Bucket.
func (c *Crasher) Delete(ctx context.Context, name string) error {
	die := c.begin(OpDelete, name)
	if die && c.When != KillAfter {
		c.Kill()
	}
	err := c.Bucket.Delete(ctx, name)
	if die && c.When == KillAfter {
		c.Kill()
	}
	return err
}

// killingReader passes left bytes of r, then calls kill. It reports the
// body's full size (objstore.ObjectSizer), so the upload takes the path it
// would take with the plain body.
type killingReader struct {
	r          io.Reader
	size, left int64
	kill       func()
}

func (k *killingReader) Read(p []byte) (int, error) {
	if k.left <= 0 {
		k.kill()
		return 0, fmt.Errorf("killed halfway through the body: %w", ErrInjected)
	}
	if int64(len(p)) > k.left {
		p = p[:k.left]
	}
	n, err := k.r.Read(p)
	k.left -= int64(n)
	return n, err
}

func (k *killingReader) ObjectSize() (int64, error) { return k.size, nil }
