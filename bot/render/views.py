"""The components under each reply; custom ids are `family:action[:args]` (see controls)."""

from __future__ import annotations

from typing import Any

import discord

from bot.controls import button, link, select, user_select, view
from store.carts import CartSummary
from store.catalog import Catalog, CatalogItem

PRIMARY = discord.ButtonStyle.primary
SUCCESS = discord.ButtonStyle.success
DANGER = discord.ButtonStyle.danger


def shop_view(catalog: Catalog) -> discord.ui.View:
    options = [
        discord.SelectOption(label=item.name[:100], value=item.sku, description=str(item.price))
        for item in catalog
    ]
    return view(
        select("shop:pick", "Choose an item…", options),
        button("shop:cart", "View cart", emoji="🛒"),
    )


def item_view(item: CatalogItem) -> discord.ui.View:
    items: list[discord.ui.Item[Any]] = [
        button(f"shop:add:{item.sku}", "Add to cart", style=SUCCESS)
    ]
    if item.giftable:
        items.append(button(f"shop:gift:{item.sku}", "Gift…", emoji="🎁"))
    items.append(button("shop:cart", "View cart", emoji="🛒"))
    return view(*items)


def cart_view(summary: CartSummary, points_available: int) -> discord.ui.View | None:
    if summary.is_empty:
        return view(button("panel:browse", "Browse the shop", style=PRIMARY))
    owner = summary.member_id
    options = [
        discord.SelectOption(
            label=f"{index}. {line.name} × {line.quantity}"[:100],
            value=str(line.id),
            description=("gift for a member" if line.is_gift else line.description)[:100],
        )
        for index, line in enumerate(summary.lines, start=1)
    ]
    items: list[discord.ui.Item[Any]] = [
        select(f"cart:remove:{owner}", "Remove a line…", options),
        button(f"cart:checkout:{owner}", "Checkout", style=SUCCESS),
    ]
    if points_available > 0:
        items.append(button(f"cart:points:{owner}", f"Use my {points_available:,} points"))
    items.append(button(f"cart:clear:{owner}", "Empty cart", style=DANGER))
    return view(*items)


def gift_recipient_view(sku: str) -> discord.ui.View:
    return view(user_select(f"gift:to:{sku}", "Who is the gift for?"))


def gift_options_view(sku: str, recipient_id: int) -> discord.ui.View:
    return view(
        button(f"gift:note:{sku}:{recipient_id}:0", "Add gift (signed)", style=SUCCESS),
        button(f"gift:note:{sku}:{recipient_id}:1", "Add gift anonymously"),
    )


def pay_view(url: str) -> discord.ui.View:
    result = discord.ui.View(timeout=None)
    result.add_item(link(url, "Pay"))
    return result


def panel_view() -> discord.ui.View:
    return view(
        button("panel:browse", "Browse the shop", style=PRIMARY, emoji="🛍️"),
        button("panel:cart", "My cart", emoji="🛒"),
        button("panel:checkout", "Checkout", style=SUCCESS),
    )


class GiftModal(discord.ui.Modal):
    """Note for a gift; what happens on submit is decided by the cog's callback."""

    def __init__(self, custom_id: str, max_note: int, on_submit: Any) -> None:
        super().__init__(title="Gift note", custom_id=custom_id, timeout=900)
        self.note: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Note for the recipient (optional)",
            custom_id="note",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=max(1, max_note),
        )
        self.add_item(self.note)
        self._submit = on_submit

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._submit(interaction, self.note.value or None)
