package sim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// DefaultBlockDuration is the time range of each TSDB block WriteTSDB writes.
const DefaultBlockDuration = 24 * time.Hour

// partDuration is the range of the parts a block is assembled from: the
// samples of one part are held in memory at a time.
const partDuration = 2 * time.Hour

// TSDBOptions tune WriteTSDB.
type TSDBOptions struct {
	// BlockDuration is the time range of each block, a whole number of
	// hours (DefaultBlockDuration when zero). Blocks are aligned to
	// multiples of it since the epoch, like Prometheus's.
	BlockDuration time.Duration
}

// tsdbCommitEvery bounds the samples an appender holds before it commits.
const tsdbCommitEvery = 200_000

// WriteTSDB writes every sample of the range [Start, End] into dir as
// Prometheus TSDB blocks (no WAL), the layout `promtool tsdb
// create-blocks-from` produces: a Prometheus server or OpenLocal can read
// dir directly. dir is created if needed and should hold no blocks that
// overlap the range.
//
// Each block is written in parts of at most two hours (only one part's
// samples are in memory at a time) in a staging directory inside dir, then
// the parts are compacted into the block, as Prometheus compacts its head.
func (f *Fleet) WriteTSDB(ctx context.Context, dir string, opts TSDBOptions) (Stats, error) {
	var st Stats
	bd := opts.BlockDuration
	if bd == 0 {
		bd = DefaultBlockDuration
	}
	if bd < time.Hour || bd%time.Hour != 0 {
		return st, fmt.Errorf("write TSDB: block duration %v is not a whole number of hours", bd)
	}
	part := partDuration
	if bd%part != 0 {
		part = time.Hour
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, fmt.Errorf("write TSDB: %w", err)
	}
	step := int64(bd / time.Second)
	for b := floorDiv(f.start, step) * step; b <= f.end; b += step {
		if err := f.writeBlock(ctx, dir, b, step, int64(part/time.Second), &st); err != nil {
			return st, fmt.Errorf("write TSDB block at %s: %w", time.Unix(b, 0).UTC().Format(time.RFC3339), err)
		}
	}
	size, err := dirSize(dir)
	if err != nil {
		return st, fmt.Errorf("write TSDB: %w", err)
	}
	st.Bytes = size
	return st, nil
}

// writeBlock writes the block [b, b+step) from parts of length part.
func (f *Fleet) writeBlock(ctx context.Context, dir string, b, step, part int64, st *Stats) (err error) {
	staging, err := os.MkdirTemp(dir, ".parts-")
	if err != nil {
		return fmt.Errorf("create staging dir: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(staging)) }()
	var parts []string
	for p := b; p < b+step; p += part {
		from, to := max(p, f.start), min(p+part, f.end+1)
		if from >= to {
			continue
		}
		id, err := f.writePart(ctx, staging, part, from, to, st)
		if err != nil {
			return err
		}
		if id != "" {
			parts = append(parts, filepath.Join(staging, id))
		}
	}
	switch len(parts) {
	case 0:
		return nil
	case 1:
		if err := os.Rename(parts[0], filepath.Join(dir, filepath.Base(parts[0]))); err != nil {
			return fmt.Errorf("move block: %w", err)
		}
		return nil
	}
	logger := slog.New(slog.DiscardHandler)
	c, err := tsdb.NewLeveledCompactor(ctx, nil, logger, []int64{step * 1000}, nil, nil)
	if err != nil {
		return fmt.Errorf("create compactor: %w", err)
	}
	if _, err := c.Compact(dir, parts, nil); err != nil {
		return fmt.Errorf("compact %d parts: %w", len(parts), err)
	}
	return nil
}

// writePart writes the samples in [from, to) as one block in dir and
// returns its directory name ("" when there were no samples).
func (f *Fleet) writePart(ctx context.Context, dir string, part, from, to int64, st *Stats) (id string, err error) {
	logger := slog.New(slog.DiscardHandler)
	// Twice the part range, as promtool does: the head accepts samples no
	// older than half its chunk range behind its newest sample, and series
	// are appended one after the other over the whole part.
	w, err := tsdb.NewBlockWriter(logger, dir, 2*part*1000)
	if err != nil {
		return id, fmt.Errorf("open block writer: %w", err)
	}
	defer func() { err = errors.Join(err, w.Close()) }()
	s := &tsdbSink{ctx: ctx, w: w, app: w.Appender(ctx), b: labels.NewScratchBuilder(16)}
	if err := f.emit(ctx, s, from, to, st); err != nil {
		_ = s.app.Rollback()
		return id, err
	}
	if err := s.app.Commit(); err != nil {
		return id, fmt.Errorf("commit samples: %w", err)
	}
	if s.total == 0 {
		return id, nil
	}
	ulid, err := w.Flush(ctx)
	if err != nil {
		return id, fmt.Errorf("flush block: %w", err)
	}
	return ulid.String(), nil
}

// tsdbSink appends samples to a block writer's head.
type tsdbSink struct {
	ctx     context.Context
	w       *tsdb.BlockWriter
	app     storage.Appender
	b       labels.ScratchBuilder
	lset    labels.Labels
	ref     storage.SeriesRef
	pending int
	total   int64
}

func (s *tsdbSink) family(string, string, metricType) error { return nil }

func (s *tsdbSink) series(metric string, ls []label) error {
	s.b.Reset()
	s.b.Add(model.MetricNameLabel, metric)
	for _, l := range ls {
		s.b.Add(l.name, l.value)
	}
	s.b.Sort()
	s.lset = s.b.Labels()
	s.ref = 0
	return nil
}

func (s *tsdbSink) sample(t int64, v float64) error {
	ref, err := s.app.Append(s.ref, s.lset, t*1000, v)
	if err != nil {
		return fmt.Errorf("append %s at %d: %w", s.lset.Get(model.MetricNameLabel), t, err)
	}
	s.ref = ref
	s.total++
	s.pending++
	if s.pending >= tsdbCommitEvery {
		if err := s.app.Commit(); err != nil {
			return fmt.Errorf("commit samples: %w", err)
		}
		s.app = s.w.Appender(s.ctx)
		s.pending = 0
	}
	return nil
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}
