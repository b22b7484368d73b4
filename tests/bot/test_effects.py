"""Effects reach Discord once each: roles, DMs, audit posts; refusals are recorded and reported."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import discord
import pytest

from bot.render.notices import (
    delivery_failed_embed,
    gift_notice_embed,
    receipt_embed,
    refund_embed,
    reminder_embed,
    review_alert_embed,
    role_problem_embed,
)
from bot.testing import FakeHTTPError, RestCall
from bot.testing.limits import check_message
from store.db.engine import Database
from store.effects import ExpiryReminder, GiftNotice, Receipt, RefundNotice, ReviewAlert
from store.outbox import MAX_ATTEMPTS
from tests.bot.effects_support import ADD_ROLE, SEND_MESSAGE, Scene, open_scene
from tests.support import FakeClock

GIFT_TO_BOB = {"sku": "paid-1m", "note": "happy birthday"}


def _text(embed: dict[str, Any]) -> str:
    """Everything a reader sees in an embed, for "does it say X" checks."""
    parts = [embed.get("title", ""), embed.get("description", "")]
    for item in embed.get("fields", []):
        parts += [item["name"], item["value"]]
    parts.append(embed.get("footer", {}).get("text", ""))
    return "\n".join(parts)


def _gift(scene: Scene, **line: Any) -> dict[str, Any]:
    return {**GIFT_TO_BOB, "recipient_id": scene.bob.id, **line}


def _messages_to(scene: Scene, channel_id: int) -> list[RestCall]:
    return [
        c
        for c in scene.harness.calls(*SEND_MESSAGE)
        if c.ok and int(c.args["channel_id"]) == channel_id
    ]


@pytest.mark.asyncio
async def test_paid_gift_gives_the_recipient_the_role(database: Database, clock: FakeClock) -> None:
    """Fulfilment's AddRole puts the tier's role on the recipient."""
    async with open_scene(database, clock) as scene:
        await scene.paid_order(_gift(scene))
        await scene.deliver_all()
        assert scene.has_role(scene.bob, scene.paid)
        assert not scene.has_role(scene.alice, scene.paid)


@pytest.mark.asyncio
async def test_gift_notice_names_the_giver_and_shows_the_note(
    database: Database, clock: FakeClock
) -> None:
    """The recipient learns who gave what, with the note."""
    async with open_scene(database, clock) as scene:
        await scene.paid_order(_gift(scene))
        await scene.deliver_all()
        [notice] = scene.dm_embeds(scene.bob)
        text = _text(notice)
        assert "alice" in text and f"<@{scene.alice.id}>" in text
        assert "happy birthday" in text and "1 month of Paid" in text


@pytest.mark.asyncio
async def test_anonymous_gift_names_nobody(database: Database, clock: FakeClock) -> None:
    """An anonymous gift says "an anonymous member" and never the buyer."""
    async with open_scene(database, clock) as scene:
        await scene.paid_order(_gift(scene, anonymous=True))
        await scene.deliver_all()
        [notice] = scene.dm_embeds(scene.bob)
        text = _text(notice)
        assert "an anonymous member" in text
        assert "alice" not in text and str(scene.alice.id) not in text


@pytest.mark.asyncio
async def test_buyer_gets_a_receipt(database: Database, clock: FakeClock) -> None:
    """The receipt lists the lines and the total paid."""
    async with open_scene(database, clock) as scene:
        order = await scene.paid_order(_gift(scene), {"sku": "points-100"})
        await scene.deliver_all()
        [receipt] = scene.dm_embeds(scene.alice)
        text = _text(receipt)
        assert f"#{order.id}" in text
        assert "1 month of Paid (gift)" in text and "100 points" in text
        assert "$13.00" in text


@pytest.mark.asyncio
async def test_closed_dms_are_recorded_and_the_rest_is_delivered(
    database: Database, clock: FakeClock
) -> None:
    """A recipient with closed DMs still gets the role; the buyer still gets the receipt."""
    async with open_scene(database, clock) as scene:
        scene.bob.user.dms_open = False
        await scene.paid_order(_gift(scene))
        await scene.deliver_all()
        assert await scene.outcomes("gift_notice") == [
            ("gift_notice", scene.bob.id, "dm closed", True)
        ]
        assert scene.has_role(scene.bob, scene.paid)
        assert len(scene.dm_embeds(scene.alice)) == 1
        assert await scene.shop.outbox.pending_count() == 0


@pytest.mark.asyncio
async def test_role_above_the_bot_is_reported_and_not_retried(
    database: Database, clock: FakeClock
) -> None:
    """Discord's 50013 becomes a clear audit post naming role, member and fix; done once."""
    async with open_scene(database, clock, paid_above_bot=True) as scene:
        await scene.paid_order(_gift(scene))
        await scene.deliver_all()
        [post] = scene.audit_embeds()
        text = _text(post)
        assert "Paid" in text and f"<@{scene.bob.id}>" in text
        assert "not below the bot's highest role" in text
        assert "drag the bot's role above Paid" in text
        [(_, _, outcome, done)] = await scene.outcomes("add_role")
        assert done and outcome is not None and outcome.startswith("forbidden:")
        clock.advance(days=1)
        await scene.deliver_all()
        assert len(scene.harness.calls(*ADD_ROLE)) == 1
        assert len(scene.audit_embeds()) == 1


