"""Member commands and components: browse, item info, cart and gifts.

Each handler reads the Discord input, calls one store or payment service and hands
the result to a renderer; rules live in the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.common import check_owner, not_your_cart, owns, picked, shop_id, whole
from bot.render import shop as render
from bot.render import views
from bot.render.pages import clamp
from bot.replies import Refusal, Reply
from store.carts import CartSummary
from store.shops import ShopDefinition

if TYPE_CHECKING:
    from bot.app import StorefrontBot


#: Autocomplete choices Discord shows at most.
CHOICES = 25


def _in_place(interaction: discord.Interaction[Any]) -> bool:
    """Paging edits the member's own private reply; a public message is left for others."""
    message = interaction.message
    return message is not None and message.flags.ephemeral


class ShopCog(commands.Cog, name="Shop"):
    def __init__(self, bot: StorefrontBot) -> None:
        self.bot = bot
        self.shop = bot.shop
        self.replies = bot.replies
        router = bot.router
        router.route("shop:pick", self._on_pick)
        router.route("shop:kind", self._on_kind)
        router.route("shop:page", self._on_shop_page, args=1)
        router.route("shop:cart", self._on_cart)
        router.route("shop:add", self._on_add, args=1)
        router.route("shop:gift", self._on_gift, args=1)
        router.route("gift:to", self._on_gift_to, args=1)
        router.route("gift:note", self._on_gift_note, args=3)
        router.route("cart:page", self._on_cart_page, args=2)
        router.route("cart:remove", self._on_remove, args=2)
        router.route("cart:clear", self._on_clear, args=1)
        router.route("cart:coupon", self._on_coupon, args=1)
        router.route("cart:uncoupon", self._on_uncoupon, args=1)
        router.route("panel:browse", self._on_pick_browse)
        router.route("panel:cart", self._on_cart)

    # ---- slash commands ----------------------------------------------------

    @app_commands.command(name="shop", description="Browse what the shop sells")
    @app_commands.guild_only()
    async def shop_command(self, interaction: discord.Interaction[Any]) -> None:
        await self.replies.guard(interaction, lambda: self._browse(interaction))

    @app_commands.command(name="item", description="See an item's details")
    @app_commands.describe(item="The item to look at")
    @app_commands.guild_only()
    async def item_command(self, interaction: discord.Interaction[Any], item: str) -> None:
        await self.replies.guard(interaction, lambda: self._item(interaction, item))

    @item_command.autocomplete("item")
    async def _item_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._item_choices(interaction, current)

    cart = app_commands.Group(name="cart", description="Your cart", guild_only=True)

    @cart.command(name="view", description="Show your cart")
    async def cart_view(self, interaction: discord.Interaction[Any]) -> None:
        await self.replies.guard(interaction, lambda: self._cart(interaction))

    @cart.command(name="add", description="Add an item, for yourself or as a gift")
    @app_commands.describe(
        item="The item to add",
        quantity="How many",
        recipient="Give it to this member instead of yourself",
        anonymous="Don't tell the recipient who gave it",
        note="A note for the recipient",
    )
    @app_commands.rename(recipient="for")
    async def cart_add(
        self,
        interaction: discord.Interaction[Any],
        item: str,
        quantity: app_commands.Range[int, 1, 1000] = 1,
        recipient: discord.Member | None = None,
        anonymous: bool = False,
        note: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        async def add() -> Reply:
            recipient_id = self._recipient(interaction, recipient)
            return await self._add(interaction, item, quantity, recipient_id, anonymous, note)

        await self.replies.guard(interaction, add, mutating=True)

    @cart_add.autocomplete("item")
    async def _cart_add_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._item_choices(interaction, current)

    @cart.command(name="remove", description="Remove a line from your cart")
    @app_commands.describe(line="The line to remove")
    async def cart_remove(self, interaction: discord.Interaction[Any], line: int) -> None:
        await self.replies.guard(
            interaction, lambda: self._remove(interaction, line), mutating=True
        )

    @cart_remove.autocomplete("line")
    async def _cart_line_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        summary = await self.shop.carts.view(interaction.guild_id, interaction.user.id)
        locale = (await self._shop(interaction)).locale
        choices = []
        for index, line in enumerate(summary.lines, start=1):
            name = f"{index}. {line.name} × {line.quantity} — {line.total.format(locale)}"
            if current.lower() in name.lower():
                choices.append(app_commands.Choice(name=name[:100], value=line.id))
        return choices[:25]

    @cart.command(name="coupon", description="Apply a coupon code to your cart")
    @app_commands.describe(code="The coupon code (remove it with the button on your cart)")
    async def cart_coupon(
        self, interaction: discord.Interaction[Any], code: app_commands.Range[str, 1, 40]
    ) -> None:
        await self.replies.guard(
            interaction, lambda: self._apply_coupon(interaction, code), mutating=True
        )

    @cart.command(name="clear", description="Empty your cart")
    async def cart_clear(self, interaction: discord.Interaction[Any]) -> None:
        await self.replies.guard(interaction, lambda: self._clear(interaction), mutating=True)

    # ---- components --------------------------------------------------------

    async def _on_pick(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        sku = picked(item)
        await self.replies.guard(interaction, lambda: self._item(interaction, sku))

    async def _on_kind(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        kind = picked(item)

        async def show() -> Reply:
            shop = await self._shop(interaction)
            pages = render.shop_pages(shop.catalog, self._off_sale(shop))
            page = render.first_page_of(pages, kind)
            if page is None:
                raise Refusal("The shop sells nothing of that kind now. Use /shop to look again.")
            return await self._browse(interaction, page, edit=_in_place(interaction))

        await self.replies.guard(interaction, show)

    async def _on_shop_page(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        async def turn() -> Reply:
            shop = await self._shop(interaction)
            pages = render.shop_pages(shop.catalog, self._off_sale(shop))
            page = clamp(whole(args[0]), max(1, len(pages)))
            return await self._browse(interaction, page, edit=_in_place(interaction))

        await self.replies.guard(interaction, turn)

    async def _on_pick_browse(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        await self.replies.guard(interaction, lambda: self._browse(interaction))

    async def _on_cart(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        await self.replies.guard(interaction, lambda: self._cart(interaction))

    async def _on_add(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        sku = args[0]
        await self.replies.guard(
            interaction,
            lambda: self._add(interaction, sku, 1, interaction.user.id, False, None),
            mutating=True,
        )

    async def _on_gift(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        sku = args[0]

        async def ask() -> Reply:
            catalog_item = (await self._shop(interaction)).catalog.require(sku)
            if not catalog_item.giftable:
                raise Refusal(f"{catalog_item.name} can't be given as a gift.")
            embed = discord.Embed(
                title=f"Gift {catalog_item.name}", description="Choose who receives it."
            )
            return Reply(embed, views.gift_recipient_view(sku))

        await self.replies.guard(interaction, ask)

    async def _on_gift_to(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        sku = args[0]

        async def chosen() -> Reply:
            picked = list(getattr(item, "values", []) or [])
            if not picked:
                raise Refusal("Choose a member to give the gift to.")
            recipient = picked[0]
            if not isinstance(recipient, discord.abc.User):  # not the member picker we sent
                raise Refusal("That menu is out of date or not valid. Use /shop to start again.")
            recipient_id = self._recipient(interaction, recipient)
            catalog_item = (await self._shop(interaction)).catalog.require(sku)
            embed = discord.Embed(
                title=f"Gift {catalog_item.name}",
                description=f"For <@{recipient_id}>. Add it signed or anonymously; "
                "you can write a note next.",
            )
            return Reply(embed, views.gift_options_view(sku, recipient_id))

        await self.replies.guard(interaction, chosen)

    async def _on_gift_note(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        sku, recipient, anonymous = args
        if not recipient.isdigit() or anonymous not in {"0", "1"}:
            await self._stale(interaction, ":".join(args))
            return
        custom_id = f"gift:modal:{sku}:{int(recipient)}:{anonymous}"
        if len(custom_id) > 100:
            await self._stale(interaction, custom_id)
            return
        modal = views.gift_modal(custom_id, self.shop.ctx.config.gift_note_max)
        await interaction.response.send_modal(modal)
        # The submit is handled from its custom_id in `on_interaction`, not by this
        # object: it then works after a restart and for members gifting the same thing.
        modal.stop()

    async def _on_coupon(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        if not owns(interaction, args[0]):
            await self.replies.guard(interaction, not_your_cart)
            return
        modal = views.coupon_modal(interaction.user.id)
        await interaction.response.send_modal(modal)
        modal.stop()  # the submit is handled from its custom_id in `on_interaction`

    async def _on_uncoupon(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        async def remove() -> Reply:
            check_owner(interaction, args[0])
            summary = await self.shop.carts.remove_coupon(shop_id(interaction), interaction.user.id)
            reply = await self._cart_reply(interaction, summary)
            reply.edit = _in_place(interaction)
            return reply

        await self.replies.guard(interaction, remove, mutating=True)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        parts = custom_id.split(":")
        if parts[0] == "coupon":
            await self._on_coupon_submit(interaction, parts, data)
            return
        if parts[0] == "catalog":
            return  # the admin cog's forms
        if len(parts) != 5 or parts[:2] != ["gift", "modal"] or not parts[3].isdigit():
            await self._stale(interaction, custom_id)  # no dialog of ours: answered, not lost
            return
        sku, recipient_id, is_anonymous = parts[2], int(parts[3]), parts[4] == "1"
        note = views.modal_value(data.get("components", []), "note") or None
        await self.replies.guard(
            interaction,
            lambda: self._add(interaction, sku, 1, recipient_id, is_anonymous, note),
            mutating=True,
        )

    async def _on_coupon_submit(
        self, interaction: discord.Interaction[Any], parts: list[str], data: dict[str, Any]
    ) -> None:
        """The coupon dialog's code, from any process: applied like `/cart coupon`."""
        if len(parts) != 3 or parts[1] != "modal" or not parts[2].isdigit():
            await self._stale(interaction, ":".join(parts))
            return
        code = views.modal_value(data.get("components", []), "code") or ""

        async def apply() -> Reply:
            check_owner(interaction, parts[2])
            return await self._apply_coupon(interaction, code)

        await self.replies.guard(interaction, apply, mutating=True)

    async def _on_cart_page(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        owner, page = args

        async def turn() -> Reply:
            check_owner(interaction, owner)
            reply = await self._cart(interaction, page=whole(page))
            reply.edit = _in_place(interaction)
            return reply

        await self.replies.guard(interaction, turn)

    async def _on_remove(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        owner, page = args

        async def remove() -> Reply:
            check_owner(interaction, owner)
            line = picked(item)
            if not line.isdigit():
                raise Refusal("Choose a line to remove.")
            # The same page again, or the last one if the removal emptied it.
            reply = await self._remove(interaction, int(line), page=whole(page))
            reply.edit = True
            return reply

        await self.replies.guard(interaction, remove, mutating=True)

    async def _on_clear(
        self, interaction: discord.Interaction[Any], args: list[str], item: Any
    ) -> None:
        async def clear() -> Reply:
            check_owner(interaction, args[0])
            reply = await self._clear(interaction)
            reply.edit = True
            return reply

        await self.replies.guard(interaction, clear, mutating=True)

    async def _stale(self, interaction: discord.Interaction[Any], custom_id: str) -> None:
        async def explain() -> Reply:
            raise Refusal(
                "That button is out of date or not valid any more. Use /shop to start again."
            )

        await self.replies.guard(interaction, explain)

    # ---- the work behind commands and components ---------------------------

    async def _shop(self, interaction: discord.Interaction[Any]) -> ShopDefinition:
        """The guild's shop (from memory): its catalog, and the locale every price a
        member sees is formatted in."""
        return await self.shop.shops.get(shop_id(interaction))

    def _off_sale(self, shop: ShopDefinition) -> frozenset[str]:
        """Items outside their sale window now: /shop does not show them."""
        return shop.catalog.off_sale(self.shop.ctx.now())

    async def _browse(
        self, interaction: discord.Interaction[Any], page: int = 0, *, edit: bool = False
    ) -> Reply:
        shop = await self._shop(interaction)
        catalog, locale = shop.catalog, shop.locale
        hidden = self._off_sale(shop)
        sold_out = await self.shop.carts.sold_out(shop.shop_id)
        return Reply(
            render.shop_embed(
                catalog, shop.name, locale=locale, page=page, hidden=hidden, sold_out=sold_out
            ),
            views.shop_view(catalog, locale=locale, page=page, hidden=hidden, sold_out=sold_out),
            edit=edit,
        )

    async def _item(self, interaction: discord.Interaction[Any], sku: str) -> Reply:
        shop = await self._shop(interaction)
        item = shop.catalog.require(sku)
        problem = item.window_problem(self.shop.ctx.now())
        if problem is not None:
            raise Refusal(f"{problem} Use /shop to see what is for sale.")
        sold_out = item.stock is not None and sku in await self.shop.carts.sold_out(shop.shop_id)
        return Reply(
            render.item_embed(shop.catalog, item, locale=shop.locale, sold_out=sold_out),
            views.item_view(item),
        )

    async def _cart(self, interaction: discord.Interaction[Any], *, page: int = 0) -> Reply:
        summary = await self.shop.carts.view(shop_id(interaction), interaction.user.id)
        return await self._cart_reply(interaction, summary, page)

    async def _cart_reply(
        self, interaction: discord.Interaction[Any], summary: CartSummary, page: int = 0
    ) -> Reply:
        """The cart at `page` (kept in range): embed and components cut from one page."""
        locale = (await self._shop(interaction)).locale
        return Reply(
            render.cart_embed(summary, locale=locale, page=page),
            views.cart_view(summary, summary.points_available, locale=locale, page=page),
            summary=summary,
        )

    async def _add(
        self,
        interaction: discord.Interaction[Any],
        sku: str,
        quantity: int,
        recipient_id: int,
        anonymous: bool,
        note: str | None,
    ) -> Reply:
        summary = await self.shop.carts.add(
            shop_id(interaction),
            interaction.user.id,
            sku,
            quantity=quantity,
            recipient_id=recipient_id,
            anonymous=anonymous,
            note=note,
        )
        locale = (await self._shop(interaction)).locale
        return Reply(
            render.added_embed(summary, sku, recipient_id, locale=locale, anonymous=anonymous),
            views.added_view(summary),
            summary=summary,
        )

    async def _remove(
        self, interaction: discord.Interaction[Any], line_id: int, *, page: int = 0
    ) -> Reply:
        summary = await self.shop.carts.remove(shop_id(interaction), interaction.user.id, line_id)
        return await self._cart_reply(interaction, summary, page)

    async def _apply_coupon(self, interaction: discord.Interaction[Any], code: str) -> Reply:
        summary = await self.shop.carts.apply_coupon(
            shop_id(interaction), interaction.user.id, code
        )
        return await self._cart_reply(interaction, summary)

    async def _clear(self, interaction: discord.Interaction[Any]) -> Reply:
        summary = await self.shop.carts.clear(shop_id(interaction), interaction.user.id)
        return await self._cart_reply(interaction, summary)

    # ---- small translations ------------------------------------------------

    async def _item_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Items whose name or code holds what was typed (any case); those that start
        with it first, each group in catalog order; at most what Discord shows."""
        if interaction.guild_id is None:
            return []
        shop = await self._shop(interaction)
        needle = current.strip().casefold()
        starts, holds = [], []
        hidden = self._off_sale(shop)
        for item in shop.catalog:
            if item.sku in hidden:
                continue
            name, sku = item.name.casefold(), item.sku.casefold()
            if name.startswith(needle) or sku.startswith(needle):
                starts.append(item)
            elif needle in name or needle in sku:
                holds.append(item)
        return [
            app_commands.Choice(
                name=f"{item.name} — {item.price.format(shop.locale)}"[:100], value=item.sku
            )
            for item in (starts + holds)[:CHOICES]
        ]

    def _recipient(
        self, interaction: discord.Interaction[Any], recipient: discord.abc.User | None
    ) -> int:
        if recipient is None:
            return interaction.user.id
        if recipient.bot:
            raise Refusal("Bots can't receive gifts: they have no use for them.")
        return recipient.id
