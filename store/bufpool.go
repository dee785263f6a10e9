package store

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BufferPool is an Arrow allocator that keeps the buffers a scan frees for
// the next batch, by power-of-two size class, up to a byte bound. Reading a
// block allocates the same few large buffers batch after batch; fresh ones
// cost page faults, zeroing and garbage collection, which were a third of a
// cold query's CPU. Only readers that keep no reference into a batch past
// its callback may use it (AggregateBlockData copies what it keeps): a
// reused buffer is overwritten. It is safe for concurrent use.
type BufferPool struct {
	mu   sync.Mutex
	free [64][][]byte // free[c] holds buffers of capacity 1<<c
	held int64
	max  int64
}

// minPooledClass is the smallest class pooled: smaller buffers are cheap to
// allocate and many.
const minPooledClass = 12 // 4 KiB

// NewBufferPool returns a pool holding at most maxBytes of free buffers.
func NewBufferPool(maxBytes int64) *BufferPool { return &BufferPool{max: maxBytes} }

var _ memory.Allocator = (*BufferPool)(nil)

func sizeClass(size int) int {
	if size <= 1 {
		return 0
	}
	return bits.Len(uint(size - 1))
}

// Allocate returns a zeroed buffer of size bytes, 64-byte aligned as
// Arrow wants.
func (p *BufferPool) Allocate(size int) []byte {
	c := sizeClass(size)
	if c < minPooledClass {
		return memory.DefaultAllocator.Allocate(size)
	}
	p.mu.Lock()
	if n := len(p.free[c]); n > 0 {
		b := p.free[c][n-1]
		p.free[c] = p.free[c][:n-1]
		p.held -= int64(cap(b))
		p.mu.Unlock()
		b = b[:size]
		clear(b)
		return b
	}
	p.mu.Unlock()
	capacity := 1 << c
	raw := make([]byte, capacity+64)
	shift := int((64 - uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%64) % 64)
	return raw[shift : shift+size : shift+capacity]
}

// Reallocate grows or shrinks b, zeroing what growth adds.
func (p *BufferPool) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		old := len(b)
		b = b[:size]
		if size > old {
			clear(b[old:])
		}
		return b
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free keeps b for a later Allocate when it is one of the pool's and the
// pool has room.
func (p *BufferPool) Free(b []byte) {
	c := sizeClass(cap(b))
	if c < minPooledClass || cap(b) != 1<<c {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held+int64(cap(b)) > p.max {
		return
	}
	p.free[c] = append(p.free[c], b[:0])
	p.held += int64(cap(b))
}
