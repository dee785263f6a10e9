// Package prom asks PromQL questions of a Prometheus-compatible store.
//
// # Basics
//
// Everything goes through the two-method Source interface: Query (instant,
// at one time) and QueryRange (start, end, step), context first, answers as
// github.com/prometheus/common/model values with the store's warnings and
// the samples it processed (Result). There are two implementations:
//
//   - HTTPSource (NewHTTP) speaks the Prometheus HTTP API to Prometheus,
//     Amazon Managed Service for Prometheus (AMP), Thanos, Cortex, Mimir or
//     VictoriaMetrics, with no auth, basic auth, a bearer token, custom
//     headers (X-Scope-OrgID), TLS options, or native AWS SigV4
//     (service "aps"; static keys, a profile, or the default chain including
//     IRSA; optionally assuming a role).
//   - The local TSDB source evaluates PromQL in-process over a TSDB
//     directory (see "Local TSDB" below).
//
// HTTPSource is configured by HTTPConfig, a plain struct that cmd fills from
// the agent's config file; this package does not read config files.
//
//	src, err := prom.NewHTTP(ctx, prom.HTTPConfig{
//		URL:           "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-123",
//		SigV4:         &prom.SigV4Auth{Region: "eu-west-1"},
//		ClusterFilter: "cluster-a",
//	}, prom.WithHTTPRegisterer(reg))
//	res, err := src.QueryRange(ctx, `sum(kube_pod_info)`, start, end, 5*time.Minute)
//
// For AMP behind the SigV4 proxy, use the proxy URL with its path and no
// auth: http://localhost:8005/workspaces/ws-123; /api/v1/... is appended to
// the path.
//
// Retries. A request answered by 429, 503 or 504, a 4xx whose body names
// ThrottlingException (AMP throttles with 400), a connection failure, or no
// answer within QueryTimeout is retried with exponential backoff and full
// jitter (a uniform draw from [0, 100ms·2^n]), or after the server's
// Retry-After (seconds or an HTTP date); every wait is capped at
// RetryMaxWait (10s) and there are at most Retries (5) retries. A caller's
// cancellation is never retried and never counted as a failure. At most
// Concurrency (5) requests are in flight per source; backoff waits do not
// hold a slot.
//
// Splitting. A range query longer than MaxQueryRange, or with more than
// Prometheus's 11,000 points per series, is sent in consecutive pieces. A
// piece answered by 422 (execution limits such as "too many samples") or
// 413 (response larger than the store's cap) is halved and each half
// retried, recursively, down to MinSplitRange; then the query fails
// with an error naming the query, the range asked, the piece that failed
// and the store's reason. Cuts fall on step boundaries, so the merged
// matrix equals the unsplit one (split.go explains why).
//
// Cluster filter. With HTTPConfig.ClusterFilter set, every vector and
// matrix selector of every query gets ClusterLabel="<id>" (label
// "cluster_id" by default), added through the PromQL parser rather than
// string templates, so subqueries, aggregations, binary operations,
// offsets and @ modifiers all stay correct. ClusterFilter.Apply does the
// same for other callers, and Filtered wraps any Source with it: one
// cluster's view of a source several clusters share (a central agent),
// sending the queries a source built with that filter would send. Limited
// wraps a Source so that at most n queries run through it at once, across
// every caller: the one bound a central agent's clusters share.
//
// Range semantics. Prometheus 2 includes a sample sitting exactly at the
// start of a range window; Prometheus 3 and some Cortex-family stores do
// not. ProbeRangeSemantics finds out with one query that needs no data, and
// RangeSemantics.SubqueryPoints turns the answer into exact sample counts
// for query builders.
//
// Counters. HTTPSource.Stats returns queries, failures, requests, retries by
// reason, splits and samples processed; WithHTTPRegisterer exposes the same as
// costfed_prom_* metrics on an injected registerer (none by default).
//
// # Local TSDB
//
// OpenLocal opens a TSDB directory (a snapshot, promtool's output, or
// sim.WriteTSDB) read-only and evaluates PromQL in-process with the Prometheus 3
// engine. It is for unit tests, the demo and offline backfill, not a stand-in
// for the HTTP path in tests. Its answers equal a Prometheus 2 server's except
// for two documented engine differences: left-open range selection
// (LocalRangeSemantics: a sample exactly at a range's start is excluded, so a
// [1h:5m] subquery has 12 points, not 13), and rate/increase of a counter that
// starts inside the range, which Prometheus 3 extrapolates towards the range
// start by less (a slightly lower answer).
//
// LocalClusterFilter applies the same cluster filter as
// HTTPConfig.ClusterFilter, for a directory holding several clusters' series
// (blocks of a shared workspace). cmd's backfill and rebuild open a
// LocalSource for agent.yaml's prometheus.tsdb_path.
//
// # Caveats
//
//   - An instant query cannot be split: on 422 or 413 it fails with the
//     store's reason. Query builders must keep the ranges inside instant
//     queries (avg_over_time(x[1d])) within MaxQueryRange themselves.
//   - 422 also covers execution errors that no split fixes (many-to-many
//     matching, say). Halving is depth first, so such a query fails after
//     about log2(points) requests, not one request per point.
//   - Pieces of one range query are sent one after another, not in
//     parallel; concurrency comes from callers asking several queries.
//   - The cluster filter leaves a selector alone when it already has a
//     matcher on the cluster label, whatever its value or operator. The
//     rewritten query is printed by the parser, so its text differs from the
//     input (label order, spacing, durations) while meaning the same; the
//     label name must be a classic one ([a-zA-Z_][a-zA-Z0-9_]*) so that
//     Prometheus 2 and AMP understand the output.
//   - Responses are decoded here, not by client_golang's typed API, which
//     drops query stats, Retry-After and non-Prometheus error bodies.
//     stats=all is always requested; stores that ignore it give
//     SamplesProcessed 0. Requests are POSTed form-encoded, falling back to
//     GET on 405 or 501.
//   - QueryTimeout bounds each request, not the whole call: a call can take
//     up to (Retries+1)·QueryTimeout plus the waits. Bound the whole call
//     with the context.
//   - Password and token files are re-read on every request; TLS files are
//     read once, by NewHTTP. With SigV4, NewHTTP resolves AWS credentials
//     once (which may call IMDS or STS), so a broken chain fails early.
//   - Stats and metrics count per source; registering two sources on one
//     registerer is an error unless wrapped (prometheus.WrapRegistererWith).
//   - ProbeRangeSemantics evaluates at the current minute by default
//     (ProbeAt overrides): stores that limit lookback may answer nothing
//     for old times.
package prom
