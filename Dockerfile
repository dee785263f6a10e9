# syntax=docker/dockerfile:1
# costfed: one static binary on a distroless, non-root base.
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t costfed .

# The image's Go must be at least go.mod's `go` line (1.26.8): golang images set
# GOTOOLCHAIN=local, so an older one fails instead of downloading a toolchain.
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src

# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
    -o /out/costfed ./cmd/costfed

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/costfed /costfed
USER 65532:65532
# Writable by the nonroot user: the default FILESYSTEM store is ./data.
WORKDIR /home/nonroot
# costfed agent: /metrics, /healthz, /status; costfed serve: the query API.
EXPOSE 9003
ENTRYPOINT ["/costfed"]
