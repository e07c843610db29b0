"""Personal data (complainants' and reporters' names and contact details), kept out of the log.

The hash-chained log must never hold personal data: a chain cannot forget, and
个人信息保护法 第四十七条 requires deleting personal information once the
retention period ends. So before a command is decided, its personal fields
(``Command.PERSONAL_FIELDS``) are replaced by stable markers
(``sealed:<holder>/<field>``) and the values are encrypted (AES-256-GCM) under a
key of the person's own, in tables beside the log but outside the chain.
Destroying a person's key (``erase``) makes the values unreadable for good —
crypto-shredding — while every event, and so ``ledger verify``, stays as it was.

The values are written in the transaction that records the command's events,
by the store (``CommandBatch.personal``): a refused or conflicting command leaves
nothing behind, and a recorded one never lacks them (unless the person was
erased). No transaction of the vault's own is spent on a command.

A retry must repeat the command exactly, personal fields included — but the
log's payload holds only markers, equal whatever the values were. So the vault
keeps, beside the ciphertext, an HMAC-SHA256 of the values under the person's
own key (:meth:`PersonalDataVault.same_as_kept`): a command id reused with other
personal data is refused like any other reuse, and no plaintext is kept for the
comparison. Once the key is destroyed nothing can be compared (nor revealed): a
retry then is taken as the duplicate its payload says it is, and stores nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.projections.db import ReadModelDB
from ledger.projections.schema import lock_schema
from ledger.store.base import PersonalRecord

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS personal_keys (
        person_id TEXT PRIMARY KEY,
        key_material TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS personal_data (
        holder TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        ciphertext TEXT NOT NULL,
        sealed_at TEXT NOT NULL
    )""",
    # what a retry is checked against: a keyed MAC (HMAC-SHA256 under the person's own key) of the
    # values, so that no plaintext is kept for it, and destroying the key makes it meaningless too
    """CREATE TABLE IF NOT EXISTS personal_macs (
        holder TEXT PRIMARY KEY,
        mac TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS personal_erasures (
        person_id TEXT PRIMARY KEY,
        erased_at TEXT NOT NULL,
        reason TEXT NOT NULL
    )""",
)
MARKER = "sealed:"
#: person ids per lookup of :meth:`PersonalDataVault.store` (SQLite's bound parameters are limited)
PEOPLE_PER_QUERY = 500


@dataclass(frozen=True)
class Sealed:
    """What a command carried: whose data, for which holder (e.g. ``complaint:C-1``), the values."""

    person_id: str
    holder: str
    values: dict[str, str]


@dataclass(frozen=True)
class Revealed:
    holder: str
    person_id: str
    values: dict[str, str] | None  # None: erased (the key was destroyed) or never stored
    erased_at: str | None = None


def holder_of(command: Any) -> tuple[str, str] | None:
    """(person id, holder) for a command with personal fields; the complainant of a complaint is its own person."""
    complaint_id = getattr(command, "complaint_id", None)
    if complaint_id is None:
        return None
    return f"complainant:{complaint_id}", f"complaint:{complaint_id}"


def person_of(holder: str) -> str | None:
    """The person whose data ``holder`` keeps (:func:`holder_of` turned round); None for a holder of no known kind."""
    kind, _, key = holder.partition(":")
    return f"complainant:{key}" if kind == "complaint" and key else None


def decrypt(key: str, nonce: str, ciphertext: str, holder: str) -> Any:
    """The values a record keeps (its columns as stored, hex), decrypted under the person's key and
    bound to ``holder``: :class:`cryptography.exceptions.InvalidTag` if any of them was altered."""
    return json.loads(AESGCM(bytes.fromhex(key)).decrypt(bytes.fromhex(nonce), bytes.fromhex(ciphertext), holder.encode()))


def seal_command(command: Any) -> tuple[Any, Sealed | None]:
    """The command with its personal fields replaced by markers, and what was taken out."""
    fields = getattr(type(command), "PERSONAL_FIELDS", ())
    if not fields:  # most commands: nothing to look at (a missing attribute of a pydantic model is slow to miss)
        return command, None
    values = {name: getattr(command, name) for name in fields if getattr(command, name, None)}
    values = {k: v for k, v in values.items() if not str(v).startswith(MARKER)}
    place = holder_of(command)
    if not values or place is None:
        return command, None
    person_id, holder = place
    markers = {name: f"{MARKER}{holder}/{name}" for name in values}
    return command.model_copy(update=markers), Sealed(person_id, holder, values)


def _plaintext(sealed: Sealed) -> bytes:
    return json.dumps(sealed.values, ensure_ascii=False, sort_keys=True).encode()


def _mac(key: bytes, sealed: Sealed) -> str:
    """HMAC-SHA256 of the holder and its values under the person's key (a key of its own, derived)."""
    mac_key = hmac.new(key, b"ledger personal-data retry check", hashlib.sha256).digest()
    return hmac.new(mac_key, sealed.holder.encode() + b"\x00" + _plaintext(sealed), hashlib.sha256).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


