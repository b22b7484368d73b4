"""Text members and moderators type, checked before it is stored.

Discord carries any Unicode, including NUL and other control characters and (in
JSON escapes) lone surrogates; PostgreSQL refuses NUL in text and no database can
store a lone surrogate as UTF-8. Such text is refused with a clear message rather
than failing deep inside a write, on one database and not the other.
"""

from __future__ import annotations

import unicodedata

#: Control characters that belong in multi-line text.
_ALLOWED_CONTROLS = frozenset("\n\t")


def unstorable(text: str) -> str | None:
    """A description of the first character that can't be stored, or None."""
    for char in text:
        category = unicodedata.category(char)
        if category == "Cs" or (category == "Cc" and char not in _ALLOWED_CONTROLS):
            return f"U+{ord(char):04X}"
    return None


def storable(text: str) -> str:
    """`text` itself, or a ValueError naming what can't be stored (for validators)."""
    bad = unstorable(text)
    if bad is not None:
        raise ValueError(f"must not contain control characters (found {bad})")
    return text
