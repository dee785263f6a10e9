package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/thanos-io/objstore"

	"github.com/costfed/costfed/allocation"
	"github.com/costfed/costfed/internal/blocktest"
	"github.com/costfed/costfed/store"
)

// wholeBlockSource hands each block to the engine as one batch of every row:
// the engine then aggregates whole sets, as it did before blocks were
// streamed, which makes it the reference the streaming path must agree with.
type wholeBlockSource struct{ st *store.Store }

func (w wholeBlockSource) ReadIndex(ctx context.Context, cluster string, res store.Resolution) (store.Index, error) {
	return w.st.ReadIndex(ctx, cluster, res)
}

func (w wholeBlockSource) ScanBlock(ctx context.Context, cluster string, res store.Resolution, e store.IndexEntry, _ store.ScanOptions, fn func([]allocation.Allocation) error) (store.BlockMeta, error) {
	b, err := w.st.ReadBlock(ctx, cluster, res, e)
	if err != nil {
		return store.BlockMeta{}, err
	}
	return b.Meta, fn(b.Rows)
}

// AggregateBlock is never called: the reference engine takes the row path.
func (w wholeBlockSource) AggregateBlock(context.Context, string, store.Resolution, store.IndexEntry, store.ScanOptions, *allocation.Grouper) (allocation.Set, error) {
	return allocation.Set{}, errors.New("the reference source aggregates rows, not columns")
}

