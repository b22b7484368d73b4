"""A shop's catalog and settings, changed by its moderators.

Every change goes through `ShopDirectory.change`, so it is checked like the file
(each kind checks its options, tiers exist...), lands on the shop's row with a new
version, and every process serves it within a second. Each change returns what was
there before and what is there after, as plain dicts, for the audit channel.

Refusals read as chat, not as paths into a file: a moderator typed the options into
a modal, so "stock: must be 0 or more", not "store.items[3].stock ...".

Orders never change here: they copied name, price and spec when they were placed.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from babel.numbers import NumberFormatError, get_currency_symbol, parse_decimal
from pydantic import ValidationError
from sqlalchemy import delete, select, update

from store.catalog import Catalog
from store.config import ItemConfig, TierConfig
from store.context import StoreContext
from store.db.engine import Conn
from store.db.schema import item_stock, memberships
from store.db.sql import insert_ignore
from store.effects import AddRole, Effect, RemoveRole
from store.errors import ConfigError, InvalidInput
from store.kinds.registry import load_kinds
from store.money import currency_digits
from store.outbox import store_effects
from store.shops import ShopDefinition, ShopProfile

#: Fields a modal has its own input for; options may not set them.
OWN_FIELDS = ("sku", "name", "price", "description", "kind")
#: `setup(gateways=ALL_GATEWAYS)`: offer every gateway the deployment enables.
ALL_GATEWAYS: tuple[str, ...] = ("*",)
#: Setup fields `setup` takes as they are stored.
SETUP_FIELDS = ("name", "currency", "locale", "point_value", "minimum_cash", "audit_channel_id")
_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")
_TIER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_LABELS = {
    "sku": "SKU",
    "name": "Name",
    "description": "Description",
    "price": "Price",
    "kind": "Kind",
    "image_url": "image_url",
}


@dataclass(frozen=True)
class ItemChange:
    """One item added, edited or retired: the entry before and after (None: absent)."""

    sku: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    shop: ShopDefinition


@dataclass(frozen=True)
class SetupChange:
    """The shop settings that changed, before and after (only those that changed)."""

    before: dict[str, Any]
    after: dict[str, Any]
    shop: ShopDefinition

    @property
    def currency_changed(self) -> bool:
        return "currency" in self.after


class ShopAdmin:
    """Moderators' changes to their shop's catalog and settings."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    # ---- the catalog -----------------------------------------------------------

    async def add_item(self, shop_id: int, fields: Mapping[str, Any]) -> ItemChange:
        """A new item on sale at once; its SKU must never have been used in this shop."""
        entry = _item(fields)

        def add(profile: ShopProfile) -> ShopProfile:
            if any(item.sku == entry.sku for item in profile.retired):
                raise InvalidInput(
                    f"The SKU {entry.sku!r} belonged to an item that was retired; a retired "
                    "SKU is never reused (old orders name it). Choose another SKU."
                )
            if profile.sku_taken(entry.sku):
                raise InvalidInput(
                    f"The shop already has an item with the SKU {entry.sku!r}; use "
                    "/shopadmin catalog edit to change it."
                )
            self._check(profile, entry)
            profile.items = [*profile.items, entry]
            return profile

        _, after = await self.ctx.shops.change(shop_id, add)
        return ItemChange(entry.sku, None, _plain(entry), after)

    async def edit_item(
        self,
        shop_id: int,
        sku: str,
        fields: Mapping[str, Any],
        *,
        fingerprint: str | None = None,
    ) -> ItemChange:
        """Change an item's name, price, description or options.

        Keys not in `fields` keep their value; a key given as None goes back to its
        default (an option removed). The SKU and kind never change: old orders and
        carts name the SKU, and a kind's options mean nothing to another kind.
        A new stock moves the units left by the difference; units sold stay sold.
        `fingerprint` is the `item_fingerprint` of the item as the moderator's form showed it:
        an item changed since (by anyone, through any process) is refused, not
        overwritten with the form's older values.
        """
        if "sku" in fields and fields["sku"] != sku:
            raise InvalidInput("An item's SKU can't change: retire it and add a new item instead.")
        seen: dict[str, ItemConfig] = {}

        def edit(profile: ShopProfile) -> ShopProfile:
            index, current = find_item(profile, sku)
            if fingerprint is not None and item_fingerprint(current) != fingerprint:
                raise InvalidInput(
                    f"{current.name} changed since this form was opened (another "
                    "moderator, or another form). Nothing was saved: open it again "
                    "with /shopadmin catalog edit."
                )
            if "kind" in fields and fields["kind"] != current.kind:
                raise InvalidInput(
                    f"An item's kind can't change ({sku!r} is a {current.kind} item): retire "
                    "it and add a new item instead."
                )
            merged = _stored(current)
            for key, value in fields.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            entry = _item(merged)
            if _plain(entry) == _plain(current):
                raise InvalidInput(f"{current.name} is already like that: nothing changed.")
            self._check(profile, entry)
            seen["before"], seen["after"] = current, entry
            items = list(profile.items)
            items[index] = entry
            profile.items = items
            return profile

        async def restock(conn: Conn, _: ShopDefinition, __: ShopDefinition) -> None:
            old, new = seen["before"], seen["after"]
            if old.stock != new.stock:
                await _restock(conn, shop_id, sku, old.stock, new.stock)

        _, after = await self.ctx.shops.change(shop_id, edit, then=restock)
        return ItemChange(sku, _plain(seen["before"]), _plain(seen["after"]), after)

    async def retire_item(self, shop_id: int, sku: str) -> ItemChange:
        """Take an item off sale for good; its SKU stays reserved."""
        seen: dict[str, ItemConfig] = {}

        def retire(profile: ShopProfile) -> ShopProfile:
            _, current = find_item(profile, sku)
            seen["before"] = current
            # Assigned, not appended: a field assigned is stored even if it was unset.
            profile.items = [item for item in profile.items if item.sku != sku]
            profile.retired = [*profile.retired, current]
            return profile

        _, after = await self.ctx.shops.change(shop_id, retire)
        return ItemChange(sku, _plain(seen["before"]), None, after)

    def _check(self, profile: ShopProfile, entry: ItemConfig) -> None:
        """The item as the shop would load it, refused in a moderator's words."""
        kinds = load_kinds(profile.tiers, self.ctx.shops.kinds)
        try:
            Catalog.from_items([entry], profile.currency, kinds)
        except ConfigError as exc:
            raise InvalidInput(_config_message(str(exc), entry.sku)) from exc

    # ---- settings ----------------------------------------------------------------

    async def setup(
        self,
        shop_id: int,
        *,
        name: str | None = None,
        currency: str | None = None,
        locale: str | None = None,
        point_value: int | None = None,
        minimum_cash: int | None = None,
        audit_channel_id: int | None = None,
        add_moderator_role: int | None = None,
        remove_moderator_role: int | None = None,
        tier: str | None = None,
        tier_role_id: int | None = None,
        gateways: Sequence[str] | None = None,
    ) -> SetupChange:
        """Change the shop's settings; what is left out stays.

        A new currency keeps every amount's number of minor units (prices, point
        value, minimum cash): nothing is converted, the moderator reviews the prices.
        A tier name not yet known creates the tier (default reminder days).
        `gateways` names the gateways checkout offers (the caller knows which exist);
        `ALL_GATEWAYS` offers every one the deployment enables.
        """
        given = {
            "name": name,
            "currency": currency,
            "locale": locale,
            "point_value": point_value,
            "minimum_cash": minimum_cash,
            "audit_channel_id": audit_channel_id,
        }
        plain = {key: value for key, value in given.items() if value is not None}
        if (tier is None) != (tier_role_id is None):
            raise InvalidInput("Give a tier and the role it gives together.")
        tier_name = None if tier is None else _tier_name(tier)
        if gateways is not None and not gateways:
            raise InvalidInput("Name at least one way of paying, or all.")
        offered = None if gateways is None or gateways == ALL_GATEWAYS else sorted(set(gateways))
        if (
            not plain
            and tier_name is None
            and gateways is None
            and not (add_moderator_role or remove_moderator_role)
        ):
            raise InvalidInput("Nothing to change: give at least one setting.")

        def change(profile: ShopProfile) -> ShopProfile:
            for key, value in plain.items():
                setattr(profile, key, value)
            roles = list(profile.moderator_role_ids)
            if add_moderator_role is not None:
                if add_moderator_role in roles:
                    raise InvalidInput(f"<@&{add_moderator_role}> is already a moderator role.")
                roles.append(add_moderator_role)
            if remove_moderator_role is not None:
                if remove_moderator_role not in roles:
                    raise InvalidInput(f"<@&{remove_moderator_role}> is not a moderator role.")
                roles.remove(remove_moderator_role)
            profile.moderator_role_ids = roles
            if gateways is not None:
                profile.gateways = offered
            if tier_name is not None:
                found = profile.tiers.get(tier_name)
                tier_config = (
                    TierConfig(role_id=tier_role_id)
                    if found is None
                    else found.model_copy(update={"role_id": tier_role_id})
                )
                profile.tiers = {**profile.tiers, tier_name: tier_config}
            return profile

        async def move_roles(conn: Conn, before: ShopDefinition, after: ShopDefinition) -> None:
            if tier_name is not None:
                await _move_tier_role(conn, shop_id, tier_name, before, after, self.ctx.now())

        before, after = await self.ctx.shops.change(shop_id, change, then=move_roles)
        old, new = setup_view(before.profile), setup_view(after.profile)
        changed = [key for key in new if new[key] != old.get(key)]
        return SetupChange(
            {key: old.get(key) for key in changed}, {key: new[key] for key in changed}, after
        )


