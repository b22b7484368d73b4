"""/shopadmin coupon create|list|retire: moderators' discount codes.

A subgroup built with the admin cog it belongs to (`CouponCommands(admin)`): every
command checks the moderator again (`admin._require_moderator`), answers through
`admin.replies.guard`, and posts each create and retire to the shop's audit channel.
The store decides (`store.coupons`); this module reads Discord input — amounts as
decimals in the shop's currency ("5.00"), an expiry date as YYYY-MM-DD, SKUs
comma-separated — and renders.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.render import coupons as render
from bot.replies import Refusal, Reply
from store.coupons import Coupon, CouponSpec
from store.errors import InvalidInput
from store.shop_admin import parse_price
from store.shops import ShopDefinition

if TYPE_CHECKING:
    from bot.cogs.admin import AdminCog


def parse_amount(text: str, currency: str, locale: str, field: str, *, zero: bool = False) -> int:
    """An amount typed as a price is ("5.00", "5,00" in de_DE, "1,000.00"), read the
    way the catalog's prices are, as minor units; zero only where `zero` allows it
    (no minimum order). Refused naming the option."""
    try:
        return parse_price(text, currency, locale, zero=zero)
    except InvalidInput as exc:
        raise Refusal(f"{field}: {exc.message}") from None


def parse_expiry(text: str) -> datetime:
    """YYYY-MM-DD: the coupon works to the end of that day, UTC (its last microsecond),
    so the day a moderator typed is the day lists and members are told."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise Refusal(
            f"expires: {text.strip()[:40]!r} is not a date; write it as YYYY-MM-DD."
        ) from None
    return datetime.combine(day, time.max, tzinfo=UTC)


def parse_skus(text: str | None) -> list[str]:
    return [sku.strip() for sku in (text or "").split(",") if sku.strip()]


class CouponCommands(app_commands.Group):
    """The `coupon` subgroup of /shopadmin."""

    def __init__(self, admin: AdminCog) -> None:
        super().__init__(name="coupon", description="Create, list and retire discount codes")
        self.admin = admin
        self.shop = admin.shop

    @app_commands.command(name="create", description="Create a discount code")
    @app_commands.describe(
        code="The code members type (3-32 letters, digits, - or _)",
        percent="Percent off (give this or amount)",
        amount="Amount off in the shop's currency, e.g. 5.00 (give this or percent)",
        min_order="Least order total it applies to, e.g. 20.00",
        items="Only these items: SKUs, comma-separated",
        max_uses="How many orders may use it in all",
        per_member_limit="How many orders of one member may use it",
        expires="Last day it works, YYYY-MM-DD (until the end of that day, UTC)",
    )
    async def create(
        self,
        interaction: discord.Interaction[Any],
        code: app_commands.Range[str, 1, 40],
        percent: app_commands.Range[int, 1, 100] | None = None,
        amount: app_commands.Range[str, 1, 20] | None = None,
        min_order: app_commands.Range[str, 1, 20] | None = None,
        items: app_commands.Range[str, 1, 1000] | None = None,
        max_uses: app_commands.Range[int, 1, 1_000_000] | None = None,
        per_member_limit: app_commands.Range[int, 1, 1000] | None = None,
        expires: app_commands.Range[str, 1, 20] | None = None,
    ) -> None:
        async def run() -> Reply:
            await self.admin._require_moderator(interaction)
            shop = await self.admin._definition(interaction)
            if (percent is None) == (amount is None):
                raise Refusal("Give either percent or amount (one of them).")
            fields: dict[str, Any] = {
                "code": code,
                "kind": "percent" if percent is not None else "fixed",
                "amount": percent
                if percent is not None
                else parse_amount(amount or "", shop.currency, shop.locale, "amount"),
                "skus": parse_skus(items),
                "max_uses": max_uses,
                "per_member_limit": per_member_limit,
            }
            if min_order is not None:
                fields["min_order"] = parse_amount(
                    min_order, shop.currency, shop.locale, "min_order", zero=True
                )
            if expires is not None:
                fields["expires_at"] = parse_expiry(expires)
            catalog = shop.catalog
            coupon = await self.shop.coupons.create(
                shop.shop_id,
                CouponSpec.of(fields),
                by=interaction.user.id,
                currency=shop.currency,
                known_skus={item.sku for item in catalog},
                renewing={i.sku: i.name for i in catalog if catalog.renews_every(i) is not None},
            )
            await self._audit(interaction, shop, "created coupon", coupon)
            return Reply(render.created_embed(coupon, locale=shop.locale, names=_names(shop)))

        await self.admin.replies.guard(interaction, run, mutating=True)

    @app_commands.command(name="list", description="Every coupon with its uses, limits and expiry")
    async def list_coupons(self, interaction: discord.Interaction[Any]) -> None:
        async def run() -> Reply:
            await self.admin._require_moderator(interaction)
            shop = await self.admin._definition(interaction)
            coupons = await self.shop.coupons.list(shop.shop_id)
            return Reply(render.coupons_embed(coupons, locale=shop.locale, names=_names(shop)))

        await self.admin.replies.guard(interaction, run)

    @app_commands.command(name="retire", description="Stop a code from being applied")
    @app_commands.describe(code="The coupon's code; orders that used it keep their discount")
    async def retire(
        self, interaction: discord.Interaction[Any], code: app_commands.Range[str, 1, 40]
    ) -> None:
        async def run() -> Reply:
            await self.admin._require_moderator(interaction)
            shop = await self.admin._definition(interaction)
            earlier = await self.shop.coupons.find(shop.shop_id, code)
            if earlier is not None and earlier.retired_at is not None:
                raise Refusal(
                    f"The code {earlier.code} was already retired on "
                    f"{earlier.retired_at:%Y-%m-%d}; nothing changed."
                )
            coupon = await self.shop.coupons.retire(shop.shop_id, code, by=interaction.user.id)
            await self._audit(interaction, shop, "retired coupon", coupon)
            return Reply(render.retired_embed(coupon))

        await self.admin.replies.guard(interaction, run, mutating=True)

    async def _audit(
        self,
        interaction: discord.Interaction[Any],
        shop: ShopDefinition,
        what: str,
        coupon: Coupon,
    ) -> None:
        names = _names(shop)
        embed = render.audit_embed(
            interaction.user.id, what, coupon, locale=shop.locale, names=names
        )
        summary = f"{interaction.user.id} {what} {coupon.code}: {coupon.describe(shop.locale)}"
        await self.admin._post_audit(interaction, embed, summary)


def _names(shop: ShopDefinition) -> dict[str, str]:
    return {item.sku: item.name for item in shop.catalog}
