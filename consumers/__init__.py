"""Subscribers of the ledger's Kafka topic (``ledger relay`` publishes it).

- :mod:`consumers.projections` — the consumer group that builds the read models
  in PostgreSQL, exactly once per message;
- :mod:`consumers.deadlines` — the deadline sweep, a scheduled consumer of its own;
- :mod:`consumers.dashboard` — a small example subscriber for a dashboard team.

Run one with ``python -m consumers <name> --help``.
"""
