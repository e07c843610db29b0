"""One redaction for everything the ledger prints: no password ever reaches a terminal or a log.

Database URLs travel through settings, error messages of drivers (psycopg quotes
a malformed connection string back), hints and reprs. Everything that may hold
one goes through :func:`redact` before it is shown; :func:`describe_failure`
turns an exception from a database or the file system into that one line.
"""
from __future__ import annotations

import re

MASK = "***"

#: ``scheme://user:password@host`` (the password ends at the last ``@`` before the host)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)(?P<secret>[^\s]*)@(?=[^@\s]*)")
#: ``password=secret`` in a libpq connection string or a URL query, quoted or not
_KEY_VALUE_PASSWORD = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|sslpassword)\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^\s&;]+)",
    re.IGNORECASE,
)


def redact(text: object) -> str:
    """``text`` (a URL, a message) with every password replaced by ``***``."""
    rendered = str(text)
    rendered = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", rendered)
    return _KEY_VALUE_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", rendered)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def describe_failure(error: BaseException) -> str:
    """One line, without secrets, saying what failed: a locked SQLite file, an unreachable
    PostgreSQL, a file that cannot be read…"""
    kinds = {cls.__module__.split(".")[0] + "." + cls.__name__ for cls in type(error).__mro__}
    message = _first_line(str(error)) or type(error).__name__
    if "sqlite3.OperationalError" in kinds and ("locked" in message or "busy" in message):
        message = f"the SQLite database is locked by another process ({message}); try again when it is done"
    elif "psycopg.OperationalError" in kinds or "psycopg_pool.PoolTimeout" in kinds:
        message = f"PostgreSQL is not available: {message}"
    elif "psycopg.errors.AdminShutdown" in kinds:
        message = f"PostgreSQL was shut down or restarted during the command: {message}"
    elif isinstance(error, UnicodeDecodeError):
        message = f"not UTF-8: {message}"
    return redact(message)
