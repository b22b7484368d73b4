"""The floor: the same commands, components and replies, with the store replaced by
one raw transaction per interaction on the plain driver (sqlite3 or asyncpg).

It renders with the bot's own embeds and views, routes components through the same
`Control`, and calls the same fake gateway at checkout (outside the transaction), so
the difference to the real bot is the store and the bot's own per-interaction work.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]
import discord
from discord import app_commands
from discord.ext import commands

from bench.seed import BenchDatabase
from bot.controls import ComponentRouter, Control
from bot.render import checkout as checkout_render
from bot.render import shop as render
from bot.render import text, views
from bot.replies import NO_MENTIONS
from payments.gateway import Gateway
from payments.models import CheckoutLine, CheckoutRequest
from store.carts import CartRow, CartService, CartSummary
from store.money import Money
from store.orders import Order, OrderLine, OrderState
from store.shop import Shop

Rows = list[CartRow]


@dataclass
class FloorCart:
    rows: Rows
    version: int
    points: int


class FloorStore(Protocol):
    async def cart(self, shop_id: int, member: int, *, points: bool) -> FloorCart: ...
    async def add(self, shop_id: int, member: int, sku: str) -> FloorCart: ...
    async def remove(self, shop_id: int, member: int, line: int) -> FloorCart | None: ...
    async def checkout(
        self, shop_id: int, member: int, prices: dict[str, int]
    ) -> tuple[int, Rows] | None: ...
    async def attach(self, order_id: int, session_id: str, url: str) -> None: ...
    async def close(self) -> None: ...


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


class SqliteFloor:
    """sqlite3 called directly on the event loop: one short transaction per interaction."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            self.conn.execute(f"PRAGMA {pragma}")

    def _lines(self, cart_id: int) -> Rows:
        rows = self.conn.execute(
            "SELECT id, sku, quantity, recipient_id, anonymous, note FROM cart_lines "
            "WHERE cart_id = ? ORDER BY id",
            (cart_id,),
        ).fetchall()
        return [CartRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    def _points(self, shop_id: int, member: int) -> int:
        row = self.conn.execute(
            "SELECT points - points_reserved FROM accounts WHERE shop_id = ? AND member_id = ?",
            (shop_id, member),
        ).fetchone()
        return int(row[0]) if row else 0

    def _lock(self, shop_id: int, member: int) -> tuple[int, int]:
        self.conn.execute(
            "INSERT INTO carts (shop_id, member_id, version, updated_at) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (shop_id, member_id) DO NOTHING",
            (shop_id, member, _now()),
        )
        row = self.conn.execute(
            "SELECT id, version FROM carts WHERE shop_id = ? AND member_id = ?", (shop_id, member)
        ).fetchone()
        return int(row[0]), int(row[1])

    def _touch(self, cart_id: int) -> int:
        row = self.conn.execute(
            "UPDATE carts SET version = version + 1, updated_at = ? WHERE id = ? RETURNING version",
            (_now(), cart_id),
        ).fetchone()
        return int(row[0])

    async def cart(self, shop_id: int, member: int, *, points: bool) -> FloorCart:
        c = self.conn
        c.execute("BEGIN")
        try:
            row = c.execute(
                "SELECT id, version FROM carts WHERE shop_id = ? AND member_id = ?",
                (shop_id, member),
            ).fetchone()
            rows = self._lines(row[0]) if row else []
            have = self._points(shop_id, member) if points else 0
        finally:
            c.execute("COMMIT")
        return FloorCart(rows, row[1] if row else 0, have)

    async def add(self, shop_id: int, member: int, sku: str) -> FloorCart:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            cart_id, _ = self._lock(shop_id, member)
            rows = self._lines(cart_id)
            same = next((r for r in rows if r.sku == sku and r.recipient_id == member), None)
            if same is not None:
                c.execute("UPDATE cart_lines SET quantity = quantity + 1 WHERE id = ?", (same.id,))
            else:
                c.execute(
                    "INSERT INTO cart_lines (cart_id, sku, quantity, recipient_id, anonymous, "
                    "created_at) VALUES (?, ?, 1, ?, 0, ?)",
                    (cart_id, sku, member, _now()),
                )
            version = self._touch(cart_id)
            rows = self._lines(cart_id)
            have = self._points(shop_id, member)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return FloorCart(rows, version, have)

    async def remove(self, shop_id: int, member: int, line: int) -> FloorCart | None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            cart_id, _ = self._lock(shop_id, member)
            gone = c.execute(
                "DELETE FROM cart_lines WHERE id = ? AND cart_id = ?", (line, cart_id)
            ).rowcount
            if gone != 1:
                c.execute("ROLLBACK")
                return None
            version = self._touch(cart_id)
            rows = self._lines(cart_id)
            have = self._points(shop_id, member)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return FloorCart(rows, version, have)

    async def checkout(
        self, shop_id: int, member: int, prices: dict[str, int]
    ) -> tuple[int, Rows] | None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            cart_id, version = self._lock(shop_id, member)
            rows = self._lines(cart_id)
            if not rows:
                c.execute("ROLLBACK")
                return None
            total = sum(prices[r.sku] * r.quantity for r in rows)
            now = _now()
            order_id = c.execute(
                "INSERT INTO orders (shop_id, buyer_id, state, currency, subtotal, "
                "points_applied, points_value, cash_due, refunded, checkout_key, created_at, "
                "updated_at) VALUES (?, ?, 'pending', 'USD', ?, 0, 0, ?, 0, ?, ?, ?) "
                "RETURNING id",
                (shop_id, member, total, total, f"{cart_id}:{version}", now, now),
            ).fetchone()[0]
            c.executemany(
                "INSERT INTO order_lines (order_id, position, sku, kind, name, quantity, "
                "unit_price, recipient_id, anonymous, note, spec) "
                "VALUES (?, ?, ?, 'x', ?, ?, ?, ?, 0, NULL, '{}')",
                [
                    (order_id, n, r.sku, r.sku, r.quantity, prices[r.sku], r.recipient_id)
                    for n, r in enumerate(rows)
                ],
            )
            c.execute("DELETE FROM cart_lines WHERE cart_id = ?", (cart_id,))
            self._touch(cart_id)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return int(order_id), rows

    async def attach(self, order_id: int, session_id: str, url: str) -> None:
        self.conn.execute(
            "UPDATE orders SET gateway = 'fake', gateway_session_id = ?, checkout_url = ? "
            "WHERE id = ?",
            (session_id, url, order_id),
        )

    async def close(self) -> None:
        self.conn.close()


class PostgresFloor:
    """asyncpg with a pool: one transaction per interaction, the cart row locked."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, size: int = 10) -> PostgresFloor:
        return cls(await asyncpg.create_pool(dsn, min_size=size, max_size=size))

    @staticmethod
    async def _lines(conn: Any, cart_id: int) -> Rows:
        rows = await conn.fetch(
            "SELECT id, sku, quantity, recipient_id, anonymous, note FROM cart_lines "
            "WHERE cart_id = $1 ORDER BY id",
            cart_id,
        )
        return [CartRow(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    @staticmethod
    async def _points(conn: Any, shop_id: int, member: int) -> int:
        value = await conn.fetchval(
            "SELECT points - points_reserved FROM accounts WHERE shop_id = $1 AND member_id = $2",
            shop_id,
            member,
        )
        return int(value or 0)

    @staticmethod
    async def _lock(conn: Any, shop_id: int, member: int) -> tuple[int, int]:
        row = await conn.fetchrow(
            "INSERT INTO carts (shop_id, member_id, version, updated_at) "
            "VALUES ($1, $2, 0, now()) ON CONFLICT (shop_id, member_id) "
            "DO UPDATE SET version = carts.version RETURNING id, version",
            shop_id,
            member,
        )
        return int(row[0]), int(row[1])

    @staticmethod
    async def _touch(conn: Any, cart_id: int) -> int:
        return int(
            await conn.fetchval(
                "UPDATE carts SET version = version + 1, updated_at = now() WHERE id = $1 "
                "RETURNING version",
                cart_id,
            )
        )

    async def cart(self, shop_id: int, member: int, *, points: bool) -> FloorCart:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT id, version FROM carts WHERE shop_id = $1 AND member_id = $2",
                shop_id,
                member,
            )
            rows = await self._lines(conn, row[0]) if row else []
            have = await self._points(conn, shop_id, member) if points else 0
        return FloorCart(rows, row[1] if row else 0, have)

    async def add(self, shop_id: int, member: int, sku: str) -> FloorCart:
        async with self.pool.acquire() as conn, conn.transaction():
            cart_id, _ = await self._lock(conn, shop_id, member)
            rows = await self._lines(conn, cart_id)
            same = next((r for r in rows if r.sku == sku and r.recipient_id == member), None)
            if same is not None:
                await conn.execute(
                    "UPDATE cart_lines SET quantity = quantity + 1 WHERE id = $1", same.id
                )
            else:
                await conn.execute(
                    "INSERT INTO cart_lines (cart_id, sku, quantity, recipient_id, anonymous, "
                    "created_at) VALUES ($1, $2, 1, $3, false, now())",
                    cart_id,
                    sku,
                    member,
                )
            version = await self._touch(conn, cart_id)
            rows = await self._lines(conn, cart_id)
            have = await self._points(conn, shop_id, member)
        return FloorCart(rows, version, have)

    async def remove(self, shop_id: int, member: int, line: int) -> FloorCart | None:
        async with self.pool.acquire() as conn, conn.transaction():
            cart_id, _ = await self._lock(conn, shop_id, member)
            gone = await conn.execute(
                "DELETE FROM cart_lines WHERE id = $1 AND cart_id = $2", line, cart_id
            )
            if gone != "DELETE 1":
                return None
            version = await self._touch(conn, cart_id)
            rows = await self._lines(conn, cart_id)
            have = await self._points(conn, shop_id, member)
        return FloorCart(rows, version, have)

    async def checkout(
        self, shop_id: int, member: int, prices: dict[str, int]
    ) -> tuple[int, Rows] | None:
        async with self.pool.acquire() as conn, conn.transaction():
            cart_id, version = await self._lock(conn, shop_id, member)
            rows = await self._lines(conn, cart_id)
            if not rows:
                return None
            total = sum(prices[r.sku] * r.quantity for r in rows)
            order_id = await conn.fetchval(
                "INSERT INTO orders (shop_id, buyer_id, state, currency, subtotal, "
                "points_applied, points_value, cash_due, refunded, checkout_key, created_at, "
                "updated_at) VALUES ($1, $2, 'pending', 'USD', $3, 0, 0, $3, 0, $4, now(), "
                "now()) RETURNING id",
                shop_id,
                member,
                total,
                f"{cart_id}:{version}",
            )
            await conn.executemany(
                "INSERT INTO order_lines (order_id, position, sku, kind, name, quantity, "
                "unit_price, recipient_id, anonymous, note, spec) "
                "VALUES ($1, $2, $3, 'x', $3, $4, $5, $6, false, NULL, '{}')",
                [
                    (order_id, n, r.sku, r.quantity, prices[r.sku], r.recipient_id)
                    for n, r in enumerate(rows)
                ],
            )
            await conn.execute("DELETE FROM cart_lines WHERE cart_id = $1", cart_id)
            await self._touch(conn, cart_id)
        return int(order_id), rows

    async def attach(self, order_id: int, session_id: str, url: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "UPDATE orders SET gateway = 'fake', gateway_session_id = $1, checkout_url = $2 "
                "WHERE id = $3",
                session_id,
                url,
                order_id,
            )

    async def close(self) -> None:
        await self.pool.close()


async def open_floor_store(database: BenchDatabase) -> FloorStore:
    if database.sqlite_path is not None:
        return SqliteFloor(str(database.sqlite_path))
    return await PostgresFloor.connect(database.dsn)


class FloorBot(commands.Bot):
    def __init__(self, store: FloorStore, shop: Shop, gateway: Gateway, public_url: str) -> None:
        intents = discord.Intents.default()
        intents.members = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=NO_MENTIONS,
            chunk_guilds_at_startup=False,
        )
        self.store = store
        self.shop = shop
        self.gateway = gateway
        self.public_url = public_url
        self.router = ComponentRouter(self._unknown)

    async def setup_hook(self) -> None:
        await self.add_cog(FloorCog(self))
        self.add_dynamic_items(Control)

    async def _unknown(self, interaction: discord.Interaction[Any], custom_id: str) -> None:
        await interaction.response.send_message(
            embed=text.refusal_embed("out of date"), ephemeral=True
        )


class FloorCog(commands.Cog, name="Floor"):
    def __init__(self, bot: FloorBot) -> None:
        self.bot = bot
        self.store = bot.store
        self.shop = bot.shop
        self.catalog = bot.shop.template.catalog
        self.summaries = CartService(bot.shop.ctx)  # only its pure `summary()` is used
        self.prices = {item.sku: item.price.amount for item in self.catalog}
        router = bot.router
        router.route("shop:pick", self._on_pick)
        router.route("shop:add", self._on_add, args=1)
        router.route("cart:remove", self._on_remove, args=2)  # owner, page
        router.route("cart:checkout", self._on_checkout, args=1)

    def _summary(self, member: int, cart: FloorCart) -> CartSummary:
        return self.summaries.summary(self.shop.template, member, cart.rows, cart.version)

    async def _send(
        self,
        interaction: discord.Interaction[Any],
        embed: discord.Embed,
        view: discord.ui.View | None,
        summary: CartSummary | None,
        *,
        edit: bool = False,
    ) -> None:
        if summary is not None:
            render.with_cart(embed, summary, locale=self.shop.template.locale)
        kwargs: dict[str, Any] = {"embed": embed}
        if view is not None:
            kwargs["view"] = view
        if interaction.response.is_done():
            await interaction.followup.send(ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)
        elif edit:
            await interaction.response.edit_message(**kwargs)
        else:
            await interaction.response.send_message(
                ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs
            )

    async def _cart_summary(self, interaction: discord.Interaction[Any]) -> CartSummary:
        assert interaction.guild_id is not None
        member = interaction.user.id
        cart = await self.store.cart(interaction.guild_id, member, points=False)
        return self._summary(member, cart)

    @app_commands.command(name="shop", description="Browse what the shop sells")
    @app_commands.guild_only()
    async def shop_command(self, interaction: discord.Interaction[Any]) -> None:
        embed = render.shop_embed(
            self.catalog, self.shop.template.name, locale=self.shop.template.locale
        )
        summary = await self._cart_summary(interaction)
        await self._send(
            interaction,
            embed,
            views.shop_view(self.catalog, locale=self.shop.template.locale),
            summary,
        )

    @app_commands.command(name="item", description="See an item's details")
    @app_commands.guild_only()
    async def item_command(self, interaction: discord.Interaction[Any], item: str) -> None:
        await self._item(interaction, item)

    async def _item(self, interaction: discord.Interaction[Any], sku: str) -> None:
        found = self.catalog.get(sku)
        if found is None:
            await self._send(interaction, text.refusal_embed("No such item."), None, None)
            return
        summary = await self._cart_summary(interaction)
        embed = render.item_embed(self.catalog, found, locale=self.shop.template.locale)
        await self._send(interaction, embed, views.item_view(found), summary)

    cart = app_commands.Group(name="cart", description="Your cart", guild_only=True)

    @cart.command(name="view", description="Show your cart")
    async def cart_view(self, interaction: discord.Interaction[Any]) -> None:
        assert interaction.guild_id is not None
        member = interaction.user.id
        cart = await self.store.cart(interaction.guild_id, member, points=True)
        summary = self._summary(member, cart)
        view = views.cart_view(summary, cart.points, locale=self.shop.template.locale)
        await self._send(
            interaction,
            render.cart_embed(summary, locale=self.shop.template.locale),
            view,
            summary,
        )

    @cart.command(name="add", description="Add an item, for yourself or as a gift")
    async def cart_add(self, interaction: discord.Interaction[Any], item: str) -> None:
        await self._add(interaction, item)

    @cart.command(name="remove", description="Remove a line from your cart")
    async def cart_remove(self, interaction: discord.Interaction[Any], line: int) -> None:
        await self._remove(interaction, line, edit=False)

    @cart.command(name="clear", description="Empty your cart")
    async def cart_clear(self, interaction: discord.Interaction[Any]) -> None:
        await self._send(interaction, text.refusal_embed("Not in the floor."), None, None)

    @app_commands.command(name="checkout", description="Pay for your cart")
    @app_commands.guild_only()
    async def checkout_command(self, interaction: discord.Interaction[Any]) -> None:
        await self._checkout(interaction)

    async def _on_pick(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        values = list(getattr(item, "values", []) or [])
        await self._item(interaction, str(values[0]) if values else "")

    async def _on_add(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        await self._add(interaction, args[0])

    async def _on_remove(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        values = list(getattr(item, "values", []) or [])
        await self._remove(interaction, int(values[0]), edit=True)

    async def _on_checkout(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        await self._checkout(interaction)

    async def _add(self, interaction: discord.Interaction[Any], sku: str) -> None:
        assert interaction.guild_id is not None
        if self.catalog.get(sku) is None:
            await self._send(interaction, text.refusal_embed("No such item."), None, None)
            return
        member = interaction.user.id
        cart = await self.store.add(interaction.guild_id, member, sku)
        summary = self._summary(member, cart)
        embed = render.added_embed(summary, sku, member, locale=self.shop.template.locale)
        await self._send(interaction, embed, views.added_view(summary), summary)

    async def _remove(
        self, interaction: discord.Interaction[Any], line: int, *, edit: bool
    ) -> None:
        assert interaction.guild_id is not None
        member = interaction.user.id
        cart = await self.store.remove(interaction.guild_id, member, line)
        if cart is None:
            embed = text.refusal_embed("That line is not in your cart.")
            await self._send(interaction, embed, None, await self._cart_summary(interaction))
            return
        summary = self._summary(member, cart)
        view = views.cart_view(summary, cart.points, locale=self.shop.template.locale)
        await self._send(
            interaction,
            render.cart_embed(summary, locale=self.shop.template.locale),
            view,
            summary,
            edit=edit,
        )

    async def _checkout(self, interaction: discord.Interaction[Any]) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        member = interaction.user.id
        made = await self.store.checkout(interaction.guild_id, member, self.prices)
        if made is None:
            embed = text.refusal_embed("Your cart is empty. Add something first.")
            await self._send(interaction, embed, None, await self._cart_summary(interaction))
            return
        order_id, rows = made
        order = self._order(order_id, interaction.guild_id, member, rows)
        session = await self.bot.gateway.create_checkout(self._request(order))
        await self.store.attach(order_id, session.session_id, session.url)
        empty = self._summary(member, FloorCart([], 0, 0))
        embed = checkout_render.checkout_embed(
            order, session.expires_at, locale=self.shop.template.locale
        )
        await self._send(interaction, embed, checkout_render.pay_view(session.url), empty)

    def _order(self, order_id: int, shop_id: int, member: int, rows: Rows) -> Order:
        money = self.shop.template.money
        lines = []
        for row in rows:
            item = self.catalog.require(row.sku)
            lines.append(
                OrderLine(
                    row.id, row.sku, item.kind, item.name, row.quantity, item.price,
                    row.recipient_id, row.anonymous, row.note, dict(item.spec),
                )
            )  # fmt: skip
        total = sum(line.total.amount for line in lines)
        now = datetime.now(UTC)
        zero: Money = money(0)
        return Order(
            order_id, shop_id, member, OrderState.PENDING, money(total), 0, zero, money(total),
            zero, None, None, None, None, None, now, tuple(lines),
        )  # fmt: skip

    def _request(self, order: Order) -> CheckoutRequest:
        base = self.bot.public_url
        return CheckoutRequest(
            order_id=str(order.id),
            idempotency_key=f"order-{order.id}",
            lines=tuple(
                CheckoutLine(name=ln.name, quantity=ln.quantity, unit_amount=ln.unit_price.amount)
                for ln in order.lines
            ),
            total=order.cash_due.amount,
            currency=order.cash_due.currency,
            success_url=f"{base}/checkout/return?order={order.id}",
            cancel_url=f"{base}/checkout/cancel?order={order.id}",
            expires_at=order.created_at + timedelta(minutes=60),
            description=f"order #{order.id}",
            customer_ref=str(order.buyer_id),
        )
