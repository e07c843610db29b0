"""The ledger's HTTP API: a thin entrypoint over the application (``create_app(App)``).

Routes parse a request, call the ledger (commands) or its read service (queries)
and map errors in one place (``api.errors``); they hold no rules and no SQL.
"""
from api.app import create_app

__all__ = ["create_app"]
