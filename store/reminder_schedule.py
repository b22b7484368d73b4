"""When a membership's next expiry reminder falls due.

The due time is stored on the membership (`remind_at`, indexed) so the reminder
worker claims exactly the rows that are due, oldest first, batch after batch; a
LIMIT followed by a filter in Python could leave members beyond the limit
unreminded. Every writer of `expires_at` and the worker itself compute it here,
so the rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, literal, null, or_

from store.db.types import UTCDateTime


def next_reminder_at(
    expires_at: datetime | None,
    *,
    permanent: bool,
    reminder_days: Sequence[int],
    sent_days: int | None = None,
) -> datetime | None:
    """The moment the next unsent reminder opens, or None when none is left.

    `sent_days` is the step already sent for this expiry; only smaller steps
    remain. The moment may already be past (time granted inside the window): the
    worker then claims the row at once and sends the step that is due.
    """
    if permanent or expires_at is None:
        return None
    left = [days for days in reminder_days if sent_days is None or days < sent_days]
    if not left:
        return None
    return expires_at - timedelta(days=max(left))


def schedule_after_change(
    expires_before: datetime | None,
    expires_after: datetime | None,
    *,
    permanent: bool,
    reminder_days: Sequence[int],
    sent_days: ColumnElement[int] | None,
    keep_sent: bool = False,
) -> dict[str, Any]:
    """The reminder columns to write when a membership's expiry changes.

    Reminders already sent stay sent unless the membership now ends later: a
    member whose time was shortened must not get a step again ("14 days left"
    twice), while one whose time was extended is reminded afresh for the new
    expiry. A shortened expiry may open a smaller step not yet sent; its due time
    is then past and the worker sends it at once. `sent_days` is the row's stored
    progress column, None for a new row. The progress is read in the UPDATE
    itself, so the caller needs no extra query and a claim committed just before
    is never overwritten. `keep_sent` keeps them whatever the new expiry: time given
    back after a failed refund undoes a take-back; it is not new time to remind of.
    """
    shortened = (
        expires_before is not None and expires_after is not None and expires_after <= expires_before
    )
    if (
        sent_days is not None
        and expires_after is not None
        and not permanent
        and (shortened or keep_sent)
    ):
        return {"remind_at": _next_reminder_at_sql(expires_after, reminder_days, sent_days)}
    due = next_reminder_at(expires_after, permanent=permanent, reminder_days=reminder_days)
    return {"reminded_days": None, "remind_at": due}


def _next_reminder_at_sql(
    expires_at: datetime, reminder_days: Sequence[int], sent_days: ColumnElement[int]
) -> ColumnElement[Any]:
    """`next_reminder_at` as an SQL expression of the stored progress column."""
    steps = sorted(set(reminder_days), reverse=True)
    if not steps:
        return null()

    def at(days: int) -> ColumnElement[datetime]:
        return literal(expires_at - timedelta(days=days), UTCDateTime())

    whens: list[tuple[ColumnElement[bool], ColumnElement[datetime]]] = [
        (or_(sent_days.is_(None), sent_days > steps[0]), at(steps[0]))
    ]
    whens += [(sent_days > days, at(days)) for days in steps[1:]]
    return case(*whens, else_=null())


def step_due(
    expires_at: datetime | None,
    now: datetime,
    *,
    permanent: bool,
    reminder_days: Sequence[int],
    sent_days: int | None = None,
) -> int | None:
    """The reminder step to send now, if any.

    Only the smallest open step is sent: a member who comes into the window late
    (or a worker that was down) gets the reminder that is true now, not a
    "14 days left" message two days before the end.
    """
    if permanent or expires_at is None or expires_at <= now:
        return None
    due = [
        days
        for days in reminder_days
        if (sent_days is None or days < sent_days) and now >= expires_at - timedelta(days=days)
    ]
    return min(due) if due else None
