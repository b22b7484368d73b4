"""The sandbox's JSON API: what the page uses, scriptable, and strict about bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.sandbox.conftest import Sandbox

pytestmark = pytest.mark.asyncio


async def _command(sb: Sandbox, member: str, command: str, *path: str, **options: Any) -> Any:
    status, body = await sb.post(
        "/sandbox/api/commands",
        {
            "member": str(sb.members[member]),
            "command": command,
            "path": list(path),
            "options": options,
        },
    )
    assert status == 200, body
    return body["result"]


async def _cart_items(sb: Sandbox, member: str) -> int:
    shop = sb.app.bot.shop
    return (await shop.carts.view(sb.app.layout.guild.id, sb.members[member])).item_count


async def test_state_lists_members_channels_and_the_bots_commands(sandbox: Sandbox) -> None:
    """Two members and a moderator, the general and audit channels, the real command tree."""
    status, state = await sandbox.get("/sandbox/api/state")
    assert status == 200
    members = {m["name"]: m for m in state["members"]}
    assert {"alice", "bob"} <= set(members) and any(m["moderator"] for m in members.values())
    assert [c["name"] for c in state["channels"]] == ["general", "shop-audit"]
    assert {c["name"] for c in state["commands"]} >= {"shop", "cart", "checkout", "shopadmin"}


async def test_a_command_answers_with_the_bots_message(sandbox: Sandbox) -> None:
    """/shop as alice returns the ephemeral catalog message, visible only to her."""
    result = await _command(sandbox, "alice", "shop")
    assert result["ok"] and result["message"]["ephemeral"]
    assert result["message"]["embeds"][0]["title"] == "Storefront"
    alice = sandbox.members["alice"]
    general = sandbox.app.layout.general.id
    _, mine = await sandbox.get(f"/sandbox/api/channels/{general}/messages?member={alice}")
    _, bobs = await sandbox.get(
        f"/sandbox/api/channels/{general}/messages?member={sandbox.members['bob']}"
    )
    assert len(mine["messages"]) == 1 and bobs["messages"] == []


async def test_typed_options_and_members_reach_the_bot(sandbox: Sandbox) -> None:
    """Quantity as text and a member id for 'for' become a typed gift line."""
    await _command(
        sandbox,
        "alice",
        "cart",
        "add",
        item="points-100",
        quantity="2",
        **{"for": str(sandbox.members["bob"]), "anonymous": True},
    )
    cart = await sandbox.app.bot.shop.carts.view(
        sandbox.app.layout.guild.id, sandbox.members["alice"]
    )
    [line] = cart.lines
    assert (line.quantity, line.recipient_id, line.anonymous) == (2, sandbox.members["bob"], True)


async def test_buttons_selects_and_modals_through_the_api(sandbox: Sandbox) -> None:
    """Gift… → user select → anonymous → modal: the gift is in the cart."""
    alice, bob = str(sandbox.members["alice"]), str(sandbox.members["bob"])
    item = await _command(sandbox, "alice", "item", item="points-500")
    status, body = await sandbox.post(
        "/sandbox/api/components",
        {"member": alice, "message_id": item["message"]["id"], "custom_id": "shop:gift:points-500"},
    )
    ask = body["result"]["message"]
    status, body = await sandbox.post(
        "/sandbox/api/components",
        {
            "member": alice,
            "message_id": ask["id"],
            "custom_id": "gift:to:points-500",
            "values": [bob],
        },
    )
    options = body["result"]["message"]
    status, body = await sandbox.post(
        "/sandbox/api/components",
        {
            "member": alice,
            "message_id": options["id"],
            "custom_id": f"gift:note:points-500:{bob}:1",
        },
    )
    modal = body["result"]["modal"]
    assert modal["title"] == "Gift note"
    status, body = await sandbox.post(
        "/sandbox/api/modals", {"member": alice, "modal_id": modal["id"], "values": {"note": "hi"}}
    )
    assert status == 200 and body["result"]["message"]["embeds"][0]["title"] == "Added to your cart"
    assert await _cart_items(sandbox, "alice") == 1


async def test_autocomplete_is_answered_by_the_bot(sandbox: Sandbox) -> None:
    """Typing in /item's option returns the bot's choices."""
    status, body = await sandbox.post(
        "/sandbox/api/autocomplete",
        {
            "member": str(sandbox.members["alice"]),
            "command": "item",
            "focused": "item",
            "options": {"item": "seed"},
        },
    )
    assert status == 200 and [c["value"] for c in body["choices"]] == ["seed"]


BAD_REQUESTS: list[tuple[str, Any, int, str]] = [
    ("/sandbox/api/commands", {"member": "1", "command": "shop"}, 404, "no sandbox member"),
    ("/sandbox/api/commands", {"member": "alice!", "command": "shop"}, 400, "must be an id"),
    ("/sandbox/api/commands", {"member": "@alice", "command": "nope"}, 404, "unknown command"),
    ("/sandbox/api/commands", {"member": "@alice", "command": "cart"}, 400, "needs a subcommand"),
    (
        "/sandbox/api/commands",
        {
            "member": "@alice",
            "command": "cart",
            "path": ["add"],
            "options": {"item": "paid-1m", "colour": "red"},
        },
        400,
        "no option",
    ),
    (
        "/sandbox/api/commands",
        {"member": "@alice", "command": "cart", "path": ["add"], "options": {"quantity": 1}},
        400,
        "would not send",
    ),
    (
        "/sandbox/api/commands",
        {
            "member": "@alice",
            "command": "cart",
            "path": ["add"],
            "options": {"item": "paid-1m", "quantity": "lots"},
        },
        400,
        "right kind",
    ),
    (
        "/sandbox/api/commands",
        {
            "member": "@alice",
            "command": "cart",
            "path": ["add"],
            "options": {"item": "paid-1m", "quantity": 5000},
        },
        400,
        "would not send",
    ),
    ("/sandbox/api/commands", [1, 2], 400, "JSON object"),
    (
        "/sandbox/api/components",
        {"member": "@alice", "message_id": "1", "custom_id": "x"},
        404,
        "no such message",
    ),
    (
        "/sandbox/api/modals",
        {"member": "@alice", "modal_id": "1", "values": {}},
        404,
        "no such modal",
    ),
    ("/sandbox/api/autocomplete", {"member": "@alice", "command": "item"}, 400, "focused"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), BAD_REQUESTS)
async def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    sandbox: Sandbox, path: str, body: Any, status: int, message: str
) -> None:
    """Unknown member or command, malformed payloads: a message, and no state change."""
    if isinstance(body, dict) and body.get("member") == "@alice":
        body = {**body, "member": str(sandbox.members["alice"])}
    before = len(sandbox.app.harness.world.messages)
    got_status, got = await sandbox.post(path, body)
    assert (got_status, message in got["error"]) == (status, True), got
    assert len(sandbox.app.harness.world.messages) == before
    assert await _cart_items(sandbox, "alice") == 0


async def test_malformed_json_is_refused(sandbox: Sandbox) -> None:
    """A body that is not JSON is a 400 with a message."""
    async with sandbox.http.post(
        f"{sandbox.url}/sandbox/api/commands",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert "JSON" in (await response.json())["error"]


def _add_to_cart(sb: Sandbox) -> bytes:
    return json.dumps(
        {
            "member": str(sb.members["alice"]),
            "command": "cart",
            "path": ["add"],
            "options": {"item": "paid-1m"},
        }
    ).encode()


CROSS_SITE = [
    ("https://evil.example", "application/json", 403),
    ("null", "application/json", 403),
    ("http://127.0.0.1.evil.example", "application/json", 403),
    (None, "text/plain", 415),
    (None, "application/x-www-form-urlencoded", 415),
    (None, None, 415),
]


@pytest.mark.parametrize(("origin", "content_type", "status"), CROSS_SITE)
async def test_other_sites_and_other_bodies_are_refused_and_change_nothing(
    sandbox: Sandbox, origin: str | None, content_type: str | None, status: int
) -> None:
    """A foreign Origin gets 403, a body that is not JSON 415; no message, no cart line."""
    headers = {"Origin": origin} if origin else {}
    if content_type:
        headers["Content-Type"] = content_type
    before = len(sandbox.app.harness.world.messages)
    async with sandbox.http.post(
        f"{sandbox.url}/sandbox/api/commands", data=_add_to_cart(sandbox), headers=headers
    ) as response:
        assert response.status == status
        assert (await response.json())["error"]
    assert len(sandbox.app.harness.world.messages) == before
    assert await _cart_items(sandbox, "alice") == 0


async def test_reads_from_another_site_are_refused(sandbox: Sandbox) -> None:
    """Another site's script gets 403 for the state and for a member's DMs."""
    alice = sandbox.members["alice"]
    for path in ("/sandbox/api/state", f"/sandbox/api/members/{alice}/dms"):
        async with sandbox.http.get(
            f"{sandbox.url}{path}", headers={"Origin": "https://evil.example"}
        ) as response:
            assert response.status == 403


@pytest.mark.parametrize(
    "origin", ["{url}", "http://localhost:{port}", "HTTP://127.0.0.1:{port}"], ids=str
)
async def test_the_apps_own_origin_is_served(sandbox: Sandbox, origin: str) -> None:
    """The page's own origin (public URL or the host it was opened at) works."""
    port = sandbox.url.rsplit(":", 1)[1]
    own = origin.format(url=sandbox.url, port=port)
    async with sandbox.http.post(
        f"{sandbox.url}/sandbox/api/commands",
        data=_add_to_cart(sandbox),
        headers={
            "Origin": own,
            "Content-Type": "application/json",
            "Host": own.split("://", 1)[1],
        },
    ) as response:
        assert response.status == 200, await response.text()
    assert await _cart_items(sandbox, "alice") == 1


