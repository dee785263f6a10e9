package allocation

import (
	"sort"
	"time"
)

// Sample is one point of a series: Unix milliseconds and a value.
type Sample struct {
	T int64
	V float64
}

// Series is one series of a query's answer. Labels exclude __name__ and the
// MetricLabel tag; Metric is the metric it comes from.
type Series struct {
	Metric  string
	Labels  map[string]string
	Samples []Sample
}

// QueryResults are a window's query answers, grouped by metric, ready for
// Compute. Build them with NewQueryResults and Add.
type QueryResults struct {
	// Options are the options the query set was built with (defaults filled).
	Options QueryOptions
	// Metrics holds the series of each metric.
	Metrics map[string][]Series
	// Queries is the number of queries answered (fallbacks included);
	// SamplesProcessed sums the store's samples processed where it reports
	// them.
	Queries          int
	SamplesProcessed int64
	// Warnings are the store's warnings.
	Warnings []string
}

// NewQueryResults returns empty results for a query set built with opts.
func NewQueryResults(opts QueryOptions) QueryResults {
	return QueryResults{Options: opts.withDefaults(), Metrics: map[string][]Series{}}
}

// Add files the series of one query's answer under their metrics: the
// MetricLabel tag, else __name__, else the query's name. It takes ownership
// of series' label maps and sample slices, and sorts samples by time.
func (r *QueryResults) Add(q Query, series []Series) {
	if r.Metrics == nil {
		r.Metrics = map[string][]Series{}
	}
	for _, s := range series {
		m := s.Metric
		if v, ok := s.Labels[MetricLabel]; ok {
			m = v
			delete(s.Labels, MetricLabel)
		}
		if v, ok := s.Labels["__name__"]; ok {
			if m == "" {
				m = v
			}
			delete(s.Labels, "__name__")
		}
		if m == "" {
			m = q.Name
		}
		s.Metric = m
		if !sort.SliceIsSorted(s.Samples, func(i, j int) bool { return s.Samples[i].T < s.Samples[j].T }) {
			sort.SliceStable(s.Samples, func(i, j int) bool { return s.Samples[i].T < s.Samples[j].T })
		}
		r.Metrics[m] = append(r.Metrics[m], s)
	}
}

// stepMillis is the scrape step in milliseconds.
func (r *QueryResults) stepMillis() int64 {
	s := r.Options.Step
	if s <= 0 {
		s = DefaultStep
	}
	return s.Milliseconds()
}

func millis(t time.Time) int64 { return t.UnixMilli() }
