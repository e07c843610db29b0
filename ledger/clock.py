"""The ledger's clock, taken as a dependency so that tests and the demo can move time.

Aggregates stamp every event with ``recorded_at`` from the clock in force for the
current command (a context variable set by the service layer), never from the wall.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

#: Business dates (deadlines, effective dates) are dates in the bureaus' calendar.
BUREAU_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock stopped at one instant: one command's events all carry the same ``recorded_at``."""

    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def now(self) -> datetime:
        return self.instant


class ManualClock:
    """A clock that only moves when told to: for tests, imports and the demo."""

    def __init__(self, start: datetime | date) -> None:
        self._now = to_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime | date) -> None:
        when = to_utc(when)
        if when < self._now:
            raise ValueError(f"the clock cannot move backwards ({when} < {self._now})")
        self._now = when

    def advance(self, **delta: float) -> None:
        self._now = self._now + timedelta(**delta)


#: the first and the last instant a datetime holds in UTC: nothing is recorded before or after them
EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
LATEST = datetime.max.replace(tzinfo=timezone.utc)


def to_utc(when: datetime | date, *, clamp: bool = False) -> datetime:
    """A date means the start of that day in the bureaus' calendar.

    A time in year 1 or 9999 may fall before :data:`EARLIEST` or after :data:`LATEST` once in UTC:
    that is a ValueError, or with ``clamp`` (a bound of a query on the recorded axis, which
    clamping leaves meaning the same) that first or last instant."""
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, tzinfo=BUREAU_TZ)
    if when.tzinfo is None:
        when = when.replace(tzinfo=BUREAU_TZ)
    try:
        return when.astimezone(timezone.utc)
    except OverflowError:
        if clamp:
            return EARLIEST if when.year == 1 else LATEST
        raise ValueError(f"{when.isoformat()} is outside the instants the ledger can hold (years 1 to 9999, UTC)") from None


def business_date(when: datetime) -> date:
    return when.astimezone(BUREAU_TZ).date()


_current: ContextVar[Callable[[], datetime] | None] = ContextVar("ledger_clock", default=None)


def current_time() -> datetime:
    now = _current.get()
    return now() if now is not None else datetime.now(timezone.utc)


@contextmanager
def clock_scope(clock: Clock) -> Iterator[None]:
    token = _current.set(clock.now)
    try:
        yield
    finally:
        _current.reset(token)


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def day(value: str) -> date:
    """A day on the effective axis as the CLI and the API both read it: ``YYYY-MM-DD`` only. A Unix
    timestamp (``0``, ``1733270400``), a compact ``20240101`` or an instant is refused in one line,
    where a date parser would take a number for seconds since 1970."""
    why = ""
    if _DAY.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError as error:  # the shape, not the values: month 13, 30 February
            why = f": {error}"
    raise ValueError(f"{value!r} is not a day (YYYY-MM-DD){why}")


def day_or_instant(value: str) -> date | datetime:
    """A point on the recorded axis as the CLI and the API both read it: ``2025-03-01`` is that day (the
    read service takes it as the start or the end of the day, Asia/Shanghai), ``2025-03-01T00:00:00``
    (with an offset, or Asia/Shanghai without) that instant. Extended ISO 8601 only: a compact
    ``20250301`` or a bare number is refused, which one reader would take for a day and another for a
    Unix timestamp."""
    why = ""
    try:
        if _DAY.match(value):
            return date.fromisoformat(value)
        if _INSTANT.match(value):
            return datetime.fromisoformat(value)
    except ValueError as error:  # the shape, not the values: month 13, hour 25
        why = f": {error}"
    raise ValueError(f"{value!r} is neither a day (YYYY-MM-DD) nor an ISO instant (YYYY-MM-DDTHH:MM:SS[+08:00]){why}")
