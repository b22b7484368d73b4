"""Checks each request body the bot sends against Discord's own OpenAPI description.

The harness's hand-written limits (``limits.py``) only know what someone thought to write down;
Discord's published schema knows every field, type and length it enforces. Together they catch
a reply Discord would refuse with 400 before a member ever sees "This interaction failed".

The schema is ``data/discord-openapi.json``, copied unchanged from the public repository
discord/discord-api-spec (``specs/openapi.json``, commit 74fda0f of 2026-07-18, by
Discord Inc., MIT licence); where it is stricter than the API itself, it is adjusted in memory,
each change with its reason (``_as_discord_accepts``). It is 1 MB, so it is read on first use
and each route's validator is built once and cached. ``jsonschema`` (with ``referencing`` for
the ``$ref`` s) is a development dependency: without it ``load()`` returns None and the harness
checks only its own limits.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("data") / "discord-openapi.json"
_BASE_URI = "urn:discord-api-spec:openapi.json"
_TEMPLATE_SLOT = re.compile(r"\{[^}]*\}")
#: Distinct valid-or-not bodies remembered; the memo is dropped whole when full.
_SEEN_MAX = 4096


def _shape(template: str) -> str:
    """Path templates match whatever their slots are called ({webhook_id} = {interaction_id})."""
    return _TEMPLATE_SLOT.sub("{}", template)


def _pointer_part(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


class UnknownRoute(LookupError):
    """The bot called a route Discord's description does not have."""


