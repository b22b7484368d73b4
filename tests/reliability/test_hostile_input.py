"""Hostile and malformed input: fuzzed interactions, webhooks and configuration files.

Hypothesis generates the inputs; each is sent through the real bot (offline harness)
or the real web app. The bot must answer every interaction privately and clearly,
never crash, and change nothing when it refuses.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import tomllib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Row, select
from sqlalchemy.util.typing import TupleAny

from bot import cli
from bot.settings import defaults_text
from bot.testing import InteractionResult
from bot.testing import payloads as discord_payloads
from bot.testing.records import APPLICATION_COMMAND, AUTOCOMPLETE
from payments import signing
from store.db.engine import Conn
from store.db.schema import metadata, payment_events
from tests.bot.conftest import Shopfront
from tests.reliability.conftest import FailureLog, Scale, build_shopfront
from tests.store.helpers import NOT_SHOP_STATE
from tests.support import FakeClock

NASTY = [
    "@everyone",
    "@here",
    "<@&1>",
    "<@1>",
    "<@!1>",
    "**bold** __u__ ~~s~~ ||spoiler||",
    "```\ncode```",
    "> quote\n# heading",
    "\u202eevil\u202c",
    "\u200b\u200d\ufeff",
    "𝕦𝕟𝕚𝕔𝕠𝕕𝕖 🏳️‍🌈 ﷽",
    "\x00\x01\x7f",
    "'; DROP TABLE carts; --",
    "%s %d {0} {name}",
    "../../etc/passwd",
]
ODD_TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=120),
    st.text(min_size=2000, max_size=6000, alphabet=st.characters(codec="utf-8")),
)
ODD_VALUE = st.one_of(
    ODD_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**53 + 1, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
ROUTES = [
    "shop:pick",
    "shop:cart",
    "shop:add",
    "shop:gift",
    "shop:kind",
    "shop:page",
    "gift:to",
    "gift:note",
    "cart:remove",
    "cart:clear",
    "cart:checkout",
    "cart:points",
    "cart:page",
    "cart:coupon",
    "cart:uncoupon",
    "catalog:pick",
    "checkout:page",
    "checkout:via",
    "account:cancel",
    "account:order",
    "account:lines",
    "account:receipt",
    "sub:cancel",
    "sub:resume",
    "panel:browse",
    "panel:cart",
    "panel:checkout",
]
CUSTOM_ID = st.one_of(
    st.text(min_size=1, max_size=100),
    st.builds(
        lambda route, parts: ":".join([route, *parts])[:100],
        st.sampled_from(ROUTES),
        st.lists(st.one_of(st.text(max_size=20), st.integers().map(str)), max_size=4),
    ),
)
COMMANDS = [
    ("shop", ()),
    ("item", ()),
    ("cart", ("view",)),
    ("cart", ("add",)),
    ("cart", ("remove",)),
    ("cart", ("clear",)),
    ("checkout", ()),
    ("account", ()),
    ("shopadmin", ("points", "grant")),
    ("shopadmin", ("order",)),
    ("shopadmin", ("refund",)),
    ("shopadmin", ("setup",)),
    ("shopadmin", ("catalog", "retire")),
    ("shopadmin", ("coupon", "create")),
    ("cart", ("coupon",)),
]


def _collect(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """Let hypothesis generate `count` inputs (its edge cases first) for an async run."""
    found: list[Any] = []

    @settings(max_examples=count, database=None, deadline=None)
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


@pytest_asyncio.fixture
async def front(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Shopfront]:
    path = tmp_path / "shop.db"
    shutil.copyfile(sqlite_template, path)
    async with build_shopfront(f"sqlite+aiosqlite:///{path}", FakeClock()) as shopfront:
        yield shopfront


async def _state(front: Shopfront) -> dict[str, list[tuple[Any, ...]]]:
    async def every_row(conn: Conn) -> dict[str, list[tuple[Any, ...]]]:
        return {
            table.name: sorted(
                (tuple(map(str, row)) for row in (await conn.execute(select(table))).all()),
            )
            for table in metadata.sorted_tables
            # touched timestamps, audit posts, and the claim every interaction makes
            if table.name not in ("carts", "effects", *NOT_SHOP_STATE)
        }

    return await front.bot.database.read(every_row)


DISCORD_INT = 2**53  # integer options carry at most ±2^53


def _mutate_options(options: list[dict[str, Any]], values: list[Any]) -> None:
    """Bend each option's value: wrong scalar types, odd text, huge or negative numbers.

    Discord's gateway only ever carries scalars, a snowflake for user, role and channel
    options (discord.py itself cannot parse anything else there), and integers within
    ±2^53 for integer options, so that is what a hostile value may be.
    """
    for option in options:
        if "options" in option:
            _mutate_options(option["options"], values)
        elif values:
            value = values.pop()
            if isinstance(value, dict | list):
                value = json.dumps(value)
            if option.get("type") in (6, 7, 8, 9, 11):
                value = str(abs(hash(str(value))) % 10**19 or 1)
            elif option.get("type") == 4 and isinstance(value, int) and not isinstance(value, bool):
                value = max(-DISCORD_INT, min(DISCORD_INT, value))  # Discord's own bound
            option["value"] = value


def _base(front: Shopfront, name: str, path: tuple[str, ...]) -> dict[str, Any]:
    """Options that make a well-formed call of each command, before the fuzz bends them."""
    if name == "item" or (name, path) == ("cart", ("add",)):
        return {"item": "paid-1m"}
    if (name, path) == ("cart", ("remove",)):
        return {"line": 1}
    if path == ("points", "grant"):
        return {"member": front.bob, "amount": 5, "reason": "fuzz"}
    if path == ("order",):
        return {"order_id": 1}
    if path == ("refund",):
        return {"order_id": 1, "reason": "fuzz"}
    if path == ("catalog", "retire"):
        return {"item": "paid-1m"}
    if path == ("coupon", "create"):
        return {"code": "FUZZ10", "percent": 10}
    if (name, path) == ("cart", ("coupon",)):
        return {"code": "FUZZ10"}
    return {}


def _focus(options: list[dict[str, Any]], name: str, typed: str) -> None:
    for option in options:
        if "options" in option:
            _focus(option["options"], name, typed)
        elif option["name"] == name:
            option.update(value=typed, focused=True)


def _posted(front: Shopfront, component: dict[str, Any]) -> Any:
    """A message the bot sent alice earlier (say, before an upgrade) with this component."""
    message = front.world.post_message(
        front.world.guild.channel("general"), components=[{"type": 1, "components": [component]}]
    )
    message.ephemeral_to = front.alice.id
    message.flags = 64
    return message


def _interaction(front: Shopfront, kind: int, data: dict[str, Any]) -> InteractionResult:
    world = front.world
    user = front.alice.user
    channel = world.guild.channel("general")
    interaction_id = world.new_id()
    token = f"itoken-{interaction_id}"
    result = InteractionResult(
        id=interaction_id,
        token=token,
        type=kind,
        user_id=user.id,
        channel_id=channel.id,
        guild_id=channel.guild_id,
        name=f"fuzz-{kind}",
        world=world,
    )
    result.payload = discord_payloads.interaction_payload(
        world,
        interaction_id=interaction_id,
        token=token,
        type=kind,
        user=user,
        channel=channel,
        data=data,
    )
    return result


FUZZ_CASE = st.tuples(
    st.sampled_from(["command", "unknown-command", "component", "select", "modal", "autocomplete"]),
    st.sampled_from(COMMANDS),
    st.lists(ODD_VALUE, min_size=1, max_size=6),
    CUSTOM_ID,
    st.lists(ODD_TEXT, max_size=3),
)


@pytest.mark.asyncio
async def test_the_fuzzer_covers_every_component_route_the_bot_has(front: Shopfront) -> None:
    """A route added to the bot and not to ROUTES would go unfuzzed."""
    assert front.bot.router.keys() == set(ROUTES)


@pytest.mark.asyncio
async def test_fuzzed_interactions_always_get_a_private_answer(
    front: Shopfront, scale: Scale
) -> None:
    """Random commands, options, custom_ids and modals: an ephemeral answer, no crash, and
    a refusal changes nothing."""
    cases = _collect(FUZZ_CASE, scale.fuzz_examples)
    failures = FailureLog()
    logging.getLogger("bot").addHandler(failures)
    commands = front.harness.commands
    answered = refused = 0
    try:
        for kind, (name, path), values, custom_id, texts in cases:
            before = await _state(front)
            if kind in ("command", "unknown-command", "autocomplete"):
                if kind == "autocomplete":
                    name, path = ("item", ()) if len(values) % 2 else ("cart", ("add",))
                base = _base(front, name, path)
                data = commands.build(
                    name, path, base, guild_id=front.guild_id, user_id=front.alice.id
                )
                data = copy.deepcopy(data)
                if kind == "autocomplete":
                    # Discord sends what the member typed, as text, for the focused option.
                    typed = str(texts[0] if texts else values[0])[:100]
                    _focus(data["options"], "item", typed)
                    code = AUTOCOMPLETE
                else:
                    extra = [{"name": str(v)[:32], "type": 3, "value": v} for v in values[:2]]
                    data.setdefault("options", []).extend(extra if len(values) % 2 else [])
                    _mutate_options(data["options"], list(values))
                    code = APPLICATION_COMMAND
                if kind == "unknown-command":
                    data["name"] = str(texts[0] if texts else values[0])[:32] or "x"
                    data["id"] = str(front.world.new_id())
                result = _interaction(front, code, data)
                await front.harness.send(result, strict=False)
            elif kind == "component":
                message = _posted(
                    front, {"type": 2, "style": 1, "label": "?", "custom_id": custom_id}
                )
                result = await front.harness.press(front.alice, message, custom_id, strict=False)
            elif kind == "select":
                choices = list(dict.fromkeys(str(v)[:100] or "-" for v in values))
                select = {
                    "type": 3,
                    "custom_id": custom_id,
                    "options": [{"label": c, "value": c} for c in choices],
                }
                message = _posted(front, select)
                result = await front.harness.select(
                    front.alice, message, custom_id, choices[:1], strict=False
                )
            else:
                # The gift note, or a coupon code: the member's own dialogs, any text.
                typed = texts[0] if texts else str(values[0])
                opener, data = (
                    (f"gift:note:points-100:{front.bob.id}:0", {"note": typed[:200] or "-"})
                    if len(values) % 2
                    else (f"cart:coupon:{front.alice.id}", {"code": typed[:32].ljust(3, "-")})
                )
                message = _posted(front, {"type": 2, "style": 1, "label": "?", "custom_id": opener})
                source = await front.harness.press(front.alice, message, opener)
                assert source.modal is not None
                result = await front.harness.submit_modal(front.alice, source, data, strict=False)
            assert failures.records == [], [r.getMessage() for r in failures.records]
            if result.type == AUTOCOMPLETE:
                assert result.callback_type in (None, 8)  # an autocomplete may go unanswered
                continue
            assert result.acknowledged, (kind, data)
            final = result.final
            assert final is not None and final.ephemeral, (kind, data)
            answered += 1
            title = final.embeds[0].get("title") if final.embeds else None
            if title == "Can't do that":
                refused += 1
                assert await _state(front) == before, (kind, data)
    finally:
        logging.getLogger("bot").removeHandler(failures)
    print(f"interactions tried {len(cases)}, answered {answered}, refused {refused}")
    assert answered > 0


HEADER_TEXT = st.characters(min_codepoint=32, max_codepoint=126)  # what HTTP can carry
WEBHOOK_CASE = st.tuples(
    st.one_of(
        st.binary(max_size=2000),
        st.builds(lambda v: json.dumps(v).encode(), st.recursive(ODD_VALUE, st.lists)),
        st.builds(
            lambda event_id, amount: json.dumps(
                {
                    "id": event_id,
                    "type": "payment_succeeded",
                    "created": 0,
                    "data": {"session_id": "fs_x", "order_id": "1", "amount": amount},
                }
            ).encode(),
            st.text(max_size=20),
            ODD_VALUE,
        ),
    ),
    st.one_of(
        st.none(),
        st.text(HEADER_TEXT, max_size=200),
        st.builds(lambda t, s: f"t={t},v1={s}", st.integers(), st.text(HEADER_TEXT, max_size=80)),
    ),
    st.sampled_from(["sign-wrong-secret", "stale", "header", "none"]),
)


@pytest.mark.asyncio
async def test_fuzzed_webhooks_are_refused_and_store_nothing(
    front: Shopfront, scale: Scale
) -> None:
    """Random bodies and signature headers: 400 every time, no payment event stored."""
    cases = _collect(WEBHOOK_CASE, scale.webhook_examples)
    statuses: set[int] = set()
    for body, header, mode in cases:
        headers = {"Content-Type": "application/json"}
        if mode == "sign-wrong-secret":
            headers[signing.SIGNATURE_HEADER] = signing.sign(body, "not-the-secret", 1_800_000_000)
        elif mode == "stale":
            headers[signing.SIGNATURE_HEADER] = signing.sign(body, "test-secret", 1_000_000_000)
        elif mode == "header" and header is not None:
            headers[signing.SIGNATURE_HEADER] = header
        async with front.http.post(
            f"{front.url}/webhooks/fake", data=body, headers=headers
        ) as response:
            statuses.add(response.status)
            assert response.status == 400, (body[:80], headers)

    async def events(conn: Conn) -> Sequence[Row[*TupleAny]]:
        return (await conn.execute(select(payment_events))).all()

    stored = await front.bot.database.read(events)
    print(f"webhooks tried {len(cases)}, statuses {sorted(statuses)}, stored {len(stored)}")
    assert stored == []


@pytest.mark.asyncio
async def test_member_text_never_pings_and_cannot_break_the_layout(front: Shopfront) -> None:
    """A gift note full of mentions and markdown reaches the recipient shown, not acted on."""
    note = "@everyone @here <@&{role}> <@{bob}> **bold** ```x``` ||s|| > q"
    note = note.format(role=front.paid_role, bob=front.bob.id)
    result = await front.harness.slash(
        front.alice,
        "cart",
        "add",
        options={"item": "points-100", "for": front.bob, "note": note},
    )
    assert result.ephemeral
    view = await front.harness.slash(front.alice, "cart", "view")
    checkout = await front.harness.slash(front.alice, "checkout")
    session_id = checkout.components[0]["components"][0]["url"].rsplit("/", 1)[-1]
    await front.bot.gateway.perform(session_id, "pay")  # type: ignore[attr-defined]
    await front.bot.gateway.drain()  # type: ignore[attr-defined]
    await front.effects_delivered()
    shown = [
        field["value"].split("Note: ", 1)[-1]
        for message in [*front.world.dms(front.bob.id), view.final]
        if message is not None
        for embed in message.embeds
        for field in embed.get("fields", [])
        if "bold" in field["value"]
    ]
    assert len(shown) >= 2  # in the buyer's cart and in the recipient's gift notice
    for text in shown:
        assert "@everyone" not in text and "@here" not in text
        assert f"<@{front.bob.id}>" not in text and f"<@&{front.paid_role}>" not in text
        for mark in "*_`|~":
            for index, char in enumerate(text):
                if char == mark:
                    assert index > 0 and text[index - 1] in ("\\", mark), text
    sent = [call for call in front.harness.log if isinstance(call.json, dict)]
    bodies = [call.json.get("data", call.json) for call in sent]
    messages = [b for b in bodies if isinstance(b, dict) and ("embeds" in b or "content" in b)]
    assert messages
    for body in messages:
        mentions = body.get("allowed_mentions")
        assert mentions is not None and mentions.get("parse") == [], body
        assert not mentions.get("users") and not mentions.get("roles")


CONFIG_KEYS = [
    ("environment",),
    ("discord", "guild_ids"),
    ("discord", "moderator_role_ids"),
    ("discord", "cooldown_seconds"),
    ("discord", "audit_channel_id"),
    ("database", "url"),
    ("database", "pool_size"),
    ("database", "lock_timeout_ms"),
    ("web", "port"),
    ("web", "host"),
    ("web", "public_url"),
    ("payments", "gateway"),
    ("payments", "fake", "webhook_secret"),
    ("payments", "fake", "max_delivery_attempts"),
    ("store", "currency"),
    ("store", "point_value"),
    ("store", "minimum_cash"),
    ("store", "checkout_ttl_minutes"),
    ("store", "items"),
    ("memberships", "paid", "reminder_days"),
    ("memberships",),
    ("sandbox", "members"),
    ("workers", "reconcile_seconds"),
    ("workers", "outbox_seconds"),
    ("no_such_section",),
]
CONFIG_VALUE = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(
        st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(max_size=5)),
        max_size=3,
    ),
    st.dictionaries(st.sampled_from(["a", "sku", "price", "tier"]), st.integers(-5, 5), max_size=3),
)


def test_fuzzed_configuration_is_one_clear_error_never_a_traceback(
    tmp_path: Path, scale: Scale, capsys: pytest.CaptureFixture[str]
) -> None:
    """Wrong types and values anywhere: exit code 2 and `config error: key: …`, or valid."""
    cases = _collect(
        st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), CONFIG_VALUE), min_size=1, max_size=3),
        scale.config_examples,
    )
    path = tmp_path / "config.toml"
    outcomes = {0: 0, 2: 0}
    for changes in cases:
        data = tomllib.loads(defaults_text())
        for key, value in changes:
            node = data
            for part in key[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[key[-1]] = value
        path.write_text(cli.to_toml(data), encoding="utf-8")
        capsys.readouterr()
        code = cli.main(["check-config", "--config", str(path)])
        out, err = capsys.readouterr()
        assert code in outcomes, (changes, code, err)
        outcomes[code] += 1
        assert "Traceback" not in err and "Traceback" not in out
        if code == 2:
            lines = err.strip().splitlines()
            assert lines and all(line.startswith("config error: ") for line in lines), err
            assert all(": " in line.removeprefix("config error: ") for line in lines), err
    print(f"configurations tried {len(cases)}: valid {outcomes[0]}, refused {outcomes[2]}")
    assert outcomes[2] > 0
