"""Calendar arithmetic for membership time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.clock import add_months


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2028, 1, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 11, 15, tzinfo=UTC), 2, datetime(2027, 1, 15, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), 12, datetime(2027, 3, 31, tzinfo=UTC)),
    ],
)
def test_months_are_calendar_months(start: datetime, months: int, end: datetime) -> None:
    """Jan 31 plus a month is the end of February, not March 3."""
    assert add_months(start, months) == end
