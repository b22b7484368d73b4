"""/shopadmin catalog add|edit|retire|list and /shopadmin setup: the shop run from Discord.

The forms are modals whose submit is handled from its custom id (`catalog:add:<kind>`,
`catalog:edit:<sku>`) by the admin cog's `on_interaction` listener, never by a
`ui.Modal` callback in memory: with interactions over HTTP behind a load balancer the
submit may reach another process, or this one after a restart. Moderators are checked
before the form opens and again on submit (a submit can be forged). The store decides
(`store.shop_admin`); this module reads Discord input, renders, and audits every change
with before and after.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord
from babel.numbers import get_decimal_symbol
from discord import app_commands

from bot.cogs.common import picked
from bot.controls import select, view
from bot.render import shop_admin as render
from bot.render.admin import done_embed
from bot.render.text import major_units
from bot.render.views import modal_value
from bot.replies import Refusal, Reply
from store.config import ItemConfig
from store.errors import InvalidInput
from store.shop_admin import (
    ALL_GATEWAYS,
    find_item,
    item_fingerprint,
    item_options,
    options_text,
    parse_options,
    parse_price,
)
from store.shops import ShopDefinition

if TYPE_CHECKING:
    from bot.cogs.admin import AdminCog

log = logging.getLogger("bot.catalog_admin")

ADD, EDIT = "add", "edit"
#: What the options box suggests for each built-in kind (a placeholder: ≤ 100 chars).
EXAMPLES = {"membership": 'tier = "paid"\nmonths = 1', "points": "points = 100"}
#: Autocomplete choices Discord shows at most.
CHOICES = 25


class CatalogCommands(app_commands.Group):
    """The `catalog` subgroup of /shopadmin; built with the admin cog it belongs to."""

    def __init__(self, admin: AdminCog) -> None:
        super().__init__(name="catalog", description="Add, edit, retire and list the shop's items")
        self.admin = admin
        self.shop = admin.shop
        kinds = sorted(self.shop.shops.kinds)[:CHOICES]

        # Built here, not in the class body: the choices are the kinds installed in
        # this deployment, known only once it runs.
        @app_commands.command(name="add", description="Add an item to the shop (a form opens)")
        @app_commands.describe(kind="What the item gives; its options are checked by the kind")
        @app_commands.choices(kind=[app_commands.Choice(name=k, value=k) for k in kinds])
        async def add(interaction: discord.Interaction[Any], kind: str) -> None:
            await self._open_add(interaction, kind)

        self.add_command(add)

    # ---- commands ------------------------------------------------------------------

    @app_commands.command(name="edit", description="Change an item's name, price or options")
    @app_commands.describe(item="The item (left out: choose it from a menu)")
    async def edit(self, interaction: discord.Interaction[Any], item: str | None = None) -> None:
        if item is None:
            await self.admin.replies.guard(interaction, lambda: self._item_menu(interaction))
            return
        await self._open_edit(interaction, item)

    async def on_pick(
        self, interaction: discord.Interaction[Any], args: list[str], control: Any
    ) -> None:
        """The menu `edit` without an item showed: open the chosen item's form."""
        await self._open_edit(interaction, picked(control))

    async def _item_menu(self, interaction: discord.Interaction[Any]) -> Reply:
        await self.admin._require_moderator(interaction)
        shop = await self.admin._definition(interaction)
        items = list(shop.catalog)
        if not items:
            raise Refusal("The shop sells nothing yet: add an item with /shopadmin catalog add.")
        options = [
            discord.SelectOption(
                label=item.name[:100],
                value=item.sku,
                description=f"{item.sku} · {item.price.format(shop.locale)}"[:100],
            )
            for item in items[:CHOICES]
        ]
        more = len(items) - len(options)
        text = "Choose the item to edit."
        if more > 0:
            text += f" {more} more are not in this menu: give the item's name in `item:`."
        return Reply(
            discord.Embed(title="Edit an item", description=text),
            view(select("catalog:pick", "Choose an item…", options)),
        )

    async def _open_edit(self, interaction: discord.Interaction[Any], item: str) -> None:
        if not await self.admin.is_moderator(interaction):
            await self._refuse(interaction, "Only the shop's moderators can do that.")
            return
        shop = await self.admin._definition(interaction)
        try:
            _, entry = find_item(shop.profile, item)
        except InvalidInput as exc:
            await self._refuse(interaction, exc.message)
            return
        values = {
            "name": entry.name,
            "price": _price_text(entry.price, shop),
            "description": entry.description,
            "options": options_text(entry),
        }
        title = f"Edit {entry.name}"
        custom_id = f"catalog:{EDIT}:{entry.sku}:{item_fingerprint(entry)}"
        await self._send_modal(interaction, custom_id, title, values, False)

    @app_commands.command(name="retire", description="Stop selling an item for good")
    @app_commands.describe(item="The item; its SKU is never used again")
    async def retire(self, interaction: discord.Interaction[Any], item: str) -> None:
        async def run() -> Reply:
            await self.admin._require_moderator(interaction)
            change = await self.shop.admin.retire_item(self.admin._shop(interaction), item)
            name = (change.before or {}).get("name", item)
            await self.audit(interaction, f"retired item {item}", change.before, change.after)
            return Reply(
                done_embed(
                    f"{name} is retired: no longer sold, and its SKU is never reused. Carts "
                    "holding it say so; orders keep what was bought."
                )
            )

        await self.admin.replies.guard(interaction, run, mutating=True)

    @app_commands.command(name="list", description="Every item with its price, kind and limits")
    async def list_items(self, interaction: discord.Interaction[Any]) -> None:
        async def run() -> Reply:
            await self.admin._require_moderator(interaction)
            shop = await self.admin._definition(interaction)
            left = await self.shop.carts.units_left(shop.shop_id)
            return Reply(render.catalog_embed(shop, left))

        await self.admin.replies.guard(interaction, run)

    @edit.autocomplete("item")
    @retire.autocomplete("item")
    async def _item_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Items on sale (retired ones are not), by SKU or name."""
        if interaction.guild_id is None:
            return []
        wanted = current.lower()
        shop = await self.shop.shops.get(interaction.guild_id)
        return [
            app_commands.Choice(name=f"{item.name} ({item.sku})"[:100], value=item.sku)
            for item in shop.catalog
            if wanted in item.sku or wanted in item.name.lower()
        ][:CHOICES]

    # ---- the forms -----------------------------------------------------------------

    async def _open_add(self, interaction: discord.Interaction[Any], kind: str) -> None:
        if not await self.admin.is_moderator(interaction):
            await self._refuse(interaction, "Only the shop's moderators can do that.")
            return
        if kind not in self.shop.shops.kinds:
            await self._refuse(interaction, f"No item kind {kind!r} is installed.")
            return
        values = {"placeholder": EXAMPLES.get(kind, "key = value")}
        await self._send_modal(
            interaction, f"catalog:{ADD}:{kind}", f"New {kind} item", values, True
        )

    async def _send_modal(
        self,
        interaction: discord.Interaction[Any],
        custom_id: str,
        title: str,
        values: Mapping[str, str],
        sku: bool,
    ) -> None:
        modal = render.item_modal(custom_id, title, values, sku=sku)
        await interaction.response.send_modal(modal)
        # The submit is handled from its custom id in `on_submit`, not by this object.
        modal.stop()

    async def on_submit(self, interaction: discord.Interaction[Any]) -> bool:
        """Handle a catalog form's submit; False when the modal is not one of ours."""
        data: dict[str, Any] = dict(interaction.data or {})
        parts = str(data.get("custom_id", "")).split(":", 2)
        if parts[0] != "catalog":
            return False
        if len(parts) != 3 or parts[1] not in {ADD, EDIT}:
            await self._refuse(interaction, "That form is out of date; open it again.")
            return True
        action, target = parts[1], parts[2]
        components = data.get("components", [])

        def value(key: str) -> str:
            return (modal_value(components, key) or "").strip()

        async def run() -> Reply:
            await self.admin._require_moderator(interaction)
            shop = await self.admin._definition(interaction)
            fields: dict[str, Any] = {
                "name": value("name"),
                "price": parse_price(value("price"), shop.currency, shop.locale),
                "description": value("description"),
            }
            options = parse_options(value("options"))
            if action == ADD:
                change = await self.shop.admin.add_item(
                    shop.shop_id, {"sku": value("sku"), "kind": target, **fields, **options}
                )
                what, told = f"added item {change.sku}", "is on sale now"
            else:
                sku, _, seen = target.rpartition(":")
                current = next((i for i in shop.profile.items if i.sku == sku), None)
                gone = _removed(current, options)
                # Checked by the store against the item as stored now, not as held here.
                change = await self.shop.admin.edit_item(
                    shop.shop_id, sku or target, {**fields, **options, **gone}, fingerprint=seen
                )
                what, told = f"edited item {change.sku}", "is changed"
            await self.audit(interaction, what, change.before, change.after)
            item = change.shop.catalog.require(change.sku)
            return Reply(
                done_embed(
                    f"{item.name} ({item.sku}, {item.price.format(change.shop.locale)}) {told}."
                )
            )

        await self.admin.replies.guard(interaction, run, mutating=True)
        return True

    # ---- setup ---------------------------------------------------------------------

    async def run_setup(
        self,
        interaction: discord.Interaction[Any],
        changes: Mapping[str, Any],
        *,
        moderator_role: discord.Role | None,
        moderator_action: str | None,
        tier: str | None,
        tier_role: discord.Role | None,
        gateways: str | None = None,
    ) -> None:
        """With no option, the setup as it is; else change it, audit, show it."""

        async def run() -> Reply:
            await self.admin._require_moderator(interaction)
            shop_id = self.admin._shop(interaction)
            given = {key: value for key, value in changes.items() if value is not None}
            if moderator_action is not None and moderator_role is None:
                raise Refusal("Give the moderator_role to add or remove.")
            offered = None if gateways is None else self._gateway_names(gateways)
            if (
                not given
                and moderator_role is None
                and tier is None
                and tier_role is None
                and offered is None
            ):
                return Reply(render.setup_embed(await self.shop.shops.get(shop_id)))
            removing = moderator_action == "remove"
            if moderator_role is not None and not removing:
                check_role_change(interaction, moderator_role, gives=False)
            if tier_role is not None:
                check_role_change(interaction, tier_role, gives=True)
            if "audit_channel_id" in given:
                require_manager(interaction, "where the shop's actions are audited")
            change = await self.shop.admin.setup(
                shop_id,
                **given,
                add_moderator_role=None
                if removing or moderator_role is None
                else moderator_role.id,
                remove_moderator_role=moderator_role.id if removing and moderator_role else None,
                tier=tier,
                tier_role_id=None if tier_role is None else tier_role.id,
                gateways=offered,
            )
            await self.audit(interaction, "changed the shop setup", change.before, change.after)
            moved_from = change.before.get("audit_channel_id")
            if moved_from is not None:
                # The old channel is told too: a move away from it is never silent.
                await self.audit(
                    interaction,
                    "changed the shop setup",
                    change.before,
                    change.after,
                    channel_id=moved_from,
                )
            note = "Saved."
            if change.currency_changed:
                note += (
                    f" Prices keep their numbers in minor units: 499 is now "
                    f"{change.shop.money(499).format(change.shop.locale)}. Check them with "
                    "/shopadmin catalog list and edit what should change."
                )
            return Reply(render.setup_embed(change.shop, note))

        await self.admin.replies.guard(interaction, run, mutating=True)

    # ---- helpers -------------------------------------------------------------------

    def _gateway_names(self, text: str) -> tuple[str, ...]:
        """`all`, or names of gateways this deployment enables (the operator's merchant
        accounts: a shop picks among them, never adds one)."""
        names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
        if names == ("all",):
            return ALL_GATEWAYS
        enabled = self.admin.bot.flow.gateways
        unknown = [name for name in names if name not in enabled]
        if unknown or not names:
            raise Refusal(
                f"Not a way of paying here: {', '.join(unknown) or text[:40]}. Name some of "
                f"{', '.join(enabled)}, comma-separated, or all."
            )
        return names

    async def audit(
        self,
        interaction: discord.Interaction[Any],
        what: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        *,
        channel_id: int | None = None,
    ) -> None:
        """Post the change, before and after, to the shop's audit channel (the one
        set now: a change of channel is posted to the new one), or to `channel_id`."""
        shop = await self.admin._definition(interaction)
        if channel_id is None and shop.profile.audit_channel_id is None:
            log.info("audit: %s %s: %s -> %s", interaction.user.id, what, before, after)
            return
        embed = render.change_audit_embed(interaction.user.id, what, before, after)
        await self.admin._post_audit(
            interaction, embed, f"{interaction.user.id} {what}", channel_id=channel_id
        )

    async def _refuse(self, interaction: discord.Interaction[Any], message: str) -> None:
        async def refuse() -> Reply:
            raise Refusal(message)

        await self.admin.replies.guard(interaction, refuse)