var (
	agreeKeys = []string{"", "cluster", "node", "namespace", "controllerKind", "controller", "pod", "container", "service",
		"deployment", "label:app", "label:tier", "annotation:owner", "department", "team", "product", "providerID",
		"namespace,label:tier", "cluster,node", "namespace,service"}
	agreeFilters = []string{"", `namespace:"ns-1","ns-2","ns-3"`, `label[tier]:"1"`, `node!:"node-3"`,
		`namespace<~:"ns-1"+label[app]:"web"`, `label[tier]:"2"|cluster:"other"`, `services~:"web"`, `annotation[owner]:"o-1"`,
		`cluster:"c1"`, `cluster:"other"`, `namespace:"ns-2"+node!:"node-3"`, `cluster:"__unallocated__"`, `node:"node-1","node-7"+label[tier]:"0"`}
	agreeShareNS     = [][]string{nil, {"ns-4"}, {"ns-1", "ns-5"}}
	agreeShareLabels = [][]allocation.LabelValue{nil, {{Name: "tier", Value: "0"}}}
	agreeShareCost   = []float64{0, 0, 3.25}
	agreeModes       = []allocation.ShareMode{allocation.ShareNone, allocation.ShareWeighted, allocation.ShareEven}
	agreeSteps       = []time.Duration{0, time.Hour, 3 * time.Hour, 24 * time.Hour}
	agreeAccumulate  = []allocation.Accumulation{allocation.AccumulateNone, allocation.AccumulateNone, allocation.AccumulateAll,
		allocation.AccumulateDay, allocation.AccumulateWeek}
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// randomQuery draws a query over the agreement store's three days.
func randomQuery(t *testing.T, rng *rand.Rand) Query {
	t.Helper()
	by, err := allocation.ParseAggregateBy(pick(rng, agreeKeys))
	require.NoError(t, err)
	f, err := allocation.ParseFilter(pick(rng, agreeFilters))
	require.NoError(t, err)
	start := day0.Add(time.Duration(rng.IntN(30)) * time.Hour)
	end := day0.Add(2*day + time.Duration(1+rng.IntN(fixtureHours+2))*time.Hour)
	if rng.IntN(3) == 0 {
		start, end = day0, day0.Add(2*day)
	}
	q := Query{
		Window:     win(start, end.Sub(start)),
		Step:       pick(rng, agreeSteps),
		Accumulate: pick(rng, agreeAccumulate),
		Options: allocation.AggregateOptions{
			By:                        by,
			Filter:                    f,
			IncludeAggregatedMetadata: rng.IntN(2) == 0,
			Idle: allocation.IdleOptions{
				Include: rng.IntN(2) == 0,
				Share:   pick(rng, agreeModes),
				ByNode:  rng.IntN(2) == 0,
				Split:   rng.IntN(2) == 0,
			},
			Share: allocation.ShareOptions{
				Namespaces:  pick(rng, agreeShareNS),
				Labels:      pick(rng, agreeShareLabels),
				CostPerHour: pick(rng, agreeShareCost),
				Split:       pick(rng, agreeModes[1:]),
			},
		},
	}
	if q.Accumulate == allocation.AccumulateDay || q.Accumulate == allocation.AccumulateWeek {
		q.Step = 0
	}
	return q
}

// agreementStore holds one cluster's blocks: two days as 1d blocks and the
// first hours of the third as 1h blocks, with random row counts.
func agreementStore(t *testing.T, rng *rand.Rand) *store.Store {
	t.Helper()
	st := store.New(objstore.NewInMemBucket(), store.Options{})
	var blocks []store.Block
	for d := range 2 {
		w := win(day0.Add(time.Duration(d)*day), day)
		blocks = append(blocks, store.Block{Meta: meta("c1", store.Daily, w), Rows: blocktest.Rows("c1", w, 3+rng.IntN(80), rng.Uint64())})
	}
	// Day 1 has its hours too (steps may split it); day 0 is kept only as a
	// 1d block, as past hourly retention.
	for h := range 24 + fixtureHours {
		w := win(day0.Add(day+time.Duration(h)*time.Hour), time.Hour)
		blocks = append(blocks, store.Block{Meta: meta("c1", store.Hourly, w), Rows: blocktest.Rows("c1", w, 3+rng.IntN(30), rng.Uint64())})
	}
	for _, b := range blocks {
		for i := range b.Rows {
			if a := &b.Rows[i]; a.IsUnmounted() {
				// As compute writes them: an unmounted row of a namespace
				// carries no pod metadata (summing leaves it out of the
				// label intersections). Its pod is "<namespace>-unmounted-pvcs"
				// (older blocks: __unmounted__); both forms are in the mix.
				a.Properties.Pod, a.Properties.Container = allocation.UnmountedSuffix, allocation.UnmountedSuffix
				if ns := a.Properties.Namespace; ns != allocation.UnmountedSuffix && rng.IntN(2) == 0 {
					a.Properties.Pod = ns + allocation.UnmountedPVCsSuffix
				}
				a.Properties.Labels, a.Properties.Annotations = nil, nil
				continue
			}
			if rng.IntN(3) == 0 {
				b.Rows[i].Properties.Annotations = map[string]string{"owner": fmt.Sprintf("o-%d", rng.IntN(3))}
			}
		}
	}
	for _, part := range [][]store.Block{blocks[:2], blocks[2:]} {
		_, err := st.Commit(context.Background(), part, store.CommitOptions{})
		require.NoError(t, err)
	}
	return st
}

// TestEngineStreamingAgreesWithWholeSets: answering from blocks streamed a few
// rows at a time (partial answers merged), and again from the cache, gives
// what aggregating each block whole gives, for random stores and queries over
// every aggregation key, filter, idle and sharing option.
func TestEngineStreamingAgreesWithWholeSets(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261202, 10))
	ctx := context.Background()
	var compared, refused int
	defer func() {
		t.Logf("%d answers compared, %d queries refused on both paths", compared, refused)
		require.Greater(t, compared, 3*refused, "most random queries are answered")
	}()
	for trial := range 5 {
		st := agreementStore(t, rng)
		streamed, err := NewEngine(st, EngineOptions{Cluster: "c1", ScanBatchRows: 1 + rng.IntN(7), CacheBytes: 64 << 20})
		require.NoError(t, err)
		whole, err := NewEngine(wholeBlockSource{st}, EngineOptions{Cluster: "c1", rowPath: true})
		require.NoError(t, err)
		for i := range 20 {
			q := randomQuery(t, rng)
			name := fmt.Sprintf("trial %d query %d: %s by=%s filter=%s", trial, i, q.Window, q.Options.By, q.Options.Filter)
			want, wantErr := whole.Answer(ctx, q)
			got, err := streamed.Answer(ctx, q)
			if wantErr != nil {
				// A step that splits a day kept only as a 1d block is a
				// 400 on both paths.
				var pe *ParamError
				require.ErrorAs(t, wantErr, &pe, name)
				require.Equal(t, wantErr, err, name)
				refused++
				continue
			}
			compared++
			require.NoError(t, err, name)
			requireSameAnswer(t, want, got, name+" (streamed)")
			again, err := streamed.Answer(ctx, q)
			require.NoError(t, err, name)
			require.Equal(t, got, again, name+" (cached)")
		}
	}
}

