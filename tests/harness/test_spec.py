"""Every request body is checked against Discord's own OpenAPI description of its route."""

from __future__ import annotations

import io
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.http import Route
from harness_toy_bot import ToyBot

from bot.testing import DiscordLimitError, FakeDiscord, FakeMember, FakeRest, offline, spec

CALLBACK = "POST /interactions/{webhook_id}/{webhook_token}/callback"
CREATE = "POST /channels/{channel_id}/messages"


def _described() -> spec.DiscordSpec:
    described = spec.load()
    assert described is not None, "jsonschema is a dev dependency: the spec must be checked"
    return described


def _problems(route: str, body: Any) -> list[str]:
    method, template = route.split(" ", 1)
    return _described().check(method, template, body)


def _select(options: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": 1, "components": [{"type": 3, "custom_id": "pick", "options": options}]}


def _reply(**data: Any) -> dict[str, Any]:
    return {"type": 4, "data": {"flags": 64, **data}}


@pytest.mark.parametrize(
    ("route", "body", "problem"),
    [
        (
            CALLBACK,
            _reply(components=[_select([])]),
            "data.components[0].components[0].options: 0 items, at least 1",
        ),
        (
            CALLBACK,
            _reply(embeds=[{"title": "x" * 257}]),
            "data.embeds[0].title: 257 characters, at most 256",
        ),
        (
            CALLBACK,
            _reply(embeds=[{"fields": [{"name": "n", "value": "v"}] * 26}]),
            "data.embeds[0].fields: 26 items, at most 25",
        ),
        (
            CALLBACK,
            _reply(components=[{"type": 1, "components": [{"type": 2, "label": "no style"}]}]),
            "data.components[0].components[0]: 'style' is a required property",
        ),
        (
            CALLBACK,
            _reply(
                components=[
                    {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "x" * 101}]}
                ]
            ),
            "data.components[0].components[0].custom_id: 101 characters, at most 100",
        ),
        (CALLBACK, {"type": 99}, "body: "),
        (
            CALLBACK,
            _reply(components=[{"type": 1, "components": [{"type": 99}]}]),
            "data.components[0].components[0]: ",
        ),
        (
            CALLBACK,
            _reply(components=[_select([{"label": "no value"}])]),
            "data.components[0].components[0].options[0]: 'value' is a required property",
        ),
        (CREATE, {"embeds": [{"title": "t"}] * 11}, "embeds: 11 items, at most 10"),
        (
            "POST /users/@me/channels",
            {"recipient_id": -1},
            "recipient_id: -1 is less than the minimum of 0",
        ),
        (
            "PUT /applications/{application_id}/commands",
            [{"name": "x", "description": "d" * 101}],
            "[0].description: 101 characters, at most 100",
        ),
    ],
)
def test_schema_refusal_names_the_path(route: str, body: Any, problem: str) -> None:
    """A body the schema refuses is reported with the path in the body that is wrong."""
    problems = _problems(route, body)
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize(
    ("route", "body"),
    [
        (
            CALLBACK,
            _reply(
                content="hello",
                embeds=[{"title": "t", "fields": [{"name": "n", "value": "v", "inline": True}]}],
                components=[
                    _select([{"label": "a", "value": "a"}]),
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "label": "Go", "custom_id": "go"},
                            {"type": 2, "style": 5, "label": "Pay", "url": "https://pay.invalid/"},
                        ],
                    },
                ],
            ),
        ),
        (CALLBACK, {"type": 5, "data": {"flags": 64}}),
        (CALLBACK, {"type": 8, "data": {"choices": [{"name": "Apple", "value": "apple"}]}}),
        (CREATE, {"content": "hi", "allowed_mentions": {"parse": []}}),
        ("POST /users/@me/channels", {"recipient_id": 123456789012345678}),
        ("POST /users/@me/channels", {"recipient_id": "123456789012345678"}),
    ],
)
def test_valid_body_passes(route: str, body: Any) -> None:
    """A body Discord accepts has no schema problem."""
    assert _problems(route, body) == []


def test_a_refused_body_is_refused_again_from_the_memo() -> None:
    """The second check of the same body gives the same problems (the memo keeps them)."""
    body = _reply(embeds=[{"title": "x" * 300}])
    assert _problems(CALLBACK, body) == _problems(CALLBACK, body) != []


def test_the_memo_tells_routes_apart() -> None:
    """A body valid for one route is still refused on a route whose schema refuses it."""
    body = {"content": "x" * 2001}
    assert _problems(CREATE, body) == []  # the description allows 4,000 on channel messages
    assert _problems(CALLBACK, {"type": 4, "data": body}) != []
    assert _problems("PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original", body)