#: Permissions a role the bot hands out (a tier's role) must never carry: buying or
#: being granted time would make the member a server manager.
DANGEROUS = discord.Permissions(
    administrator=True,
    manage_guild=True,
    manage_roles=True,
    manage_channels=True,
    manage_webhooks=True,
    manage_messages=True,
    manage_nicknames=True,
    kick_members=True,
    ban_members=True,
    moderate_members=True,
    mention_everyone=True,
)


def require_manager(interaction: discord.Interaction[Any], what: str) -> None:
    """Some settings decide who runs the shop and who watches it: only members who can
    manage the server (as Discord signed the interaction) change them."""
    allowed = interaction.permissions
    if not (allowed.manage_guild or allowed.administrator):
        raise Refusal(f"Only members who can manage this server choose {what}.")


def check_role_change(
    interaction: discord.Interaction[Any], role: discord.Role, *, gives: bool
) -> None:
    """Who may point the shop at a role, and which roles it may use.

    Roles decide who runs the shop and what the bot hands out, so only members who
    manage the server (as Discord signed it: works without a guild cache) choose
    them, whatever the shop's own moderator roles say. @everyone and roles Discord
    manages (bots, boosts, integrations) are never the shop's; a tier's role, which
    the bot gives to whoever pays or is granted time, carries no moderation power.
    """
    require_manager(interaction, "the shop's roles (moderator roles and tier roles)")
    if role.is_default():
        raise Refusal("@everyone can't be one of the shop's roles.")
    if role.managed:
        raise Refusal(f"{role.name} is managed by Discord or a bot; choose another role.")
    if gives and (role.permissions.value & DANGEROUS.value):
        raise Refusal(
            f"{role.name} carries moderation permissions (manage, kick, ban, mention "
            "everyone...): the bot would hand them to whoever buys the tier. Use a role "
            "without them."
        )
    me = interaction.guild.me if interaction.guild is not None else None
    if gives and me is not None and role >= me.top_role:
        raise Refusal(
            f"{role.name} is above the bot's highest role, so the bot can't give it: move "
            "the bot's role above it, or choose a lower role."
        )


def _price_text(amount: int, shop: ShopDefinition) -> str:
    """A price as the edit form shows it: the number alone, in the shop's locale."""
    return major_units(shop.money(amount)).replace(".", get_decimal_symbol(shop.locale))


def _removed(current: ItemConfig | None, options: Mapping[str, Any]) -> dict[str, None]:
    """Options the form no longer lists: back to their defaults."""
    if current is None:
        return {}
    return {key: None for key in item_options(current) if key not in options}