async def _move_tier_role(
    conn: Conn,
    shop_id: int,
    tier: str,
    before: ShopDefinition,
    after: ShopDefinition,
    now: datetime,
) -> None:
    """A tier now gives another role: members holding its time swap the old role for
    the new one (through the outbox, with the change), so nobody keeps a role the shop
    no longer manages, and expiry removes the role they hold."""
    old = before.tiers.get(tier)
    old_role = None if old is None else old.role_id
    new_role = after.tiers[tier].role_id
    if old_role == new_role:
        return
    holders = (
        await conn.execute(
            select(memberships.c.member_id)
            .where(memberships.c.shop_id == shop_id, memberships.c.tier == tier)
            .where(memberships.c.permanent.is_(True) | (memberships.c.expires_at > now))
        )
    ).scalars()
    effects: list[Effect] = []
    for member_id in holders:
        if old_role is not None:
            effects.append(RemoveRole(member_id=int(member_id), tier=tier, role_id=old_role))
        if new_role is not None:
            effects.append(AddRole(member_id=int(member_id), tier=tier, role_id=new_role))
    if effects:
        await store_effects(conn, effects, order_id=None, now=now, shop_id=shop_id)


def item_fingerprint(item: ItemConfig) -> str:
    """The item as an edit form showed it, short enough for the form's custom id."""
    stored = json.dumps(_plain(item), sort_keys=True)
    return hashlib.sha256(stored.encode()).hexdigest()[:12]