def test_every_route_the_harness_answers_is_in_the_spec(world: FakeDiscord) -> None:
    """No route the bot can call escapes the schema: each one the fake answers is described."""
    from contextvars import ContextVar

    rest = FakeRest(world, ContextVar("unused", default=None))
    routes = [*rest.bot_routes, *rest.webhook_routes]
    missing = [f"{m} {p}" for m, p in routes if not _described().has_route(m, p)]
    assert routes and missing == []


def test_a_route_the_spec_lacks_fails_loudly() -> None:
    """A route outside Discord's description is an error, never skipped."""
    with pytest.raises(spec.UnknownRoute, match=r"POST /made/\{up\}"):
        _described().check("POST", "/made/{up}", {})


def _bot_with(command: app_commands.Command[Any, Any, Any]) -> ToyBot:
    bot = ToyBot()
    bot.tree.add_command(command)
    return bot


@app_commands.command(description="Replies with an over-long embed title")
async def longtitle(interaction: discord.Interaction) -> None:
    await interaction.response.send_message(embed=discord.Embed(title="x" * 300))


@app_commands.command(description="Sends a file with an over-long embed title")
async def longfile(interaction: discord.Interaction) -> None:
    file = discord.File(io.BytesIO(b"receipt"), filename="receipt.txt")
    await interaction.response.send_message(embed=discord.Embed(title="x" * 300), file=file)


@pytest.mark.asyncio
async def test_harness_checks_the_schema_by_default(world: FakeDiscord) -> None:
    """With the dev extras installed the harness validates every body (no silent off)."""
    async with offline(ToyBot(), world) as harness:
        assert harness.rest.spec is _described()


@pytest.mark.asyncio
@pytest.mark.allow_discord_errors
async def test_schema_check_can_be_turned_off(world: FakeDiscord, alice: FakeMember) -> None:
    """schema=False (a benchmark measuring the bot) sends the body on to the harness's limits."""
    async with offline(_bot_with(longtitle), world, schema=False) as harness:
        assert harness.rest.spec is None
        with pytest.raises(DiscordLimitError, match="title longer than 256"):
            await harness.slash(alice, "longtitle")


@pytest.mark.asyncio
@pytest.mark.allow_discord_errors
async def test_reply_refused_by_schema_fails_the_test(
    world: FakeDiscord, alice: FakeMember
) -> None:
    """A reply the schema refuses fails the interaction, naming the route and the path."""
    async with offline(_bot_with(longtitle), world) as harness:
        with pytest.raises(DiscordLimitError) as refused:
            await harness.slash(alice, "longtitle")
        [call] = harness.calls("POST", CALLBACK.split(" ", 1)[1])
        assert (call.status, call.error_code) == (400, 50035)
    expected = f"{CALLBACK}: data.embeds[0].title: 300 characters, at most 256"
    assert expected in str(refused.value)


@pytest.mark.asyncio
@pytest.mark.allow_discord_errors
async def test_multipart_payload_json_is_checked(world: FakeDiscord, alice: FakeMember) -> None:
    """A reply with a file has its payload_json checked like any JSON body."""
    async with offline(_bot_with(longfile), world) as harness:
        with pytest.raises(DiscordLimitError, match=r"data\.embeds\[0\]\.title: 300 characters"):
            await harness.slash(alice, "longfile")


@pytest.mark.asyncio
async def test_command_registration_is_checked(world: FakeDiscord) -> None:
    """Syncing the command tree sends a body the schema accepts (PUT .../commands is checked)."""
    async with offline(ToyBot(), world) as harness:
        await harness.client.tree.sync()
        [call] = harness.calls("PUT")
        assert call.status is None or call.status < 400
        assert _described().check("PUT", call.path, call.json) == []


@pytest.mark.asyncio
async def test_bot_rest_body_refused_by_schema_is_reported(world: FakeDiscord) -> None:
    """A bot-token request the schema refuses is answered 400 and recorded as a problem."""
    async with offline(ToyBot(), world) as harness:
        channel_id = world.guild.channel("general").id
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        with pytest.raises(discord.HTTPException):
            await harness.client.http.request(route, json={"embeds": [{"title": "t"}] * 11})
        [(_, text)] = harness.rest.unreported
        harness.rest.unreported.clear()
    assert text == f"{CREATE}: embeds: 11 items, at most 10"


@pytest.mark.asyncio
async def test_harness_route_missing_from_the_spec_is_a_problem(world: FakeDiscord) -> None:
    """A route the fake answers but Discord does not describe fails; it is never let through."""
    async with offline(ToyBot(), world) as harness:
        harness.rest.bot_routes[("POST", "/made/{up}")] = lambda call, _: {}
        with pytest.raises(discord.NotFound):
            await harness.client.http.request(Route("POST", "/made/{up}", up=1), json={})
        [(_, text)] = harness.rest.unreported
        harness.rest.unreported.clear()
    assert "POST /made/{up} is not in Discord's OpenAPI description" in text