class PersonalDataVault:
    """Encrypted personal data, one key per person, in the ledger's database (outside the chain)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._db: ReadModelDB | None = None
        self._lock = threading.Lock()

    @property
    def db(self) -> ReadModelDB:
        """Connected, and the tables made, on first use: opening a ledger to read it writes nothing.
        One for all threads (writers' first complaints come together: each made its own pool, and
        the ones not kept were never closed)."""
        with self._lock:
            if self._db is None:
                db = ReadModelDB(self.database_url)
                try:
                    with db.transaction() as tx:
                        lock_schema(tx)  # writer processes starting together would race on CREATE TABLE IF NOT EXISTS
                        for statement in SCHEMA:
                            tx.execute(statement)
                except BaseException:
                    db.close()
                    raise
                self._db = db
            return self._db

    def records(self, sealed: Sequence[Sealed], *, look_up: bool) -> list[PersonalRecord | None]:
        """The values of ``sealed``, encrypted, for the store to keep in the transaction that
        records their commands (:class:`~ledger.store.PersonalRecord`), one for each of ``sealed``, in
        its order; the vault's tables are made first if they are missing.

        ``look_up=False`` presumes every person new and gives each a new key, without reading
        anything: a complaint's complainant is a person of its own, so a command's first attempt
        needs no round trip. The store refuses a batch whose person has a key by then
        (:class:`~ledger.store.PersonalKeyConflict`); it is sealed again with ``look_up=True``, which
        reads the people's keys and erasures first (one query per :data:`PEOPLE_PER_QUERY`
        people): a known person's values are encrypted under their key, and an erased person's are
        None (erased people stay erased; the store checks that again)."""
        if not sealed:
            return []
        db = self.db
        erased: set[str] = set()
        keys: dict[str, bytes] = {}
        if look_up:
            people = list(dict.fromkeys(one.person_id for one in sealed))
            with db.transaction(write=False) as tx:
                for start in range(0, len(people), PEOPLE_PER_QUERY):
                    chunk = people[start:start + PEOPLE_PER_QUERY]
                    found = tx.fetchall(
                        "SELECT v.column1, (SELECT 1 FROM personal_erasures e WHERE e.person_id = v.column1),"
                        " (SELECT k.key_material FROM personal_keys k WHERE k.person_id = v.column1)"
                        f" FROM (VALUES {', '.join(['(?)'] * len(chunk))}) AS v",
                        chunk,
                    )
                    for person_id, was_erased, key_material in found:
                        if was_erased:
                            erased.add(person_id)
                        elif key_material is not None:
                            keys[person_id] = bytes.fromhex(key_material)
        out: list[PersonalRecord | None] = []
        for one in sealed:
            if one.person_id in erased:
                out.append(None)
                continue
            key = keys.get(one.person_id)
            if key is None:  # one new key per person, however many of their values this call seals
                key = keys[one.person_id] = AESGCM.generate_key(bit_length=256)
            nonce = os.urandom(12)
            ciphertext = AESGCM(key).encrypt(nonce, _plaintext(one), one.holder.encode())
            out.append(PersonalRecord(
                person_id=one.person_id, holder=one.holder, key_material=key.hex(), nonce=nonce.hex(),
                ciphertext=ciphertext.hex(), mac=_mac(key, one), sealed_at=_now(),
            ))  # fmt: skip
        return out

    def same_as_kept(self, sealed: Sealed) -> bool | None:
        """Whether ``sealed`` carries the values kept for its holder (compared by their MACs);
        None when that cannot be told: nothing kept, or the person's key destroyed."""
        with self.db.transaction(write=False) as tx:
            kept = tx.fetchone("SELECT mac FROM personal_macs WHERE holder = ?", (sealed.holder,))
            key = tx.fetchone("SELECT key_material FROM personal_keys WHERE person_id = ?", (sealed.person_id,))
        if kept is None or key is None:
            return None
        return hmac.compare_digest(kept[0], _mac(bytes.fromhex(key[0]), sealed))

    def reveal(self, holder: str) -> Revealed | None:
        with self.db.transaction(write=False) as tx:
            row = tx.fetchone("SELECT person_id, nonce, ciphertext FROM personal_data WHERE holder = ?", (holder,))
            if row is None:
                return None
            person_id, nonce, ciphertext = row
            key = tx.fetchone("SELECT key_material FROM personal_keys WHERE person_id = ?", (person_id,))
            erased = tx.fetchone("SELECT erased_at FROM personal_erasures WHERE person_id = ?", (person_id,))
        if key is None:
            return Revealed(holder, person_id, None, erased[0] if erased else None)
        return Revealed(holder, person_id, decrypt(key[0], nonce, ciphertext, holder))

    def erase(self, person_id: str, reason: str) -> bool:
        """Destroy the person's key: its ciphertexts (and MACs) stay, unreadable for good. False if there was no key."""
        with self.db.transaction() as tx:
            found = tx.fetchone("SELECT 1 FROM personal_keys WHERE person_id = ?", (person_id,))
            tx.execute("DELETE FROM personal_keys WHERE person_id = ?", (person_id,))
            if not tx.fetchone("SELECT 1 FROM personal_erasures WHERE person_id = ?", (person_id,)):
                tx.execute("INSERT INTO personal_erasures (person_id, erased_at, reason) VALUES (?, ?, ?)", (person_id, _now(), reason))
        return found is not None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
