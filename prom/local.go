package prom

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// Defaults of the local source's PromQL engine.
const (
	// LocalDefaultMaxSamples bounds the samples one query may hold in
	// memory at once (Prometheus's --query.max-samples default).
	LocalDefaultMaxSamples = 50_000_000
	// LocalDefaultTimeout bounds one query's evaluation.
	LocalDefaultTimeout = 2 * time.Minute
	// LocalDefaultLookbackDelta is how far back an instant vector selector
	// looks for a sample, as in Prometheus.
	LocalDefaultLookbackDelta = 5 * time.Minute
	// LocalDefaultSubqueryStep is the step of a subquery written without
	// one ([1h:]), Prometheus's default global evaluation interval.
	LocalDefaultSubqueryStep = time.Minute
)

// LocalRangeSemantics is how the local source's engine (Prometheus 3)
// bounds range selectors, subqueries and the lookback window: left-open,
// (t-r, t]. A sample exactly at t-r is not selected, where a Prometheus 2
// server would select it: at a time t on the scrape grid,
// count_over_time(x[1h]) of a series scraped every minute is 60 here and 61
// on Prometheus 2, and a subquery [1h:5m] has 12 points instead of 13.
// Away from such boundaries the two agree.
const LocalRangeSemantics = RangeLeftOpen

// LocalOption changes how OpenLocal opens a directory.
type LocalOption func(*localOptions)

type localOptions struct {
	maxSamples int
	timeout    time.Duration
	lookback   time.Duration
	sandbox    string
	logger     *slog.Logger
	includeWAL bool
	filter     *[2]string // label, value
}

// LocalMaxSamples sets the engine's per-query sample limit; a query beyond
// it fails with promql.ErrTooManySamples (wrapped).
func LocalMaxSamples(n int) LocalOption { return func(o *localOptions) { o.maxSamples = n } }

// LocalTimeout sets the engine's per-query timeout.
func LocalTimeout(d time.Duration) LocalOption { return func(o *localOptions) { o.timeout = d } }

// LocalLookbackDelta sets the lookback of instant vector selectors.
func LocalLookbackDelta(d time.Duration) LocalOption { return func(o *localOptions) { o.lookback = d } }

// LocalSandboxDir sets where scratch files go (os.TempDir() by default):
// nothing is ever written into the TSDB directory itself.
func LocalSandboxDir(dir string) LocalOption { return func(o *localOptions) { o.sandbox = dir } }

// LocalLogger sets the logger of the TSDB and engine (silent by default).
func LocalLogger(l *slog.Logger) LocalOption { return func(o *localOptions) { o.logger = l } }

// LocalClusterFilter adds label="value" to every selector of every query, as
// HTTPConfig.ClusterFilter does for the HTTP source (a TSDB holding several
// clusters, such as a shared workspace's blocks). An empty label means
// DefaultClusterLabel; an empty value makes OpenLocal fail.
func LocalClusterFilter(label, value string) LocalOption {
	return func(o *localOptions) { o.filter = &[2]string{label, value} }
}

// LocalIncludeWAL also reads the directory's write-ahead log (a live
// Prometheus data directory's last hours): it is replayed once, at open,
// into a block in the sandbox. Replaying opens the directory's chunks_head
// as Prometheus does, so use it on a copy, never on the directory of a
// running Prometheus. Snapshots and promtool's output have no WAL.
func LocalIncludeWAL() LocalOption { return func(o *localOptions) { o.includeWAL = true } }

// LocalSource answers PromQL over a Prometheus TSDB directory, in-process,
// with the Prometheus 3 engine. It implements Source and is safe for
// concurrent use; Close releases it.
//
// The directory is opened read-only with tsdb.OpenDBReadOnly: its blocks
// are opened once, at OpenLocal, and later blocks added to the directory
// are not seen; its WAL is ignored unless LocalIncludeWAL is given. Each
// query reads the blocks overlapping its time range. Result.SamplesProcessed
// is the engine's total-samples statistic (what a Prometheus server reports
// as totalQueryableSamples with stats=all).
//
// Answers equal a Prometheus 2 server's over the same blocks except in two
// documented ways, both of the engine version (tested against 2.42):
//
//   - Range selectors, subqueries and the lookback window are left-open
//     (LocalRangeSemantics): a sample exactly at the start of a window is
//     not selected.
//   - rate and increase of a counter that starts inside the window:
//     Prometheus 3 first limits the extrapolation towards the window's start
//     to half the average sample interval, then to the counter's zero
//     point; 2.42 did it the other way round, so it may extrapolate up to
//     1.1 intervals back where Prometheus 3 stops at half an interval, and
//     reads slightly higher. Counters that cover the window agree.
type LocalSource struct {
	db        *tsdb.DBReadOnly
	blocks    []tsdb.BlockReader
	walBlocks []*tsdb.Block
	walDir    string
	engine    *promql.Engine
	filter    *ClusterFilter
	closeOnce sync.Once
	closeErr  error
}

