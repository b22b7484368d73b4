"""A small bot, a real shop and the offline Discord, for testing effect delivery alone.

The client has no commands and no client-wide allowed_mentions, so what the tests see
in the captured REST payloads is what `EffectDeliverer` itself sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import discord
from sqlalchemy import Row, select
from sqlalchemy.util.typing import TupleAny

from bot.effects import EffectDeliverer
from bot.testing import (
    DiscordHarness,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeMember,
    FakeRole,
    offline,
)
from store.config import TierConfig
from store.db.engine import Conn, Database
from store.db.schema import effects
from store.fulfilment import PaymentOutcome
from store.orders import Order
from store.shop import Shop
from tests.support import FakeClock, sample_store

SEND_MESSAGE = ("POST", "/channels/{channel_id}/messages")
ADD_ROLE = ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
REMOVE_ROLE = ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")


class EffectsClient(discord.Client):
    """The least a bot needs to deliver effects: guilds and members in its cache."""

    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.members = True
        super().__init__(intents=intents, chunk_guilds_at_startup=False)


@dataclass
class Scene:
    world: FakeDiscord
    guild: FakeGuild
    paid: FakeRole
    alice: FakeMember
    bob: FakeMember
    audit: FakeChannel
    shop: Shop
    clock: FakeClock
    client: EffectsClient
    harness: DiscordHarness
    deliverer: EffectDeliverer

    @property
    def guild_id(self) -> int:
        return self.guild.id

    def discord_guild(self) -> discord.Guild:
        """The guild as the bot sees it (what the app passes to restore_roles)."""
        guild = self.client.get_guild(self.guild.id)
        assert guild is not None
        return guild

    def dm_embeds(self, member: FakeMember) -> list[dict[str, Any]]:
        return [embed for message in self.world.dms(member.id) for embed in message.embeds]

    def audit_embeds(self) -> list[dict[str, Any]]:
        return [e for m in self.world.channel_messages(self.audit.id) for e in m.embeds]

    def has_role(self, member: FakeMember, role: FakeRole) -> bool:
        return role.id in self.guild.members[member.id].role_ids

    async def outcomes(self, kind: str | None = None) -> list[tuple[str, int, str | None, bool]]:
        """(kind, member, outcome, done) per effect, oldest first."""
        query = select(
            effects.c.kind, effects.c.member_id, effects.c.outcome, effects.c.done_at
        ).order_by(effects.c.id)
        if kind is not None:
            query = query.where(effects.c.kind == kind)

        async def load(conn: Conn) -> Sequence[Row[*TupleAny]]:
            return (await conn.execute(query)).all()

        rows = await self.shop.ctx.db.read(load)
        return [(r.kind, int(r.member_id), r.outcome, r.done_at is not None) for r in rows]

    async def paid_order(self, *lines: dict[str, Any], amount: int | None = None) -> Order:
        """Alice puts lines in her cart, checks out and pays (`amount` to pay the wrong sum)."""
        buyer_id = self.alice.id
        for line in lines:
            await self.shop.carts.add(self.guild_id, buyer_id, **line)
        order = (await self.shop.orders.checkout(self.guild_id, buyer_id)).order
        order = await self.shop.orders.attach_session(
            order.id,
            gateway="fake",
            session_id=f"cs_{order.id}",
            url="http://pay",
            expires_at=self.clock() + timedelta(hours=1),
        )
        await self.shop.fulfilment.apply(
            PaymentOutcome(
                gateway="fake",
                event_id=f"evt_{order.id}",
                kind="payment_succeeded",
                order_id=str(order.id),
                session_id=order.gateway_session_id,
                amount=order.cash_due.amount if amount is None else amount,
                currency="usd",
            )
        )
        return order

    async def refund(self, order: Order) -> None:
        await self.shop.fulfilment.apply(
            PaymentOutcome(
                gateway="fake",
                event_id=f"evt_refund_{order.id}",
                kind="refund_succeeded",
                order_id=str(order.id),
                session_id=order.gateway_session_id,
                amount=order.cash_due.amount,
                currency="usd",
            )
        )

    async def grant_paid(self, member: FakeMember, **length: Any) -> None:
        await self.shop.grants.grant_time(
            self.guild_id, self.alice.id, member.id, "paid", "test grant", allow_self=True, **length
        )

    async def deliver_all(self) -> None:
        """Deliver until nothing is left to claim now (retries wait for their time)."""
        for _ in range(20):
            if not await self.deliverer.deliver_pending():
                return


@asynccontextmanager
async def open_scene(
    database: Database,
    clock: FakeClock,
    *,
    paid_above_bot: bool = False,
    audit_channel: bool = True,
) -> AsyncIterator[Scene]:
    """A guild with a Paid role, alice (buyer), bob (recipient) and an audit channel."""
    world = FakeDiscord()
    guild = world.add_guild("Effects Guild")
    position = guild.bot_role.position + 1 if paid_above_bot else None
    paid = guild.add_role("Paid", position=position)
    premium = guild.add_role("Premium")
    alice = guild.add_member("alice")
    bob = guild.add_member("bob")
    audit = guild.add_text_channel("shop-audit")
    tiers = {
        "paid": TierConfig(role_id=paid.id, reminder_days=[14, 3]),
        "premium": TierConfig(role_id=premium.id),
    }
    shop = Shop.build(
        database,
        sample_store(),
        tiers,
        clock=clock,
        audit_channel_id=audit.id if audit_channel else None,
    )
    client = EffectsClient()
    deliverer = EffectDeliverer(client, shop)
    async with offline(client, world) as harness:
        yield Scene(
            world=world,
            guild=guild,
            paid=paid,
            alice=alice,
            bob=bob,
            audit=audit,
            shop=shop,
            clock=clock,
            client=client,
            harness=harness,
            deliverer=deliverer,
        )
