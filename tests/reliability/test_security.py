"""Security: forged moderator claims, secrets in logs, other members' carts and orders."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from bot import cli
from bot.settings import load_settings
from bot.testing import InteractionResult
from bot.testing import payloads as discord_payloads
from bot.testing.records import APPLICATION_COMMAND
from store.db.engine import Database
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
    (("review",), {}),
    (("resolve",), {"order_id": 1, "action": "fulfil", "reason": "me"}),
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


SECRETS = {
    "token": "MTIz.every-secret-discord-token.0xC0FFEE",
    "fake": "fake-secret-current-0xF00D",
    "fake_old": "fake-secret-previous-0xBEAD",
    "db_user": "pg-userinfo-password-0xD00D",
    "db_query": "pg-query-password-0xFACE",
    "stripe_key": "sk_test_every_secret_key_0xCAFE",
    "stripe_hook": "whsec_every_secret_current_0xBABE",
    "stripe_old": "whsec_every_secret_previous_0xDEAD",
}


def _with_passwords(url: str) -> str:
    """The test database's URL carrying a password in the userinfo and one in the query.

    The local PostgreSQL trusts every local connection, so both reach the driver
    (asyncpg takes ``?password=``) and the flow still runs.
    """
    parsed = make_url(url).set(password=SECRETS["db_user"])
    parsed = parsed.update_query_dict({"password": SECRETS["db_query"]})
    return parsed.render_as_string(hide_password=False)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(message)s %(exc_text)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _assert_no_secret(text: str) -> None:
    leaked = [name for name, secret in SECRETS.items() if secret in text]
    assert leaked == []


@pytest.mark.asyncio
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_every_secret_stays_out_of_debug_logs_of_a_full_flow_and_repr(
    database: Database, database_url: str
) -> None:
    """A purchase and a forged webhook at DEBUG, on a URL with two passwords: nothing shown."""
    url = _with_passwords(database_url)

    def every_secret(data: dict[str, Any]) -> None:
        data["database"]["url"] = url
        data["discord"]["token"] = SECRETS["token"]
        data["payments"]["fake"]["webhook_secret"] = SECRETS["fake"]
        data["payments"]["fake"]["previous_webhook_secrets"] = [SECRETS["fake_old"]]

    keep = _Keep()
    root = logging.getLogger()
    level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        async with build_shopfront(url, FakeClock(), every_secret) as front:
            shown = [repr(front.bot.settings), str(front.bot.settings)]
            await front.harness.slash(front.alice, "cart", "add", options={"item": "points-100"})
            checkout = await front.harness.slash(front.alice, "checkout")
            session_id = checkout.components[0]["components"][0]["url"].rsplit("/", 1)[-1]
            await front.bot.gateway.perform(session_id, "pay")  # type: ignore[attr-defined]
            await front.bot.gateway.drain()  # type: ignore[attr-defined]
            await front.effects_delivered()
            account = await front.bot.shop.accounts.account(front.guild_id, front.alice.id)
            assert account.points == 100  # the flow really ran on the password-carrying URL
            async with front.http.post(
                f"{front.url}/webhooks/fake", data=b"{}", headers={"Fake-Signature": "t=1,v1=00"}
            ) as response:
                assert response.status == 400
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    assert len(keep.lines) > 5  # the whole flow was logged (the search below is not vacuous)
    _assert_no_secret("\n".join([*keep.lines, *shown]))


def test_every_secret_stays_out_of_check_config_the_run_banner_and_repr(
    postgres_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """check-config, run --dry-run (which connects), db current and an error: all masked."""
    url = _with_passwords(postgres_database)
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "STOREFRONT_DATABASE__URL": url,
        "STOREFRONT_DISCORD__TOKEN": SECRETS["token"],
        "STOREFRONT_PAYMENTS__FAKE__ALLOW_WITH_DISCORD": "true",
        "STOREFRONT_PAYMENTS__FAKE__WEBHOOK_SECRET": SECRETS["fake"],
        "STOREFRONT_PAYMENTS__FAKE__PREVIOUS_WEBHOOK_SECRETS": f'["{SECRETS["fake_old"]}"]',
        "STOREFRONT_PAYMENTS__STRIPE__API_KEY": SECRETS["stripe_key"],
        "STOREFRONT_PAYMENTS__STRIPE__WEBHOOK_SECRET": SECRETS["stripe_hook"],
        "STOREFRONT_PAYMENTS__STRIPE__PREVIOUS_WEBHOOK_SECRETS": f'["{SECRETS["stripe_old"]}"]',
    }.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    outputs: list[str] = []
    for argv in (["check-config"], ["run", "--dry-run"], ["db", "current"]):
        assert cli.main(argv) == 0, argv
        outputs.extend(capsys.readouterr())
    shown = [repr(load_settings()), str(load_settings().masked())]
    monkeypatch.setenv("STOREFRONT_PAYMENTS__GATEWAY", "stripe")
    assert cli.main(["check-config"]) == 0
    outputs.extend(capsys.readouterr())
    shown.append(repr(load_settings()))
    monkeypatch.setenv("STOREFRONT_DATABASE__POOL_SIZE", "not a number")
    assert cli.main(["run", "--dry-run"]) == 2
    outputs.extend(capsys.readouterr())

    check_config, banner = outputs[0], outputs[2]
    assert 'token = "********"' in check_config
    assert ":********@" in check_config and "password=********" in check_config
    assert "password=********" in banner  # the banner shows the (masked) URL
    _assert_no_secret("\n".join([*outputs, *shown]))
