package prom

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
)

// matrixBody is a query_range answer of series × points samples, as
// Prometheus writes it.
func matrixBody(series, points int) []byte {
	var b strings.Builder
	b.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
	for s := range series {
		if s > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"metric":{"__name__":"container_cpu_usage_seconds_total","namespace":"ns-%d","pod":"pod-%d","container":"app","node":"node-%d"},"values":[`, s%17, s, s%9)
		for p := range points {
			if p > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `[%d.%03d,"%d.%d"]`, 1704067200+60*p, p%1000, s*p, p%7)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`],"stats":{"samples":{"totalQueryableSamples":12345}}},"warnings":["w1"]}`)
	return []byte(b.String())
}

func TestDecodeQueryResponseShapes(t *testing.T) {
	scrub := newScrubber(HTTPConfig{})
	res, err := decodeQueryResponse(matrixBody(3, 4), scrub)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := res.Value.(model.Matrix)
	if !ok || len(m) != 3 || len(m[2].Values) != 4 || res.SamplesProcessed != 12345 || len(res.Warnings) != 1 {
		t.Fatalf("decoded %T %v, samples %d, warnings %q", res.Value, res.Value, res.SamplesProcessed, res.Warnings)
	}
	for body, want := range map[string]string{
		`not json`: `decode response "not json"`,
		`{"status":"error","errorType":"bad_data","error":"parse error"}`:    `store answered status "error": bad_data: parse error`,
		`{"status":"success","data":{"resultType":"matrix","result":{}}}`:    `decode matrix result`,
		`{"status":"success","data":{"resultType":"histogram","result":[]}}`: `unknown value type "histogram"`,
		`{"status":"success","data":"oops"}`:                                 `decode response data`,
		`{"status":"success","data":null}`:                                   `unknown result type`,
	} {
		if _, err := decodeQueryResponse([]byte(body), scrub); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", body, err, want)
		}
	}
}

// FuzzDecodeQueryResponse: any bytes from a store decode to a value or an
// error, never a panic, and an accepted matrix is what a plain decode of its
// result gives.
func FuzzDecodeQueryResponse(f *testing.F) {
	f.Add(matrixBody(2, 3))
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"2"]}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}`))
	f.Add([]byte(`{"status":"error","errorType":"x","error":"y"}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"NaN"],[2,"+Inf"]]}]}}`))
	f.Add([]byte(``))
	scrub := newScrubber(HTTPConfig{})
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := decodeQueryResponse(body, scrub)
		if err != nil {
			return
		}
		m, ok := res.Value.(model.Matrix)
		if !ok {
			return
		}
		var env struct {
			Data struct {
				Result model.Matrix `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatalf("accepted a body a plain decode refuses: %v", err)
		}
		if len(env.Data.Result) != len(m) {
			t.Fatalf("decoded %d series, a plain decode %d", len(m), len(env.Data.Result))
		}
	})
}

// BenchmarkDecodeQueryResponse: a 2,000-series × 60-point range answer
// (~5 MB) decoded by the source, next to the floor: decoding the result
// array alone into a model.Matrix.
func BenchmarkDecodeQueryResponse(b *testing.B) {
	body := matrixBody(2000, 60)
	scrub := newScrubber(HTTPConfig{})
	b.Run("source", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeQueryResponse(body, scrub); err != nil {
				b.Fatal(err)
			}
		}
	})
	start := strings.Index(string(body), `[{"metric"`)
	end := strings.LastIndex(string(body), `],"stats"`) + 1
	result := body[start:end]
	b.Run("baseline-result-only", func(b *testing.B) {
		b.SetBytes(int64(len(result)))
		b.ReportAllocs()
		for b.Loop() {
			var m model.Matrix
			if err := json.Unmarshal(result, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
