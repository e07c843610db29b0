export PYTHONPATH=/work/wt/lead LEDGER_TEST_POSTGRES_URL=postgresql://ledger:ledger@127.0.0.1:5432/ledger_test LEDGER_TEST_KAFKA=127.0.0.1:9092
