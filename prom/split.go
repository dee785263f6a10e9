package prom

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/common/model"
)

// A range query evaluates at start, start+step, … up to the last such point
// not after end. Splitting cuts that list of points in two: the left part
// keeps points 0…m-1, the right part m…n-1, each sent with its own first and
// last point as start and end. Every point is evaluated exactly once, at the
// same absolute time as unsplit, so concatenating the parts' series gives the
// unsplit matrix: no timestamp is duplicated or lost at a seam. (Subquery
// and range-selector windows are relative to each point, so they are not
// affected either.)

// alignEnd moves r.end back to the last evaluation point.
func alignEnd(r apiRequest) apiRequest {
	steps := r.end.Sub(r.start) / r.step
	r.end = r.start.Add(steps * r.step)
	return r
}

// rangePoints is the number of evaluation points of an aligned range request.
func rangePoints(r apiRequest) int64 {
	return int64(r.end.Sub(r.start)/r.step) + 1
}

// maxPointsPerQuery is Prometheus's limit on the points of one range query
// ("exceeded maximum resolution of 11,000 points per timeseries", a 400 that
// no retry or split would cure, so pieces are cut below it up front).
const maxPointsPerQuery = 11000

// piecesOf cuts r into consecutive pieces spanning at most maxRange each
// (one point each when maxRange < step), and never more than
// maxPointsPerQuery points. maxRange <= 0 means no limit but that one.
func piecesOf(r apiRequest, maxRange time.Duration) []apiRequest {
	r = alignEnd(r)
	if byPoints := (maxPointsPerQuery - 1) * r.step; maxRange <= 0 || maxRange > byPoints {
		maxRange = byPoints
	}
	if r.end.Sub(r.start) <= maxRange {
		return []apiRequest{r}
	}
	stepsPerPiece := maxRange / r.step
	var out []apiRequest
	for from := r.start; !from.After(r.end); {
		to := from.Add(stepsPerPiece * r.step)
		if to.After(r.end) {
			to = r.end
		}
		p := r
		p.start, p.end = from, to
		out = append(out, p)
		from = to.Add(r.step)
	}
	return out
}

// halves splits an aligned range request in two at a step boundary. It
// refuses (ok false) a single point, or a span no longer than floor.
func halves(r apiRequest, floor time.Duration) (left, right apiRequest, ok bool) {
	n := rangePoints(r)
	if n < 2 || r.end.Sub(r.start) <= floor {
		return r, r, false
	}
	m := n / 2
	left, right = r, r
	left.end = r.start.Add(time.Duration(m-1) * r.step)
	right.start = r.start.Add(time.Duration(m) * r.step)
	return left, right, true
}

// rangeWithSplits sends r with retries; on 422 or 413 it halves r and
// recurses into each half, depth first, so a query that fails even at the
// floor fails after about log2(points) requests rather than after all of
// them.
func (s *HTTPSource) rangeWithSplits(ctx context.Context, r apiRequest) (Result, error) {
	res, err := s.withRetries(ctx, r)
	if err == nil {
		return res, nil
	}
	he, ok := errors.AsType[*HTTPError](err)
	if !ok || !he.tooLarge() {
		return Result{}, err
	}
	left, right, ok := halves(r, s.cfg.MinSplitRange)
	if !ok {
		return Result{}, fmt.Errorf("piece [%s, %s] (%d points) still too large and cannot be split further (floor %s): %w",
			formatInstant(r.start), formatInstant(r.end), rangePoints(r), s.cfg.MinSplitRange, err)
	}
	s.counters.split()
	s.log.Debug("splitting range query", "status", he.StatusCode, "start", r.start, "end", r.end, "points", rangePoints(r))
	a, err := s.rangeWithSplits(ctx, left)
	if err != nil {
		return Result{}, err
	}
	b, err := s.rangeWithSplits(ctx, right)
	if err != nil {
		return Result{}, err
	}
	return mergeResults(a, b)
}

// mergeResults concatenates the matrices of consecutive, disjoint range
// pieces given in time order: series are matched by label set, samples
// appended in order, the result sorted by labels as Prometheus sorts it.
// Warnings are de-duplicated and samples processed summed.
func mergeResults(parts ...Result) (Result, error) {
	if len(parts) == 1 {
		return parts[0], nil
	}
	out := Result{}
	bySeries := map[model.Fingerprint][]*model.SampleStream{}
	var merged model.Matrix
	for _, p := range parts {
		out.SamplesProcessed += p.SamplesProcessed
		for _, w := range p.Warnings {
			if !slices.Contains(out.Warnings, w) {
				out.Warnings = append(out.Warnings, w)
			}
		}
		if p.Value == nil {
			continue
		}
		mat, ok := p.Value.(model.Matrix)
		if !ok {
			return Result{}, fmt.Errorf("merge range pieces: got a %s, want a matrix", p.Value.Type())
		}
		for _, ss := range mat {
			if dst := findSeries(bySeries, ss.Metric); dst != nil {
				dst.Values = append(dst.Values, ss.Values...)
				dst.Histograms = append(dst.Histograms, ss.Histograms...)
				continue
			}
			cp := &model.SampleStream{
				Metric:     ss.Metric,
				Values:     slices.Clone(ss.Values),
				Histograms: slices.Clone(ss.Histograms),
			}
			fp := ss.Metric.Fingerprint()
			bySeries[fp] = append(bySeries[fp], cp)
			merged = append(merged, cp)
		}
	}
	if merged == nil {
		merged = model.Matrix{}
	}
	sort.Sort(merged)
	out.Value = merged
	return out, nil
}

// findSeries looks a label set up by fingerprint, comparing labels to rule
// out hash collisions.
func findSeries(bySeries map[model.Fingerprint][]*model.SampleStream, m model.Metric) *model.SampleStream {
	for _, ss := range bySeries[m.Fingerprint()] {
		if ss.Metric.Equal(m) {
			return ss
		}
	}
	return nil
}
