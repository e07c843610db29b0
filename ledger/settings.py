"""Settings, read from the environment (prefix ``LEDGER_``) or a ``.env`` file."""
from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


def refused_setting(error: ValidationError, settings: type[BaseSettings]) -> str:
    """One line naming the environment variable of the first value ``settings`` refused
    (``LEDGER_GROUP_COMMIT: Input should be a valid boolean…``)."""
    problem = error.errors()[0]
    return f"{settings.model_config.get('env_prefix', '')}{str(problem['loc'][0]).upper()}: {problem['msg']}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", env_file=".env", extra="ignore")

    #: ``sqlite:///path/to/ledger.db`` (embedded default) or ``postgresql://user:pw@host/db``.
    database_url: str = "sqlite:///ledger.db"
    #: Who is recorded as the author of commands given through the CLI.
    operator: str = "cli"
    #: Ed25519 private key (PEM) that signs digests (``ledger keygen`` makes one); unset: digests are unsigned.
    signing_key_file: str | None = None
    #: The public key (base64) a digest must be signed by for ``ledger verify --digest`` to accept it.
    verify_key: str | None = None
    #: How long (seconds) a SQLite writer waits for another process's write lock before giving up.
    busy_timeout: float = 30.0
    #: Connections kept by the PostgreSQL pool.
    pool_size: int = 4
    #: Group commit: commands executed concurrently (threads of one process) share one
    #: transaction (``ledger.group_commit``); a lone command is written at once, as without it.
    #: On by default: at 8 clients it recorded 16-39 % more commands a second on PostgreSQL and
    #: 17-26 % more on SQLite, at less CPU a command; at 4 clients as many (BENCHMARKS.md).
    #: False: a transaction a command.
    group_commit: bool = True
    #: The most commands recorded in one group-commit transaction.
    group_commit_max_batch: int = Field(64, ge=1)
    #: How long a group's leader may wait for commands other threads are still deciding (0: it
    #: writes what is queued at once; waiting made groups larger and commands/s lower).
    group_commit_max_wait_ms: float = Field(0.0, ge=0)
    #: Kafka brokers the relay publishes to and the consumers read from (``host:port,…``).
    kafka_bootstrap: str = "127.0.0.1:9092"
    #: Prefix of the topic names (``<prefix>ledger.events.v1``), e.g. a tenant or an environment.
    kafka_topic_prefix: str = ""
    #: Read models follow the log in a background thread (``ledger.projections.worker``); a
    #: writer that needs its own effect waits for its position. False: each commit waits for them.
    projection_worker: bool = True
    #: Every this many events an aggregate's state is kept as a snapshot (``ledger.snapshots``), so
    #: that a fresh process reads the snapshot and the events after it, not the whole history. 0: off.
    snapshot_every: int = 500
