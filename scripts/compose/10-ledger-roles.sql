-- docker-compose: the ledger's two roles (ledger/store/migrate.py), run once by the postgres
-- image on a fresh volume (/docker-entrypoint-initdb.d, as the superuser `postgres`).
--   ledger      owns the log's database and schema; only `ledger migrate` connects as it
--   ledger_app  the API, relay and consumers: INSERT and SELECT on the log (granted by
--               `ledger migrate --app-role ledger_app`), owner of its read models
-- `ledger` is a member of `ledger_app` so that migrate can hand it read models made before.
CREATE ROLE ledger LOGIN PASSWORD 'ledger';
CREATE ROLE ledger_app LOGIN PASSWORD 'ledger_app';
GRANT ledger_app TO ledger;
CREATE DATABASE ledger OWNER ledger;
-- the Kafka-fed read models live apart from the ledger, and belong to the application
CREATE DATABASE read_models OWNER ledger_app;
