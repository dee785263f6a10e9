package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
)

// TestAggregateBlockDataKeepsNoBatchMemory: the columnar answer shares no
// memory with the batches it was summed from. With pooled buffers every
// batch overwrites the last one's, so a name or property pointing into a
// batch would come out garbled: the answer must equal Aggregate's over the
// decoded rows for rows named by themselves (no aggregation key, idle
// included, where output names are the input names) and by a key.
func TestAggregateBlockDataKeepsNoBatchMemory(t *testing.T) {
	var rows []allocation.Allocation
	for c := range 3 {
		rows = append(rows, blocktest.Rows(fmt.Sprintf("c%d", c), testDay, 2000, uint64(c))...)
	}
	b := testBlock("c", 0, 1)
	b.Rows = rows
	data, err := EncodeBlock(b)
	require.NoError(t, err)
	key := b.Meta.Ref().Key()
	decoded, err := DecodeBlock(context.Background(), key, data)
	require.NoError(t, err)
	pool := NewBufferPool(64 << 20)
	for _, by := range []string{"", "namespace", "cluster,node"} {
		aggBy, err := allocation.ParseAggregateBy(by)
		require.NoError(t, err)
		opts := allocation.AggregateOptions{By: aggBy, Idle: allocation.IdleOptions{Include: true, Split: true}}
		want, err := allocation.NewSet(testDay, decoded.Rows...).Aggregate(opts)
		require.NoError(t, err)
		g, err := allocation.NewGrouper(opts)
		require.NoError(t, err)
		got, err := AggregateBlockData(context.Background(), key, data, ScanOptions{BatchRows: 1000, Buffers: pool}, g)
		require.NoError(t, err)
		// Read the answer only after more batches have gone through the pool.
		_, err = AggregateBlockData(context.Background(), key, data, ScanOptions{BatchRows: 1000, Buffers: pool}, must(allocation.NewGrouper(opts)))
		require.NoError(t, err)
		require.Len(t, got.Allocations, len(want.Allocations), by)
		for i := range want.Allocations {
			w, a := &want.Allocations[i], &got.Allocations[i]
			require.Equal(t, w.Name, a.Name, by)
			require.Equal(t, w.Properties, a.Properties, by)
			require.InEpsilon(t, w.TotalCost()+1, a.TotalCost()+1, 1e-9, by)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
