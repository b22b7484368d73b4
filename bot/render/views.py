"""The components under each reply; custom ids are `family:action[:args]` (see controls).

Paged replies (the shop, the cart) take their components from the same page as their
embed (`render.shop.shop_pages`, `render.shop.cart_page`), so a menu never offers what
the embed above it does not show, and no menu holds more than 25 options.
"""

from __future__ import annotations

import functools
from typing import Any

import discord

from bot.controls import button, select, user_select, view
from bot.render.pages import clamp, page_buttons
from bot.render.shop import NOTHING, cart_page, kind_title, shop_pages
from bot.render.text import number
from store.carts import CartSummary
from store.catalog import Catalog, CatalogItem

PRIMARY = discord.ButtonStyle.primary
SUCCESS = discord.ButtonStyle.success
DANGER = discord.ButtonStyle.danger


def shop_view(
    catalog: Catalog,
    *,
    locale: str,
    page: int = 0,
    hidden: frozenset[str] = NOTHING,
    sold_out: frozenset[str] = NOTHING,
) -> discord.ui.View:
    """A kind picker (with several kinds), the page's item menu, ◀ ▶ and View cart.

    An empty catalog gets no menu at all: Discord refuses a select without options.
    """
    pages = shop_pages(catalog, hidden)
    if not pages:
        return view(view_cart_button())
    index = clamp(page, len(pages))
    kinds, options = _shop_menus(catalog, locale, index, hidden, sold_out)
    items: list[discord.ui.Item[Any]] = []
    if kinds:
        items.append(select("shop:kind", "Choose what kind of item…", kinds))
    items.append(select("shop:pick", "Choose an item…", options))
    items.extend(page_buttons("shop:page", index, len(pages)))
    items.append(view_cart_button())
    return view(*items)


@functools.lru_cache(maxsize=256)
def _shop_menus(
    catalog: Catalog,
    locale: str,
    index: int,
    hidden: frozenset[str] = NOTHING,
    sold_out: frozenset[str] = NOTHING,
) -> tuple[tuple[discord.SelectOption, ...], tuple[discord.SelectOption, ...]]:
    """Page `index`'s kind picker options (none with one kind) and item options, made
    once per catalog and locale: options are only read when a reply is sent."""
    pages = shop_pages(catalog, hidden)
    shown = pages[index]
    kinds = list(dict.fromkeys(p.kind for p in pages))
    picker: tuple[discord.SelectOption, ...] = ()
    if len(kinds) > 1:
        counts = {kind: sum(len(p.items) for p in pages if p.kind == kind) for kind in kinds}
        picker = tuple(
            discord.SelectOption(
                label=kind_title(kind)[:100],
                value=kind[:100],
                description=f"{counts[kind]} item{'s' if counts[kind] != 1 else ''}",
                default=kind == shown.kind,
            )
            for kind in kinds[:25]
        )
    options = tuple(
        discord.SelectOption(
            label=item.name[:100],
            value=item.sku,
            description=(
                f"Sold out · {item.price.format(locale)}"
                if item.sku in sold_out
                else item.price.format(locale)
            )[:100],
        )
        for item in shown.items
    )
    return picker, options


def view_cart_button() -> discord.ui.Item[Any]:
    return button("shop:cart", "View cart", emoji="🛒")


def checkout_button(owner: int) -> discord.ui.Item[Any]:
    return button(f"cart:checkout:{owner}", "Checkout", style=SUCCESS)


def item_view(item: CatalogItem) -> discord.ui.View:
    items: list[discord.ui.Item[Any]] = [
        button(f"shop:add:{item.sku}", "Add to cart", style=SUCCESS)
    ]
    if item.giftable:
        items.append(button(f"shop:gift:{item.sku}", "Gift…", emoji="🎁"))
    items.append(button("shop:cart", "View cart", emoji="🛒"))
    return view(*items)


