"""What routes declare they need, as ``Annotated[..., Depends(...)]`` aliases: the App, its
read service, the settings and the caller (``Principal``: a bearer token's claims, or the public).

They are coroutines although none awaits anything: FastAPI runs a plain function dependency in
its thread pool, a hand-off to a worker thread and back for each of them on every request (a
command went through five), where a coroutine runs in place. None of them does I/O."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import PUBLIC, Principal, Role, decode_token
from api.errors import Forbidden
from api.settings import ApiSettings
from ledger.bootstrap import App
from ledger.views import Views


async def get_app(request: Request) -> App:
    return request.app.state.ledger_app


async def get_views(request: Request) -> Views:
    """The read service as readers of a server need it: what the read models hold, without waiting
    for other callers' writes (a writer that needs its effect sends ``Wait-For-Read-Models``)."""
    ledger_app: App = request.app.state.ledger_app
    return Views(ledger_app.ledger, ledger_app.projections, own_writes=False)


async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


AppDep = Annotated[App, Depends(get_app)]
ViewsDep = Annotated[Views, Depends(get_views)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]

_bearer = HTTPBearer(auto_error=False, description="a signed JWT: sub, role and its scope (jurisdiction, provider_id or enterprise_id)")


async def current_principal(settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if credentials is None:
        return PUBLIC
    return decode_token(credentials.credentials, settings)


PrincipalDep = Annotated[Principal, Depends(current_principal)]

#: OpenAPI of a route the public may call too: the token is optional there
TOKEN_OPTIONAL: dict[str, Any] = {"security": [{}]}  # added to the HTTPBearer requirement: either


def roles(*allowed: Role) -> Any:
    """A dependency letting only these roles through (403 for the others, 401 for the public)."""

    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            if principal.role is Role.public:
                from api.auth import TokenError

                raise TokenError(f"a bearer token is required ({' or '.join(allowed)})")
            raise Forbidden(f"a {principal.role} may not do this; it takes a {' or '.join(allowed)}")
        return principal

    return Depends(check)


Auditor = Annotated[Principal, roles(Role.auditor)]
ReaderOfReports = Annotated[Principal, roles(Role.auditor, Role.regulator)]


def may_read_provider(principal: Principal, provider_id: str, jurisdiction: str) -> None:
    """Auditor: all; regulator: its jurisdiction; provider: itself. Everyone else: refused."""
    if principal.role is Role.auditor:
        return
    if principal.role is Role.regulator and principal.jurisdiction == jurisdiction:
        return
    if principal.role is Role.provider and principal.provider_id == provider_id:
        return
    if principal.role is Role.public:
        from api.auth import TokenError

        raise TokenError("a bearer token is required to read a provider's records")
    raise Forbidden(f"a {principal.role} of {principal.jurisdiction or principal.provider_id or principal.enterprise_id} may not read provider {provider_id}")


def may_act_in(principal: Principal, jurisdiction: str) -> None:
    if principal.role is Role.regulator and principal.jurisdiction != jurisdiction:
        raise Forbidden(f"the regulator of {principal.jurisdiction} may not act in {jurisdiction}")
