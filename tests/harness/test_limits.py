"""Discord's own limits, checked on the bodies the bot sends."""

from __future__ import annotations

from typing import Any

import pytest
from harness_toy_bot import ToyBot

from bot.testing import check_commands, check_tree
from bot.testing.limits import check_autocomplete, check_message, check_modal


def _button(custom_id: str, label: str = "ok") -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": label, "custom_id": custom_id}


def _row(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(children)}


def _embed(**fields: Any) -> dict[str, Any]:
    return {"type": "rich", **fields}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"content": "x" * 2001}, "content longer than 2000"),
        ({}, "empty message"),
        ({"embeds": [_embed(title="x" * 257)]}, "title longer than 256"),
        ({"embeds": [_embed(description="x" * 4097)]}, "description longer than 4096"),
        ({"embeds": [_embed(fields=[{"name": "n", "value": "v"}] * 26)]}, "at most 25"),
        ({"embeds": [_embed(fields=[{"name": "", "value": "v"}])]}, "name must be 1-256"),
        ({"embeds": [_embed(fields=[{"name": "n", "value": "x" * 1025}])]}, "value must be 1-1024"),
        (
            {"embeds": [_embed(description="x" * 4000), _embed(description="x" * 2001)]},
            "exceeds 6000",
        ),
        ({"embeds": [_embed(title="t")] * 11}, "at most 10 embeds"),
        ({"components": [_row(_button("x" * 101))]}, "custom_id must be 1-100"),
        ({"components": [_row(_button(""))]}, "custom_id must be 1-100"),
        ({"components": [_row(_button(f"b{i}")) for i in range(6)]}, "at most 5 action rows"),
        ({"components": [_row(*[_button(f"b{i}") for i in range(6)])]}, "at most 5 buttons"),
        ({"components": [_row(_button("a"), _button("a"))]}, "used twice"),
        (
            {
                "components": [
                    _row(
                        {
                            "type": 3,
                            "custom_id": "s",
                            "options": [{"label": str(i), "value": str(i)} for i in range(26)],
                        }
                    )
                ]
            },
            "1-25 options",
        ),
        (
            {
                "components": [
                    _row(
                        {
                            "type": 3,
                            "custom_id": "s",
                            "options": [{"label": "x" * 101, "value": "v"}],
                        }
                    )
                ]
            },
            "label must be 1-100",
        ),
    ],
)
def test_message_limit(body: dict[str, Any], problem: str) -> None:
    """A message body over one of Discord's limits is reported."""
    assert any(problem in p for p in check_message(body)), check_message(body)


def test_message_within_limits_passes() -> None:
    """A message at the limits is accepted."""
    body = {
        "content": "x" * 2000,
        "embeds": [_embed(title="t" * 256, fields=[{"name": "n", "value": "v" * 1024}] * 5)],
        "components": [_row(*[_button(f"b{i}" + "x" * 97) for i in range(5)])],
    }
    assert check_message(body) == []


@pytest.mark.parametrize(
    ("modal", "problem"),
    [
        (
            {
                "title": "x" * 46,
                "custom_id": "m",
                "components": [_row({"type": 4, "custom_id": "a", "label": "A"})],
            },
            "title",
        ),
        (
            {
                "title": "ok",
                "custom_id": "m" * 101,
                "components": [_row({"type": 4, "custom_id": "a", "label": "A"})],
            },
            "custom_id",
        ),
        ({"title": "ok", "custom_id": "m", "components": []}, "1-5 components"),
    ],
)
def test_modal_limit(modal: dict[str, Any], problem: str) -> None:
    """A modal over one of Discord's limits is reported."""
    assert any(problem in p for p in check_modal(modal))


@pytest.mark.parametrize(
    ("choices", "problem"),
    [
        ([{"name": str(i), "value": str(i)} for i in range(26)], "at most 25"),
        ([{"name": "", "value": "v"}], "name must be 1-100"),
        ([{"name": "x" * 101, "value": "v"}], "name must be 1-100"),
    ],
)
def test_autocomplete_limit(choices: list[dict[str, Any]], problem: str) -> None:
    """Autocomplete answers over Discord's limits are reported."""
    assert any(problem in p for p in check_autocomplete(choices))


def _command(**fields: Any) -> dict[str, Any]:
    return {"type": 1, "name": "cmd", "description": "does things", "options": [], **fields}


def _option(name: str, **fields: Any) -> dict[str, Any]:
    return {"type": 3, "name": name, "description": "an option", **fields}


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (_command(name="Cart"), "lower case"),
        (_command(name="cart add"), "must match"),
        (_command(name="x" * 33), "must match"),
        (_command(description=""), "description must be 1-100"),
        (_command(description="x" * 101), "description must be 1-100"),
        (_command(options=[_option(f"o{i}") for i in range(26)]), "at most 25"),
        (
            _command(options=[_option("a"), _option("b", required=True)]),
            "required options must come before",
        ),
        (
            _command(
                options=[_option("a", autocomplete=True, choices=[{"name": "x", "value": "x"}])]
            ),
            "choices and autocomplete",
        ),
        (
            _command(
                options=[
                    _option("a", choices=[{"name": str(i), "value": str(i)} for i in range(26)])
                ]
            ),
            "at most 25 choices",
        ),
        (
            _command(options=[{"type": 1, "name": "Sub", "description": "d", "options": []}]),
            "lower case",
        ),
    ],
)
def test_command_limit(command: dict[str, Any], problem: str) -> None:
    """A command payload Discord would refuse at sync is reported."""
    assert any(problem in p for p in check_commands([command]))


def test_duplicate_command_names_are_reported() -> None:
    """Two commands of one type with one name are refused."""
    assert check_commands([_command(), _command()])


def test_toy_bot_tree_is_valid() -> None:
    """The toy bot's command payloads pass, built offline without a login or a loop."""
    assert check_tree(ToyBot().tree) == []
