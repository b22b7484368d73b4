"""The second sandbox guild's shop: visibly not the first's.

The first guild's shop is the configuration file's, as in a single-shop deployment.
The second starts as the file's too (every new guild's shop does); at sandbox start,
while it still is, it is changed the way a moderator would change it from Discord
(`ShopDirectory.change`): its own name, currency and locale, a smaller catalog, and
its own guild's roles and audit channel. Once changed it is a managed shop, so later
edits of the file, or of `[sandbox]`'s second_guild_*, no longer reach it, exactly as for
any shop run from Discord.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.world import SandboxGuild
from bot.settings import SandboxSettings
from store.config import ItemConfig
from store.errors import InvalidInput
from store.shops import ShopDefinition, ShopDirectory, ShopProfile

#: ShopProfile.name's limit; a guild's name may be longer.
_NAME_MAX = 80


async def set_up_second_shop(
    shops: ShopDirectory, guild: SandboxGuild, config: SandboxSettings
) -> ShopDefinition:
    """Make the guild's shop its own unless it already is; returns the shop as served."""
    current = await shops.get(guild.id)
    if current.profile != shops.template.profile:
        return current  # changed before (by a moderator or an earlier start): keep it
    try:
        _, after = await shops.change(
            guild.id, lambda profile: second_profile(profile, guild, config)
        )
    except InvalidInput:
        # Another process starting at the same time set it up first: serve its change.
        await shops.refresh()
        return await shops.get(guild.id)
    return after


def second_profile(
    profile: ShopProfile, guild: SandboxGuild, config: SandboxSettings
) -> ShopProfile:
    """The file's shop made the second guild's: EUR and de_DE by default, and only the
    first item of each kind and tier (three of the example catalog's ten), prices kept
    as written (so 300 is 3,00 € there and $3.00 in the first guild)."""
    data: dict[str, Any] = profile.stored()
    data["name"] = config.second_guild_name[:_NAME_MAX]
    data["currency"] = config.second_guild_currency
    data["locale"] = config.second_guild_locale
    data["items"] = [_stored(item) for item in smaller_catalog(profile.items)]
    for tier, stored_tier in data.get("tiers", {}).items():
        if tier in guild.tier_roles:
            stored_tier["role_id"] = guild.tier_roles[tier]
    data["moderator_role_ids"] = [guild.moderator_role.id]
    data["audit_channel_id"] = guild.audit.id
    return ShopProfile.model_validate(data)


def smaller_catalog(items: list[ItemConfig]) -> list[ItemConfig]:
    """The first item of each kind and tier, in the catalog's order."""
    first: dict[tuple[str, Any], ItemConfig] = {}
    for item in items:
        first.setdefault((item.kind, item.kind_options().get("tier")), item)
    return list(first.values())


def _stored(item: ItemConfig) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude_unset=True)
