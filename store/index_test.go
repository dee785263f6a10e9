package store

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/costfed/costfed/allocation"
)

func testEntry(start time.Time, res Resolution) IndexEntry {
	return IndexEntry{
		Start: start.Unix(), End: start.Add(res.Duration()).Unix(), Size: 100, Rows: 3, TotalCost: 1.5,
		SHA256: strings.Repeat("ab", 32), Complete: true, BuildTime: start.Add(2 * res.Duration()).UTC(),
	}
}

func TestIndexPutFindRemove(t *testing.T) {
	ix := Index{Cluster: "c", Resolution: Hourly}
	for _, h := range []int{5, 1, 3, 1} {
		ix.Put(testEntry(hourWindow(h).Start, Hourly))
	}
	require.Len(t, ix.Blocks, 3)
	for i := 1; i < len(ix.Blocks); i++ {
		require.Less(t, ix.Blocks[i-1].Start, ix.Blocks[i].Start)
	}
	_, ok := ix.Find(hourWindow(3).Start)
	require.True(t, ok)
	_, ok = ix.Find(hourWindow(4).Start)
	require.False(t, ok)
	require.True(t, ix.Remove(hourWindow(3).Start))
	require.False(t, ix.Remove(hourWindow(3).Start))
	require.Len(t, ix.Blocks, 2)
}

func TestIndexRoundTripAndDeterminism(t *testing.T) {
	ix := Index{Cluster: "c", Resolution: Daily}
	ix.Put(testEntry(testDay.Start, Daily))
	ix.Put(testEntry(testDay.Start.Add(-24*time.Hour), Daily))
	data, err := EncodeIndex(ix)
	require.NoError(t, err)
	again, err := EncodeIndex(ix)
	require.NoError(t, err)
	require.Equal(t, data, again)
	got, err := DecodeIndex("k", data, "c", Daily)
	require.NoError(t, err)
	ix.Version = IndexVersion
	require.Equal(t, ix, got)

	empty, err := EncodeIndex(Index{Cluster: "c", Resolution: Hourly})
	require.NoError(t, err)
	require.Contains(t, string(empty), `"blocks": []`, "an empty index lists no blocks, not null")
}

func TestDecodeIndexRejectsBadInput(t *testing.T) {
	good, err := EncodeIndex(Index{Cluster: "c", Resolution: Daily, Blocks: []IndexEntry{testEntry(testDay.Start, Daily)}})
	require.NoError(t, err)
	cases := map[string]struct {
		data, want string
		cluster    string
	}{
		"empty":          {"", "EOF", "c"},
		"not json":       {"PAR1", "invalid character", "c"},
		"unknown field":  {`{"version":1,"cluster":"c","resolution":"1d","blocks":[],"extra":1}`, `unknown field "extra"`, "c"},
		"newer version":  {`{"version":2,"cluster":"c","resolution":"1d","blocks":[]}`, "version 2", "c"},
		"no version":     {`{"cluster":"c","resolution":"1d","blocks":[]}`, "version 0", "c"},
		"other cluster":  {string(good), `index says c/1d, key says d/1d`, "d"},
		"trailing data":  {string(good) + "{}", "trailing data", "c"},
		"unaligned":      {strings.Replace(string(good), `"start": 1704585600`, `"start": 1704585601`, 1), "not one aligned", "c"},
		"bad hash":       {strings.Replace(string(good), strings.Repeat("ab", 32), "abc", 1), "bad size, rows or sha256", "c"},
		"bad resolution": {`{"version":1,"cluster":"c","resolution":"1d","blocks":[{"start":0,"end":3600,"size":1,"rows":1,"sha256":"` + strings.Repeat("0", 64) + `"}]}`, "not one aligned 1d window", "c"},
		"overlap": {`{"version":1,"cluster":"c","resolution":"1h","blocks":[` +
			`{"start":3600,"end":7200,"size":1,"rows":1,"sha256":"` + strings.Repeat("0", 64) + `"},` +
			`{"start":0,"end":3600,"size":1,"rows":1,"sha256":"` + strings.Repeat("0", 64) + `"}]}`, "out of order", "c"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := Daily
			if name == "overlap" {
				res = Hourly
			}
			_, err := DecodeIndex("federated/x/index.json", []byte(tc.data), tc.cluster, res)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "federated/x/index.json", "the error names the object")
		})
	}
}

func FuzzDecodeIndex(f *testing.F) {
	good, err := EncodeIndex(Index{Cluster: "c", Resolution: Daily, Blocks: []IndexEntry{testEntry(testDay.Start, Daily)}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"cluster":"c","resolution":"1d","blocks":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := DecodeIndex("k", data, "c", Daily)
		if err != nil {
			return
		}
		// Whatever is accepted re-encodes and decodes to the same index.
		again, err := EncodeIndex(ix)
		if err != nil {
			t.Fatalf("accepted index does not re-encode: %v", err)
		}
		if _, err := DecodeIndex("k", again, "c", Daily); err != nil {
			t.Fatalf("re-encoded index does not decode: %v", err)
		}
	})
}

func TestLayout(t *testing.T) {
	w := allocation.Window{Start: time.Unix(1704585600, 0).UTC(), End: time.Unix(1704672000, 0).UTC()}
	key := BlockKey("prod-eu-1", Daily, w)
	require.Equal(t, "federated/prod-eu-1/etl/parquet/allocations/1d/1704585600-1704672000.parquet", key)
	require.Equal(t, "federated/prod-eu-1/etl/parquet/allocations/1d/index.json", IndexKey("prod-eu-1", Daily))
	ref, err := ParseBlockKey(key)
	require.NoError(t, err)
	require.Equal(t, BlockRef{Cluster: "prod-eu-1", Resolution: Daily, Window: w}, ref)

	for _, bad := range []string{
		"federated/../etl/parquet/allocations/1d/1704585600-1704672000.parquet",
		"federated/a/b/etl/parquet/allocations/1d/1704585600-1704672000.parquet",
		"federated/a/etl/parquet/allocations/5m/1704585600-1704672000.parquet",
		"federated/a/etl/parquet/allocations/1d/1704585600-1704672001.parquet",
		"federated/a/etl/parquet/allocations/1d/1704585600-1704672000.bingen",
		"federated/a/etl/parquet/allocations/1d/1704672000-1704585600.parquet",
		"federated/a/etl/parquet/allocations/1h/1704585600-1704672000.parquet",
		"other/a/etl/parquet/allocations/1d/1704585600-1704672000.parquet",
	} {
		_, err := ParseBlockKey(bad)
		require.Error(t, err, bad)
	}
	for _, bad := range []string{"", "..", ".hidden", "a/b", "a b", strings.Repeat("x", 129), "ünï"} {
		require.Error(t, ValidateClusterID(bad), bad)
	}
	for _, good := range []string{"a", "prod-eu-1", "cluster_one.example", "0abc"} {
		require.NoError(t, ValidateClusterID(good), good)
	}
}
