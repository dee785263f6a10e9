package store

import (
	"time"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
)

var testDay = allocation.Window{
	Start: time.Date(2024, 1, 7, 0, 0, 0, 0, time.UTC),
	End:   time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC),
}

// testBlock returns a daily block of n varied rows for cluster, deterministic
// in seed.
func testBlock(cluster string, n int, seed uint64) Block {
	return Block{
		Meta: BlockMeta{
			Cluster: cluster, Resolution: Daily, Window: testDay, Complete: true,
			BuildTime:       time.Date(2024, 1, 8, 0, 20, 0, 123456789, time.UTC),
			ProducerVersion: "test", ProducerInstance: "agent-0",
		},
		Rows: blocktest.Rows(cluster, testDay, n, seed),
	}
}
