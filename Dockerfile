# smsdispatch's image: the worker (the entrypoint), enqueue and the sandbox, static binaries on
# distroless (CA certificates for Tencent's TLS endpoint, tzdata, a nonroot user; no shell).
# .ci/run builds the binaries with the same `go build` line (it reads it from this file) and checks
# that they are static.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# -buildvcs=false: .dockerignore leaves .git out, so there is no VCS stamp (`--version` prints
# "(devel)"); the flag makes a build from a checkout with .git produce the same binaries.
RUN CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags="-s -w" -o /out/ ./cmd/worker ./cmd/enqueue ./cmd/sandbox

FROM gcr.io/distroless/static-debian12:nonroot
ENV PATH=/usr/local/bin:/usr/bin:/bin
COPY --from=build /out/worker /out/enqueue /out/sandbox /usr/local/bin/
# 65532, distroless's nonroot: the worker keeps no files, so it needs no writable directory.
USER 65532:65532
# METRICS_ADDR (set it to 0.0.0.0:9090 in a container: the default is loopback only).
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/worker"]
