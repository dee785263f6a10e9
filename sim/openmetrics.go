package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
)

// WriteOpenMetrics writes every sample of the range [Start, End] to w as
// OpenMetrics text that `promtool tsdb create-blocks-from openmetrics`
// accepts: timestamps in seconds, each family contiguous with a # HELP and
// # TYPE line (counters typed on the name without _total), each series in
// time order, and # EOF last. Memory use does not depend on the range or
// the number of samples.
func (f *Fleet) WriteOpenMetrics(ctx context.Context, w io.Writer) (Stats, error) {
	var st Stats
	s := &omSink{w: w, buf: make([]byte, 0, omFlushSize+4096)}
	if err := f.emit(ctx, s, f.start, f.end+1, &st); err != nil {
		return st, fmt.Errorf("write OpenMetrics: %w", err)
	}
	s.buf = append(s.buf, "# EOF\n"...)
	if err := s.flush(); err != nil {
		return st, fmt.Errorf("write OpenMetrics: %w", err)
	}
	st.Bytes = s.written
	return st, nil
}

// omFlushSize is how much text omSink buffers before writing.
const omFlushSize = 256 << 10

// omSink formats samples as OpenMetrics text into a buffer flushed to w.
type omSink struct {
	w       io.Writer
	buf     []byte
	prefix  []byte // "metric{labels} " of the current series
	written int64
}

func (s *omSink) flush() error {
	n, err := s.w.Write(s.buf)
	s.written += int64(n)
	s.buf = s.buf[:0]
	return err
}

func (s *omSink) family(name, help string, typ metricType) error {
	s.buf = append(s.buf, "# HELP "...)
	s.buf = append(s.buf, name...)
	s.buf = append(s.buf, ' ')
	s.buf = appendEscaped(s.buf, help)
	s.buf = append(s.buf, "\n# TYPE "...)
	s.buf = append(s.buf, name...)
	s.buf = append(s.buf, ' ')
	s.buf = append(s.buf, typ.String()...)
	s.buf = append(s.buf, '\n')
	return nil
}

func (s *omSink) series(metric string, ls []label) error {
	p := append(s.prefix[:0], metric...)
	if len(ls) > 0 {
		p = append(p, '{')
		for i, l := range ls {
			if i > 0 {
				p = append(p, ',')
			}
			p = append(p, l.name...)
			p = append(p, '=', '"')
			p = appendEscaped(p, l.value)
			p = append(p, '"')
		}
		p = append(p, '}')
	}
	s.prefix = append(p, ' ')
	return nil
}

func (s *omSink) sample(t int64, v float64) error {
	s.buf = append(s.buf, s.prefix...)
	s.buf = appendValue(s.buf, v)
	s.buf = append(s.buf, ' ')
	s.buf = strconv.AppendInt(s.buf, t, 10)
	s.buf = append(s.buf, '\n')
	if len(s.buf) >= omFlushSize {
		return s.flush()
	}
	return nil
}

// appendValue formats v so that parsing it gives v back exactly: integers
// as integers, other numbers in the shortest exact form.
func appendValue(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.AppendInt(b, int64(v), 10)
	default:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
}

// appendEscaped escapes backslash, double quote and newline as OpenMetrics
// requires in label values and help text.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}
