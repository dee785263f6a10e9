package store

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
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
	require.Contains(t, string(gunzip(t, empty)), `"blocks":[]`, "an empty index lists no blocks, not null")
}

// gunzip returns the JSON inside an encoded index.
func gunzip(t testing.TB, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	return plain
}

// gzipBytes compresses data the ordinary way (default level, a name and a
// time in the header): DecodeIndex must not depend on EncodeIndex's settings.
func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Name, zw.ModTime = "index.json", time.Unix(1700000000, 0)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func randomDigest(i int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "block %d", i))
	return hex.EncodeToString(sum[:])
}

func TestIndexEncodingIsCompactGzip(t *testing.T) {
	ix := Index{Cluster: "c", Resolution: Daily}
	for d := range 90 {
		e := testEntry(testDay.Start.Add(time.Duration(d)*24*time.Hour), Daily)
		e.SHA256 = randomDigest(d)
		ix.Put(e)
	}
	data, err := EncodeIndex(ix)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(data, []byte{0x1f, 0x8b, 8}), "gzip magic and deflate")
	require.Equal(t, []byte{0, 0, 0, 0}, data[4:8], "no modification time")
	require.Zero(t, data[3], "no name, comment, extra or header CRC")
	require.Equal(t, byte(255), data[9], "OS unknown")
	plain := gunzip(t, data)
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, plain))
	require.Equal(t, compact.String()+"\n", string(plain), "compact JSON, one trailing newline")
	require.Less(t, len(data), len(plain)/2, "the compressed index is smaller")

	// Equal indexes built apart give equal bytes.
	var other Index
	require.NoError(t, json.Unmarshal(plain, &other))
	again, err := EncodeIndex(other)
	require.NoError(t, err)
	require.Equal(t, data, again)
}

func TestDecodeIndexReadsPlainJSON(t *testing.T) {
	ix := Index{Cluster: "c", Resolution: Daily}
	ix.Put(testEntry(testDay.Start, Daily))
	e := testEntry(testDay.Start.Add(24*time.Hour), Daily)
	e.PendingSize, e.PendingSHA256 = 7, randomDigest(1)
	e.Sources = []Source{{Cluster: "a", SHA256: randomDigest(2)}}
	ix.Put(e)
	ix.Version = IndexVersion
	// The indented JSON earlier builds wrote, byte for byte as they wrote it.
	var old bytes.Buffer
	enc := json.NewEncoder(&old)
	enc.SetIndent("", " ")
	require.NoError(t, enc.Encode(ix))
	got, err := DecodeIndex("k", old.Bytes(), "c", Daily)
	require.NoError(t, err)
	require.Equal(t, ix, got)
	// And a hand-written one, as a fixture would hold it.
	fixture := `{
 "version": 1,
 "cluster": "c",
 "resolution": "1d",
 "blocks": [
  {
   "start": 1704585600,
   "end": 1704672000,
   "size": 100,
   "sha256": "` + strings.Repeat("ab", 32) + `",
   "rows": 3,
   "totalCost": 1.5,
   "complete": true,
   "buildTime": "2024-01-09T00:00:00Z"
  }
 ]
}
`
	got, err = DecodeIndex("k", []byte(fixture), "c", Daily)
	require.NoError(t, err)
	require.Equal(t, Index{Version: 1, Cluster: "c", Resolution: Daily, Blocks: []IndexEntry{testEntry(testDay.Start, Daily)}}, got)
	// Whatever gzip settings wrote it, a gzip index decodes too.
	got, err = DecodeIndex("k", gzipBytes(t, []byte(fixture)), "c", Daily)
	require.NoError(t, err)
	require.Len(t, got.Blocks, 1)
}

func TestDecodeIndexRejectsBadGzip(t *testing.T) {
	good, err := EncodeIndex(Index{Cluster: "c", Resolution: Daily, Blocks: []IndexEntry{testEntry(testDay.Start, Daily)}})
	require.NoError(t, err)
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-6] ^= 0xff // a CRC-32 byte of the trailer
	flipped := bytes.Clone(good)
	flipped[12] ^= 0xff // inside the deflate data
	cases := map[string]struct {
		data []byte
		want string
	}{
		"magic only":        {good[:2], "gzip header: unexpected EOF"},
		"truncated header":  {good[:6], "gzip header: unexpected EOF"},
		"truncated body":    {good[:len(good)/2], "unexpected EOF"},
		"no trailer":        {good[:len(good)-8], "unexpected EOF"},
		"bad checksum":      {corrupt, "checksum"},
		"corrupt deflate":   {flipped, "gzip"},
		"trailing garbage":  {append(bytes.Clone(good), "junk"...), "trailing data"},
		"two members":       {append(bytes.Clone(good), good...), "trailing data"},
		"bad header method": {append([]byte{0x1f, 0x8b, 7}, good[3:]...), "gzip header: gzip: invalid header"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeIndex("federated/x/index.json", tc.data, "c", Daily)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "federated/x/index.json", "the error names the object")
			require.NotErrorIs(t, err, ErrIndexTooLarge)
			var ie *IndexError
			require.ErrorAs(t, err, &ie, "a decode error is typed, apart from transport errors")
			require.Equal(t, "federated/x/index.json", ie.Key)
		})
	}
}

