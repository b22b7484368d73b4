"""The reference a gift's recipient sees instead of the buyer's order number.

Order numbers are the buyer's: they appear on the buyer's receipt and /account,
and the lines of one order (or a buyer's successive orders) have neighbouring ids.
A recipient shown either could link an anonymous gift to its buyer, or two gifts
to each other. Each order line therefore gets a random reference when it is
created; recipients, and only they, are shown it.
"""

from __future__ import annotations

import secrets

# Crockford's base32: no I, L, O or U, so a reference read aloud is not misread.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LENGTH = 8  # 40 random bits: unguessable, and not needed to be unique


def new_gift_ref() -> str:
    return "G-" + "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))


def gift_label(gift_ref: str | None) -> str:
    """How a gift is named to its recipient ("gift G-7K3M9QXD")."""
    return f"gift {gift_ref}" if gift_ref else "a gift"
