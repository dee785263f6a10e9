#!/usr/bin/env bash
# Installs the servers the integration tests start (see internal/testinfra):
#   - prometheus and promtool, from the distribution (Debian bookworm: 2.42);
#   - versitygw, an S3 server, with `go install` at a pinned version.
# Idempotent: when everything is present it only checks (a few ms) and prints
# nothing. Cold it takes about two minutes, mostly building versitygw.
# Used by `make test` and .ci/run; keep it even on machines that already have
# Prometheus, or CI passes there and fails on a fresh one.
set -euo pipefail

VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"

log() { echo "install-test-deps: $*" >&2; }

# --- prometheus + promtool (apt) ----------------------------------------------
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    log "prometheus/promtool are missing and apt-get is not available; install Prometheus 2.x so both are in PATH"
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      log "prometheus/promtool are missing; run as root or install sudo"
      exit 1
    fi
    sudo="sudo"
  fi
  log "installing prometheus and promtool with apt-get"
  # --no-install-recommends keeps prometheus-node-exporter out. The package may
  # start a system service on :9090; the tests never use that port.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# --- versitygw (go install, pinned) -------------------------------------------
GOBIN="${GOBIN:-$(go env GOBIN)}"
if [ -z "$GOBIN" ]; then
  gopath="$(go env GOPATH)"
  GOBIN="${gopath%%:*}/bin"
fi
export GOBIN
export PATH="$GOBIN:$PATH"

# `versitygw --version` prints "git", so read the module version from the binary.
if ! go version -m "$GOBIN/versitygw" 2>/dev/null |
  grep -Eq "^[[:space:]]*mod[[:space:]]+github\.com/versity/versitygw[[:space:]]+${VERSITYGW_VERSION}([[:space:]]|$)"; then
  log "installing versitygw ${VERSITYGW_VERSION} into $GOBIN (go install; about 2 minutes cold)"
  # `go install pkg@version` builds outside our module: go.mod stays untouched.
  go install "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}"
fi
