package prom

import (
	"context"
	"fmt"
	"time"
)

// Filtered returns a Source that applies f to every query before passing it
// to src: one cluster's view of a source shared by several (a central
// agent's workspace). The query src receives is the one an HTTPSource or
// LocalSource built with that filter would send, so answers are the same.
func Filtered(src Source, f *ClusterFilter) Source {
	return filteredSource{src: src, f: f}
}

type filteredSource struct {
	src Source
	f   *ClusterFilter
}

func (s filteredSource) Query(ctx context.Context, query string, ts time.Time) (Result, error) {
	q, err := s.f.Apply(query)
	if err != nil {
		return Result{}, fmt.Errorf("query %q: %w", query, err)
	}
	return s.src.Query(ctx, q, ts)
}

func (s filteredSource) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Result, error) {
	q, err := s.f.Apply(query)
	if err != nil {
		return Result{}, fmt.Errorf("range query %q: %w", query, err)
	}
	return s.src.QueryRange(ctx, q, start, end, step)
}

// Limited returns a Source that lets at most n queries (n < 1 means 1)
// run through src at once, across every caller: the shared bound of a
// central agent's clusters, so that many clusters do not stampede one
// workspace. A query waiting for a slot gives up when its ctx ends.
func Limited(src Source, n int) Source {
	return limitedSource{src: src, sem: make(chan struct{}, max(n, 1))}
}

type limitedSource struct {
	src Source
	sem chan struct{}
}

func (s limitedSource) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s limitedSource) Query(ctx context.Context, query string, ts time.Time) (Result, error) {
	if err := s.acquire(ctx); err != nil {
		return Result{}, err
	}
	defer func() { <-s.sem }()
	return s.src.Query(ctx, query, ts)
}

func (s limitedSource) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Result, error) {
	if err := s.acquire(ctx); err != nil {
		return Result{}, err
	}
	defer func() { <-s.sem }()
	return s.src.QueryRange(ctx, query, start, end, step)
}