def cart_view(
    summary: CartSummary, points_available: int, *, locale: str, page: int = 0
) -> discord.ui.View:
    """Remove (this page's lines), Checkout, points, Coupon (or Remove coupon), Empty
    cart, and ◀ ▶ over the pages."""
    if summary.is_empty:
        return view(button("panel:browse", "Browse the shop", style=PRIMARY))
    owner = summary.member_id
    shown = cart_page(summary, locale=locale, page=page)
    options = [
        discord.SelectOption(
            label=f"{position}. {line.name} × {line.quantity}"[:100],
            value=str(line.id),
            description=("gift for a member" if line.is_gift else line.description)[:100],
        )
        for position, line in enumerate(shown.lines, start=shown.first + 1)
    ]
    items: list[discord.ui.Item[Any]] = [
        select(f"cart:remove:{owner}:{shown.page}", "Remove a line…", options),
        checkout_button(owner),
    ]
    if points_available > 0:
        items.append(
            button(f"cart:points:{owner}", f"Use my {number(points_available, locale)} points")
        )
    if summary.coupon is None:
        items.append(button(f"cart:coupon:{owner}", "Coupon…", emoji="🏷️"))
    else:
        items.append(button(f"cart:uncoupon:{owner}", f"Remove {summary.coupon.code}"[:80]))
    items.append(button(f"cart:clear:{owner}", "Empty cart", style=DANGER))
    items.extend(page_buttons(f"cart:page:{owner}", shown.page, shown.pages))
    return view(*items)


def added_view(summary: CartSummary) -> discord.ui.View:
    """After an add: carry on shopping, or go to the cart or the checkout."""
    return view(
        button("panel:browse", "Keep shopping", style=PRIMARY, emoji="🛍️"),
        checkout_button(summary.member_id),
        view_cart_button(),
    )


#: Custom ids (or their `family:action:` prefixes) that already do what the cart row does.
_CHECKOUT_IDS = ("cart:checkout:", "panel:checkout")
_CART_IDS = (
    "shop:cart",
    "panel:cart",
    "cart:remove:",
    "cart:clear:",
    "cart:page:",
    "cart:coupon:",
    "cart:uncoupon:",
)
#: A reply offering these already is the checkout (it asks how to pay): a Checkout
#: button there would only ask again.
_AT_CHECKOUT_IDS = ("checkout:via:",)
#: Discord's rows of components under one message.
ROWS = 5


def with_cart_row(
    built: discord.ui.View | None, summary: CartSummary
) -> tuple[discord.ui.View | None, bool]:
    """`built` with Checkout and View cart added when the cart has lines; and whether the
    reply now has a Checkout button.

    The two go in a row of their own (the first empty one), so they never sit beside
    the reply's own buttons (an order's Pay and Cancel, say). A button the view already
    has (or a cart view, for View cart; the choice of how to pay, for Checkout) is not
    added twice; a view with no empty row left stays as it is rather than break.
    """
    present = _custom_ids(built)
    has_checkout = any(c.startswith(_CHECKOUT_IDS) for c in present)
    if summary.is_empty:
        return built, has_checkout
    wanted: list[discord.ui.Item[Any]] = []
    if not has_checkout and not any(c.startswith(_AT_CHECKOUT_IDS) for c in present):
        wanted.append(checkout_button(summary.member_id))
    if not any(c.startswith(_CART_IDS) for c in present):
        wanted.append(view_cart_button())
    row = _first_empty_row(built)
    if not wanted or row is None:
        return built, has_checkout
    result = built if built is not None else view()
    for item in wanted:
        item.row = row
        result.add_item(item)
    has_checkout = has_checkout or any(
        str(getattr(item, "custom_id", "")).startswith(_CHECKOUT_IDS) for item in wanted
    )
    return result, has_checkout


def _first_empty_row(built: discord.ui.View | None) -> int | None:
    """The first of Discord's five rows no component of `built` sits in; None if all do.

    An item added without a row is placed by discord.py, which records where.
    """
    if built is None:
        return 0
    used = {
        item.row if item.row is not None else getattr(item, "_rendered_row", None)
        for item in built.children
    }
    return next((row for row in range(ROWS) if row not in used), None)


def _custom_ids(built: discord.ui.View | None) -> list[str]:
    if built is None:
        return []
    return [str(getattr(item, "custom_id", "") or "") for item in built.children]


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


def coupon_modal(owner: int) -> discord.ui.Modal:
    """The dialog a member types a coupon code in; its submit is routed by custom_id
    (`coupon:modal:<owner>`, see the shop cog), so any process can answer it."""
    modal = discord.ui.Modal(
        title="Apply a coupon", custom_id=f"coupon:modal:{owner}", timeout=None
    )
    modal.add_item(
        discord.ui.TextInput(
            label="Coupon code",
            custom_id="code",
            placeholder="e.g. SUMMER20",
            min_length=3,
            max_length=32,
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