@pytest.mark.asyncio
async def test_expired_membership_loses_its_role(database: Database, clock: FakeClock) -> None:
    """claim_expired's RemoveRole takes the role off the member."""
    async with open_scene(database, clock) as scene:
        await scene.grant_paid(scene.bob, days=3)
        await scene.deliver_all()
        assert scene.has_role(scene.bob, scene.paid)
        clock.advance(days=4)
        assert await scene.shop.memberships.claim_expired()
        await scene.deliver_all()
        assert not scene.has_role(scene.bob, scene.paid)


@pytest.mark.asyncio
async def test_expiry_reminder_says_when_and_how_to_renew(
    database: Database, clock: FakeClock
) -> None:
    """The reminder names the tier, the end as date and time with a countdown, and /shop."""
    async with open_scene(database, clock) as scene:
        await scene.grant_paid(scene.bob, days=10)
        await scene.deliver_all()
        assert await scene.shop.memberships.claim_reminders()
        await scene.deliver_all()
        [reminder] = scene.dm_embeds(scene.bob)
        text = _text(reminder)
        expires = int((clock() + timedelta(days=10)).timestamp())
        assert "paid" in text and f"<t:{expires}:f> (<t:{expires}:R>)" in text and "/shop" in text


@pytest.mark.asyncio
async def test_restore_gives_back_a_missing_paid_role(database: Database, clock: FakeClock) -> None:
    """An active membership whose role drifted away gets it back."""
    async with open_scene(database, clock) as scene:
        await scene.grant_paid(scene.bob, months=1)
        await scene.shop.outbox.claim()  # the grant's own AddRole is lost, as in a drift
        assert await scene.deliverer.restore_roles(scene.discord_guild()) == 1
        assert scene.has_role(scene.bob, scene.paid)


@pytest.mark.asyncio
async def test_restore_skips_expired_memberships(database: Database, clock: FakeClock) -> None:
    """Time that ran out is not given back."""
    async with open_scene(database, clock) as scene:
        await scene.grant_paid(scene.bob, days=3)
        clock.advance(days=4)
        assert await scene.deliverer.restore_roles(scene.discord_guild(), scene.bob.id) == 0
        assert not scene.has_role(scene.bob, scene.paid)


@pytest.mark.asyncio
async def test_restore_skips_members_not_in_the_guild(database: Database, clock: FakeClock) -> None:
    """A paying member who left is skipped until they rejoin."""
    async with open_scene(database, clock) as scene:
        await scene.grant_paid(scene.bob, months=1)
        await scene.harness.member_leave(scene.bob)
        assert await scene.deliverer.restore_roles(scene.discord_guild()) == 0
        assert not scene.harness.calls(*ADD_ROLE)


