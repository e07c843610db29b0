#!/usr/bin/env bash
# Start a local PostgreSQL (Debian's packaging) for the ledger's tests, idempotently.
#
# - installs the `postgresql` package if `pg_ctlcluster` is missing;
# - starts the newest installed cluster (creating `<version>/main` if there is none);
# - creates the role `ledger` (password `ledger`, LOGIN CREATEDB), the owner of the ledger's
#   tables, and the database `ledger_test` owned by it, if missing;
# - creates the application role `ledger_app` (password `ledger_app`, LOGIN, nothing else),
#   and makes `ledger` a member of it, so that `ledger migrate --app-role ledger_app` can hand
#   it the read models (ledger/store/migrate.py). Tests connect as it with the owner's URL,
#   user and password swapped (LEDGER_TEST_POSTGRES_APP_URL overrides: tests/support/roles.py);
# - checks that password authentication over TCP on 127.0.0.1 works.
#
# Progress goes to stderr; the only line on stdout is the database URL, so that
#   export LEDGER_TEST_POSTGRES_URL="$(scripts/pg-start.sh)"
# works.
set -euo pipefail

ROLE=ledger
PASSWORD=ledger
APP_ROLE=ledger_app
APP_PASSWORD=ledger_app
DATABASE=ledger_test
FALLBACK_VERSION=15

log() { echo "pg-start: $*" >&2; }

# Run a command as the postgres OS user (the server refuses to run as root).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && sudo -n -u postgres -- "$@")
  fi
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n -- "$@"; fi
}

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing PostgreSQL (apt-get)"
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
fi

# The cluster to use: the newest version that has one; else create <newest installed>/main.
cluster_line="$(pg_lsclusters -h 2>/dev/null | sort -k1,1V | tail -n 1 || true)"
if [ -z "$cluster_line" ]; then
  version="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
  version="${version:-$FALLBACK_VERSION}"
  log "no cluster found: creating $version/main"
  as_root pg_createcluster "$version" main >&2
  cluster_line="$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"')"
fi
read -r version cluster port status _ <<<"$cluster_line"

if [[ "$status" != online* ]]; then
  log "starting cluster $version/$cluster on port $port"
  as_root pg_ctlcluster "$version" "$cluster" start >&2
else
  log "cluster $version/$cluster already online on port $port"
fi

for _ in $(seq 1 60); do
  if pg_isready -q -h 127.0.0.1 -p "$port"; then break; fi
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$port" || { log "PostgreSQL did not become ready on port $port"; exit 1; }

psql_admin() {
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres "$@"
}

psql_admin -c "
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  ELSE
    ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$APP_ROLE') THEN
    CREATE ROLE $APP_ROLE LOGIN PASSWORD '$APP_PASSWORD';
  ELSE
    ALTER ROLE $APP_ROLE LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$APP_PASSWORD';
  END IF;
END
\$\$;
GRANT $APP_ROLE TO $ROLE;" >&2

if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
  log "creating database $DATABASE"
  psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
fi

URL="postgresql://$ROLE:$PASSWORD@127.0.0.1:$port/$DATABASE"

# Password authentication over TCP: Debian's pg_hba.conf allows it (scram-sha-256)
# for 127.0.0.1 by default. If a customised one does not, put a rule for our role
# first (the first matching line wins; md5 also accepts SCRAM-stored passwords).
if ! psql -X -q -tAc "SELECT 1" "$URL" >/dev/null 2>&1; then
  hba="$(psql_admin -tAc "SHOW hba_file")"
  log "TCP password login failed: allowing password login for $ROLE from 127.0.0.1 in $hba"
  as_root sed -i "1i host all $ROLE,$APP_ROLE 127.0.0.1/32 md5" "$hba"
  psql_admin -c "SELECT pg_reload_conf()" >/dev/null
  sleep 1
  psql -X -q -tAc "SELECT 1" "$URL" >/dev/null || { log "cannot log in as $ROLE over TCP"; exit 1; }
fi

echo "$URL"