var _ Source = (*LocalSource)(nil)

// OpenLocal opens the TSDB directory dir (a Prometheus snapshot, or the
// output of `promtool tsdb create-blocks-from` or sim.WriteTSDB) for
// querying. It fails when dir holds no blocks.
func OpenLocal(dir string, opts ...LocalOption) (*LocalSource, error) {
	o := localOptions{
		maxSamples: LocalDefaultMaxSamples,
		timeout:    LocalDefaultTimeout,
		lookback:   LocalDefaultLookbackDelta,
		sandbox:    os.TempDir(),
		logger:     slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&o)
	}
	var filter *ClusterFilter
	if o.filter != nil {
		var err error
		if filter, err = NewClusterFilter(o.filter[0], o.filter[1]); err != nil {
			return nil, fmt.Errorf("open local TSDB: %w", err)
		}
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open local TSDB: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open local TSDB: %s is not a directory", dir)
	}
	db, err := tsdb.OpenDBReadOnly(dir, o.sandbox, o.logger)
	if err != nil {
		return nil, fmt.Errorf("open local TSDB %s: %w", dir, err)
	}
	s := &LocalSource{db: db, filter: filter}
	if err := s.load(dir, o); err != nil {
		return nil, errors.Join(fmt.Errorf("open local TSDB %s: %w", dir, err), s.Close())
	}
	s.engine = promql.NewEngine(promql.EngineOpts{
		Logger:                   o.logger,
		MaxSamples:               o.maxSamples,
		Timeout:                  o.timeout,
		LookbackDelta:            o.lookback,
		NoStepSubqueryIntervalFn: func(int64) int64 { return LocalDefaultSubqueryStep.Milliseconds() },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
	})
	return s, nil
}

// load opens the blocks, and the WAL's block when asked. The WAL goes
// first: FlushWAL reopens the directory's blocks, closing earlier readers.
func (s *LocalSource) load(dir string, o localOptions) error {
	if o.includeWAL && HasWAL(dir) {
		if err := s.loadWAL(o); err != nil {
			return err
		}
	}
	blocks, err := s.db.Blocks()
	if err != nil {
		return fmt.Errorf("open blocks: %w", err)
	}
	s.blocks = append(blocks, s.blocks...)
	if len(s.blocks) == 0 {
		return errors.New("no TSDB blocks in it")
	}
	return nil
}

// HasWAL reports whether a TSDB directory holds a non-empty write-ahead log
// (samples a live Prometheus has not cut into blocks yet).
func HasWAL(dir string) bool {
	entries, err := os.ReadDir(filepath.Join(dir, "wal"))
	if err != nil {
		return false
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Size() > 0 {
			return true
		}
	}
	return false
}

// loadWAL replays the WAL into a block in a private directory and opens it.
func (s *LocalSource) loadWAL(o localOptions) error {
	walDir, err := os.MkdirTemp(o.sandbox, "costfed-local-wal-")
	if err != nil {
		return fmt.Errorf("replay WAL: %w", err)
	}
	s.walDir = walDir
	if err := s.db.FlushWAL(walDir); err != nil {
		return fmt.Errorf("replay WAL: %w", err)
	}
	entries, err := os.ReadDir(walDir)
	if err != nil {
		return fmt.Errorf("replay WAL: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := tsdb.OpenBlock(o.logger, filepath.Join(walDir, e.Name()), nil, nil)
		if err != nil {
			return fmt.Errorf("open WAL block: %w", err)
		}
		s.walBlocks = append(s.walBlocks, b)
		s.blocks = append(s.blocks, b)
	}
	return nil
}

// Close releases the blocks and removes scratch files. It is safe to call
// more than once.
func (s *LocalSource) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, b := range s.walBlocks {
			errs = append(errs, b.Close())
		}
		if s.walDir != "" {
			errs = append(errs, os.RemoveAll(s.walDir))
		}
		errs = append(errs, s.db.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close local TSDB: %w", err)
		}
	})
	return s.closeErr
}

// RangeSemantics reports LocalRangeSemantics, so query builders can count
// samples exactly as for an HTTP source whose semantics were probed.
func (s *LocalSource) RangeSemantics() RangeSemantics { return LocalRangeSemantics }

// TimeRange returns the first and last sample times the blocks can hold.
func (s *LocalSource) TimeRange() (first, last time.Time) {
	mint, maxt := int64(math.MaxInt64), int64(math.MinInt64)
	for _, b := range s.blocks {
		m := b.Meta()
		mint, maxt = min(mint, m.MinTime), max(maxt, m.MaxTime-1) // MaxTime is exclusive
	}
	return time.UnixMilli(mint).UTC(), time.UnixMilli(maxt).UTC()
}