def setup_view(profile: ShopProfile) -> dict[str, Any]:
    """The settings a moderator sees and changes, flat, for the audit."""
    view: dict[str, Any] = {key: getattr(profile, key) for key in SETUP_FIELDS}
    view["moderator_role_ids"] = list(profile.moderator_role_ids)
    view["gateways"] = "all" if profile.gateways is None else ", ".join(profile.gateways)
    for name, tier in profile.tiers.items():
        view[f"tier {name} role"] = tier.role_id
    return view


# ---- text from modals ---------------------------------------------------------------


def parse_price(text: str, currency: str, locale: str, *, zero: bool = False) -> int:
    """A price as a moderator types it ("4.99", "4,99" in de_DE, "$4.99"), in minor units;
    zero only where `zero` allows it (a coupon's minimum order of nothing)."""
    cleaned = text.strip()
    for mark in {currency, get_currency_symbol(currency, locale), get_currency_symbol(currency)}:
        cleaned = cleaned.replace(mark, "")
    cleaned = cleaned.replace("\xa0", "").replace(" ", "")
    if not cleaned:
        raise InvalidInput(f"Give a price, e.g. {_example(currency)}.")
    value = _decimal(cleaned, locale)
    if value is None:
        raise InvalidInput(f"{text.strip()!r} is not a price; write it like {_example(currency)}.")
    digits = currency_digits(currency)
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        places = f"{digits} decimal place{'s' if digits != 1 else ''}" if digits else "no decimals"
        raise InvalidInput(f"{currency} prices have {places}; {text.strip()!r} has more.")
    if minor < 0 or (minor == 0 and not zero):
        raise InvalidInput("The price must be more than zero.")
    return int(minor)


def _decimal(text: str, locale: str) -> Decimal | None:
    """The number in the shop's locale first, else with a decimal point: "4.99" works
    in de_DE too, where "4,99" is the usual way."""
    for where in (locale, "en_US"):
        try:
            return Decimal(parse_decimal(text, locale=where, strict=True))
        except (NumberFormatError, ValueError, ArithmeticError):
            continue
    return None


def _example(currency: str) -> str:
    digits = currency_digits(currency)
    return "5" if not digits else "4." + "9" * digits


def parse_options(text: str) -> dict[str, Any]:
    """One ``key = value`` a line; the value read as TOML (``"paid"``, ``3``, ``true``,
    ``2026-12-01T00:00:00Z``), else taken as written (``tier = paid``)."""
    options: dict[str, Any] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = (part.strip() for part in line.partition("="))
        where = f"Options line {number} ({_shown(line)})"
        if not sep or not value:
            raise InvalidInput(f"{where}: write it as key = value, e.g. months = 1.")
        if not _KEY.match(key):
            raise InvalidInput(f"{where}: {key!r} is not an option name.")
        if key in OWN_FIELDS:
            raise InvalidInput(f"{where}: {key} has its own field in the form, not an option.")
        if key in options:
            raise InvalidInput(f"{where}: {key} is given twice.")
        options[key] = _value(value)
    return options


