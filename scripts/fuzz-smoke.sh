#!/usr/bin/env bash
# Runs every fuzz target for a short time (FUZZTIME, default 10s each), one at
# a time as `go test -fuzz` requires. New failing inputs are written to the
# package's testdata/fuzz/ and should be committed with the fix.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZTIME="${FUZZTIME:-10s}"
# `go test -list` prints the matching names of each package, then "ok  <pkg> …";
# it fails when a package does not compile.
list="$(go test -list '^Fuzz' ./...)"
targets=0
while read -r pkg name; do
  targets=$((targets + 1))
  echo "--- fuzz $pkg $name ($FUZZTIME)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" </dev/null
done < <(awk '
  /^Fuzz/ { names[n++] = $1; next }
  /^ok[[:space:]]/ { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }
' <<<"$list")
echo "fuzz-smoke: ran $targets target(s)"
