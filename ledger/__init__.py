"""Event-sourced compliance ledger for pools of digital-transformation service providers."""
