"""Embeds for the shop and the cart.

Every reply carries the member's cart summary, built by `with_cart` alone, so the
summary looks the same everywhere. Text members wrote is escaped before display.

A cart of 25 gift lines with long notes, and a catalog of any size, do not fit one
embed: both are shown a page at a time (`cart_page`, `shop_pages`), and the page
travels in the custom_id of the ◀ ▶ buttons (see `views`), so the embed and the
components of one reply are always cut from the same page.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from bot.render.lines import gift_details
from bot.render.pages import Line, clamp, page_label, paginate
from bot.render.text import COLOUR, SUCCESS, safe
from store.carts import CartLine, CartSummary
from store.catalog import Catalog, CatalogItem

KIND_TITLES = {"membership": "Memberships", "points": "Points"}
#: Items one shop page lists: what one select menu can offer.
SHOP_PAGE_ITEMS = 25


def kind_title(kind: str) -> str:
    return KIND_TITLES.get(kind, kind.replace("_", " ").title())


def cart_line(summary: CartSummary, *, locale: str, checkout_button: bool = False) -> str:
    """The one-line summary; it names the Checkout button only when the reply has one."""
    if summary.is_empty:
        return "Empty — add something with /shop."
    count = summary.item_count
    how = "press **Checkout** below or use /checkout" if checkout_button else "use /checkout"
    total = summary.total.format(locale)
    coupon = summary.coupon
    if coupon is not None and summary.discount.amount:
        total = (
            f"~~{summary.subtotal.format(locale)}~~ {total} "
            f"(code {coupon.code}: −{summary.discount.format(locale)})"
        )
    elif coupon is not None:
        total += f" (code {coupon.code} takes nothing off: see /cart view)"
    return f"{count} item{'s' if count != 1 else ''} · {total} — {how}"


def coupon_text(summary: CartSummary, *, locale: str) -> str | None:
    """The applied coupon as the cart shows it: what it takes off now, or why it
    takes nothing off; None without a coupon."""
    coupon = summary.coupon
    if coupon is None:
        return None
    if coupon.problem is not None:
        return f"⚠ {coupon.problem} It takes nothing off; remove it or change your cart."
    text = f"−{summary.discount.format(locale)}"
    return f"{text} · {coupon.text}" if coupon.text else text


def with_cart(
    embed: discord.Embed, summary: CartSummary, *, locale: str, checkout_button: bool = False
) -> discord.Embed:
    """Append the cart summary every reply shows."""
    embed.add_field(
        name="🛒 Your cart",
        value=cart_line(summary, locale=locale, checkout_button=checkout_button),
        inline=False,
    )
    return embed


# ---- the shop --------------------------------------------------------------------


@dataclass(frozen=True)
class ShopPage:
    """At most 25 items of one kind: what one item menu can offer."""

    kind: str
    items: tuple[CatalogItem, ...]


NOTHING: frozenset[str] = frozenset()


def shop_pages(catalog: Catalog, hidden: frozenset[str] = NOTHING) -> tuple[ShopPage, ...]:
    """The catalog in pages that never mix kinds, kinds in catalog order; () when empty.

    `hidden`: SKUs outside their sale window now, left out of the pages.
    """
    return _pages(catalog, hidden)


@functools.lru_cache(maxsize=32)
def _pages(catalog: Catalog, hidden: frozenset[str] = NOTHING) -> tuple[ShopPage, ...]:
    # A catalog never changes once loaded (a new one is a new object), and /shop is a
    # third of what members do: its pages are cut once, not on every press (once per
    # set of items out of their window, which changes only when a window opens or shuts).
    pages = []
    for kind, every in catalog.by_kind().items():
        items = [item for item in every if item.sku not in hidden]
        for start in range(0, len(items), SHOP_PAGE_ITEMS):
            pages.append(ShopPage(kind, tuple(items[start : start + SHOP_PAGE_ITEMS])))
    return tuple(pages)


@functools.lru_cache(maxsize=256)
def shop_listing(
    catalog: Catalog,
    locale: str,
    index: int,
    hidden: frozenset[str] = NOTHING,
    sold_out: frozenset[str] = NOTHING,
) -> tuple[str, str]:
    """Page `index`'s description and footer, written once per catalog and locale (and
    per set of hidden and sold-out items)."""
    pages = _pages(catalog, hidden)
    shown = pages[index]
    listing = "\n".join(
        f"**{safe(item.name, 100)}** — {price_text(item, locale, item.sku in sold_out)}"
        for item in shown.items
    )
    description = f"Pick an item below to see details, add it or gift it.\n\n{listing}"[:4096]
    footer = kind_title(shown.kind)
    if len(pages) > 1:
        footer += f" · {page_label(index, len(pages)).lower()}"
    return description, footer


def price_text(item: CatalogItem, locale: str, sold_out: bool = False) -> str:
    """The price, struck through and marked when nothing is left to sell."""
    price = item.price.format(locale)
    return f"~~{price}~~ **Sold out**" if sold_out else price


def first_page_of(pages: Sequence[ShopPage], kind: str) -> int | None:
    return next((index for index, page in enumerate(pages) if page.kind == kind), None)


def shop_embed(
    catalog: Catalog,
    shop_name: str,
    *,
    locale: str,
    page: int = 0,
    hidden: frozenset[str] = NOTHING,
    sold_out: frozenset[str] = NOTHING,
) -> discord.Embed:
    pages = shop_pages(catalog, hidden)
    embed = discord.Embed(title=shop_name[:256], colour=COLOUR)
    if not pages:
        embed.description = "Nothing for sale yet. Check back soon."
        return embed
    embed.description, footer = shop_listing(
        catalog, locale, clamp(page, len(pages)), hidden, sold_out
    )
    embed.set_footer(text=footer)
    return embed


def item_embed(
    catalog: Catalog, item: CatalogItem, *, locale: str, sold_out: bool = False
) -> discord.Embed:
    embed = discord.Embed(title=item.name, description=item.description or None, colour=COLOUR)
    embed.add_field(name="Price", value=price_text(item, locale, sold_out))
    embed.add_field(name="You get", value=catalog.describe(item))
    gift = (
        "Give it to another member, by name or anonymously, with a note."
        if item.giftable
        else "This item can't be given as a gift."
    )
    embed.add_field(name="As a gift", value=gift, inline=False)
    if item.image_url:
        embed.set_thumbnail(url=item.image_url)
    embed.set_footer(text=f"Item code: {item.sku}")
    return embed


# ---- the cart --------------------------------------------------------------------


@dataclass(frozen=True)
class CartPage:
    """One page of the cart: its lines, their fields, and where it sits."""

    lines: tuple[CartLine, ...]
    fields: tuple[Line, ...]
    #: Position in the cart of this page's first line (0-based), for the line numbers.
    first: int
    page: int
    pages: int


def _cart_field(number: int, line: CartLine, locale: str) -> Line:
    details = [f"{line.description} · {line.total.format(locale)}"]
    if line.retired:
        details.append("⚠ No longer sold: remove it to check out.")
    elif line.was_price is not None:
        details.append(
            f"⚠ Price changed: was {line.was_price.format(locale)}, now "
            f"{line.unit_price.format(locale)} each."
        )
    if line.is_gift:
        details += gift_details(line.recipient_id, line.anonymous, line.note)
    return Line(f"{number}. {line.name} × {line.quantity}", "\n".join(details))


def cart_page(summary: CartSummary, *, locale: str, page: int = 0) -> CartPage:
    """Page `page` (kept in range) of the cart; packing depends on the lines alone."""
    fields = [
        _cart_field(number, line, locale) for number, line in enumerate(summary.lines, start=1)
    ]
    pages = paginate(fields)
    index = clamp(page, len(pages))
    first = sum(len(earlier) for earlier in pages[:index])
    shown = pages[index]
    return CartPage(
        lines=summary.lines[first : first + len(shown)],
        fields=tuple(shown),
        first=first,
        page=index,
        pages=len(pages),
    )


def cart_embed(summary: CartSummary, *, locale: str, page: int = 0) -> discord.Embed:
    embed = discord.Embed(title="Your cart", colour=COLOUR)
    if summary.is_empty:
        embed.description = "Nothing here yet. Browse with /shop."
        return embed
    shown = cart_page(summary, locale=locale, page=page)
    for field in shown.fields:
        embed.add_field(name=field.name, value=field.value, inline=False)
    coupon = coupon_text(summary, locale=locale)
    if coupon is not None and summary.coupon is not None:
        embed.add_field(name="Subtotal", value=summary.subtotal.format(locale), inline=False)
        embed.add_field(name=f"Coupon {summary.coupon.code}", value=coupon[:1024], inline=False)
    embed.add_field(name="Total", value=summary.total.format(locale), inline=False)
    if shown.pages > 1:
        embed.set_footer(text=page_label(shown.page, shown.pages))
    return embed


# ---- after an add ----------------------------------------------------------------


def added_line(
    summary: CartSummary, sku: str, recipient_id: int, anonymous: bool = False
) -> CartLine | None:
    """The cart line the add went into (the newest with that item, recipient and mode)."""
    matching = [ln for ln in summary.lines if ln.sku == sku and ln.recipient_id == recipient_id]
    exact = [ln for ln in matching if ln.anonymous == anonymous]
    found = exact or matching
    return found[-1] if found else None


def added_embed(
    summary: CartSummary,
    sku: str,
    recipient_id: int,
    *,
    locale: str,
    anonymous: bool = False,
) -> discord.Embed:
    """What was added, as the cart line now stands: quantity, line price, the gift."""
    line = added_line(summary, sku, recipient_id, anonymous)
    embed = discord.Embed(title="Added to your cart", colour=SUCCESS)
    if line is None:
        embed.description = f"{sku}."
        return embed
    text = f"**{safe(line.name, 100)}** × {line.quantity} — {line.total.format(locale)}"
    if line.is_gift:
        text += "\n" + "\n".join(gift_details(line.recipient_id, line.anonymous))
    embed.description = text
    return embed
