"""The HTTP API's settings: one pydantic-settings object, read from ``LEDGER_API_*`` or ``.env``.

Token keys come from here and nowhere else. With no key configured the API
still serves what the public may see (the pool and the published lists) and
refuses every bearer token, rather than inventing a key.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_API_", env_file=".env", extra="ignore")

    #: HS256 shared secret that signs and checks bearer tokens (``ledger token`` signs with it).
    jwt_secret: SecretStr | None = Field(None, min_length=32)
    #: PEM public key for tokens signed elsewhere (RS256 / ES256 / EdDSA); used instead of the secret when set.
    jwt_public_key: str | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"] = "HS256"
    #: the ``aud`` every token must carry
    jwt_audience: str = "ledger-api"
    #: the longest a token minted by ``ledger token`` lives, in minutes
    token_minutes: int = 60
    #: largest page any list returns
    max_page: int = 500
    #: how often the event stream looks for new events, in seconds
    stream_poll_seconds: float = 0.5
    #: /ready also checks the ledger's Kafka brokers (``LEDGER_KAFKA_BOOTSTRAP``): set where a relay or consumers run
    check_kafka: bool = False