class DiscordSpec:
    """Discord's OpenAPI description: route lookup and one cached validator per route."""

    def __init__(self, document: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
        from referencing import Registry
        from referencing.jsonschema import DRAFT202012

        self._validator_class = Draft202012Validator
        document = _as_discord_accepts(document)
        resource = DRAFT202012.create_resource(document)
        self._registry: Registry[Any] = Registry().with_resource(_BASE_URI, resource)
        self._operations: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if isinstance(operation, dict) and "responses" in operation:
                    self._operations[(method.upper(), _shape(path))] = (path, operation)
        self._validators: dict[tuple[str, str], tuple[Any, bool]] = {}
        self._seen: dict[bytes, list[str]] = {}

    def has_route(self, method: str, template: str) -> bool:
        return (method, _shape(template)) in self._operations

    def check(self, method: str, template: str, body: Any) -> list[str]:
        """What Discord's schema refuses in ``body`` (empty when valid), each with its path."""
        key = (method, template)
        found = self._validators.get(key)
        if found is None:
            found = self._validators[key] = self._validator(method, template)
        validator, required = found
        if body is None:
            return ["body: a request body is required"] if required else []
        if validator is None:
            return ["body: this route takes no request body"]
        # Replies repeat (the same menu, the same refusal): validate each distinct body once.
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        digest = hashlib.blake2b(f"{method} {template} {text}".encode(), digest_size=16).digest()
        problems = self._seen.get(digest)
        if problems is None:
            problems = [
                f"{_where(error)}: {_describe(error)}"
                for error in _sorted(validator.iter_errors(body))
                for error in _leaves(error)
            ]
            if len(self._seen) >= _SEEN_MAX:
                self._seen.clear()
            self._seen[digest] = problems
        return list(problems)

    def _validator(self, method: str, template: str) -> tuple[Any, bool]:
        found = self._operations.get((method, _shape(template)))
        if found is None:
            raise UnknownRoute(f"{method} {template} is not in Discord's OpenAPI description")
        path, operation = found
        request = operation.get("requestBody") or {}
        if "application/json" not in (request.get("content") or {}):
            return None, False
        pointer = "/".join(
            (
                "#/paths",
                _pointer_part(path),
                method.lower(),
                "requestBody/content/application~1json",
            )
        )
        reference = {"$ref": f"{_BASE_URI}{pointer}/schema"}
        validator = self._validator_class(reference, registry=self._registry)
        return validator, bool(request.get("required"))


def _as_discord_accepts(document: dict[str, Any]) -> dict[str, Any]:
    """Where the description is stricter than Discord's API, say what the API accepts.

    Each change names its reason; anything else the description refuses, Discord refuses too.
    - ``SnowflakeType`` is a decimal string, but Discord reads an integer snowflake in a request
      body as well, and discord.py sends integers (``recipient_id`` of ``POST
      /users/@me/channels``, for one). A negative or non-integer number is still refused.
    - Every ``oneOf`` becomes ``anyOf``. Its branches are kinds told apart by ``type`` (or
      "X or null"), so no valid body matches two; but ``oneOf`` must try every branch of every
      nested union to prove it, which made a full cart reply take 35 ms instead of 12. A body
      that fits no branch is refused as before. (The description itself writes most unions as
      ``anyOf`` with ``x-discord-union: oneOf``.)
    - A union of object kinds told apart by ``type`` (components, interaction callbacks) is
      checked by picking the branch for the body's ``type`` (an ``if``/``then`` chain) instead
      of trying every branch: a branch for another ``type`` never matches anyway. A body whose
      ``type`` fits no branch meets the original union, and is refused as before.
    """
    document = _one_of_as_any_of(document)
    document = _unions_by_type(document, document["components"]["schemas"])
    schemas = dict(document["components"]["schemas"])
    schemas["SnowflakeType"] = {
        "anyOf": [schemas["SnowflakeType"], {"type": "integer", "minimum": 0}],
    }
    components = {**document["components"], "schemas": schemas}
    return {**document, "components": components}


def _one_of_as_any_of(node: Any) -> Any:
    if isinstance(node, list):
        return [_one_of_as_any_of(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        "anyOf" if key == "oneOf" and isinstance(value, list) else key: _one_of_as_any_of(value)
        for key, value in node.items()
    }


_SCHEMA_REF = "#/components/schemas/"


def _kinds(branch: Any, schemas: dict[str, Any]) -> list[Any] | None:
    """The ``type`` values a union branch takes, when it is an object told apart by them."""
    ref = branch.get("$ref", "") if isinstance(branch, dict) else ""
    if len(branch) != 1 or not ref.startswith(_SCHEMA_REF):
        return None
    target = schemas.get(ref[len(_SCHEMA_REF) :])
    if not isinstance(target, dict) or "type" not in (target.get("required") or ()):
        return None
    kinds = ((target.get("properties") or {}).get("type") or {}).get("enum")
    return list(kinds) if isinstance(kinds, list) and kinds else None


def _unions_by_type(node: Any, schemas: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_unions_by_type(item, schemas) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: _unions_by_type(value, schemas) for key, value in node.items()}
    branches = copy.get("anyOf")
    if not isinstance(branches, list) or len(branches) < 2:
        return copy
    kinds = [_kinds(branch, schemas) for branch in branches]
    flat = [kind for each in kinds if each is not None for kind in each]
    if any(each is None for each in kinds) or len(flat) != len(set(map(repr, flat))):
        return copy
    chain: dict[str, Any] = {"anyOf": copy.pop("anyOf")}
    for branch, each in reversed(list(zip(branches, kinds, strict=True))):
        test = {"properties": {"type": {"enum": each}}, "required": ["type"]}
        chain = {"if": test, "then": branch, "else": chain}
    copy.setdefault("allOf", []).append(chain)
    return copy


@cache
def load(path: Path = SPEC_PATH) -> DiscordSpec | None:
    """The parsed description, once per process; None when jsonschema is not installed."""
    try:
        import jsonschema  # noqa: F401
        import referencing  # noqa: F401
    except ImportError:
        return None
    with path.open(encoding="utf-8") as handle:
        return DiscordSpec(json.load(handle))


def _sorted(errors: Iterator[Any]) -> list[Any]:
    return sorted(errors, key=lambda error: [str(part) for part in error.absolute_path])


def _wrong_kind(error: Any) -> bool:
    """A union branch meant for another kind of object (another ``type``, or null)."""
    path = list(error.relative_path)
    if error.validator == "type" and not path:
        return True
    return error.validator in ("enum", "const") and path == ["type"]


def _leaves(error: Any) -> Iterator[Any]:
    """Into an anyOf/oneOf, follow the branch meant for the body's kind: that is the real error."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        yield error
        return
    branches: dict[Any, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    plausible = [subs for subs in branches.values() if not any(map(_wrong_kind, subs))]
    if not plausible:
        yield error
        return
    best = min(plausible, key=len)
    for sub in best:
        yield from _leaves(sub)


def _where(error: Any) -> str:
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "body"


def _describe(error: Any) -> str:
    value, limit, kind = error.instance, error.validator_value, error.validator
    if kind == "maxItems":
        return f"{len(value)} items, at most {limit}"
    if kind == "minItems":
        return f"{len(value)} items, at least {limit}"
    if kind == "maxLength":
        return f"{len(value)} characters, at most {limit}"
    if kind == "minLength":
        return f"{len(value)} characters, at least {limit}"
    message: str = error.message
    return message if len(message) <= 200 else message[:197] + "..."
