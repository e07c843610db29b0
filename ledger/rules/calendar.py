"""When a period given in days ends: 民法典 第二百零一条 and 第二百零三条.

A rectification order, a warning or a request to answer a report gives a
period in days. The civil code says how such a period is counted, and every
deadline in the ledger is counted that way, from the day the order *took
effect* (never from the day it was typed in):

- 第二百零一条 "按照年、月、日计算期间的，开始的当日不计入，自下一日开始计算":
  a 30-day order effective 2025-09-01 runs 2025-09-02 .. 2025-10-01.
- 第二百零三条 "期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日":
  a last day that is not a working day moves to the first working day after it
  (2025-10-01, National Day → 2025-10-09).

法定休假日 is read as every day the official calendar does not work: the
public holidays and the substituted days off (调休) the State Council announces,
and Saturdays and Sundays unless they are announced make-up working days
(调休上班, e.g. Sunday 2025-09-28). The calendar is the ``holidays`` package's
China calendar (``holidays.country_holidays("CN")``): its holidays include the
substituted days off, and its ``weekend_workdays`` the make-up working days,
which ``is_working_day`` honours. The State Council announces each year's
arrangement in the autumn before; for a year the package does not yet know,
it has the fixed-date and lunar holidays without the substitutions.

The rule is a pack parameter (``statutory_holidays``, on by default) that a
regulator may switch off with ``SetRulebookParameters``; the deadline recorded
on an order is the one computed when it was imposed, so a later version of the
calendar never moves a recorded deadline.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays

#: the article that moves a last day falling on a day off
CIVIL_CODE_203 = "民法典 第二百零三条"


@dataclass(frozen=True)
class Period:
    """A period of ``days`` days running from ``start`` (the day the order took effect)."""

    start: date
    days: int
    last_day: date  # start + days (第二百零一条: the first day is not counted)
    due: date  # last_day, or the first working day after it (第二百零三条)

    @property
    def moved(self) -> bool:
        return self.due != self.last_day

    def params(self) -> dict[str, str]:
        """What an order records about a moved last day (empty if it did not move)."""
        return {"period_last_day": self.last_day.isoformat(), "moved_by": CIVIL_CODE_203} if self.moved else {}


@lru_cache(maxsize=64)
def _china(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=year)


def is_working_day(day: date) -> bool:
    """Whether ``day`` is a working day in China's official calendar (make-up days included)."""
    return bool(_china(day.year).is_working_day(day))


def next_working_day(day: date) -> date:
    """``day`` if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def period(start: date, days: int, *, statutory_holidays: bool = True) -> Period:
    """The period of ``days`` days from ``start``; its last day moved past days off if asked."""
    last_day = start + timedelta(days=days)
    due = next_working_day(last_day) if statutory_holidays else last_day
    return Period(start=start, days=days, last_day=last_day, due=due)