def _value(text: str) -> Any:
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    if isinstance(value, date) and not isinstance(value, datetime):
        # A bare date is the start of that day in UTC (an item's sale window opens then;
        # a coupon's expiry date, read elsewhere, lasts to that day's end).
        return datetime.combine(value, time(), tzinfo=UTC)
    return value


def item_options(item: ItemConfig) -> dict[str, Any]:
    """What was set on the item besides the fields a form has its own input for."""
    return {key: value for key, value in _stored(item).items() if key not in OWN_FIELDS}


def options_text(item: ItemConfig) -> str:
    """The item's options as `parse_options` reads them back: the edit form's prefill
    (common options at their default left out: an item from the file has them all set)."""
    fields = ItemConfig.model_fields
    return "\n".join(
        f"{key} = {_toml(value)}"
        for key, value in item_options(item).items()
        if value is not None and not (key in fields and fields[key].default == value)
    )


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _shown(line: str) -> str:
    return line if len(line) <= 60 else line[:59] + "…"


# ---- helpers -----------------------------------------------------------------------


def _tier_name(text: str) -> str:
    name = text.strip().lower()
    if not _TIER.match(name):
        raise InvalidInput(
            f"{text!r} can't be a tier name: use up to 32 lower-case letters, digits, '-' or '_'."
        )
    return name


def find_item(profile: ShopProfile, sku: str) -> tuple[int, ItemConfig]:
    """The item on sale with `sku` and its place; refused, saying why, for any other."""
    for index, item in enumerate(profile.items):
        if item.sku == sku:
            return index, item
    if any(item.sku == sku for item in profile.retired):
        raise InvalidInput(f"{sku!r} was retired; a retired item stays retired.")
    raise InvalidInput(f"The shop has no item {sku!r}.")


def _stored(item: ItemConfig) -> dict[str, Any]:
    """What was set on the item (the row keeps only that), in Python values."""
    return item.model_dump(exclude_unset=True)


def _plain(item: ItemConfig) -> dict[str, Any]:
    """The item as the audit shows it: JSON values, only what was set."""
    return item.model_dump(mode="json", exclude_unset=True)


def _item(fields: Mapping[str, Any]) -> ItemConfig:
    try:
        return ItemConfig.model_validate(dict(fields))
    except ValidationError as exc:
        raise InvalidInput(_validation_message(exc)) from exc


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        if key == "sku" and error["type"] in {
            "string_pattern_mismatch",
            "string_too_long",
            "string_too_short",
        }:
            message = (
                "use 1 to 40 lower-case letters, digits, '-', '_' or '.', starting with a "
                "letter or digit (e.g. vip-1m)"
            )
        elif error["type"] == "missing":
            message = "is required"
        parts.append(f"{_LABELS.get(key, key)}: {message}" if key else message)
    return "; ".join(parts)


_CONFIG = re.compile(
    r"^store\.items\[\d+\](?:\.(?P<key>\w+))?: (?P<message>.*?)(?: \(item '.*'\))?$"
)


def _config_message(text: str, sku: str) -> str:
    """A catalog load error ("store.items[3].stock: ... (item 'x')") as chat."""
    found = _CONFIG.match(text)
    if found is None:
        return text
    key, message = found.group("key"), found.group("message")
    return f"{key}: {message}" if key else message


async def _restock(conn: Conn, shop_id: int, sku: str, old: int | None, new: int | None) -> None:
    """Units left follow a stock edit, in the change's unit of work; a shop where the
    item never sold has no row (it starts from the configured stock on its first sale).
    A stock below the units already sold is refused: they are sold."""
    where = (item_stock.c.shop_id == shop_id) & (item_stock.c.sku == sku)
    if new is None:
        await conn.execute(delete(item_stock).where(where))
        return
    # The row exists from here on (seeded with the stock it had), so a checkout in a
    # process still holding the old catalog takes units from it, never seeds anew.
    await insert_ignore(
        conn,
        item_stock,
        {"shop_id": shop_id, "sku": sku, "remaining": new if old is None else old},
        conflict=["shop_id", "sku"],
    )
    if old is None:
        return
    # Relative, and only if it stays covered: a checkout taking units meanwhile (its
    # row lock on PostgreSQL, the writer lock on SQLite) is counted, never overwritten.
    moved = await conn.execute(
        update(item_stock)
        .where(where, item_stock.c.remaining + (new - old) >= 0)
        .values(remaining=item_stock.c.remaining + (new - old))
    )
    if not moved.rowcount:
        left = (await conn.execute(select(item_stock.c.remaining).where(where))).scalar_one()
        sold = old - int(left)
        raise InvalidInput(
            f"{sold} unit(s) are already sold or held by checkouts, so the stock can't be "
            f"less than {sold}. Nothing changed."
        )
