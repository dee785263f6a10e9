#!/usr/bin/env bash
# Runs OpenCost's own integration tests (github.com/opencost/opencost-integration-tests)
# against `costfed serve` on a simulated one-cluster store whose data ends at the
# end of the current hour (OPEN_HOUR below), with a real Prometheus (Debian's
# `prometheus`) serving the simulated TSDB for the tests that compare the API with
# PromQL (docs/compatibility.md, "OpenCost integration tests", has the results and
# the reasons for each failure).
#
# NOT part of `make test`: the test module's dependencies come from the Go module
# proxy (network), and it needs a checkout of the tests, which are not copied here.
#
# Usage: scripts/opencost-integration.sh UPSTREAM_DIR [WORK_DIR]
#   UPSTREAM_DIR  a checkout of opencost/opencost-integration-tests
#                 (git clone https://github.com/opencost/opencost-integration-tests)
#   WORK_DIR      scratch directory for the TSDB, the store and the logs
#                 (default: a new temporary directory; kept afterwards)
# Environment:
#   SUITES     test packages, relative to UPSTREAM_DIR (default: the allocation, asset,
#              query and prometheus suites)
#   RUN        a `go test -run` pattern (default: every test)
#   DAYS       simulated days (default 9: the tests ask for windows up to 7d)
#   NODES      nodes in the one simulated cluster (default 3)
#   OPEN_HOUR  1 (default): simulate and build the current hour too, with data up to
#              its end, standing in for a live agent's open window (the tests ask for
#              10m and 1h windows, and end their PromQL at the next whole hour);
#              0: data ends at the last whole hour, so those windows have no data
#   API_PORT, PROM_PORT  loopback ports (default 19003, 19090)
#   KEEP=1     leave `costfed serve` and Prometheus running after the tests
# Needs: go, prometheus (2.x, on PATH), curl.
set -euo pipefail

UP=${1:?usage: $0 UPSTREAM_DIR [WORK_DIR]}
UP=$(cd "$UP" && pwd)
W=${2:-$(mktemp -d /tmp/costfed-ocit.XXXXXX)}
mkdir -p "$W"
W=$(cd "$W" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DAYS=${DAYS:-9}
NODES=${NODES:-3}
API_PORT=${API_PORT:-19003}
PROM_PORT=${PROM_PORT:-19090}
SUITES=${SUITES:-./test/integration/api/allocation ./test/integration/api/asset ./test/integration/query/... ./test/integration/prometheus}
RUN=${RUN:-.}
END=$(date -u +%Y-%m-%dT%H:00:00Z)
if [ "${OPEN_HOUR:-1}" = 1 ]; then
  END=$(date -u -d "$END + 1 hour" +%Y-%m-%dT%H:00:00Z)
fi
echo "work dir: $W  data end: $END  date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"

(cd "$ROOT" && go build -o "$W/costfed" ./cmd/costfed)
CF="$W/costfed"

rm -rf "$W/sim" "$W/store" "$W/prom"
"$CF" simulate --out "$W/sim" --clusters 1 --nodes "$NODES" --days "$DAYS" --end "$END"
CLUSTER=$(head -c 2000 "$W/sim/truth.jsonl" | sed -n 's/.*"cluster":"\([^"]*\)".*/\1/p' | head -1)

cat > "$W/store.yaml" <<EOF
type: FILESYSTEM
config:
  directory: $W/store
EOF
# Backfill straight from the TSDB directory (before Prometheus owns it).
cat > "$W/agent.yaml" <<EOF
cluster_id: $CLUSTER
store: $W/store.yaml
prometheus:
  tsdb_path: $W/sim/tsdb
  cluster_filter: true
resolutions:
  - {resolution: 1h, retention: $((DAYS * 24 + 24))h}
  - {resolution: 1d, retention: 91d}
EOF
cat > "$W/federator.yaml" <<EOF
store: $W/store.yaml
retention:
  1h: $((DAYS * 24 + 24))h
  1d: 91d
EOF
FROM=$(date -u -d "$END - $DAYS days" +%Y-%m-%dT%H:00:00Z)
"$CF" backfill --config "$W/agent.yaml" --from "$FROM" --to "$END" > "$W/backfill.log" 2>&1
"$CF" federator --config "$W/federator.yaml" --once > "$W/federator.log" 2>&1

pids=()
cleanup() { [ "${KEEP:-0}" = 1 ] || for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

echo 'global: {}' > "$W/prometheus.yml"
prometheus --config.file "$W/prometheus.yml" --storage.tsdb.path "$W/sim/tsdb" \
  --storage.tsdb.retention.time 30d --web.listen-address "127.0.0.1:$PROM_PORT" > "$W/prometheus.log" 2>&1 &
pids+=($!)
"$CF" serve --config "$W/federator.yaml" --listen "127.0.0.1:$API_PORT" > "$W/serve.log" 2>&1 &
pids+=($!)
for i in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$API_PORT/healthz" > /dev/null &&
    curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" > /dev/null && break
  sleep 0.2
done

cd "$UP"
set +e
# shellcheck disable=SC2086
OPENCOST_URL="http://127.0.0.1:$API_PORT" PROMETHEUS_URL="http://127.0.0.1:$PROM_PORT" \
  go test -count=1 -v -run "$RUN" $SUITES 2>&1 | tee "$W/go-test.log"
rc=${PIPESTATUS[0]}
set -e
echo "summary ($W/go-test.log):"
grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|ok|FAIL|PASS)' "$W/go-test.log" | grep -E '^(--- |ok|FAIL)' | grep -v '^--- .*/' || true
exit "$rc"
