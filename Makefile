# costfed: `make test` is the project's single test command. It installs the
# servers the integration tests start (scripts/install-test-deps.sh; a quick
# no-op when they are present) and runs every test.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
TEST_TIMEOUT ?= 20m
TESTFLAGS ?=
BENCHFLAGS ?=
FUZZTIME ?= 10s

# `go install` puts versitygw here; tests find it through PATH.
ifndef GOBIN
GOBIN := $(shell $(GO) env GOBIN)
endif
ifeq ($(strip $(GOBIN)),)
GOBIN := $(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin
endif
export GOBIN
export PATH := $(GOBIN):$(PATH)

.PHONY: help build test test-duckdb test-helm test-deps vet fmt-check bench bench-duckdb demo fuzz-smoke clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{ printf "  %-12s %s\n", $$1, $$2 }'

build: ## build bin/costfed, stamped with VERSION
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/costfed ./cmd/costfed

test: test-deps ## install the test servers if missing, then run every test
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...
	@$(MAKE) --no-print-directory test-duckdb
	@$(MAKE) --no-print-directory test-helm

# tools/duckdb is its own Go module (DuckDB needs cgo; the costfed binary does
# not link it), so ./... above does not reach it.
test-duckdb: ## the README's SQL run by DuckDB on the demo's store vs the API engine (cgo)
	cd tools/duckdb && CGO_ENABLED=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# tools/helmtest is its own Go module too: Helm and the Kubernetes API types
# are test dependencies the costfed binary must not link.
test-helm: ## lint and render the Helm chart's profiles, decode strictly, compare with the golden renders, config-check
	cd tools/helmtest && $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

test-deps: ## install prometheus, promtool and versitygw when missing
	@bash scripts/install-test-deps.sh

vet: ## go vet (the main module, tools/duckdb and tools/helmtest)
	$(GO) vet ./...
	cd tools/duckdb && CGO_ENABLED=1 $(GO) vet ./...
	cd tools/helmtest && $(GO) vet ./...

fmt-check: ## fail, listing them, when Go files are not gofmt'ed
	@bash scripts/check-gofmt.sh

bench: ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHFLAGS) ./...

bench-duckdb: ## DuckDB on a combined store (COSTFED_DUCKDB_DIR; default the demo's), cold and warm
	cd tools/duckdb && CGO_ENABLED=1 $(GO) test -run '^$$' -bench DuckDB $(BENCHFLAGS) .

demo: ## simulate a fleet and run agents, federator and a query locally
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/costfed demo

fuzz-smoke: ## run each fuzz target for FUZZTIME
	@FUZZTIME=$(FUZZTIME) bash scripts/fuzz-smoke.sh

clean: ## remove build output
	rm -rf bin
