#!/usr/bin/env bash
# costfed cold (a fresh `costfed query`) and warm (a running `costfed serve`,
# default config), and DuckDB cold (a fresh duckq), on the month fixture of
# api/bench_test.go, in one run (BENCHMARKS.md, "Query API"). Needs:
#   COSTFED_BENCH_API_DIR=/work/bench/m30 go test ./api -run '^$' -bench PlainArrow -benchtime 1x   # writes the fixture
#   go build -o /tmp/costfed-new ./cmd/costfed      # and /tmp/costfed-base from an older commit, or VERSIONS=new
#   (cd tools/duckdb && go build -o /tmp/duckq ./cmd/duckq)
#   a store config {type: FILESYSTEM, config: {directory: $DIR}} and a federator.yaml {store: that file}
#   (STORE_YAML, FED_YAML; defaults /tmp/m30-store.yaml, /tmp/m30-fed.yaml); WINDOW overrides the month.
set -u
W=${WINDOW:-2024-01-01T00:00:00Z,2024-01-31T00:00:00Z}
DIR=${DIR:-/work/bench/m30}
STORE_YAML=${STORE_YAML:-/tmp/m30-store.yaml}
FED_YAML=${FED_YAML:-/tmp/m30-fed.yaml}
qargs() {
  case $1 in
    namespace) echo --aggregate namespace ;;
    cluster) echo --aggregate cluster ;;
    label) echo --aggregate label:tier ;;
  esac
}
declare -A U=( [namespace]="aggregate=namespace" [cluster]="aggregate=cluster" [label]="aggregate=label:tier" [nsfilter]="aggregate=namespace&filter=namespace:%22ns-3%22" )
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for q in namespace cluster label nsfilter; do
  dq=$q; [ $q = nsfilter ] && dq=filter
  /usr/bin/time -f "cold duckdb $q elapsed=%es user=%Us sys=%Ss maxrss=%MkB" /tmp/duckq --dir $DIR --question $dq --label tier --namespace ns-3 -q
done
for v in ${VERSIONS:-new base}; do
  for q in namespace cluster label nsfilter; do
    if [ $q = nsfilter ]; then
      /usr/bin/time -f "cold $v $q elapsed=%es user=%Us sys=%Ss maxrss=%MkB" /tmp/costfed-$v query --store "$STORE_YAML" --window $W --aggregate namespace --filter 'namespace:"ns-3"' --format csv > /dev/null
    else
      /usr/bin/time -f "cold $v $q elapsed=%es user=%Us sys=%Ss maxrss=%MkB" /tmp/costfed-$v query --store "$STORE_YAML" --window $W $(qargs $q) --format csv > /dev/null
    fi
  done
  /tmp/costfed-$v serve --config "$FED_YAML" --listen 127.0.0.1:19003 > /tmp/serve-$v.log 2>&1 &
  pid=$!
  for i in $(seq 1 100); do curl -sf http://127.0.0.1:19003/healthz >/dev/null && break; sleep 0.1; done
  for q in namespace cluster label nsfilter; do
    for i in 1 2 3 10; do /usr/bin/time -f "serve $v $q req$i %es" curl -s -o /dev/null "http://127.0.0.1:19003/allocation?window=$W&accumulate=true&${U[$q]}"; done
  done
  echo "serve $v peak $(grep VmHWM /proc/$pid/status)"
  kill $pid; wait $pid 2>/dev/null
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