@pytest.mark.asyncio
async def test_rejoining_member_gets_the_paid_role_back(
    database: Database, clock: FakeClock
) -> None:
    """Leaving drops the role in Discord; restoring for the rejoined member gives it back."""
    async with open_scene(database, clock) as scene:
        await scene.grant_paid(scene.bob, months=1)
        await scene.deliver_all()
        await scene.harness.member_leave(scene.bob)
        back = scene.guild.add_member(scene.bob.user)
        await scene.harness.member_join(back)
        assert await scene.deliverer.restore_roles(scene.discord_guild(), back.id) == 1
        assert scene.has_role(back, scene.paid)


@pytest.mark.asyncio
async def test_gift_note_mentions_do_not_ping(database: Database, clock: FakeClock) -> None:
    """A note with @everyone and a role mention is escaped and sent with no allowed mentions."""
    async with open_scene(database, clock) as scene:
        await scene.paid_order(_gift(scene, note="hi @everyone <@&123>"))
        await scene.deliver_all()
        [call] = _messages_to(scene, scene.world.dm_channel(scene.bob.id).id)
        assert call.json["allowed_mentions"]["parse"] == []
        shown = _text(call.json["embeds"][0])
        assert "@\u200beveryone" in shown and "<@\u200b&123>" in shown
        assert "@everyone" not in shown and "<@&123>" not in shown


@pytest.mark.asyncio
async def test_delivering_twice_delivers_once(database: Database, clock: FakeClock) -> None:
    """Two concurrent passes over the outbox add the role once and DM once each."""
    async with open_scene(database, clock) as scene:
        await scene.paid_order(_gift(scene))
        await asyncio.gather(scene.deliver_all(), scene.deliver_all())
        await scene.deliver_all()
        assert len(scene.harness.calls(*ADD_ROLE)) == 1
        assert len(scene.dm_embeds(scene.bob)) == 1
        assert len(scene.dm_embeds(scene.alice)) == 1


@pytest.mark.asyncio
async def test_member_not_in_guild_is_recorded(database: Database, clock: FakeClock) -> None:
    """A role for someone who left is settled as "member not in guild", not retried."""
    async with open_scene(database, clock) as scene:
        await scene.grant_paid(scene.bob, months=1)
        await scene.harness.member_leave(scene.bob)
        await scene.deliver_all()
        assert await scene.outcomes("add_role") == [
            ("add_role", scene.bob.id, "member not in guild", True)
        ]


@pytest.mark.asyncio
async def test_refund_takes_the_role_and_tells_the_buyer(
    database: Database, clock: FakeClock
) -> None:
    """A full refund removes the tier role and DMs a refund notice."""
    async with open_scene(database, clock) as scene:
        order = await scene.paid_order({"sku": "paid-1m"})
        await scene.deliver_all()
        assert scene.has_role(scene.alice, scene.paid)
        await scene.refund(order)
        await scene.deliver_all()
        assert not scene.has_role(scene.alice, scene.paid)
        notice = scene.dm_embeds(scene.alice)[-1]
        assert f"Order #{order.id}: refunded" == notice["title"]
        assert "/account" in _text(notice)


@pytest.mark.asyncio
async def test_discord_5xx_is_retried_later(database: Database, clock: FakeClock) -> None:
    """A server error leaves the effect pending until its backoff passes, then delivers it."""
    async with open_scene(database, clock) as scene:
        routes = scene.harness.rest.bot_routes
        real = routes[ADD_ROLE]
        failures = [FakeHTTPError(503, 130000, "API resource overloaded")]

        def flaky(call: RestCall, found: Any) -> Any:
            if failures:
                raise failures.pop()
            return real(call, found)

        routes[ADD_ROLE] = flaky
        await scene.grant_paid(scene.bob, months=1)
        await scene.deliver_all()
        [(_, _, outcome, done)] = await scene.outcomes("add_role")
        assert not done and outcome is not None and outcome.startswith("retrying")
        clock.advance(minutes=1)
        await scene.deliver_all()
        assert scene.has_role(scene.bob, scene.paid)