// TestEngineColumnarAgreesWithRows: decomposable questions (no sharing, no
// idle scaled to a filter), answered column by column from blocks read in
// batches of a few rows, agree with the row engine that decodes each batch to
// rows and aggregates it, and with aggregating each block whole, for random
// stores over every aggregation key, filter and idle option.
func TestEngineColumnarAgreesWithRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261202, 11))
	ctx := context.Background()
	compared := 0
	for trial := range 6 {
		st := agreementStore(t, rng)
		batch := 1 + rng.IntN(7)
		if trial%2 == 1 {
			batch = 0 // the default: a whole block in one batch
		}
		columnar, err := NewEngine(st, EngineOptions{Cluster: "c1", ScanBatchRows: batch, CacheBytes: 64 << 20})
		require.NoError(t, err)
		rows, err := NewEngine(st, EngineOptions{Cluster: "c1", ScanBatchRows: batch, rowPath: true})
		require.NoError(t, err)
		whole, err := NewEngine(wholeBlockSource{st}, EngineOptions{Cluster: "c1", rowPath: true})
		require.NoError(t, err)
		for i := range 40 {
			q := randomQuery(t, rng)
			q.Options.Share = allocation.ShareOptions{}
			q.Options.Idle.Share = allocation.ShareNone
			if !q.Options.Filter.IsEmpty() && rng.IntN(2) == 0 {
				q.Options.Idle.Include = false
			}
			name := fmt.Sprintf("trial %d query %d: %s by=%s filter=%s idle=%+v", trial, i, q.Window, q.Options.By, q.Options.Filter, q.Options.Idle)
			want, wantErr := whole.Answer(ctx, q)
			got, err := columnar.Answer(ctx, q)
			viaRows, rowsErr := rows.Answer(ctx, q)
			if wantErr != nil {
				require.Equal(t, wantErr, err, name)
				require.Equal(t, wantErr, rowsErr, name)
				continue
			}
			require.NoError(t, err, name)
			require.NoError(t, rowsErr, name)
			if q.Options.Decomposable() {
				compared++
			}
			requireSameAnswer(t, want, got, name+" (columnar)")
			requireSameAnswer(t, viaRows, got, name+" (columnar vs rows)")
			again, err := columnar.Answer(ctx, q)
			require.NoError(t, err, name)
			require.Equal(t, got, again, name+" (cached)")
		}
	}
	require.Greater(t, compared, 100, "most random questions take the columnar path")
}

// requireSameAnswer compares answers field by field, floats to a relative
// 1e-9: merging partial answers adds in another order.
func requireSameAnswer(t *testing.T, want, got Answer, name string) {
	t.Helper()
	require.Equal(t, want.Warnings, got.Warnings, name)
	require.Len(t, got.Sets, len(want.Sets), name)
	for i := range want.Sets {
		w, g := want.Sets[i], got.Sets[i]
		require.Equal(t, w.Window, g.Window, name)
		require.Equal(t, names(w), names(g), name)
		for j := range w.Allocations {
			if path, ok := approxEqual(reflect.ValueOf(w.Allocations[j]), reflect.ValueOf(g.Allocations[j]), ""); !ok {
				t.Fatalf("%s: set %d row %s differs at %s:\nwant %+v\n got %+v", name, i, w.Allocations[j].Name, path, w.Allocations[j], g.Allocations[j])
			}
		}
	}
}

func names(s allocation.Set) []string {
	out := make([]string, len(s.Allocations))
	for i := range s.Allocations {
		out[i] = s.Allocations[i].Name
	}
	return out
}

var timeType = reflect.TypeFor[time.Time]()

// approxEqual walks two values of one type; it returns the path of the first
// difference.
func approxEqual(a, b reflect.Value, path string) (string, bool) {
	switch {
	case a.Type() == timeType:
		return path, a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	case a.Kind() == reflect.Float64:
		x, y := a.Float(), b.Float()
		return path, x == y || math.Abs(x-y) <= 1e-9*max(math.Abs(x), math.Abs(y))
	case a.Kind() == reflect.Struct:
		for i := range a.NumField() {
			if p, ok := approxEqual(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); !ok {
				return p, false
			}
		}
		return path, true
	case a.Kind() == reflect.Slice:
		if a.Len() != b.Len() || (a.Len() == 0 && a.IsNil() != b.IsNil()) {
			return path, false
		}
		for i := range a.Len() {
			if p, ok := approxEqual(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return path, true
	}
	return path, reflect.DeepEqual(a.Interface(), b.Interface())
}

// TestAggregateOptionsKeyDistinguishes: options that differ have different
// cache keys (a shared key would answer one question with another's rows).
func TestAggregateOptionsKeyDistinguishes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]string{}
	for range 400 {
		q := randomQuery(t, rng)
		k := q.Options.Key()
		desc := fmt.Sprintf("%s|%s|%+v|%v|%v|%v|%v|%v", q.Options.By, q.Options.Filter, q.Options.Idle, q.Options.Share.Namespaces,
			q.Options.Share.Labels, q.Options.Share.CostPerHour, q.Options.Share.Split, q.Options.IncludeAggregatedMetadata)
		if prev, ok := seen[k]; ok {
			require.Equal(t, prev, desc, "one key for two options")
		}
		seen[k] = desc
		require.False(t, strings.ContainsRune(k, 0))
	}
}