func TestDecodeIndexCapsDecompressedSize(t *testing.T) {
	ix := Index{Cluster: "c", Resolution: Daily}
	for d := range 30 {
		ix.Put(testEntry(testDay.Start.Add(time.Duration(d)*24*time.Hour), Daily))
	}
	data, err := EncodeIndex(ix)
	require.NoError(t, err)
	n := int64(len(gunzip(t, data)))
	_, err = decodeIndex("k", data, "c", Daily, n)
	require.NoError(t, err, "exactly the limit is accepted")
	_, err = decodeIndex("k", data, "c", Daily, n-1)
	require.ErrorIs(t, err, ErrIndexTooLarge)
	require.ErrorContains(t, err, "decode index k")
	var ie *IndexError
	require.ErrorAs(t, err, &ie)
	_, err = decodeIndex("k", gunzip(t, data), "c", Daily, n-1)
	require.ErrorIs(t, err, ErrIndexTooLarge, "plain JSON is capped too")

	// A real bomb against the real limit: 1 MiB of gzip that expands past
	// MaxIndexSize. DecodeIndex stops at the cap and says so.
	if testing.Short() {
		t.Skip("the MaxIndexSize bomb allocates 256 MiB")
	}
	var bomb bytes.Buffer
	zw, err := gzip.NewWriterLevel(&bomb, gzip.BestSpeed)
	require.NoError(t, err)
	_, err = zw.Write([]byte(`{"version":1,"cluster":"c","resolution":"1d","blocks":[],"x":"`))
	require.NoError(t, err)
	chunk := bytes.Repeat([]byte{'a'}, 1<<20)
	for range MaxIndexSize>>20 + 1 {
		_, err = zw.Write(chunk)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.Less(t, bomb.Len(), 4<<20)
	_, err = DecodeIndex("k", bomb.Bytes(), "c", Daily)
	require.ErrorIs(t, err, ErrIndexTooLarge)
}

func TestDecodeIndexRejectsBadInput(t *testing.T) {
	encoded, err := EncodeIndex(Index{Cluster: "c", Resolution: Daily, Blocks: []IndexEntry{testEntry(testDay.Start, Daily)}})
	require.NoError(t, err)
	good := gunzip(t, encoded)
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
		"unaligned":      {strings.Replace(string(good), `"start":1704585600`, `"start":1704585601`, 1), "not one aligned", "c"},
		"bad hash":       {strings.Replace(string(good), strings.Repeat("ab", 32), "abc", 1), "bad size, rows or sha256", "c"},
		"bad resolution": {`{"version":1,"cluster":"c","resolution":"1d","blocks":[{"start":0,"end":3600,"size":1,"rows":1,"sha256":"` + strings.Repeat("0", 64) + `"}]}`, "not one aligned 1d window", "c"},
		"overlap": {`{"version":1,"cluster":"c","resolution":"1h","blocks":[` +
			`{"start":3600,"end":7200,"size":1,"rows":1,"sha256":"` + strings.Repeat("0", 64) + `"},` +
			`{"start":0,"end":3600,"size":1,"rows":1,"sha256":"` + strings.Repeat("0", 64) + `"}]}`, "out of order", "c"},
	}
	for name, tc := range cases {
		res := Daily
		if name == "overlap" {
			res = Hourly
		}
		// Each bad JSON is rejected the same way plain and inside gzip.
		for form, data := range map[string][]byte{"plain": []byte(tc.data), "gzip": gzipBytes(t, []byte(tc.data))} {
			t.Run(name+"/"+form, func(t *testing.T) {
				_, err := DecodeIndex("federated/x/index.json", data, tc.cluster, res)
				require.ErrorContains(t, err, tc.want)
				require.ErrorContains(t, err, "federated/x/index.json", "the error names the object")
			})
		}
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
	// gzip seeds: the plain JSON inside, an ordinary gzip of it, a gzip of a
	// bad index, a truncated and a concatenated stream.
	plain := gunzip(f, good)
	f.Add(plain)
	f.Add(gzipBytes(f, plain))
	f.Add(gzipBytes(f, []byte(`{"version":1,"cluster":"c","resolution":"1d","blocks":null}`)))
	f.Add(gzipBytes(f, nil))
	f.Add(good[:len(good)-3])
	f.Add(append(bytes.Clone(good), good...))
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
