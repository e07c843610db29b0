"""``ledger serve``: the API and the dashboard over one ledger, with uvicorn."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def serve(database_url: str, *, host: str, port: int, fail: Callable[[str], Any]) -> None:
    import uvicorn
    from pydantic import ValidationError

    from api.app import create_app
    from api.settings import ApiSettings
    from ledger.bootstrap import bootstrap
    from ledger.settings import Settings

    try:
        settings = ApiSettings()
    except ValidationError as error:
        problem = error.errors()[0]
        fail(f"LEDGER_API_{str(problem['loc'][0]).upper()}: {problem['msg']}")
        return
    if database_url.startswith("sqlite:///") and not Path(database_url.removeprefix("sqlite:///")).exists():
        fail(f"no ledger at {database_url} (run `ledger demo` or give -d)")
    try:
        ledger_app = bootstrap(Settings(database_url=database_url))
    except Exception as error:
        fail(f"cannot open the ledger at {database_url}: {error}")
        return
    try:
        uvicorn.run(create_app(ledger_app, settings), host=host, port=port, log_level="info")
    finally:
        ledger_app.close()
