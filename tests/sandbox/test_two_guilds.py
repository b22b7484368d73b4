"""The sandbox's two guilds: each its own shop, through the same API the page uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.sandbox.runtime import sandbox as running_sandbox
from bot.settings import SandboxSettings
from tests.sandbox.conftest import Sandbox, _free_port, sandbox_settings

pytestmark = pytest.mark.asyncio


def _guilds(sb: Sandbox) -> tuple[str, str]:
    layout = sb.app.layout
    return str(layout.first.id), str(layout.second.id)


async def _command(
    sb: Sandbox, who: str, guild: str, command: str, *path: str, **options: Any
) -> Any:
    status, body = await sb.post(
        "/sandbox/api/commands",
        {
            "member": str(sb.members[who]),
            "guild": guild,
            "command": command,
            "path": list(path),
            "options": options,
        },
    )
    assert status == 200 and body["result"]["ok"], body
    return body["result"]["message"]


def _shop_text(message: dict[str, Any]) -> str:
    """The /shop message's description and every select option's label and price."""
    options = [
        f"{o['value']} {o.get('description', '')}"
        for row in message["components"]
        for c in row.get("components", [])
        for o in c.get("options", [])
    ]
    return "\n".join([message["embeds"][0]["description"], *options])


async def test_state_lists_both_guilds_each_with_its_own_members_and_channels(
    sandbox: Sandbox,
) -> None:
    """Two guilds to switch between; bob is only in the first, carla only in the second."""
    first, second = _guilds(sandbox)
    _, one = await sandbox.get("/sandbox/api/state")
    _, two = await sandbox.get(f"/sandbox/api/state?guild={second}")
    assert [g["id"] for g in one["guilds"]] == [first, second] == [g["id"] for g in two["guilds"]]
    assert (one["guild"]["id"], two["guild"]["id"]) == (first, second)
    assert {m["name"] for m in one["members"]} == {"alice", "bob", "mod"}
    assert {m["name"] for m in two["members"]} == {"alice", "carla", "mod"}
    assert {c["id"] for c in one["channels"]}.isdisjoint(c["id"] for c in two["channels"])
    assert any(m["moderator"] for m in two["members"])


async def test_each_guilds_shop_has_its_own_currency_and_catalog(sandbox: Sandbox) -> None:
    """/shop in the first guild is the file's (USD, ten items); in the second, EUR and three."""
    first, second = _guilds(sandbox)
    one = await _command(sandbox, "alice", first, "shop")
    two = await _command(sandbox, "alice", second, "shop")
    assert one["embeds"][0]["title"] == "Storefront"
    assert two["embeds"][0]["title"] == "Sandbox Café"
    assert "$3.00" in _shop_text(one) and "€" not in _shop_text(one)
    assert "3,00\xa0€" in _shop_text(two) and "$" not in _shop_text(two)
    assert "paid-2m" in _shop_text(one) and "paid-2m" not in _shop_text(two)
    _, state = await sandbox.get(f"/sandbox/api/state?guild={second}")
    assert state["shop"] == {"name": "Sandbox Café", "currency": "EUR", "locale": "de_DE"}


async def test_a_cart_in_one_guild_is_not_in_the_other(sandbox: Sandbox) -> None:
    """alice's cart in the first guild stays there; her cart in the second is empty."""
    first, second = _guilds(sandbox)
    await _command(sandbox, "alice", first, "cart", "add", item="points-100", quantity=2)
    carts = sandbox.app.bot.shop.carts
    alice = sandbox.members["alice"]
    assert (await carts.view(int(first), alice)).item_count == 2
    assert (await carts.view(int(second), alice)).item_count == 0
    view = await _command(sandbox, "alice", second, "cart", "view")
    assert "100 points" not in str(view["embeds"])


async def test_a_moderators_audit_post_goes_to_their_guilds_audit_channel(
    sandbox: Sandbox,
) -> None:
    """A grant in the second guild is posted to its #shop-audit, not to the first's."""
    _, second = _guilds(sandbox)
    await _command(
        sandbox, "mod", second, "shopadmin", "points", "grant",
        member=str(sandbox.members["carla"]), amount=50, reason="Café opening",
    )  # fmt: skip
    layout, mod = sandbox.app.layout, sandbox.members["mod"]

    async def audit(channel_id: int) -> str:
        status, body = await sandbox.get(
            f"/sandbox/api/channels/{channel_id}/messages?member={mod}"
        )
        assert status == 200, body
        return str(body["messages"])

    assert "Café opening" in await audit(layout.second.audit.id)
    assert "Café opening" not in await audit(layout.first.audit.id)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"member": "carla"}, 404, "carla is not a member of Storefront Sandbox"),
        ({"member": "alice", "guild": "123"}, 404, "no sandbox guild with id 123"),
        ({"member": "alice", "guild": "first", "channel": "second"}, 400, "not in Storefront"),
    ],
)
async def test_a_request_naming_the_wrong_guild_is_refused(
    sandbox: Sandbox, body: dict[str, str], status: int, error: str
) -> None:
    """A member outside the guild, an unknown guild or another guild's channel: a 4xx."""
    first, second = _guilds(sandbox)
    ids = {"first": first, "second": second}
    request: dict[str, Any] = {"member": str(sandbox.members[body["member"]]), "command": "shop"}
    if "guild" in body:
        request["guild"] = ids.get(body["guild"], body["guild"])
    if "channel" in body:
        request["channel"] = str(sandbox.app.layout.second.general.id)
    got, answer = await sandbox.post("/sandbox/api/commands", request)
    assert got == status and error in answer["error"]
    assert sandbox.app.harness.world.channel_messages(sandbox.app.layout.first.general.id) == []


async def test_a_restart_keeps_the_second_shop_as_a_moderator_left_it(tmp_path: Path) -> None:
    """Set up once: a change made to the second shop survives the next start."""
    port = _free_port()
    settings = sandbox_settings(tmp_path / "sandbox.db", port)
    async with running_sandbox(settings) as running:
        second = running.layout.second.id
        await running.front.shop.shops.change(
            second, lambda p: p.model_copy(update={"name": "Renamed by a moderator"})
        )
    async with running_sandbox(settings) as running:
        shop = await running.front.shop.shops.get(second)
        assert (shop.name, shop.currency) == ("Renamed by a moderator", "EUR")


async def test_guild_ids_too_close_for_their_roles_and_channels_are_refused() -> None:
    """The second guild's derived ids would collide with the first's: a clear error."""
    with pytest.raises(ValidationError, match="at least 1000 apart"):
        SandboxSettings(guild_id=5_000, second_guild_id=5_100)
