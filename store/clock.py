"""Time helpers: every timestamp is timezone-aware UTC; months are calendar months."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The default clock; services take a `Clock` so tests can move time."""
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Refuse naive datetimes instead of guessing their zone."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware UTC")
    return value.astimezone(UTC)


def add_months(start: datetime, months: int) -> datetime:
    """Calendar months, clamping the day: Jan 31 + 1 month is the last day of February."""
    index = start.month - 1 + months
    year = start.year + index // 12
    month = index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


class OffsetClock:
    """Real time plus an offset that only grows: a developer can see next month's
    renewal or expiry now, and nothing stamped meanwhile sees time run backwards.
    The offset lives in memory: a restarted process starts again at real time."""

    def __init__(self, base: Clock = utcnow) -> None:
        self._base = base
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return ensure_utc(self._base()) + self.offset

    def advance(self, by: timedelta) -> datetime:
        """Move forward by ``by``; returns the new time."""
        if by <= timedelta(0):
            raise ValueError("the clock only moves forward")
        self.offset += by
        return self()
