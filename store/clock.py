"""Time helpers: every timestamp is timezone-aware UTC; months are calendar months."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime

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