async def test_a_body_that_is_not_utf8_is_a_400(sandbox: Sandbox) -> None:
    """Latin-1 bytes labelled JSON are refused with a message, not a server error."""
    body = '{"member": "1", "command": "caf\u00e9"}'.encode("latin-1")
    async with sandbox.http.post(
        f"{sandbox.url}/sandbox/api/commands",
        data=body,
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert "UTF-8" in (await response.json())["error"]
    assert await _cart_items(sandbox, "alice") == 0


async def test_a_member_cannot_press_another_members_private_message(sandbox: Sandbox) -> None:
    """Bob can't see or use the buttons on Alice's ephemeral reply."""
    item = await _command(sandbox, "alice", "item", item="paid-1m")
    status, _ = await sandbox.post(
        "/sandbox/api/components",
        {
            "member": str(sandbox.members["bob"]),
            "message_id": item["message"]["id"],
            "custom_id": "shop:add:paid-1m",
        },
    )
    assert status == 404
    assert await _cart_items(sandbox, "bob") == 0 and await _cart_items(sandbox, "alice") == 0


async def test_only_moderators_read_the_audit_channel(sandbox: Sandbox) -> None:
    """The audit channel is refused to a member, open to the moderator."""
    audit = sandbox.app.layout.audit.id
    status, _ = await sandbox.get(
        f"/sandbox/api/channels/{audit}/messages?member={sandbox.members['alice']}"
    )
    assert status == 403
    moderator = next(name for name in sandbox.members if name not in {"alice", "bob"})
    status, body = await sandbox.get(
        f"/sandbox/api/channels/{audit}/messages?member={sandbox.members[moderator]}"
    )
    assert status == 200 and body == {"messages": []}


async def test_paying_in_the_sandbox_delivers_dms_and_the_role(sandbox: Sandbox) -> None:
    """Checkout → the fake gateway's page → pay: the receipt DM and the role appear."""
    alice = sandbox.members["alice"]
    await _command(sandbox, "alice", "cart", "add", item="paid-1m")
    checkout = await _command(sandbox, "alice", "checkout")
    [pay] = [c for row in checkout["message"]["components"] for c in row["components"]]
    async with sandbox.http.post(f"{pay['url'].replace('/checkout/', '/sessions/')}/pay") as paid:
        assert paid.status == 200
    await sandbox.app.bot.gateway.drain()  # type: ignore[attr-defined]
    for _ in range(200):
        _, dms = await sandbox.get(f"/sandbox/api/members/{alice}/dms")
        if dms["messages"]:
            break
        await asyncio.sleep(0.02)
    assert dms["messages"][0]["embeds"][0]["title"].startswith("🧾 Receipt for order")
    _, state = await sandbox.get("/sandbox/api/state")
    roles = next(m["roles"] for m in state["members"] if m["name"] == "alice")
    assert "Paid" in [r["name"] for r in roles]


@pytest.mark.parametrize("sandbox", [{"gift_note_max": 1000}], indirect=True, ids=["notes-1000"])
async def test_a_disabled_button_cannot_be_pressed_through_the_api(sandbox: Sandbox) -> None:
    """◀ on the first page of a long cart is disabled: 400, and the cart view is unchanged."""
    for index in range(25):
        await sandbox.slash(
            "alice",
            "cart",
            "add",
            item="points-100",
            note=f"{index:02d} " + "x" * 997,
            **{"for": str(sandbox.members["bob"])},
        )
    view = (await sandbox.slash("alice", "cart", "view"))["message"]
    [previous] = [
        c for row in view["components"] for c in row["components"] if c.get("label") == "◀ Previous"
    ]
    assert previous["disabled"]
    status, body = await sandbox.post(
        "/sandbox/api/components",
        {
            "member": str(sandbox.members["alice"]),
            "message_id": view["id"],
            "custom_id": previous["custom_id"],
        },
    )
    assert status == 400 and "disabled" in body["error"]
    message = sandbox.app.harness.world.messages[int(view["id"])]
    assert message.embeds == view["embeds"]
