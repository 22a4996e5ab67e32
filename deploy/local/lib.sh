# Shared by the local server scripts next to it (kafka.sh, redis.sh, clickhouse.sh, typesense.sh,
# seaweedfs.sh): sourced (`source "$HERE/lib.sh"`), never run. It holds what every script does the
# same way (option parsing, pid file, readiness wait, stop with a timeout, command dispatch), so a
# script keeps only what is specific to its server.
#
# A script sets these before it calls into the library (plain variables, read when used):
#   DEFAULT_PORT, DEFAULT_DIR  what `--port` / `--dir` default to
#   PID_NAME                   the pid file's name under DIR (e.g. kafka.pid)
#   SERVER_NOUN                how messages name the process (e.g. "broker", "server", "weed")
#   POLL                       seconds between checks while waiting for start or stop (e.g. 0.2)
#   STOP_TIMEOUT               seconds `stop` waits after SIGTERM before SIGKILL
# and defines:
#   cmd_fetch, cmd_start       its own verbs
#   serving                    true once the server started by cmd_start serves requests
#   status_lines               the address lines `start` and `status` print before pid=N, read
#                              from what start saved under DIR (DIR and PORT are set)
#   parse_extra_opt (optional) handles one extra flag of its own ($1), true when it knew it
#
# Stdout is only the key=value lines the scripts print (deploy/local/local-cluster.ts and
# test/support/*.ts parse them); every message goes to stderr, prefixed with the script's name.

# The sourcing script's file name (e.g. kafka.sh), for messages.
SCRIPT_NAME="${BASH_SOURCE[1]##*/}"

die() { echo "$SCRIPT_NAME: $*" >&2; exit 1; }
say() { echo "$SCRIPT_NAME: $*" >&2; }

# True when something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp, no netcat needed).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports already handed out by this run (" 1 2 "), which free_port does not pick again. free_port
# runs in a command substitution (a subshell), so the caller records what it took: USED+="$p ".
USED=" "

# A port nobody listens on, from 20000-32767, that is neither PORT nor in USED; for a server's
# internal ports (Kafka controller, ClickHouse native TCP, Typesense peering, SeaweedFS services).
# Below Linux's ephemeral range (32768-60999 by default): a port picked there could be taken by an
# outgoing connection between the probe and the server's bind (seen in CI: the Kafka controller
# failed with "Address already in use").
free_port() {
  local p i
  for i in $(seq 1 100); do
    p=$(( 20000 + RANDOM % 12768 ))
    if [[ "$p" != "${PORT:-}" && "$USED" != *" $p "* ]] && ! port_open "$p"; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# kept_port OLD: OLD when it is a port number, neither PORT nor in USED, and free; else a new
# free_port. So a restart on the same DIR keeps an internal port (saved under DIR) when it can.
# Assign it (p="$(kept_port …)"), so that set -e stops the script when no port is found.
kept_port() {
  if [[ "$1" =~ ^[0-9]+$ && "$1" != "${PORT:-}" && "$USED" != *" $1 "* ]] && ! port_open "$1"; then echo "$1"; else free_port; fi
}

# Parses --port/--dir into PORT and DIR (defaults DEFAULT_PORT, DEFAULT_DIR), creates DIR, makes it
# absolute and sets PID_FILE. Any other flag goes to parse_extra_opt when the script defines one.
parse_opts() {
  PORT="$DEFAULT_PORT"
  DIR="$DEFAULT_DIR"
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --port) PORT="${2:?--port needs a value}"; shift 2 ;;
      --port=*) PORT="${1#--port=}"; shift ;;
      --dir) DIR="${2:?--dir needs a value}"; shift 2 ;;
      --dir=*) DIR="${1#--dir=}"; shift ;;
      *)
        if declare -F parse_extra_opt >/dev/null && parse_extra_opt "$1"; then shift
        else die "unknown option: $1"; fi ;;
    esac
  done
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "bad port: $PORT"
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  PID_FILE="$DIR/$PID_NAME"
}

# True while process $1 exists and is not a zombie: an exited server whose parent (init, or a
# container's pid 1) has not reaped it yet holds no port and no files, so it counts as gone.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [[ "$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)" != Z ]]
}

# Prints the pid from PID_FILE when that process is alive; false otherwise.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && alive "$pid" || return 1
  echo "$pid"
}

# Dies when a server already runs from DIR (named "a $1", e.g. "a broker") or PORT is taken.
check_free() {
  local pid
  if pid="$(running_pid)"; then
    die "a $1 already runs from $DIR (pid $pid)"
  fi
  if port_open "$PORT"; then die "port $PORT is already in use"; fi
}

# announce_when_serving PID TIMEOUT NOT_READY LOG_HINT LOG...
# Records PID (the server just started) in PID_FILE and waits, polling every POLL seconds, until
# `serving` is true; then prints the lines `status` prints (status_lines, then pid=PID). Dies
# "<noun> exited during startup (LOG_HINT)" with the tail of every LOG when the process ends first,
# or after TIMEOUT seconds SIGKILLs it and dies "<noun> NOT_READY within TIMEOUTs" with the tail of
# the first LOG. On either failure the pid file is removed.
announce_when_serving() {
  local pid="$1" timeout="$2" not_ready="$3" hint="$4"
  shift 4
  echo "$pid" >"$PID_FILE"
  local deadline=$(( SECONDS + timeout ))
  while :; do
    if ! alive "$pid"; then
      rm -f "$PID_FILE"
      tail -n 30 "$@" >&2 2>/dev/null || true
      die "$SERVER_NOUN exited during startup ($hint)"
    fi
    if serving; then break; fi
    if (( SECONDS >= deadline )); then
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$PID_FILE"
      tail -n 30 "$1" >&2 2>/dev/null || true
      die "$SERVER_NOUN $not_ready within ${timeout}s"
    fi
    sleep "$POLL"
  done
  status_lines
  echo "pid=$pid"
}

# stop [--dir D]: SIGTERM (clean shutdown), SIGKILL after STOP_TIMEOUT seconds; returns once the
# process is really gone (its ports free for a restart) and the pid file removed. No-op when stopped.
cmd_stop() {
  parse_opts "$@"
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( SECONDS + STOP_TIMEOUT ))
  while alive "$pid"; do
    if (( SECONDS >= deadline )); then
      say "$SERVER_NOUN $pid did not stop within ${STOP_TIMEOUT}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep "$POLL"
  done
  while alive "$pid"; do sleep 0.05; done
  rm -f "$PID_FILE"
}

# status [--dir D]: the address lines and pid=N when running (exit 0); "stopped" and exit 1 otherwise.
cmd_status() {
  parse_opts "$@"
  local pid
  pid="$(running_pid)" || { echo "stopped"; return 1; }
  status_lines
  echo "pid=$pid"
}

# dispatch USAGE ARGS...: runs fetch | start | stop | status; anything else prints USAGE, exit 2.
dispatch() {
  local usage="$1"
  shift
  case "${1:-}" in
    fetch) shift; cmd_fetch ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    status) shift; cmd_status "$@" ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
}
