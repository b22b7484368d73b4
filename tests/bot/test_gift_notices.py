"""The gift notices' text: the gift's own reference, never an order; within Discord's limits."""

from __future__ import annotations

from bot.render.notices import gift_notice_embed, gift_withdrawn_embed
from bot.testing.limits import check_message
from store.effects import GiftNotice, GiftWithdrawn, effect_from_row

LONG = "x" * 5000


def test_gift_notice_footer_is_the_gift_reference() -> None:
    """The footer names the gift, not an order."""
    embed = gift_notice_embed(GiftNotice(1, None, "1 month of Paid", None, "G-ABCD1234"), None)
    assert embed.footer.text == "Gift reference G-ABCD1234"


def test_notice_written_before_gift_references_is_delivered_without_the_order() -> None:
    """An outbox row from before the upgrade still loads, and shows no order number."""
    payload = {"giver_id": None, "description": "100 points", "note": None, "order_id": 42}
    effect = effect_from_row("gift_notice", 7, payload)
    assert isinstance(effect, GiftNotice)
    embed = gift_notice_embed(effect, None)
    assert "42" not in str(embed.to_dict())


def test_gift_withdrawn_says_what_and_names_the_gift() -> None:
    """The take-back notice names the gift by reference and what it gave."""
    embed = gift_withdrawn_embed(GiftWithdrawn(1, "G-ABCD1234", "100 points"), server="Shop")
    text = f"{embed.title} {embed.description} {embed.footer.text}"
    assert "gift G-ABCD1234" in text and "100 points" in text and "order" not in text.lower()


def test_gift_withdrawn_fits_discord_limits() -> None:
    """Oversized text is cut, never refused by Discord."""
    embed = gift_withdrawn_embed(GiftWithdrawn(1, "G-ABCD1234", LONG), server=LONG)
    assert check_message({"embeds": [embed.to_dict()]}) == []
