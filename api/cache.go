package api

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/costfed/costfed/allocation"
)

// approxRowBytes is what one cached row is assumed to cost in memory: the
// Allocation struct, its property strings and maps. It only has to be right
// within a small factor for the bound to mean something.
const approxRowBytes = 1024

// Approximate memory of what a row holds besides itself: one volume or load
// balancer entry (struct and key strings), one map entry or list string.
const (
	approxVolumeBytes = 160
	approxEntryBytes  = 64
)

// approxBytes is what rows are assumed to hold: a row each, plus their
// volumes, load balancers, services and map entries. A row summed over a
// namespace can carry thousands of volumes, so counting rows alone would let
// the cache hold many times its bound.
func approxBytes(rows []allocation.Allocation) int64 {
	n := int64(len(rows)+1) * approxRowBytes
	for i := range rows {
		a := &rows[i]
		p := &a.Properties
		n += int64(len(a.PVs)+len(a.LoadBalancers)) * approxVolumeBytes
		n += int64(len(p.Services)+len(p.Labels)+len(p.Annotations)+len(p.NamespaceLabels)+len(p.NamespaceAnnotations)) * approxEntryBytes
	}
	return n
}

// loadTimeout bounds one block read, which outlives the request that started
// it when other requests wait on it.
const loadTimeout = 2 * time.Minute

// blockCache keeps per-block answers (a block's rows aggregated for one set of
// options) by content hash and options, least recently used first out, within
// a byte bound. A committed block's content never changes under one hash, so
// entries never go stale. An answer is a few rows per output key, so a small
// cache holds a month of blocks for the questions a UI asks again and again.
// Concurrent loads of one key wait for a single read.
type blockCache struct {
	maxBytes int64

	mu       sync.Mutex
	bytes    int64
	lru      *list.List // of *cacheItem, most recent at the front
	items    map[string]*list.Element
	inflight map[string]*load
}

type cacheItem struct {
	key   string
	rows  []allocation.Allocation
	bytes int64
}

// load is one read in progress; waiters block on done.
type load struct {
	done chan struct{}
	rows []allocation.Allocation
	err  error
}

// newBlockCache returns a cache bounded to maxBytes; 0 or less caches nothing
// (but still joins concurrent loads of one block).
func newBlockCache(maxBytes int64) *blockCache {
	return &blockCache{maxBytes: maxBytes, lru: list.New(), items: map[string]*list.Element{}, inflight: map[string]*load{}}
}

// get returns the rows cached under key, or loads them with fn. The rows
// returned are shared: callers must not modify them. hit reports whether no
// read was needed.
func (c *blockCache) get(ctx context.Context, key string, fn func(context.Context) ([]allocation.Allocation, error)) (rows []allocation.Allocation, hit bool, err error) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.lru.MoveToFront(el)
		rows := el.Value.(*cacheItem).rows
		c.mu.Unlock()
		return rows, true, nil
	}
	if l, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-l.done:
			return l.rows, true, l.err
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	l := &load{done: make(chan struct{})}
	c.inflight[key] = l
	c.mu.Unlock()

	// The read is not tied to this request alone, as others may wait on it,
	// but it is bounded.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
	l.rows, l.err = fn(lctx)
	cancel()
	c.mu.Lock()
	delete(c.inflight, key)
	if l.err == nil {
		c.addLocked(key, l.rows)
	}
	c.mu.Unlock()
	close(l.done)
	return l.rows, false, l.err
}

func (c *blockCache) addLocked(key string, rows []allocation.Allocation) {
	size := approxBytes(rows)
	if size > c.maxBytes {
		return
	}
	c.items[key] = c.lru.PushFront(&cacheItem{key: key, rows: rows, bytes: size})
	c.bytes += size
	for c.bytes > c.maxBytes {
		el := c.lru.Back()
		it := el.Value.(*cacheItem)
		c.lru.Remove(el)
		delete(c.items, it.key)
		c.bytes -= it.bytes
	}
}

// stats returns the bytes and blocks held.
func (c *blockCache) stats() (bytes int64, blocks int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, len(c.items)
}
