"""The components under each reply; custom ids are `family:action[:args]` (see controls)."""

from __future__ import annotations

from typing import Any

import discord

from bot.controls import button, select, user_select, view
from bot.render.text import number
from store.carts import CartSummary
from store.catalog import Catalog, CatalogItem

PRIMARY = discord.ButtonStyle.primary
SUCCESS = discord.ButtonStyle.success
DANGER = discord.ButtonStyle.danger


def shop_view(catalog: Catalog, *, locale: str) -> discord.ui.View:
    options = [
        discord.SelectOption(
            label=item.name[:100], value=item.sku, description=item.price.format(locale)
        )
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


def cart_view(
    summary: CartSummary, points_available: int, *, locale: str
) -> discord.ui.View | None:
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
        items.append(
            button(f"cart:points:{owner}", f"Use my {number(points_available, locale)} points")
        )
    items.append(button(f"cart:clear:{owner}", "Empty cart", style=DANGER))
    return view(*items)


def gift_recipient_view(sku: str) -> discord.ui.View:
    return view(user_select(f"gift:to:{sku}", "Who is the gift for?"))


def gift_options_view(sku: str, recipient_id: int) -> discord.ui.View:
    return view(
        button(f"gift:note:{sku}:{recipient_id}:0", "Add gift (signed)", style=SUCCESS),
        button(f"gift:note:{sku}:{recipient_id}:1", "Add gift anonymously"),
    )


def panel_view() -> discord.ui.View:
    return view(
        button("panel:browse", "Browse the shop", style=PRIMARY, emoji="🛍️"),
        button("panel:cart", "My cart", emoji="🛒"),
        button("panel:checkout", "Checkout", style=SUCCESS),
    )


def gift_modal(custom_id: str, max_note: int) -> discord.ui.Modal:
    """The note dialog for a gift; its submit is routed by custom_id (see the shop cog)."""
    modal = discord.ui.Modal(title="Gift note", custom_id=custom_id, timeout=None)
    modal.add_item(
        discord.ui.TextInput(
            label="Note for the recipient (optional)",
            custom_id="note",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=max(1, max_note),
        )
    )
    return modal


def modal_value(components: Any, custom_id: str) -> str | None:
    """The submitted value of input `custom_id`, wherever the modal nests it."""
    for component in components or []:
        if not isinstance(component, dict):
            continue
        if component.get("custom_id") == custom_id and isinstance(component.get("value"), str):
            return str(component["value"])
        nested = component.get("components") or (
            [component["component"]] if isinstance(component.get("component"), dict) else []
        )
        found = modal_value(nested, custom_id)
        if found is not None:
            return found
    return None
