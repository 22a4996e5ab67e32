#!/usr/bin/env bash
# Local single-process SeaweedFS (master + volume + filer + S3 gateway, `weed server`) for tests and
# development: the real S3-compatible server cluster mode stores objects in (issue 9).
#
#   seaweedfs.sh fetch                      build `weed` from the Go module proxy into the cache (idempotent)
#   seaweedfs.sh start [--port P] [--dir D] start the server in the background (S3 on 127.0.0.1:P); prints
#                                           url=…, access_key_id=…, secret_access_key=…, region=…, pid=N
#                                           once S3 answers and a volume server is registered
#   seaweedfs.sh stop  [--dir D]            SIGTERM, SIGKILL after SEAWEEDFS_STOP_TIMEOUT seconds
#   seaweedfs.sh status [--dir D]           prints the url and pid when running; exit 1 otherwise
#   seaweedfs.sh path                       prints the path of the cached `weed` binary
#
# Defaults: P=8333, D=deploy/local/.seaweedfs/data.
#
# fetch: `go install …/weed@version` is refused (the module's go.mod has replace directives), so fetch
# downloads the module with `go mod download` (module proxy + checksum database), copies it somewhere
# writable and runs `go build ./weed` in it (~8 min on 2 cores; Go's build cache makes a rebuild fast).
# The binary lands in ${STREAMWAVE_CACHE:-$HOME/.cache/streamwave}/seaweedfs-<version>/weed, outside
# the clone. Go: $SEAWEEDFS_GO, else `go` on PATH, else /usr/local/go/bin/go, when it is Go 1.21+
# (GOTOOLCHAIN=auto then switches to the go.mod's version by itself); otherwise the pinned Go toolchain
# module golang.org/toolchain@v0.0.1-go<GO_TOOLCHAIN_VERSION>.linux-amd64 is downloaded from the module
# proxy (what GOTOOLCHAIN=auto does), checked against the SHA-256 pinned below, unzipped (needs
# `unzip` and `curl`) and cached next to the binary. Debian bookworm's golang-go (1.19) predates both.
#
# Credentials: SEAWEEDFS_ACCESS_KEY / SEAWEEDFS_SECRET_KEY, else random ones generated on the first
# start of D and kept in D/identities.json (identity `streamwave`: Admin, Read, Write, List, Tagging).
# Every other port the server needs (master, volume, filer, and their gRPC ports) is picked free on
# the first start and kept in D/ports.env, so a restart on the same D keeps the cluster's addresses.
#
# Environment: SEAWEEDFS_START_TIMEOUT (s, default 120), SEAWEEDFS_STOP_TIMEOUT (s, default 30),
# STREAMWAVE_CACHE (cache root), SEAWEEDFS_GO (go binary).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# `weed version` of this module version; the module version is a pseudo-version of the upstream commit.
SEAWEEDFS_VERSION=4.53
SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_MODULE_VERSION=v0.0.0-20261109003541-7506e5f91cd6
# Fallback toolchain when no Go 1.21+ is installed (the module's go.mod says `go 1.26.6`).
GO_TOOLCHAIN_VERSION=1.26.8
# SHA-256 of https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.26.8.linux-amd64.zip, taken from
# the copy `go mod download` verified against sum.golang.org (h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM=).
GO_TOOLCHAIN_SHA256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
REGION=us-east-1

CACHE_ROOT="${STREAMWAVE_CACHE:-$HOME/.cache/streamwave}"
CACHE_DIR="$CACHE_ROOT/seaweedfs-$SEAWEEDFS_VERSION"
WEED="$CACHE_DIR/weed"

DEFAULT_PORT=8333
DEFAULT_DIR="$HERE/.seaweedfs/data"
PID_NAME=weed.pid
SERVER_NOUN=weed
POLL=0.2
STOP_TIMEOUT="${SEAWEEDFS_STOP_TIMEOUT:-30}"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# True when `weed` runs (a truncated or foreign binary is rebuilt).
weed_ok() { [[ -x "$WEED" ]] && "$WEED" version >/dev/null 2>&1; }

# "1.26.8" → 1026008, for comparisons.
version_num() { local IFS=.; set -- $1; echo $(( ${1:-0} * 1000000 + ${2:-0} * 1000 + ${3:-0} )); }

# Prints a Go 1.21+ binary (able to switch toolchains itself), fetching the pinned toolchain when none is installed.
resolve_go() {
  local candidate v
  for candidate in "${SEAWEEDFS_GO:-}" "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go \
      "$CACHE_ROOT/go-$GO_TOOLCHAIN_VERSION/bin/go"; do
    [[ -n "$candidate" && -x "$candidate" ]] || continue
    v="$(GOTOOLCHAIN=local "$candidate" env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9.]*\).*/\1/p')"
    [[ -n "$v" ]] || continue
    if (( $(version_num "$v") >= $(version_num 1.21) )); then echo "$candidate"; return 0; fi
    say "ignoring $candidate (Go $v: too old to build $SEAWEEDFS_MODULE or to fetch a newer toolchain)"
  done
  fetch_toolchain
  echo "$CACHE_ROOT/go-$GO_TOOLCHAIN_VERSION/bin/go"
}

