package api

import (
	"context"
	"sync"
	"time"
)

// TTLCache keeps the result of an expensive read (such as the store's
// coverage, which reads every index) for a while, so each request does not
// repeat it. Failed reads are not kept. It is safe for concurrent use; one
// read runs at a time.
type TTLCache[T any] struct {
	ttl  time.Duration
	now  func() time.Time
	read func(context.Context) (T, error)

	mu   sync.Mutex
	val  T
	at   time.Time
	have bool
}

// NewTTLCache returns a cache of read's result for ttl, timed by now.
func NewTTLCache[T any](ttl time.Duration, now func() time.Time, read func(context.Context) (T, error)) *TTLCache[T] {
	return &TTLCache[T]{ttl: ttl, now: now, read: read}
}

// Get returns the kept value, or reads a fresh one when it is older than the
// TTL.
func (c *TTLCache[T]) Get(ctx context.Context) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.have && c.now().Sub(c.at) < c.ttl {
		return c.val, nil
	}
	v, err := c.read(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	c.val, c.at, c.have = v, c.now(), true
	return v, nil
}
