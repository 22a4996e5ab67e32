#!/usr/bin/env bash
# Local single-node ClickHouse server for tests and development, run as an unprivileged process
# from a directory of its own (no /var/lib/clickhouse, no /etc/clickhouse-server, no systemd).
#
#   clickhouse.sh fetch                      check that the server binary is installed (Debian
#                                            package `clickhouse-server`; nothing is downloaded)
#   clickhouse.sh start [--port P] [--dir D] write D/config.xml + D/users.xml and start the server in
#                                            the background; prints "url=http://127.0.0.1:P" and
#                                            "pid=N" once it answers queries over HTTP
#   clickhouse.sh stop  [--dir D]            SIGTERM (clean shutdown), SIGKILL after CLICKHOUSE_STOP_TIMEOUT s
#   clickhouse.sh status [--dir D]           prints url and pid when running; exit 1 otherwise
#
# Defaults: P=8123 (HTTP interface), D=deploy/local/.clickhouse/data. The native TCP port (which
# the Node client does not use) is a free port picked at first start and kept in D/config.xml.
# Data (D/data), temporary files (D/tmp) and logs (D/logs/server.log, error.log) live under D; a
# second `start` on the same D reuses the data and both ports.
#
# Tested with Debian's clickhouse-server 18.16.1 (bookworm). The server binary is looked up as
# $CLICKHOUSE_SERVER, then `clickhouse-server` on PATH, then /usr/sbin/clickhouse-server (Debian
# installs it in sbin, which is not on a normal user's PATH), then `clickhouse` (the single
# binary of the official builds: `clickhouse server`).
#
# Environment: CLICKHOUSE_SERVER (binary), CLICKHOUSE_START_TIMEOUT (s, default 60),
# CLICKHOUSE_STOP_TIMEOUT (s, default 30).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HOME_DIR="$HERE/.clickhouse"

DEFAULT_PORT=8123
DEFAULT_DIR="$HOME_DIR/data"
PID_NAME=clickhouse.pid
SERVER_NOUN=server
POLL=0.2
STOP_TIMEOUT="${CLICKHOUSE_STOP_TIMEOUT:-30}"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# Sets SERVER (array): the command that runs the server, or dies saying which package to install.
find_server() {
  if [[ -n "${CLICKHOUSE_SERVER:-}" ]]; then
    [[ -x "$CLICKHOUSE_SERVER" ]] || die "CLICKHOUSE_SERVER=$CLICKHOUSE_SERVER is not executable"
    SERVER=("$CLICKHOUSE_SERVER")
  elif command -v clickhouse-server >/dev/null; then
    SERVER=("$(command -v clickhouse-server)")
  elif [[ -x /usr/sbin/clickhouse-server ]]; then
    SERVER=(/usr/sbin/clickhouse-server)
  elif command -v clickhouse >/dev/null; then
    SERVER=("$(command -v clickhouse)" server)
  else
    die "no ClickHouse server binary: install the Debian package clickhouse-server (apt-get install clickhouse-server), or set CLICKHOUSE_SERVER"
  fi
}

# Nothing to download: the server comes from the Debian package (.ci/run installs it). Kept as a
# command so every server script has the same verbs.
cmd_fetch() {
  find_server
  echo "clickhouse.sh: using ${SERVER[*]}" >&2
}

# The smallest config 18.16 accepts that keeps every path under D. Element names are those of
# 18.16's /etc/clickhouse-server/config.xml; newer servers read the same names.
write_config() {
  local tcp_port="$1"
  cat >"$DIR/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by deploy/local/clickhouse.sh: single node, dev/test only. -->
<yandex>
  <logger>
    <level>information</level>
    <log>$DIR/logs/server.log</log>
    <errorlog>$DIR/logs/error.log</errorlog>
    <size>50M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$PORT</http_port>
  <tcp_port>$tcp_port</tcp_port>
  <path>$DIR/data/</path>
  <tmp_path>$DIR/tmp/</tmp_path>
  <user_files_path>$DIR/user_files/</user_files_path>
  <format_schema_path>$DIR/format_schemas/</format_schema_path>
  <users_config>$DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_concurrent_queries>100</max_concurrent_queries>
  <!-- Caches sized for a shared test machine, not a dedicated server (defaults are 5 and 8 GiB). -->
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
</yandex>
EOF
  # One user (default, no password) reachable from loopback only; no quota limits.
  cat >"$DIR/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
EOF
}

# True when the HTTP interface answers GET /ping with "Ok." (bash's /dev/tcp, no curl needed).
serving() {
  local reply
  reply="$( (exec 3<>"/dev/tcp/127.0.0.1/$PORT" && printf 'GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && timeout 2 cat <&3) 2>/dev/null || true)"
  [[ "$reply" == *"Ok."* ]]
}

cmd_start() {
  parse_opts "$@"
  find_server
  check_free server
  mkdir -p "$DIR/logs" "$DIR/data" "$DIR/tmp" "$DIR/user_files" "$DIR/format_schemas"

  local tcp_port=""
  if [[ -f "$DIR/config.xml" ]]; then
    tcp_port="$(sed -n 's:.*<tcp_port>\([0-9]*\)</tcp_port>.*:\1:p' "$DIR/config.xml")"
  fi
  tcp_port="$(kept_port "$tcp_port")"
  write_config "$tcp_port"

  # setsid: the server outlives this script and does not get the caller's terminal signals.
  # No --daemon: the pid we record is the server's own.
  setsid nohup "${SERVER[@]}" --config-file="$DIR/config.xml" \
    >"$DIR/logs/stdout.log" 2>&1 </dev/null &
  local pid=$!

  announce_when_serving "$pid" "${CLICKHOUSE_START_TIMEOUT:-60}" "did not answer" "logs in $DIR/logs" \
    "$DIR/logs/error.log" "$DIR/logs/stdout.log"
}

status_lines() {
  local port
  port="$(sed -n 's:.*<http_port>\([0-9]*\)</http_port>.*:\1:p' "$DIR/config.xml")"
  echo "url=http://127.0.0.1:$port"
}

dispatch "usage: $0 fetch | start [--port P] [--dir D] | stop [--dir D] | status [--dir D]" "$@"