# Downloads the Go toolchain module from the module proxy, as GOTOOLCHAIN=auto would, into the cache.
fetch_toolchain() {
  command -v curl >/dev/null || die "no Go 1.21+ found and curl is missing to fetch one (apt-get install curl)"
  command -v unzip >/dev/null || die "no Go 1.21+ found and unzip is missing to unpack one (apt-get install unzip)"
  local mod="v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-amd64"
  local proxy="${GOPROXY:-https://proxy.golang.org}"; proxy="${proxy%%[,|]*}"
  [[ "$proxy" == direct || "$proxy" == off ]] && proxy=https://proxy.golang.org
  local tmp="$CACHE_ROOT/go-$GO_TOOLCHAIN_VERSION.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  say "no Go 1.21+ here: fetching golang.org/toolchain@$mod from $proxy (~70 MB)"
  curl -fsSL --retry 3 -o "$tmp/toolchain.zip" "$proxy/golang.org/toolchain/@v/$mod.zip" || die "toolchain download failed"
  echo "$GO_TOOLCHAIN_SHA256  $tmp/toolchain.zip" | sha256sum -c --quiet - >&2 || die "toolchain zip checksum mismatch"
  unzip -q "$tmp/toolchain.zip" -d "$tmp/x"
  local root="$tmp/x/golang.org/toolchain@$mod"
  # Module zips keep no file modes; the go command sets these executable bits when it unpacks a toolchain.
  chmod -R u+w "$root"
  chmod +x "$root"/bin/* "$root"/pkg/tool/*/*
  rm -rf "$CACHE_ROOT/go-$GO_TOOLCHAIN_VERSION"
  mv "$root" "$CACHE_ROOT/go-$GO_TOOLCHAIN_VERSION"
  rm -rf "$tmp"
  say "Go toolchain $GO_TOOLCHAIN_VERSION cached in $CACHE_ROOT/go-$GO_TOOLCHAIN_VERSION"
}

cmd_fetch() {
  weed_ok && return 0
  mkdir -p "$CACHE_DIR"
  # Concurrent fetches (parallel test files) serialise on a lock; the loser finds the binary.
  exec 9>"$CACHE_DIR/.fetch.lock"
  flock 9
  weed_ok && return 0
  local go started=$SECONDS
  go="$(resolve_go)"
  export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOFLAGS="${GOFLAGS:-} -buildvcs=false"
  say "downloading $SEAWEEDFS_MODULE@$SEAWEEDFS_MODULE_VERSION with $("$go" version)"
  local json dir
  json="$("$go" mod download -json "$SEAWEEDFS_MODULE@$SEAWEEDFS_MODULE_VERSION")" || die "go mod download failed"
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -d "$dir" ]] || die "go mod download gave no module directory: $json"
  # The module cache is read-only and `go build` of a main package wants its module as the main module.
  local src="$CACHE_DIR/src.$$"
  rm -rf "$src"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  say "building weed $SEAWEEDFS_VERSION (~8 min on 2 cores the first time; progress: the go command's downloads)"
  ( cd "$src" && "$go" build -trimpath -ldflags "-s -w" -o "$CACHE_DIR/weed.tmp.$$" ./weed ) >&2 \
    || { rm -rf "$src" "$CACHE_DIR/weed.tmp.$$"; die "go build failed"; }
  mv "$CACHE_DIR/weed.tmp.$$" "$WEED"
  rm -rf "$src"
  weed_ok || die "the built binary does not run"
  say "built $WEED ($(du -h "$WEED" | cut -f1)) in $(( SECONDS - started ))s: $("$WEED" version 2>/dev/null | head -1)"
}

# Chooses (first start) or reloads (restart) the internal ports; a kept port that is now taken is replaced.
choose_ports() {
  local name value
  if [[ -f "$DIR/ports.env" ]]; then
    # shellcheck disable=SC1091
    source "$DIR/ports.env"
  fi
  for name in MASTER_PORT MASTER_GRPC_PORT VOLUME_PORT VOLUME_GRPC_PORT FILER_PORT FILER_GRPC_PORT S3_GRPC_PORT; do
    # gRPC ports too: `weed server` would otherwise take port+10000 for each service.
    value="$(kept_port "${!name:-}")"
    USED+="$value "
    printf -v "$name" '%s' "$value"
  done
  cat >"$DIR/ports.env" <<EOF
# Written by deploy/local/seaweedfs.sh: internal ports of the server started from this directory.
MASTER_PORT=$MASTER_PORT
MASTER_GRPC_PORT=$MASTER_GRPC_PORT
VOLUME_PORT=$VOLUME_PORT
VOLUME_GRPC_PORT=$VOLUME_GRPC_PORT
FILER_PORT=$FILER_PORT
FILER_GRPC_PORT=$FILER_GRPC_PORT
S3_GRPC_PORT=$S3_GRPC_PORT
S3_PORT=$PORT
EOF
}

