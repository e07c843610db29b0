"""One redaction for everything the ledger prints: no password ever reaches a terminal or a log.

Database URLs travel through settings, error messages of drivers (psycopg quotes
a malformed connection string back), hints and reprs. Everything that may hold
one goes through :func:`redact` before it is shown; :func:`describe_failure`
turns an exception from a database or the file system into that one line.
"""
from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

#: ``scheme://user:password@host``: the password runs to the ``@`` before the host (a name without
#: ``@`` or blanks, then a port, path, query or the end), across spaces, further ``@`` and ``/?#``
#: (``postgresql://u:SEC RET@h``, ``postgresql://u:a@b@h``, ``postgresql://u:Ab3#x/y@h/db``), never past
#: a line; a second URL in the same message is one of its own
_URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)(?P<secret>.*?)@(?=[^@\s/?#]*(?:[:/?#\s]|$))"
)
#: ``password=secret`` in a libpq connection string or a URL query, quoted or not
_KEY_VALUE_PASSWORD = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|sslpassword)\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^\s&;]+)",
    re.IGNORECASE,
)


def url_secrets(url: str | None) -> list[str]:
    """What of ``url``'s password a driver may quote back: the raw password, the password
    percent-decoded, and, when the userinfo holds several ``@``, the fragments on either side of
    the first one (libpq ends the userinfo there: ``u:SECRET@PW@h`` is the host ``PW@h``);
    longest first."""
    if not url or "://" not in url:
        return []
    rest = url.split("://", 1)[1]
    first_at = rest.find("@")
    if first_at < 0:
        return []
    path = min((i for i in (rest.find(c, first_at) for c in "/?#") if i >= 0), default=len(rest))
    userinfo = rest[: rest.rindex("@", 0, path)]
    if ":" not in userinfo:
        return []
    password = userinfo.split(":", 1)[1]
    found = {password, unquote(password)}
    if "@" in password:
        before, after = password.split("@", 1)
        found |= {before, after, unquote(before), unquote(after)}
    return sorted((s for s in found if s), key=len, reverse=True)


def redact(text: object, url: str | None = None) -> str:
    """``text`` (a URL, a message) with every password replaced by ``***``; given the ``url`` in
    use, its password is also removed from every quoted value (a driver quoting it back)."""
    rendered = str(text)
    rendered = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", rendered)
    rendered = _KEY_VALUE_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", rendered)
    secrets = url_secrets(url)
    if secrets:  # only where the driver quotes a value back: a password like "ledger" must not mask every word
        rendered = _QUOTED.sub(lambda m: _masked(m.group(0), secrets), rendered)
    return rendered


#: a value a driver quotes back: "…" or '…'
_QUOTED = re.compile(r"\"[^\"\r\n]*\"|'[^'\r\n]*'")


def _masked(quoted: str, secrets: list[str]) -> str:
    for secret in secrets:
        quoted = quoted.replace(secret, MASK)
    return quoted


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def describe_failure(error: BaseException, url: str | None = None) -> str:
    """One line, without secrets, saying what failed: a locked SQLite file, an unreachable
    PostgreSQL, a file that cannot be read… (``url``: the database URL in use, whose password
    the driver may have quoted back raw)."""
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
    return redact(message, url)
