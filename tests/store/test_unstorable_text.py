"""Text no database can store (NUL, other control characters, lone surrogates) is
refused with a clear message before any write, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from store.config import ItemConfig
from store.errors import InvalidInput
from store.shop import Shop
from tests.store.helpers import snapshot
from tests.support import ALICE, BOB, GUILD, MOD

UNSTORABLE = ["\x00", "a\x07b", "\ud800", "\x1b[31m"]


@pytest.mark.asyncio
@pytest.mark.parametrize("text", UNSTORABLE)
async def test_a_gift_note_with_a_control_character_is_refused(shop: Shop, text: str) -> None:
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match="control characters"):
        await shop.carts.add(GUILD, ALICE, "points-100", recipient_id=BOB, note=f"hi {text}")
    assert await snapshot(shop.ctx.db) == before


@pytest.mark.asyncio
async def test_a_gift_note_keeps_its_line_breaks_and_tabs(shop: Shop) -> None:
    cart = await shop.carts.add(GUILD, ALICE, "points-100", recipient_id=BOB, note="a\n\tb")
    assert cart.lines[0].note == "a\n\tb"


@pytest.mark.asyncio
@pytest.mark.parametrize("text", UNSTORABLE)
async def test_a_grant_reason_with_a_control_character_is_refused(shop: Shop, text: str) -> None:
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match="control characters"):
        await shop.grants.grant_points(GUILD, MOD, ALICE, 10, f"thanks {text}")
    assert await snapshot(shop.ctx.db) == before


@pytest.mark.parametrize("field", ["name", "description"])
def test_an_item_name_or_description_with_a_control_character_is_refused(field: str) -> None:
    item = {"sku": "x", "name": "X", "price": 100, "kind": "points", "points": 1}
    with pytest.raises(ValidationError, match="control characters"):
        ItemConfig.model_validate({**item, field: "bad\x00"})