random_token() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | cut -c1-"$1"; }

# S3 identities (SeaweedFS's `-s3.config` format): one identity with every action the adapter needs.
write_identities() {
  local key secret
  if [[ -n "${SEAWEEDFS_ACCESS_KEY:-}" ]]; then
    key="$SEAWEEDFS_ACCESS_KEY"; secret="${SEAWEEDFS_SECRET_KEY:?SEAWEEDFS_SECRET_KEY must go with SEAWEEDFS_ACCESS_KEY}"
  elif [[ -f "$DIR/identities.json" ]]; then
    return 0
  else
    key="SW$(random_token 18 | tr 'a-f' 'A-F')"; secret="$(random_token 40)"
  fi
  [[ "$key$secret" =~ ^[A-Za-z0-9+/=_.-]+$ ]] || die "access key and secret may hold only [A-Za-z0-9+/=_.-]"
  umask 077
  cat >"$DIR/identities.json" <<EOF
{
  "identities": [
    {
      "name": "streamwave",
      "credentials": [{ "accessKey": "$key", "secretKey": "$secret" }],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
  umask 022
}

identity_field() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$DIR/identities.json" | head -1; }

# The address lines of start and status: the S3 port from D/ports.env, the credentials, the region.
status_lines() {
  echo "url=http://127.0.0.1:$(sed -n 's/^S3_PORT=//p' "$DIR/ports.env")"
  echo "access_key_id=$(identity_field accessKey)"
  echo "secret_access_key=$(identity_field secretKey)"
  echo "region=$REGION"
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }

# Ready = S3 and the filer answer /healthz, the master knows a volume server (before that a new
# bucket's first write finds no writable volume), and the filer has joined the master's lock ring: S3
# writes take a filer lock, and until the ring exists (~10 s after start here) each write waits for it
# ("FILER LOCK: … no lock server found" in the log). The log line is that of SeaweedFS 4.53 (filer.go).
serving() {
  http_ok "http://127.0.0.1:$PORT/healthz" || return 1
  http_ok "http://127.0.0.1:$FILER_PORT/healthz" || return 1
  curl -fsS --max-time 2 "http://127.0.0.1:$MASTER_PORT/dir/status" 2>/dev/null | grep -q '"Url"' || return 1
  grep -q "LockRing: applying master ring update" "$DIR/logs/weed.log" || return 1
  # After a restart the master refuses assignments for its warm-up (3 heartbeat pulses, 15 s, from
  # the leader election) while volume servers report back: /dir/assign answers 503 until then.
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$MASTER_PORT/dir/assign")" != 503 ]] || return 1
}

cmd_start() {
  parse_opts "$@"
  cmd_fetch
  command -v curl >/dev/null || die "curl is required to see when the server is ready"
  check_free server
  mkdir -p "$DIR/data" "$DIR/logs"
  choose_ports
  write_identities

  local started=$SECONDS
  # -ip and -ip.bind: every service on loopback only. The Iceberg and Lance catalog listeners (fixed
  # default ports 8181/9101) are off; telemetry is off (no outbound calls from tests). One master has
  # no peers to wait for: a 1 s election timeout (default 10 s) makes a restart elect itself quickly. -volume.max 0 sizes
  # the volume count from free disk; 64 MB volumes keep a fresh data directory small (each bucket is a
  # collection that grows several volumes on its first write).
  setsid nohup "$WEED" server \
    -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$MASTER_PORT" -master.port.grpc="$MASTER_GRPC_PORT" \
    -master.volumeSizeLimitMB=64 -master.telemetry=false -master.electionTimeout=1s \
    -volume.port="$VOLUME_PORT" -volume.port.grpc="$VOLUME_GRPC_PORT" -volume.max=0 -volume.preStopSeconds=0 \
    -filer -filer.port="$FILER_PORT" -filer.port.grpc="$FILER_GRPC_PORT" -filer.localSocket="$DIR/filer.sock" \
    -s3 -s3.port="$PORT" -s3.port.grpc="$S3_GRPC_PORT" -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.config="$DIR/identities.json" -s3.localSocket="$DIR/s3.sock" \
    >"$DIR/logs/weed.log" 2>&1 </dev/null &
  local pid=$!

  announce_when_serving "$pid" "${SEAWEEDFS_START_TIMEOUT:-120}" "did not become ready" "log: $DIR/logs/weed.log" \
    "$DIR/logs/weed.log"
  say "ready in $(( SECONDS - started ))s"
}

if [[ "${1:-}" == path ]]; then echo "$WEED"; exit 0; fi
dispatch "usage: $0 fetch | start [--port P] [--dir D] | stop [--dir D] | status [--dir D] | path" "$@"
