"""The offline guild the benchmark plays in, and the real bot's settings.

Members are created on first use (a large guild's GUILD_CREATE does not list every
member either), with ids that match the rows seeded in the database.
"""

from __future__ import annotations

import socket
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import discord

from bench.seed import SHOP_ID, member_id
from bot.render import views
from bot.render.shop import shop_pages
from bot.settings import Settings, defaults_text
from bot.testing import FakeChannel, FakeDiscord, FakeGuild, FakeMember, FakeMessage, FakeUser
from store.catalog import Catalog

WEBHOOK_SECRET = "bench-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_settings(database_url: str, port: int) -> Settings:
    """The shipped defaults on the bench database, with the web app on a loopback port."""
    data: dict[str, Any] = tomllib.loads(defaults_text())
    data["database"]["url"] = database_url
    data["web"] = {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"}
    data["discord"]["token"] = "offline-token"
    data["payments"]["fake"] = {"webhook_secret": WEBHOOK_SECRET, "max_delivery_attempts": 1}
    # Background workers stay out of the measurement (the effects worker is kicked).
    data["workers"] = {
        "outbox_seconds": 3600,
        "reconcile_seconds": 3600,
        "reminders_seconds": 3600,
        "expiry_seconds": 3600,
        "abandoned_carts_seconds": 86400,
    }
    data["sandbox"]["guild_id"] = SHOP_ID
    return Settings(**data)


class Guild:
    """The fake world with one shop guild, its shop channel and members made on demand."""

    def __init__(self) -> None:
        self.world = FakeDiscord()
        self.guild: FakeGuild = self.world.add_guild("Bench Shop")
        # The store's rows are keyed by this id; make the fake guild carry it.
        self._rekey(self.guild, SHOP_ID)
        self.channel: FakeChannel = self.guild.add_text_channel("shop")
        #: Members made by `visiting` and not kept: member id -> visits in progress.
        self._visits: dict[int, int] = {}

    def _rekey(self, guild: FakeGuild, new_id: int) -> None:
        world = self.world
        old = guild.id
        del world.guilds[old]
        guild.id = new_id
        world.guilds[new_id] = guild
        everyone = guild.roles.pop(old)
        everyone.id = new_id
        for role in [everyone, *guild.roles.values()]:
            role.guild_id = new_id
        guild.roles = {new_id: everyone, **guild.roles}
        for member in guild.members.values():
            member.guild_id = new_id
        for channel in guild.channels.values():
            channel.guild_id = new_id

    def member(self, index: int) -> FakeMember:
        """The member, made on first use and kept in the world for good."""
        mid = member_id(index)
        self._visits.pop(mid, None)  # kept from now on, even if a visit made it
        found = self.guild.members.get(mid)
        if found is not None:
            return found
        return self._make(index)

    def _make(self, index: int) -> FakeMember:
        mid = member_id(index)
        user = FakeUser(id=mid, name=f"member{index}")
        self.world.users[mid] = user
        return self.guild.add_member(user)

    @contextmanager
    def visiting(self, index: int) -> Iterator[FakeMember]:
        """The member for one interaction, gone from the world once no visit needs it.

        For a run over many members when nothing reaches them after their interaction
        (no DM, no role change later): the fake Discord then holds only the members in
        flight, not every member ever seen. A member made by `member` is always kept.
        """
        mid = member_id(index)
        found = self.guild.members.get(mid)
        if found is not None and mid not in self._visits:
            yield found
            return
        member = found if found is not None else self._make(index)
        self._visits[mid] = self._visits.get(mid, 0) + 1
        try:
            yield member
        finally:
            left = self._visits.get(mid)
            if left is not None:  # None: `member` was asked for it meanwhile, so it stays
                if left > 1:
                    self._visits[mid] = left - 1
                else:
                    del self._visits[mid]
                    self.guild.remove_member(mid)
                    del self.world.users[mid]

    def post(self, view: discord.ui.View, content: str = "") -> FakeMessage:
        """A public message carrying the bot's own components, as a posted panel would."""
        return self.world.post_message(self.channel, content, components=view.to_components())

    def reset(self) -> None:
        self.world.reset_messages()


class Panels:
    """Public messages members click: the shop menu and one message per item."""

    def __init__(self, guild: Guild, catalog: Catalog, locale: str = "en_US") -> None:
        self.guild = guild
        self.catalog = catalog
        self.locale = locale
        self.skus = [item.sku for item in catalog]
        self.post()

    def post(self) -> None:
        """One shop message per page (a menu offers at most 25 items, of one kind)."""
        self.shop_pages = [
            self.guild.post(views.shop_view(self.catalog, locale=self.locale, page=index))
            for index in range(len(shop_pages(self.catalog)))
        ]
        self.shop_by_sku = {
            item.sku: message
            for page, message in zip(shop_pages(self.catalog), self.shop_pages, strict=True)
            for item in page.items
        }
        self.items = {item.sku: self.guild.post(views.item_view(item)) for item in self.catalog}

    def cart_message(self, owner: int, line_ids: list[int]) -> FakeMessage:
        """The member's cart components (remove select, checkout button), as last shown."""
        options = [
            {"label": f"{n}. line", "value": str(line)} for n, line in enumerate(line_ids, 1)
        ]
        rows: list[dict[str, Any]] = []
        if options:
            select = {"type": 3, "custom_id": remove_id(owner), "options": options[:25]}
            rows.append({"type": 1, "components": [select]})
        button = {"type": 2, "style": 3, "label": "Checkout", "custom_id": f"cart:checkout:{owner}"}
        rows.append({"type": 1, "components": [button]})
        return self.guild.world.post_message(self.guild.channel, components=rows)


def remove_id(owner: int, page: int = 0) -> str:
    """The custom_id of the remove select on page `page` of `owner`'s cart."""
    return f"cart:remove:{owner}:{page}"


def remove_options(message: FakeMessage | None, owner: int) -> list[int] | None:
    """Line ids offered by a cart reply's remove select (its page's lines); None when the
    reply does not show the cart (an add's reply, an item), [] for an empty cart."""
    if message is None:
        return None
    prefix = f"cart:remove:{owner}:"
    for component in message.iter_components():
        if str(component.get("custom_id", "")).startswith(prefix):
            return [int(option["value"]) for option in component.get("options", [])]
    if any(embed.get("title") == "Your cart" for embed in message.embeds):
        return []
    return None
