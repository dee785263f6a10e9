// Package faultbucket wraps an objstore.Bucket and injects failures on a
// script, for crash-safety tests: an error before an operation runs, or an error
// after it ran (the write landed but the caller is told it failed, as when a
// response is lost on the way back).
package faultbucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/thanos-io/objstore"
)

// Op names a bucket operation.
type Op string

// The operations Bucket counts and can fail.
const (
	OpUpload     Op = "upload"
	OpGet        Op = "get"
	OpGetRange   Op = "get_range"
	OpDelete     Op = "delete"
	OpIter       Op = "iter"
	OpExists     Op = "exists"
	OpAttributes Op = "attributes"
)

// Fault says what to do to one call.
type Fault int

// Faults.
const (
	None Fault = iota
	// Before fails the call without running it.
	Before
	// After runs the call, then reports failure.
	After
)

func (f Fault) String() string {
	switch f {
	case Before:
		return "before"
	case After:
		return "after"
	}
	return "none"
}

// ErrInjected is the error injected faults return.
var ErrInjected = errors.New("injected fault")

// Call is one recorded operation.
type Call struct {
	N    int // 0-based position among all calls
	Op   Op
	Name string
}

// Bucket injects the faults Plan returns. The zero Plan injects none.
type Bucket struct {
	objstore.Bucket
	// Plan decides the fault of each call; it may be nil.
	Plan func(c Call) Fault

	mu    sync.Mutex
	calls []Call
}

// New wraps b.
func New(b objstore.Bucket, plan func(c Call) Fault) *Bucket {
	return &Bucket{Bucket: b, Plan: plan}
}

// Calls returns the operations seen so far.
func (b *Bucket) Calls() []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Call(nil), b.calls...)
}

// FailNth returns a plan that applies f to the n-th call (0-based) only.
func FailNth(n int, f Fault) func(Call) Fault {
	return func(c Call) Fault {
		if c.N == n {
			return f
		}
		return None
	}
}

func (b *Bucket) fault(op Op, name string) (Fault, Call) {
	b.mu.Lock()
	c := Call{N: len(b.calls), Op: op, Name: name}
	b.calls = append(b.calls, c)
	b.mu.Unlock()
	if b.Plan == nil {
		return None, c
	}
	return b.Plan(c), c
}

func injected(c Call, f Fault) error {
	return fmt.Errorf("%s %s (call %d, %s): %w", c.Op, c.Name, c.N, f, ErrInjected)
}

// run applies the fault around fn.
func (b *Bucket) run(op Op, name string, fn func() error) error {
	f, c := b.fault(op, name)
	if f == Before {
		return injected(c, f)
	}
	if err := fn(); err != nil {
		return err
	}
	if f == After {
		return injected(c, f)
	}
	return nil
}

// Upload implements objstore.Bucket.
func (b *Bucket) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	return b.run(OpUpload, name, func() error { return b.Bucket.Upload(ctx, name, r, opts...) })
}

// Delete implements objstore.Bucket.
func (b *Bucket) Delete(ctx context.Context, name string) error {
	return b.run(OpDelete, name, func() error { return b.Bucket.Delete(ctx, name) })
}

// Get implements objstore.Bucket.
func (b *Bucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := b.run(OpGet, name, func() (err error) { rc, err = b.Bucket.Get(ctx, name); return err })
	if err != nil && rc != nil {
		_ = rc.Close()
		rc = nil
	}
	return rc, err
}

// GetRange implements objstore.Bucket.
func (b *Bucket) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := b.run(OpGetRange, name, func() (err error) { rc, err = b.Bucket.GetRange(ctx, name, off, length); return err })
	if err != nil && rc != nil {
		_ = rc.Close()
		rc = nil
	}
	return rc, err
}

// Iter implements objstore.Bucket.
func (b *Bucket) Iter(ctx context.Context, dir string, f func(string) error, options ...objstore.IterOption) error {
	return b.run(OpIter, dir, func() error { return b.Bucket.Iter(ctx, dir, f, options...) })
}

// Exists implements objstore.Bucket.
func (b *Bucket) Exists(ctx context.Context, name string) (bool, error) {
	var ok bool
	err := b.run(OpExists, name, func() (err error) { ok, err = b.Bucket.Exists(ctx, name); return err })
	return ok, err
}

// Attributes implements objstore.Bucket.
func (b *Bucket) Attributes(ctx context.Context, name string) (objstore.ObjectAttributes, error) {
	var a objstore.ObjectAttributes
	err := b.run(OpAttributes, name, func() (err error) { a, err = b.Bucket.Attributes(ctx, name); return err })
	return a, err
}

// IsObjNotFoundErr keeps injected errors distinct from not-found.
func (b *Bucket) IsObjNotFoundErr(err error) bool {
	return !errors.Is(err, ErrInjected) && b.Bucket.IsObjNotFoundErr(err)
}
