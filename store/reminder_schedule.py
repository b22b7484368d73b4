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