@pytest.mark.asyncio
async def test_gives_up_after_the_last_attempt_and_tells_moderators(
    database: Database, clock: FakeClock
) -> None:
    """An effect that keeps failing is settled after MAX_ATTEMPTS with an audit post."""
    async with open_scene(database, clock) as scene:

        def down(call: RestCall, found: Any) -> Any:
            raise FakeHTTPError(503, 130000, "API resource overloaded")

        scene.harness.rest.bot_routes[ADD_ROLE] = down
        await scene.grant_paid(scene.bob, months=1)
        for _ in range(MAX_ATTEMPTS):
            await scene.deliver_all()
            clock.advance(hours=2)
        [(_, _, outcome, done)] = await scene.outcomes("add_role")
        assert done and outcome is not None
        assert outcome.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
        [post] = scene.audit_embeds()
        assert f"<@{scene.bob.id}>" in _text(post)


@pytest.mark.asyncio
async def test_one_failing_effect_does_not_stop_the_batch(
    database: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error is logged under bot.effects and the DMs still go out."""
    async with open_scene(database, clock) as scene:

        def broken(call: RestCall, found: Any) -> Any:
            raise RuntimeError("unexpected")

        scene.harness.rest.bot_routes[ADD_ROLE] = broken
        await scene.paid_order(_gift(scene))
        with caplog.at_level(logging.ERROR, logger="bot.effects"):
            await scene.deliver_all()
        assert any(r.name == "bot.effects" and r.exc_info for r in caplog.records)
        assert len(scene.dm_embeds(scene.bob)) == 1 and len(scene.dm_embeds(scene.alice)) == 1
        assert await scene.shop.outbox.pending_count() == 1


@pytest.mark.asyncio
async def test_review_alert_goes_to_the_audit_channel(database: Database, clock: FakeClock) -> None:
    """A payment that does not match the order is posted for moderators."""
    async with open_scene(database, clock) as scene:
        await scene.paid_order({"sku": "paid-1m"}, amount=100)
        await scene.deliver_all()
        [post] = scene.audit_embeds()
        assert "needs review" in _text(post) and "$3.00" in _text(post)


@pytest.mark.asyncio
async def test_review_alert_without_audit_channel_is_logged(
    database: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """No audit channel configured: a WARNING under bot.effects, and the effect is settled."""
    async with open_scene(database, clock, audit_channel=False) as scene:
        await scene.paid_order({"sku": "paid-1m"}, amount=100)
        with caplog.at_level(logging.WARNING, logger="bot.effects"):
            await scene.deliver_all()
        assert any("review needed" in r.getMessage() for r in caplog.records)
        assert await scene.shop.outbox.pending_count() == 0


@pytest.mark.asyncio
async def test_restore_reports_a_role_above_the_bot_once(
    database: Database, clock: FakeClock
) -> None:
    """Many members missing a role the bot cannot give make one audit post naming them all."""
    async with open_scene(database, clock, paid_above_bot=True) as scene:
        await scene.grant_paid(scene.alice, months=1)
        await scene.grant_paid(scene.bob, months=1)
        assert await scene.deliverer.restore_roles(scene.discord_guild()) == 0
        [post] = scene.audit_embeds()
        text = _text(post)
        assert f"<@{scene.alice.id}>" in text and f"<@{scene.bob.id}>" in text
        assert "give back the role Paid" in text


LONG = "x" * 5000


@pytest.mark.parametrize(
    "embed",
    [
        gift_notice_embed(GiftNotice(1, 2, LONG, "@" * 5000, "G-3"), "**" + LONG, server=LONG),
        receipt_embed(Receipt(1, 3, [LONG] * 200, LONG, 10**12), server=LONG),
        refund_embed(RefundNotice(1, 3, LONG), server=LONG),
        reminder_embed(ExpiryReminder(1, LONG, "not a date", 3), server=LONG, locale="en_US"),
        review_alert_embed(ReviewAlert(1, 3, LONG), server=LONG),
        role_problem_embed(
            action="give", role=LONG, role_id=4, member_ids=list(range(500)), why=LONG, fix=LONG
        ),
        delivery_failed_embed(kind="add_role", member_id=1, attempts=8, error=LONG),
    ],
    ids=["gift", "receipt", "refund", "reminder", "review", "role", "gave-up"],
)
def test_notices_fit_discord_limits(embed: discord.Embed) -> None:
    """Oversized store or member text is cut, never refused by Discord."""
    assert check_message({"embeds": [embed.to_dict()]}) == []
