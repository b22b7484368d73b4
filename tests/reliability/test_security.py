"""Security: forged moderator claims, secrets in logs, other members' carts and orders."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot import cli
from bot.testing import InteractionResult
from bot.testing import payloads as discord_payloads
from bot.testing.records import APPLICATION_COMMAND
from tests.bot.conftest import Shopfront
from tests.reliability.conftest import build_shopfront
from tests.support import FakeClock

TOKEN = "MTIzNDU2Nzg5.reliability-discord-token.secret"
WEBHOOK_SECRET = "whsec-reliability-fake-secret-0xBEEF"
EVERY_PERMISSION = str((1 << 50) - 1)  # Administrator and everything else


@pytest_asyncio.fixture
async def front(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Shopfront]:
    path = tmp_path / "shop.db"
    shutil.copyfile(sqlite_template, path)

    def secrets(data: dict[str, Any]) -> None:
        data["discord"]["token"] = TOKEN
        data["payments"]["fake"]["webhook_secret"] = WEBHOOK_SECRET

    async with build_shopfront(f"sqlite+aiosqlite:///{path}", FakeClock(), secrets) as shopfront:
        yield shopfront


ADMIN_CALLS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("points", "grant"), {"amount": 5, "reason": "me"}),
    (("points", "revoke"), {"amount": 5, "reason": "me"}),
    (("time", "grant"), {"tier": "paid", "reason": "me", "days": 1}),
    (("time", "revoke"), {"tier": "paid", "reason": "me", "everything": True}),
    (("account",), {}),
    (("order",), {"order_id": 1}),
    (("refund",), {"order_id": 1, "reason": "me"}),
    (("panel",), {}),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "options"), ADMIN_CALLS)
async def test_forged_administrator_permissions_do_not_make_a_moderator(
    front: Shopfront, path: tuple[str, ...], options: dict[str, Any]
) -> None:
    """The payload claims Administrator for alice; she holds no moderator role: refused."""
    if path[0] in {"points", "time", "account"}:
        options = {"member": front.alice, **options}
    world = front.world
    channel = world.guild.channel("general")
    data = front.harness.commands.build(
        "shopadmin", path, options, guild_id=front.guild_id, user_id=front.alice.id
    )
    interaction_id = world.new_id()
    result = InteractionResult(
        id=interaction_id,
        token=f"itoken-{interaction_id}",
        type=APPLICATION_COMMAND,
        user_id=front.alice.id,
        channel_id=channel.id,
        guild_id=front.guild_id,
        name="forged shopadmin",
        world=world,
    )
    result.payload = discord_payloads.interaction_payload(
        world,
        interaction_id=interaction_id,
        token=result.token,
        type=APPLICATION_COMMAND,
        user=front.alice.user,
        channel=channel,
        data=data,
    )
    result.payload["member"]["permissions"] = EVERY_PERMISSION
    await front.harness.send(result)
    assert result.ephemeral
    assert result.embed["description"] == "Only the shop's moderators can do that."
    assert front.audit_posts() == []
    account = await front.bot.shop.accounts.account(front.guild_id, front.alice.id)
    assert account.points == 0


@pytest.mark.asyncio
async def test_no_secret_in_any_log_line_or_check_config_output(
    front: Shopfront,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A whole purchase, a forged webhook and check-config, logged at DEBUG: no secret."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s %(exc_text)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        await front.harness.slash(front.alice, "cart", "add", options={"item": "points-100"})
        checkout = await front.harness.slash(front.alice, "checkout")
        session_id = checkout.components[0]["components"][0]["url"].rsplit("/", 1)[-1]
        await front.bot.gateway.perform(session_id, "pay")  # type: ignore[attr-defined]
        await front.bot.gateway.drain()  # type: ignore[attr-defined]
        await front.effects_delivered()
        async with front.http.post(
            f"{front.url}/webhooks/fake", data=b"{}", headers={"Fake-Signature": "t=1,v1=00"}
        ) as response:
            assert response.status == 400
        await front.harness.slash(
            front.bob, "shopadmin", "account", options={"member": front.alice}
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    monkeypatch.setenv("STOREFRONT_DISCORD__TOKEN", TOKEN)
    monkeypatch.setenv("STOREFRONT_PAYMENTS__STRIPE__API_KEY", "sk_live_reliability_key_123")
    monkeypatch.setenv("STOREFRONT_PAYMENTS__STRIPE__WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("STOREFRONT_PAYMENTS__GATEWAY", "stripe")
    capsys.readouterr()
    assert cli.main(["check-config"]) == 0
    out, err = capsys.readouterr()
    monkeypatch.setenv("STOREFRONT_DATABASE__POOL_SIZE", "not a number")
    assert cli.main(["check-config"]) == 2
    out2, err2 = capsys.readouterr()
    text = "\n".join([*records, out, err, out2, err2])
    assert len(records) > 5  # the whole flow was logged (the search below is not vacuous)
    for secret in (TOKEN, WEBHOOK_SECRET, "sk_live_reliability_key_123"):
        assert secret not in text
    print(f"log lines searched {len(records)}, check-config output {len(out)} characters")


@pytest.mark.asyncio
async def test_a_member_cannot_touch_another_members_cart_or_order(front: Shopfront) -> None:
    """Bob pressing alice's cart buttons, or asking for her order, gets a refusal."""
    await front.harness.slash(front.alice, "cart", "add", options={"item": "paid-1m"})
    before = await front.bot.shop.carts.view(front.guild_id, front.alice.id)
    alice = str(front.alice.id)
    [line] = before.lines
    for custom_id in (
        f"cart:clear:{alice}",
        f"cart:checkout:{alice}",
        f"cart:points:{alice}",
        f"cart:remove:{line.id}",
    ):
        message = front.world.post_message(
            front.world.guild.channel("general"),
            components=[
                {
                    "type": 1,
                    "components": [{"type": 2, "style": 1, "label": "?", "custom_id": custom_id}],
                }
            ],
        )
        result = await front.harness.press(front.bob, message, custom_id)
        assert result.ephemeral and result.embed["title"] == "Can't do that", custom_id
    after = await front.bot.shop.carts.view(front.guild_id, front.alice.id)
    assert after == before
    assert await front.bot.shop.orders.recent(front.guild_id, front.alice.id) == []
    checkout = await front.harness.slash(front.alice, "checkout")
    assert checkout.ephemeral
    [order] = await front.bot.shop.orders.recent(front.guild_id, front.alice.id)
    bobs = await front.harness.slash(front.bob, "account")
    assert f"#{order.id}" not in str(bobs.embed)
    refused = await front.harness.slash(
        front.bob, "shopadmin", "order", options={"order_id": order.id}
    )
    assert refused.embed["description"] == "Only the shop's moderators can do that."
