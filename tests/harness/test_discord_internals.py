"""Fails loudly when a discord.py internal the harness relies on moves (pinned >=2.7,<2.8)."""

from __future__ import annotations

import inspect

import discord
from discord.http import HTTPClient, Route
from discord.state import ConnectionState
from discord.webhook.async_ import AsyncWebhookAdapter


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_parsers_have_the_events_the_harness_feeds() -> None:
    """ConnectionState builds parsers keyed by the gateway event names the harness uses."""
    state = ConnectionState(
        dispatch=lambda *a: None,
        handlers={},
        hooks={},
        http=HTTPClient(loop=None),  # type: ignore[arg-type]
        intents=discord.Intents.default(),
    )
    for event in (
        "READY",
        "GUILD_CREATE",
        "INTERACTION_CREATE",
        "GUILD_MEMBER_ADD",
        "GUILD_MEMBER_REMOVE",
    ):
        assert callable(state.parsers[event])
    assert hasattr(state, "guild_ready_timeout")


def test_http_client_request_signature() -> None:
    """HTTPClient.request(route, *, files, form, **kwargs) is what the instance shadow mimics."""
    assert _parameters(HTTPClient.request) == ["self", "route", "files", "form", "kwargs"]


def test_webhook_adapter_request_signature() -> None:
    """AsyncWebhookAdapter.request's keywords are what the class-level patch accepts."""
    assert _parameters(AsyncWebhookAdapter.request) == [
        "self",
        "route",
        "session",
        "payload",
        "multipart",
        "proxy",
        "proxy_auth",
        "files",
        "reason",
        "auth_token",
        "params",
    ]


def test_route_keeps_its_template_and_webhook_fields() -> None:
    """Route.path stays the unformatted template the fake dispatches on; url is filled in."""
    route = Route("POST", "/webhooks/{webhook_id}/{webhook_token}", webhook_id=1, webhook_token="t")
    assert route.path == "/webhooks/{webhook_id}/{webhook_token}"
    assert route.url == Route.BASE + "/webhooks/1/t"
    assert (route.webhook_id, route.webhook_token) == (1, "t")


def test_http_session_attribute_name() -> None:
    """Interactions read the aiohttp session from this mangled name; the harness does too."""
    assert "self.__session" in inspect.getsource(HTTPClient.__init__)
    source = inspect.getsource(discord.Interaction.__init__)
    assert "_HTTPClient__session" in source


def test_dispatch_task_names() -> None:
    """The task names the harness settles on are still those discord.py gives its tasks."""
    from discord import client as client_module
    from discord.app_commands import tree
    from discord.ui import modal, view

    assert "name='CommandTree-invoker'" in inspect.getsource(tree.CommandTree._from_interaction)
    view_source = inspect.getsource(view)
    assert "discord-ui-view-dispatch-" in view_source
    assert "discord-ui-dynamic-item-" in view_source
    assert "discord-ui-modal-dispatch-" in inspect.getsource(modal)
    assert "name=f'discord.py: {event_name}'" in inspect.getsource(
        client_module.Client._schedule_event
    )


def test_callback_response_is_parsed_from_interaction_and_resource() -> None:
    """Since 2.5 the callback answer is read as {"interaction": ..., "resource": ...}."""
    source = inspect.getsource(discord.InteractionCallbackResponse._update)
    assert "data['interaction']" in source and "data.get('resource')" in source
