#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, combined broker+controller) for tests and development.
#
#   kafka.sh fetch                      fetch the broker jars from Maven Central into .kafka/libs (idempotent)
#   kafka.sh start [--port P] [--dir D] format D (first time only) and start the broker in the background;
#                                       prints "bootstrap=127.0.0.1:P" and "pid=N" once it serves requests
#   kafka.sh stop  [--dir D]            SIGTERM (clean shutdown), SIGKILL after KAFKA_STOP_TIMEOUT seconds
#   kafka.sh status [--dir D]           prints the pid and bootstrap when running; exit 1 otherwise
#
# Defaults: P=9092, D=deploy/local/.kafka/data. The jar list comes from pom.xml next to this
# script (`mvn dependency:copy-dependencies`), so nothing but Maven Central is contacted. Needs
# Java 17+ and Maven (fetch only). Data (log dirs, KRaft metadata log, server.log) lives under D;
# a second `start` on the same D reuses the formatted storage, its cluster id and the data.
#
# Environment: KAFKA_HEAP (default -Xmx512m -Xms128m), KAFKA_JVM_FLAGS (the JVM's other flags,
# default "-XX:+UseSerialGC -XX:TieredStopAtLevel=1": the quick C1 JIT only, for quick starts and
# little CPU in tests; a load that runs for minutes is served faster with the full C2 JIT, which a
# production broker has: bench:freshness uses "-XX:+UseSerialGC", keeping the serial GC for two
# cores, where Kafka's own start script picks G1; set empty, the JVM's defaults),
# KAFKA_START_TIMEOUT (s, default 90), KAFKA_STOP_TIMEOUT (s, default 30).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HOME_DIR="$HERE/.kafka"
LIBS="$HOME_DIR/libs"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")"
MARKER="$LIBS/.fetched-$KAFKA_VERSION"

DEFAULT_PORT=9092
DEFAULT_DIR="$HOME_DIR/data"
PID_NAME=kafka.pid
SERVER_NOUN=broker
POLL=0.2
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# Kafka cluster ids are 16 random bytes in URL-safe base64 without padding (22 chars),
# the format of `kafka-storage random-uuid`; generated here to save a JVM start.
# Like Kafka's own Uuid.randomUuid(), never one that starts with '-': the storage tool's argument
# parser reads `-t -xyz…` as a missing value ("--cluster-id/-t: expected one argument"), which
# failed about one start in 64.
random_cluster_id() {
  local id
  while id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"; [[ "$id" == -* ]]; do :; done
  echo "$id"
}

cmd_fetch() {
  if [[ -f "$MARKER" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "maven (mvn) is required to fetch the broker"
  command -v java >/dev/null || die "java 17+ is required to run the broker"
  mkdir -p "$HOME_DIR"
  # Concurrent fetches (parallel test files) serialise on a lock; the loser finds the marker.
  exec 9>"$HOME_DIR/.fetch.lock"
  flock 9
  if [[ -f "$MARKER" ]]; then
    return 0
  fi
  local tmp="$HOME_DIR/libs.tmp.$$"
  rm -rf "$tmp"
  echo "kafka.sh: fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central" >&2
  mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >&2
  ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "fetch did not produce kafka_2.13 jar"
  touch "$tmp/.fetched-$KAFKA_VERSION"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  echo "kafka.sh: fetched $(ls "$LIBS"/*.jar | wc -l) jars into $LIBS" >&2
}

write_properties() {
  local controller_port="$1"
  cat >"$DIR/server.properties" <<EOF
# Written by deploy/local/kafka.sh: single-node KRaft (combined broker + controller), dev/test only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DIR/data
# Topics are created explicitly by the EventLog adapter (partition count is part of the contract).
auto.create.topics.enable=false
num.partitions=1
# One broker: internal topics cannot be replicated.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Fewer __consumer_offsets partitions than the default 50: the first group join creates them.
offsets.topic.num.partitions=5
# Joins of the first member complete at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
# Lets tests use short consumer session timeouts (broker default minimum is 6 s).
group.min.session.timeout.ms=1000
# Deleted topics leave the disk after 1 s instead of 60 s (the personal-data upgrade deletes plaintext topics).
log.segment.delete.delay.ms=1000
EOF
}

# Serving = the port accepts AND the broker logged the end of its startup since this start (the
# socket may be bound before request processing is enabled). MARKER_FROM: server.log's line count
# before the start.
serving() {
  port_open "$PORT" && tail -n "+$(( MARKER_FROM + 1 ))" "$DIR/logs/server.log" 2>/dev/null | grep -q "Kafka Server started"
}

cmd_start() {
  parse_opts "$@"
  cmd_fetch
  check_free broker
  mkdir -p "$DIR/logs"

  local controller_port=""
  if [[ -f "$DIR/server.properties" ]]; then
    controller_port="$(sed -n 's/^controller.quorum.voters=1@127.0.0.1:\([0-9]*\)$/\1/p' "$DIR/server.properties")"
  fi
  controller_port="$(kept_port "$controller_port")"
  write_properties "$controller_port"

  local heap="${KAFKA_HEAP:--Xmx512m -Xms128m}"
  # shellcheck disable=SC2206
  local jvm=($heap ${KAFKA_JVM_FLAGS--XX:+UseSerialGC -XX:TieredStopAtLevel=1} -Djava.awt.headless=true
    "-Dkafka.logs.dir=$DIR/logs" "-Dlog4j.configuration=file:$HERE/log4j.properties"
    -cp "$LIBS/*")

  if [[ ! -f "$DIR/data/meta.properties" ]]; then
    java "${jvm[@]}" kafka.tools.StorageTool format --ignore-formatted \
      -t "$(random_cluster_id)" -c "$DIR/server.properties" >"$DIR/logs/format.log" 2>&1 \
      || { cat "$DIR/logs/format.log" >&2; die "storage format failed"; }
  fi

  # setsid: the broker outlives this script and does not get the caller's terminal signals.
  setsid nohup java "${jvm[@]}" kafka.Kafka "$DIR/server.properties" \
    >"$DIR/logs/stdout.log" 2>&1 </dev/null &
  local pid=$!

  MARKER_FROM=0
  [[ -f "$DIR/logs/server.log" ]] && MARKER_FROM="$(wc -l <"$DIR/logs/server.log")"
  announce_when_serving "$pid" "${KAFKA_START_TIMEOUT:-90}" "did not start" "logs in $DIR/logs" \
    "$DIR/logs/server.log" "$DIR/logs/stdout.log"
}

status_lines() {
  local port
  port="$(sed -n 's/^advertised.listeners=PLAINTEXT:\/\/\(.*\)$/\1/p' "$DIR/server.properties")"
  echo "bootstrap=$port"
}

dispatch "usage: $0 fetch | start [--port P] [--dir D] | stop [--dir D] | status [--dir D]" "$@"
