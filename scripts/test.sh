#!/usr/bin/env bash
# Run the whole test suite, on SQLite and on PostgreSQL, and the Kafka tests on a real broker.
#
# Uses the PostgreSQL named by LEDGER_TEST_POSTGRES_URL; without it, starts the
# local cluster (installing it if needed) with scripts/pg-start.sh. Uses the Kafka
# broker named by LEDGER_TEST_KAFKA; without it, starts one with scripts/kafka-start.sh
# (in parallel with PostgreSQL; needs a JDK and Maven; without them the Kafka tests
# are skipped here and fail in CI). Extra arguments go to pytest, e.g.
# `scripts/test.sh -k tamper -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

kafka_out=""
if [ -z "${LEDGER_TEST_KAFKA:-}" ]; then
  kafka_out="$(mktemp)"
  scripts/kafka-start.sh >"$kafka_out" &
  kafka_pid=$!
fi

if [ -z "${LEDGER_TEST_POSTGRES_URL:-}" ]; then
  LEDGER_TEST_POSTGRES_URL="$(scripts/pg-start.sh)"
  export LEDGER_TEST_POSTGRES_URL
fi

if [ -n "$kafka_out" ]; then
  if wait "$kafka_pid"; then
    LEDGER_TEST_KAFKA="$(cat "$kafka_out")"
    export LEDGER_TEST_KAFKA
  else
    echo "test.sh: no Kafka broker: the Kafka tests will be skipped (and fail in CI)" >&2
  fi
  rm -f "$kafka_out"
fi

PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
exec "$PYTHON" -m pytest -n 2 -q "$@"
