"""Every error the API answers, mapped in one place.

A rule refusal is 422 with the article it rests on; bad input is 422 naming the
field; a concurrent writer (or a reused idempotency key) is 409; an unknown
aggregate 404; a missing or bad token 401; a role or scope that may not do it 403.
Nothing reaches a client as a traceback: anything else is a one-line 500.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import TokenError
from ledger import views
from ledger.aggregates import DomainError
from ledger.application import CommandConflict, NotFound
from ledger.store import ConcurrencyConflict, ReadOnlyLedger

log = logging.getLogger(__name__)

#: an article as the rulebooks number them: 第十三条（二）, or the provincial guide's 四（三）
ARTICLE = re.compile(r"第[一二三四五六七八九十百零〇]+条(?:（[一二三四五六七八九十]+）)?|[一二三四五六七八九十]+（[一二三四五六七八九十]+）")


class Forbidden(Exception):
    """The caller's role or scope does not allow this."""


class Refused(Exception):
    """A request the API itself refuses before the ledger sees it (e.g. two different command ids)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    body = {"detail": detail, **{k: v for k, v in extra.items() if v is not None}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


#: how pydantic names the member of a union a value failed (``Count | Number``: ``constrained-int``)
UNION_MEMBER = re.compile(r"(?:constrained|strict|lax-or-strict|function-(?:after|before|wrap|plain))(?:-\w+|\[.*\])")


def _field(loc: tuple | list) -> str:
    loc = list(loc)
    while len(loc) > 1 and isinstance(loc[-1], str) and UNION_MEMBER.fullmatch(loc[-1]):
        loc.pop()  # the field, not which of its types the value failed
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def _listed(error: dict[str, Any]) -> dict[str, Any]:
    if error.get("type") == "json_invalid":  # loc is ("body", the character offset): the body is at fault
        reason = (error.get("ctx") or {}).get("error")
        offset = error["loc"][-1] if error.get("loc") else None
        at = f" at character {offset}" if isinstance(offset, int) else ""
        return {"field": "body", "message": f"not JSON ({reason}{at})" if reason else f"not JSON{at}"}
    return {"field": _field(error["loc"]), "message": error["msg"]}


def validation_problem(errors: list[dict[str, Any]]) -> JSONResponse:
    listed = [_listed(e) for e in errors]
    first = listed[0] if listed else {"field": None, "message": "invalid request"}
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in listed[:5])
    return problem(422, detail, field=first["field"], errors=listed)


def article_of(error: Exception) -> str | None:
    """The article a refusal rests on: the error's own, or the first its message cites — not one of
    the alternatives it lists (``…has no finding article 'bogus'; known: 第十二条（一）, …`` names
    none the request gave: no article)."""
    explicit = getattr(error, "article", None)
    if explicit:
        return str(explicit)
    found = ARTICLE.search(str(error).split("; known:", 1)[0])
    return found.group(0) if found else None


def _reused_key_errors() -> tuple[type[Exception], ...]:
    """The store's refusal of a command id reused with a different payload, where the store has one."""
    import ledger.store as store

    return tuple(
        cls for name in ("CommandIdReused", "IdempotencyConflict", "CommandIdConflict")
        if isinstance(cls := getattr(store, name, None), type) and issubclass(cls, Exception)
    )  # fmt: skip


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return validation_problem(list(error.errors()))

    @app.exception_handler(ValidationError)
    async def _model_invalid(request: Request, error: ValidationError) -> JSONResponse:
        return validation_problem([dict(e) for e in error.errors()])

    @app.exception_handler(Refused)
    async def _refused(request: Request, error: Refused) -> JSONResponse:
        return problem(422, str(error), field=error.field)

    @app.exception_handler(TokenError)
    async def _token(request: Request, error: TokenError) -> JSONResponse:
        return problem(401, str(error))

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, error: Forbidden) -> JSONResponse:
        return problem(403, str(error))

    for missing in (NotFound, views.NotFound):

        @app.exception_handler(missing)
        async def _not_found(request: Request, error: Exception) -> JSONResponse:
            return problem(404, str(error))

    @app.exception_handler(views.InvalidQuery)
    async def _invalid_query(request: Request, error: views.InvalidQuery) -> JSONResponse:
        return problem(422, f"{error.field}: {error}" if error.field else str(error), field=error.field)

    @app.exception_handler(views.ViewError)
    async def _unanswerable(request: Request, error: views.ViewError) -> JSONResponse:
        return problem(422, str(error))

    @app.exception_handler(DomainError)
    async def _rule_refusal(request: Request, error: DomainError) -> JSONResponse:
        return problem(422, str(error), article=article_of(error), field=error.field)

    for conflict in (CommandConflict, ConcurrencyConflict, *_reused_key_errors()):

        @app.exception_handler(conflict)
        async def _conflict(request: Request, error: Exception) -> JSONResponse:
            return problem(409, str(error))

    @app.exception_handler(ReadOnlyLedger)
    async def _read_only(request: Request, error: ReadOnlyLedger) -> JSONResponse:
        return problem(503, str(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # the framework could not parse the body: bad input like any other
            return problem(422, f"body: {error.detail} (send a JSON object)", field="body")
        return problem(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, f"internal error ({type(error).__name__}); the request was not completed")
