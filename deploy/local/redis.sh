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

die() { echo "redis.sh: $*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp, no netcat needed).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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

# Parses --port/--dir/--aof into PORT, DIR and AOF.
parse_opts() {
  PORT=6380
  DIR="$HOME_DIR/data"
  AOF=no
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --port) PORT="${2:?--port needs a value}"; shift 2 ;;
      --port=*) PORT="${1#--port=}"; shift ;;
      --dir) DIR="${2:?--dir needs a value}"; shift 2 ;;
      --dir=*) DIR="${1#--dir=}"; shift ;;
      --aof) AOF=yes; shift ;;
      *) die "unknown option: $1" ;;
    esac
  done
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "bad port: $PORT"
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  PID_FILE="$DIR/redis.pid"
  PORT_FILE="$DIR/redis.port"
}

# True while process $1 exists and is not a zombie: an exited server whose parent (init, or a
# container's pid 1) has not reaped it yet holds no port and no files, so it counts as gone.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [[ "$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)" != Z ]]
}

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && alive "$pid" || return 1
  echo "$pid"
}

cmd_start() {
  parse_opts "$@"
  check_binary
  if pid="$(running_pid)"; then
    die "a server already runs from $DIR (pid $pid)"
  fi
  port_open "$PORT" && die "port $PORT is already in use"

  local persistence=(--save '' --appendonly no)
  [[ "$AOF" == yes ]] && persistence=(--save '' --appendonly yes --appendfsync always)

  # setsid: the server outlives this script and does not get the caller's terminal signals.
  # --daemonize no: $! is the server's own pid (what stop signals and the tests' exit hook kill).
  setsid nohup "$BIN" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" "${persistence[@]}" \
    --daemonize no --logfile "$DIR/redis.log" --loglevel notice \
    >"$DIR/stdout.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$PORT" >"$PORT_FILE"

  local deadline=$(( SECONDS + ${REDIS_START_TIMEOUT:-30} ))
  while ! pings "$PORT"; do
    if ! alive "$pid"; then
      rm -f "$PID_FILE"
      tail -n 30 "$DIR/redis.log" "$DIR/stdout.log" >&2 2>/dev/null || true
      die "redis-server exited during startup (log in $DIR/redis.log)"
    fi
    if (( SECONDS >= deadline )); then
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$PID_FILE"
      tail -n 30 "$DIR/redis.log" >&2 2>/dev/null || true
      die "redis-server did not answer PING within ${REDIS_START_TIMEOUT:-30}s"
    fi
    sleep 0.05
  done
  echo "url=redis://127.0.0.1:$PORT"
  echo "pid=$pid"
}

cmd_stop() {
  parse_opts "$@"
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( SECONDS + ${REDIS_STOP_TIMEOUT:-30} ))
  while alive "$pid"; do
    if (( SECONDS >= deadline )); then
      echo "redis.sh: redis-server $pid did not stop within ${REDIS_STOP_TIMEOUT:-30}s; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.05
  done
  # Reap: wait until the process is really gone so the port is free for a restart.
  while alive "$pid"; do sleep 0.05; done
  rm -f "$PID_FILE"
}

cmd_status() {
  parse_opts "$@"
  local pid
  pid="$(running_pid)" || { echo "stopped"; return 1; }
  echo "url=redis://127.0.0.1:$(cat "$PORT_FILE")"
  echo "pid=$pid"
}

case "${1:-}" in
  fetch) shift; cmd_fetch ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  *) echo "usage: $0 fetch | start [--port P] [--dir D] [--aof] | stop [--dir D] | status [--dir D]" >&2; exit 2 ;;
esac
