#!/usr/bin/env bash
# Start a single-node Apache Kafka broker (KRaft) for the ledger's tests, idempotently.
#
# - fetches the broker's jars once with Maven (broker/pom.xml -> var/kafka/lib; Maven's
#   ~/.m2 caches the downloads between runs);
# - formats the storage of the data directory once (kafka.tools.StorageTool random-uuid,
#   then format -t ID -c server.properties);
# - starts kafka.Kafka with the machine's JDK in the background (one process is broker and
#   controller; replication factor 1 for every internal topic), unless a broker already
#   answers on the port, and waits until it accepts clients.
#
# Settings (environment): KAFKA_PORT (9092; the controller listens on KAFKA_PORT+1),
# KAFKA_DATA_DIR (var/kafka/<port>), KAFKA_HEAP (-Xmx512m).
#   scripts/kafka-start.sh --stop     stops the broker of that data directory (SIGTERM, waits).
#
# Progress goes to stderr; the only line on stdout is the bootstrap address, so that
#   export LEDGER_TEST_KAFKA="$(scripts/kafka-start.sh)"
# works.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT=$((PORT + 1))
DATA="${KAFKA_DATA_DIR:-$ROOT/var/kafka/$PORT}"
LIB="$ROOT/var/kafka/lib"
HEAP="${KAFKA_HEAP:--Xmx512m -Xms128m}"
ADDRESS="127.0.0.1:$PORT"

log() { echo "kafka-start: $*" >&2; }

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$DATA/broker.pid" ] && kill -0 "$(cat "$DATA/broker.pid")" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
  if pid_alive; then
    pid="$(cat "$DATA/broker.pid")"
    log "stopping broker $pid ($DATA)"
    kill "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then log "broker $pid did not stop: SIGKILL"; kill -9 "$pid"; fi
  fi
  rm -f "$DATA/broker.pid"
  exit 0
fi

if answers "$PORT"; then
  log "a broker already answers on $ADDRESS"
  echo "$ADDRESS"
  exit 0
fi

command -v java >/dev/null || { log "java (JDK 17) is missing: apt-get install openjdk-17-jdk-headless"; exit 1; }

if [ ! -f "$LIB/.complete" ] || [ "$ROOT/broker/pom.xml" -nt "$LIB/.complete" ]; then
  command -v mvn >/dev/null || { log "mvn is missing: apt-get install maven"; exit 1; }
  log "fetching the broker's jars (mvn dependency:copy-dependencies)"
  rm -rf "$LIB"
  mvn -q -B -f "$ROOT/broker/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$LIB" -DincludeScope=runtime >&2
  touch "$LIB/.complete"
fi

mkdir -p "$DATA/logs"
cat >"$DATA/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$ADDRESS
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA/data
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=-1
PROPERTIES

CLASSPATH="$LIB/*"
JAVA_OPTS=(-cp "$CLASSPATH" -Dlog4j2.configurationFile="$ROOT/broker/log4j2.yaml" -Dkafka.logs.dir="$DATA/logs")

if [ ! -f "$DATA/data/meta.properties" ]; then
  cluster_id="$(java "${JAVA_OPTS[@]}" kafka.tools.StorageTool random-uuid)"
  log "formatting $DATA/data (cluster $cluster_id)"
  java "${JAVA_OPTS[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$DATA/server.properties" >&2
fi

log "starting the broker on $ADDRESS ($DATA)"
# A fresh log: readiness is the start-up line of this run.
[ -f "$DATA/logs/server.log" ] && mv "$DATA/logs/server.log" "$DATA/logs/server.log.1"
# setsid: the broker outlives this script and the shell that ran it.
# shellcheck disable=SC2086
setsid java $HEAP -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Xshare:auto "${JAVA_OPTS[@]}" kafka.Kafka "$DATA/server.properties" \
  >"$DATA/logs/stdout.log" 2>&1 </dev/null &
echo $! >"$DATA/broker.pid"

for _ in $(seq 1 240); do
  if grep -q "Kafka Server started" "$DATA/logs/server.log" 2>/dev/null && answers "$PORT"; then
    log "$(grep -m1 "Kafka Server started" "$DATA/logs/server.log")"
    echo "$ADDRESS"
    exit 0
  fi
  if ! pid_alive; then
    log "the broker exited; last lines of its logs:"
    tail -n 20 "$DATA/logs/server.log" "$DATA/logs/stdout.log" >&2 || true
    exit 1
  fi
  sleep 0.25
done
log "the broker did not start within 60 s; see $DATA/logs/server.log"
exit 1
