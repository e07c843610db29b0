#!/usr/bin/env bash
# Run the whole test suite, on SQLite and on PostgreSQL.
#
# Uses the PostgreSQL named by LEDGER_TEST_POSTGRES_URL; without it, starts the
# local cluster (installing it if needed) with scripts/pg-start.sh. Extra
# arguments go to pytest, e.g. `scripts/test.sh -k tamper -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${LEDGER_TEST_POSTGRES_URL:-}" ]; then
  LEDGER_TEST_POSTGRES_URL="$(scripts/pg-start.sh)"
  export LEDGER_TEST_POSTGRES_URL
fi

PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
exec "$PYTHON" -m pytest -n 2 -q "$@"
