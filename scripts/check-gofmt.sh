#!/usr/bin/env bash
# Fails, listing them, when Go files are not gofmt'ed. Checks the files git
# knows of (tracked and untracked, minus ignored ones), or every .go file
# outside a git checkout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.go')
else
  mapfile -t files < <(find . -name '*.go' -not -path './vendor/*' -not -path './.git/*')
fi
existing=()
for f in "${files[@]}"; do
  [ -f "$f" ] && existing+=("$f")
done
[ "${#existing[@]}" -eq 0 ] && exit 0

unformatted="$(gofmt -l "${existing[@]}")"
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting (run gofmt -w on them):" >&2
  echo "$unformatted" >&2
  exit 1
fi
