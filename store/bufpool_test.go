package store

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestBufferPoolReusesZeroedAlignedBuffers: a freed buffer comes back for
// the next allocation of its size class, zeroed and 64-byte aligned, growth
// in place is zeroed, and the pool keeps no more than its bound.
func TestBufferPoolReusesZeroedAlignedBuffers(t *testing.T) {
	p := NewBufferPool(64 << 10)
	aligned := func(b []byte) bool { return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%64 == 0 }

	a := p.Allocate(20000) // class 32 KiB
	require.Len(t, a, 20000)
	require.Equal(t, 32<<10, cap(a))
	require.True(t, aligned(a))
	for i := range a {
		a[i] = 0xff
	}
	p.Free(a)
	b := p.Allocate(30000)
	require.Equal(t, unsafe.SliceData(a), unsafe.SliceData(b), "the freed buffer is reused")
	require.True(t, aligned(b))
	for i := range b {
		require.Zero(t, b[i], "byte %d of a reused buffer", i)
	}
	for i := range b {
		b[i] = 0xff
	}
	b = p.Reallocate(32<<10, b[:100])
	require.Len(t, b, 32<<10)
	for i := 100; i < len(b); i++ {
		require.Zero(t, b[i], "byte %d grown in place", i)
	}
	c := p.Reallocate(40000, b)
	require.Len(t, c, 40000)
	require.Equal(t, byte(0xff), c[99], "moved contents are kept")
	require.Zero(t, c[100])

	// Moving freed the 32 KiB buffer; the 64 KiB one does not fit beside
	// it under the 64 KiB bound.
	require.Equal(t, int64(32<<10), p.held)
	p.Free(c)
	require.Equal(t, int64(32<<10), p.held)
	// Small and foreign buffers are not kept.
	p.Free(make([]byte, 100))
	p.Free(make([]byte, 5000))
	require.Equal(t, int64(32<<10), p.held)
}
