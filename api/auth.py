"""Bearer tokens (signed JWTs, PyJWT) and who they name.

A token carries its subject (``sub``: who is recorded as ``recorded_by`` of every
command given with it), a role and, where the role needs one, its scope: the
regulator's ``jurisdiction``, the provider's ``provider_id``, the enterprise's
``enterprise_id``. No token is the public.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from api.settings import ApiSettings
from ledger.commands.models import Id, Jurisdiction


class Role(StrEnum):
    regulator = "regulator"
    auditor = "auditor"
    provider = "provider"
    enterprise = "enterprise"
    public = "public"


class Principal(BaseModel):
    """Who is asking: the token's claims, checked."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sub: Id
    role: Role
    jurisdiction: Jurisdiction | None = None
    provider_id: Id | None = None
    enterprise_id: Id | None = None

    @model_validator(mode="after")
    def _scoped(self) -> Principal:
        needed = {Role.regulator: "jurisdiction", Role.provider: "provider_id", Role.enterprise: "enterprise_id"}.get(self.role)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"a {self.role} token needs a {needed} claim")
        return self


PUBLIC = Principal(sub="public", role=Role.public)


class TokenError(Exception):
    """The bearer token is missing a key to check it, malformed, expired or not ours."""


def _signing_key(settings: ApiSettings) -> str:
    if settings.jwt_secret is None:
        raise TokenError("no token key is configured (LEDGER_API_JWT_SECRET)")
    return settings.jwt_secret.get_secret_value()


def _verifying_key(settings: ApiSettings) -> str:
    return settings.jwt_public_key or _signing_key(settings)


def decode_token(token: str, settings: ApiSettings) -> Principal:
    try:
        claims = jwt.decode(
            token,
            _verifying_key(settings),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.PyJWTError as error:
        raise TokenError(f"invalid bearer token: {error}") from None
    try:
        principal = Principal.model_validate(claims)
    except ValidationError as error:
        problem = error.errors()[0]
        raise TokenError(f"invalid bearer token: {'.'.join(map(str, problem['loc'])) or 'claims'}: {problem['msg']}") from None
    if principal.role is Role.public:
        raise TokenError("invalid bearer token: the public needs no token")
    return principal


def mint_token(principal: Principal, settings: ApiSettings, *, minutes: int | None = None, now: datetime | None = None) -> str:
    """Sign a token for ``principal`` with the configured HS* secret (``ledger token``, tests)."""
    issued = now or datetime.now(UTC)
    claims = {
        **principal.model_dump(mode="json", exclude_none=True),
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + timedelta(minutes=minutes or settings.token_minutes),
    }
    return jwt.encode(claims, _signing_key(settings), algorithm=settings.jwt_algorithm)
