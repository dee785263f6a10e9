package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/federator"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/store"
)

// damageFleet is two clusters' daily blocks for days 0 and 1 of day0,
// federated.
func damageFleet(t *testing.T) (objstore.Bucket, *store.Store, *federator.Federator) {
	t.Helper()
	mem := objstore.NewInMemBucket()
	st := store.New(mem, store.Options{})
	for i, c := range fixtureClusters {
		for d := range 2 {
			commitDay(t, st, c, d, uint64(10*i+d+1))
		}
	}
	fed := federator.New(st, federator.Options{Version: "test", Resolutions: []store.Resolution{store.Daily},
		Now: func() time.Time { return day0.Add(5 * day) }})
	_, err := fed.RunOnce(context.Background())
	require.NoError(t, err)
	return mem, st, fed
}

func dayBlock(cluster string, d int, seed uint64) store.Block {
	w := win(day0.Add(time.Duration(d)*day), day)
	return store.Block{Meta: meta(cluster, store.Daily, w), Rows: blocktest.Rows(cluster, w, 20, seed)}
}

func commitDay(t *testing.T, st *store.Store, cluster string, d int, seed uint64) {
	t.Helper()
	_, err := st.Commit(context.Background(), []store.Block{dayBlock(cluster, d, seed)}, store.CommitOptions{})
	require.NoError(t, err)
}

// byCluster answers days [0, 3) by cluster, one set.
func byCluster(t *testing.T, st *store.Store) Answer {
	t.Helper()
	eng, err := NewEngine(st, EngineOptions{})
	require.NoError(t, err)
	ans, err := eng.Answer(context.Background(), Query{Window: win(day0, 3*day), Options: allocation.AggregateOptions{
		By: allocation.AggregateBy{{Property: allocation.PropertyCluster}}}})
	require.NoError(t, err)
	return ans
}

func clusterCost(ans Answer, cluster string) float64 {
	var sum float64
	for _, s := range ans.Sets {
		for i := range s.Allocations {
			if s.Allocations[i].Name == cluster {
				sum += s.Allocations[i].TotalCost()
			}
		}
	}
	return sum
}

// Issue 16 row 3: one cluster's index is deleted, then federation goes on.
// Its costs stay in the windows that had them, and the answer warns naming
// the cluster, the reason and the windows, not "open or settling".
func TestAnswerWarnsOfADamagedCluster(t *testing.T) {
	ctx := context.Background()
	mem, st, fed := damageFleet(t)
	west := clusterCost(byCluster(t, st), "west")
	require.Positive(t, west)

	require.NoError(t, mem.Delete(ctx, store.IndexKey("west", store.Daily)))
	commitDay(t, st, "east", 1, 99) // a rebuild: day 1 is re-merged
	commitDay(t, st, "east", 2, 7)  // a new day west has no block for in its index
	data, err := store.EncodeBlock(dayBlock("west", 2, 8))
	require.NoError(t, err)
	require.NoError(t, mem.Upload(ctx, store.BlockKey("west", store.Daily, win(day0.Add(2*day), day)), strings.NewReader(string(data))))
	rep, err := fed.RunOnce(ctx)
	require.NoError(t, err)
	var damaged []string
	for _, c := range rep.Clusters {
		if len(c.Damaged) > 0 {
			damaged = append(damaged, c.Cluster+": "+strings.Join(c.Damaged, "; "))
		}
	}
	require.Len(t, damaged, 1)
	require.Contains(t, damaged[0], "west: 1d: index missing")

	ans := byCluster(t, st)
	require.InDelta(t, west, clusterCost(ans, "west"), 1e-6, "west's costs are kept")
	all := strings.Join(ans.Warnings, "\n")
	require.Contains(t, all, "cluster west's current costs are missing (cluster damaged: index missing)")
	for d, kept := range []string{"its last federated costs kept", "its last federated costs kept", "none of its costs"} {
		require.Contains(t, all, "1d block "+spanOf(win(day0.Add(time.Duration(d)*day), day))+" ("+kept+")")
	}
	require.NotContains(t, all, "open or settling")
	require.NotContains(t, all, "cluster east")
}

// Issue 16 row 4: a cluster's daily block is quarantined. The answer's
// warning names the cluster, the block's window and the reason.
func TestAnswerWarnsOfAQuarantinedBlock(t *testing.T) {
	ctx := context.Background()
	mem, st, fed := damageFleet(t)
	// west rebuilds day 1 and adds day 2; both objects are then corrupted.
	commitDay(t, st, "west", 1, 50)
	commitDay(t, st, "west", 2, 51)
	commitDay(t, st, "east", 2, 52)
	for d := 1; d <= 2; d++ {
		require.NoError(t, mem.Upload(ctx, store.BlockKey("west", store.Daily, win(day0.Add(time.Duration(d)*day), day)), strings.NewReader("garbage")))
	}
	rep, err := fed.RunOnce(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Quarantined, 2)

	ans := byCluster(t, st)
	all := strings.Join(ans.Warnings, "\n")
	require.Contains(t, all, "cluster west's current costs are missing (block quarantined: "+store.ErrHashMismatch.Error()+")")
	require.Contains(t, all, "1d block "+spanOf(win(day0.Add(day), day))+" (its last federated costs kept)")
	require.Contains(t, all, "1d block "+spanOf(win(day0.Add(2*day), day))+" (none of its costs)")
	require.NotContains(t, all, spanOf(win(day0, day)), "day 0 is intact")
	require.NotContains(t, all, "open or settling")
}
