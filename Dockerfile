# syntax=docker/dockerfile:1
# costfed: one static binary on a distroless, non-root base, for amd64 and arm64
# (Graviton). The build stage runs on the builder's own platform and
# cross-compiles (pure Go, CGO_ENABLED=0), so a multi-arch build needs no emulation:
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" -t costfed .

# The image's Go must be at least go.mod's `go` line (1.26.8): golang images set
# GOTOOLCHAIN=local, so an older one fails instead of downloading a toolchain.
ARG GO_VERSION=1.26
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src

# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG VERSION=dev
# Set by buildx for each target platform; empty in a plain `docker build`,
# where go builds for the builder's own OS and architecture.
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
    -o /out/costfed ./cmd/costfed

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="costfed" \
      org.opencontainers.image.description="Federated Kubernetes cost allocation: per-cluster agents, a federator and an OpenCost-compatible API over Parquet in object storage" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/costfed /costfed
USER 65532:65532
# Writable by the nonroot user: the default FILESYSTEM store is ./data.
WORKDIR /home/nonroot
# serve: the query API (OpenCost's port); agent and federator: /metrics,
# /healthz, /status (their config defaults).
EXPOSE 9003 9004 9005
ENTRYPOINT ["/costfed"]