// Query evaluates an instant query at ts.
func (s *LocalSource) Query(ctx context.Context, query string, ts time.Time) (Result, error) {
	expr, err := s.prepare(query)
	if err != nil {
		return Result{}, fmt.Errorf("local query %q: %w", query, err)
	}
	q, err := s.engine.NewInstantQuery(ctx, localQueryable{s.blocks}, nil, expr, ts)
	if err != nil {
		return Result{}, fmt.Errorf("local query %q: %w", query, err)
	}
	return localExec(ctx, q, query)
}

// QueryRange evaluates a range query over [start, end] at step.
func (s *LocalSource) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Result, error) {
	if step <= 0 {
		return Result{}, fmt.Errorf("local range query %q: step %v is not positive", query, step)
	}
	expr, err := s.prepare(query)
	if err != nil {
		return Result{}, fmt.Errorf("local range query %q: %w", query, err)
	}
	q, err := s.engine.NewRangeQuery(ctx, localQueryable{s.blocks}, nil, expr, start, end, step)
	if err != nil {
		return Result{}, fmt.Errorf("local range query %q: %w", query, err)
	}
	return localExec(ctx, q, query)
}

// prepare applies the cluster filter, as HTTPSource does.
func (s *LocalSource) prepare(query string) (string, error) {
	if s.filter == nil {
		return query, nil
	}
	return s.filter.Apply(query)
}

func localExec(ctx context.Context, q promql.Query, query string) (Result, error) {
	defer q.Close()
	res := q.Exec(ctx)
	if err := ctx.Err(); err != nil && res.Err != nil {
		return Result{}, fmt.Errorf("local query %q: %w", query, err)
	}
	if res.Err != nil {
		return Result{}, fmt.Errorf("local query %q: %w", query, res.Err)
	}
	// Like a server's "warnings" field: PromQL infos (a server's "infos")
	// are left out.
	warnings, _ := res.Warnings.AsStrings(query, 0, 0)
	val, dropped := localToModel(res.Value)
	out := Result{Value: val, Warnings: warnings}
	if dropped > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("local source: %d native histogram samples left out of the result", dropped))
	}
	if st := q.Stats(); st != nil && st.Samples != nil {
		out.SamplesProcessed = st.Samples.TotalSamples
	}
	return out, nil
}

// localToModel converts an engine value to the client model, leaving out
// native histogram samples (which costfed does not use) and counting them.
func localToModel(v parser.Value) (model.Value, int) {
	dropped := 0
	switch v := v.(type) {
	case promql.Vector:
		out := make(model.Vector, 0, len(v))
		for _, s := range v {
			if s.H != nil {
				dropped++
				continue
			}
			out = append(out, &model.Sample{Metric: localMetric(s.Metric), Value: model.SampleValue(s.F), Timestamp: model.Time(s.T)})
		}
		return out, dropped
	case promql.Matrix:
		out := make(model.Matrix, 0, len(v))
		for _, series := range v {
			dropped += len(series.Histograms)
			if len(series.Floats) == 0 {
				continue
			}
			ss := &model.SampleStream{Metric: localMetric(series.Metric), Values: make([]model.SamplePair, len(series.Floats))}
			for i, p := range series.Floats {
				ss.Values[i] = model.SamplePair{Timestamp: model.Time(p.T), Value: model.SampleValue(p.F)}
			}
			out = append(out, ss)
		}
		return out, dropped
	case promql.Scalar:
		return &model.Scalar{Value: model.SampleValue(v.V), Timestamp: model.Time(v.T)}, 0
	case promql.String:
		return &model.String{Value: v.V, Timestamp: model.Time(v.T)}, 0
	default:
		return model.Vector{}, 0
	}
}

func localMetric(ls labels.Labels) model.Metric {
	m := make(model.Metric, ls.Len())
	ls.Range(func(l labels.Label) { m[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return m
}

// localQueryable queries the blocks overlapping a time range, merged.
// Opened blocks support concurrent queriers.
type localQueryable struct{ blocks []tsdb.BlockReader }

func (q localQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	var qs []storage.Querier
	for _, b := range q.blocks {
		m := b.Meta()
		if m.MaxTime <= mint || m.MinTime > maxt {
			continue
		}
		bq, err := tsdb.NewBlockQuerier(b, mint, maxt)
		if err != nil {
			for _, open := range qs {
				_ = open.Close()
			}
			return nil, fmt.Errorf("query block %s: %w", m.ULID, err)
		}
		qs = append(qs, bq)
	}
	switch len(qs) {
	case 0:
		return storage.NoopQuerier(), nil
	case 1:
		return qs[0], nil
	default:
		return storage.NewMergeQuerier(qs, nil, storage.ChainedSeriesMerge), nil
	}
}
