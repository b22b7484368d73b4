"""Long lists split into pages that fit one Discord message.

A cart of 25 gift lines with long notes, an order of the same, a catalog of 200
items: none fits one embed (25 fields, 6,000 characters in all). Lines are packed
greedily into pages under a character budget that leaves room for what every reply
adds (title, totals, the cart summary, a notice), and the page shown travels in the
custom_id of the ◀ ▶ buttons, so paging needs no stored state and works after a
restart. Packing depends only on the lines, so page N is the same page on every press.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.controls import button

#: Discord's own limits on one embed field.
NAME_LIMIT = 256
VALUE_LIMIT = 1024
#: Characters of fields per page: 6,000 in all, less what every reply adds around them.
PAGE_BUDGET = 4000
#: Fields per page, leaving room for totals, points, the cart summary and a notice.
PAGE_FIELDS = 18


@dataclass(frozen=True)
class Line:
    """One embed field: a cart line, an order line, an item."""

    name: str
    value: str

    def fitted(self) -> Line:
        """Cut to Discord's field limits (both must be non-empty)."""
        return Line(_cut(self.name, NAME_LIMIT) or "—", _cut(self.value, VALUE_LIMIT) or "—")

    @property
    def size(self) -> int:
        return len(self.name) + len(self.value)


def paginate(
    lines: Sequence[Line], *, budget: int = PAGE_BUDGET, per_page: int = PAGE_FIELDS
) -> list[list[Line]]:
    """The lines in pages, in order; always at least one page (empty for no lines)."""
    pages: list[list[Line]] = [[]]
    used = 0
    for line in (line.fitted() for line in lines):
        page = pages[-1]
        if page and (len(page) >= per_page or used + line.size > budget):
            pages.append([])
            used = 0
        pages[-1].append(line)
        used += line.size
    return pages


def clamp(page: int | str, pages: int) -> int:
    """A page index from a custom_id, kept in range (a stale or forged id shows an end)."""
    try:
        index = int(page)
    except (TypeError, ValueError):
        index = 0
    return max(0, min(index, pages - 1))


def page_label(page: int, pages: int) -> str:
    return f"Page {page + 1} of {pages}"


def page_buttons(prefix: str, page: int, pages: int) -> list[discord.ui.Item[Any]]:
    """◀ ▶ for `prefix:N` custom ids; none when everything fits on one page.

    The ids differ (page - 1, page + 1) as Discord requires; at either end the button
    is disabled rather than removed, so the row does not jump under the member's finger.
    """
    if pages <= 1:
        return []
    first, last = page <= 0, page >= pages - 1
    return [
        button(f"{prefix}:{-1 if first else page - 1}", "◀ Previous", disabled=first),
        button(f"{prefix}:{pages if last else page + 1}", "Next ▶", disabled=last),
    ]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
