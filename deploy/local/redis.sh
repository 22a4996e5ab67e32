#!/usr/bin/env bash
# Local Redis server for tests and development (cluster-mode read models, shared rate limits).
#
#   redis.sh fetch                         checks that redis-server (Debian package `redis-server`,
#                                          tested 7.0) runs; nothing is downloaded
#   redis.sh start [--port P] [--dir D] [--aof]
#                                          starts redis-server in the background on 127.0.0.1:P with
#                                          its working directory D; prints "url=redis://127.0.0.1:P"
#                                          and "pid=N" once it answers PING with PONG
#   redis.sh stop  [--dir D]               SIGTERM (clean shutdown), SIGKILL after REDIS_STOP_TIMEOUT s
#   redis.sh status [--dir D]              prints url and pid when running; exit 1 otherwise
#
# Defaults: P=6380 (not 6379: the Debian package starts a system service there on some machines;
# this script never talks to, relies on or stops that one), D=deploy/local/.redis/data.
# Persistence: by default none (`--save '' --appendonly no`): a test server starts empty and its
# data dies with it. `--aof` turns on the append-only file with `appendfsync always` (every write
# is fsynced before Redis replies), so data survives stop/start and kill -9 on the same D: what the
# outage tests need, and the setting a read model's checkpoint relies on in production.
#
# Environment: REDIS_SERVER (binary, default `redis-server` on PATH), REDIS_START_TIMEOUT (s,
# default 30), REDIS_STOP_TIMEOUT (s, default 30).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HOME_DIR="$HERE/.redis"
BIN="${REDIS_SERVER:-redis-server}"

DEFAULT_PORT=6380
DEFAULT_DIR="$HOME_DIR/data"
PID_NAME=redis.pid
SERVER_NOUN=redis-server
POLL=0.05
STOP_TIMEOUT="${REDIS_STOP_TIMEOUT:-30}"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# True when the server on 127.0.0.1:$1 answers PING with +PONG (while it loads an AOF it answers
# -LOADING instead, so this also waits for the data to be loaded). No redis-cli needed.
pings() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [[ "$line" == "+PONG"* ]]
  ) 2>/dev/null
}

# Checks the binary; sets BIN_PATH and BIN_VERSION. Dies with the package to install when missing.
check_binary() {
  local path
  path="$(command -v "$BIN" 2>/dev/null)" || die "redis-server not found: install the Debian package (apt-get install redis-server) or set REDIS_SERVER"
  local version
  version="$("$path" --version 2>/dev/null | sed -n 's/.* v=\([0-9.]*\).*/\1/p')"
  [[ -n "$version" ]] || die "$path --version does not run"
  local major="${version%%.*}"
  (( major >= 7 )) || echo "redis.sh: warning: redis-server $version is older than the tested 7.0" >&2
  BIN_PATH="$path"
  BIN_VERSION="$version"
}

cmd_fetch() {
  check_binary
  echo "redis.sh: redis-server $BIN_VERSION at $BIN_PATH (Debian package, nothing to fetch)" >&2
}

# --aof (see above); parse_opts passes it here.
AOF=no
parse_extra_opt() { [[ "$1" == --aof ]] && AOF=yes; }

serving() { pings "$PORT"; }

cmd_start() {
  parse_opts "$@"
  check_binary
  check_free server

  local persistence=(--save '' --appendonly no)
  [[ "$AOF" == yes ]] && persistence=(--save '' --appendonly yes --appendfsync always)

  # setsid: the server outlives this script and does not get the caller's terminal signals.
  # --daemonize no: $! is the server's own pid (what stop signals and the tests' exit hook kill).
  setsid nohup "$BIN" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" "${persistence[@]}" \
    --daemonize no --logfile "$DIR/redis.log" --loglevel notice \
    >"$DIR/stdout.log" 2>&1 </dev/null &
  local pid=$!
  echo "$PORT" >"$DIR/redis.port"

  announce_when_serving "$pid" "${REDIS_START_TIMEOUT:-30}" "did not answer PING" "log in $DIR/redis.log" \
    "$DIR/redis.log" "$DIR/stdout.log"
}

status_lines() { echo "url=redis://127.0.0.1:$(cat "$DIR/redis.port")"; }

dispatch "usage: $0 fetch | start [--port P] [--dir D] [--aof] | stop [--dir D] | status [--dir D]" "$@"
