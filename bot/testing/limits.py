"""Limits Discord enforces with a 400 that discord.py does not check before sending.

Each ``check_*`` returns a list of problems (empty when Discord would accept the body), phrased
with the JSON path so a failing test points at the offending field. Plain ``len`` checks only:
these run on every captured call in the benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
CUSTOM_ID_MAX = 100
ACTION_ROWS_MAX = 5
BUTTONS_PER_ROW_MAX = 5
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
SELECT_OPTION_TEXT_MAX = 100
SELECT_PLACEHOLDER_MAX = 150
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
TEXT_INPUT_LABEL_MAX = 45
TEXT_INPUT_VALUE_MAX = 4000
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_STRING_VALUE_MAX = 100
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25
GLOBAL_CHAT_COMMANDS_MAX = 100

BUTTON = 2
STRING_SELECT = 3
TEXT_INPUT = 4
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
LINK_STYLE = 5
PREMIUM_STYLE = 6


class DiscordLimitError(AssertionError):
    """Discord would have answered 400 to what the bot sent (or the member's client refuses)."""


def _check_custom_id(custom_id: Any, where: str, problems: list[str]) -> None:
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_MAX:
        size = len(custom_id) if isinstance(custom_id, str) else custom_id
        problems.append(f"{where}.custom_id must be 1-{CUSTOM_ID_MAX} characters (got {size!r})")


def check_embeds(embeds: Iterable[dict[str, Any]], where: str = "embeds") -> list[str]:
    problems: list[str] = []
    embeds = list(embeds)
    if len(embeds) > EMBEDS_MAX:
        problems.append(f"{where}: at most {EMBEDS_MAX} embeds (got {len(embeds)})")
    total = 0
    for i, embed in enumerate(embeds):
        at = f"{where}[{i}]"
        title = embed.get("title") or ""
        description = embed.get("description") or ""
        if len(title) > EMBED_TITLE_MAX:
            problems.append(f"{at}.title longer than {EMBED_TITLE_MAX} ({len(title)})")
        if len(description) > EMBED_DESCRIPTION_MAX:
            problems.append(
                f"{at}.description longer than {EMBED_DESCRIPTION_MAX} ({len(description)})"
            )
        total += len(title) + len(description)
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS_MAX:
            problems.append(f"{at}.fields: at most {EMBED_FIELDS_MAX} (got {len(fields)})")
        for j, embed_field in enumerate(fields):
            name = embed_field.get("name") or ""
            value = embed_field.get("value") or ""
            if not 1 <= len(name) <= EMBED_FIELD_NAME_MAX:
                problems.append(
                    f"{at}.fields[{j}].name must be 1-{EMBED_FIELD_NAME_MAX} ({len(name)})"
                )
            if not 1 <= len(value) <= EMBED_FIELD_VALUE_MAX:
                problems.append(
                    f"{at}.fields[{j}].value must be 1-{EMBED_FIELD_VALUE_MAX} ({len(value)})"
                )
            total += len(name) + len(value)
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > EMBED_FOOTER_MAX:
            problems.append(f"{at}.footer.text longer than {EMBED_FOOTER_MAX} ({len(footer)})")
        author = (embed.get("author") or {}).get("name") or ""
        if len(author) > EMBED_AUTHOR_MAX:
            problems.append(f"{at}.author.name longer than {EMBED_AUTHOR_MAX} ({len(author)})")
        total += len(footer) + len(author)
    if total > EMBED_TOTAL_MAX:
        problems.append(f"{where}: all embed text together exceeds {EMBED_TOTAL_MAX} ({total})")
    return problems


def _check_button(button: dict[str, Any], at: str, problems: list[str]) -> None:
    style = button.get("style")
    label = button.get("label") or ""
    if len(label) > BUTTON_LABEL_MAX:
        problems.append(f"{at}.label longer than {BUTTON_LABEL_MAX} ({len(label)})")
    if style == LINK_STYLE:
        if not button.get("url"):
            problems.append(f"{at}: a link button needs a url")
        if "custom_id" in button:
            problems.append(f"{at}: a link button cannot have a custom_id")
    elif style != PREMIUM_STYLE:
        _check_custom_id(button.get("custom_id"), at, problems)
    if style != PREMIUM_STYLE and not label and not button.get("emoji"):
        problems.append(f"{at}: a button needs a label or an emoji")


def _check_select(select: dict[str, Any], at: str, problems: list[str]) -> None:
    _check_custom_id(select.get("custom_id"), at, problems)
    placeholder = select.get("placeholder") or ""
    if len(placeholder) > SELECT_PLACEHOLDER_MAX:
        problems.append(f"{at}.placeholder longer than {SELECT_PLACEHOLDER_MAX}")
    min_values = select.get("min_values", 1)
    max_values = select.get("max_values", 1)
    if not 0 <= min_values <= SELECT_OPTIONS_MAX or not 1 <= max_values <= SELECT_OPTIONS_MAX:
        problems.append(f"{at}: min_values/max_values out of range ({min_values}/{max_values})")
    elif min_values > max_values:
        problems.append(f"{at}: min_values {min_values} > max_values {max_values}")
    if select.get("type") == STRING_SELECT:
        options = select.get("options") or []
        if not 1 <= len(options) <= SELECT_OPTIONS_MAX:
            problems.append(f"{at}.options: 1-{SELECT_OPTIONS_MAX} options (got {len(options)})")
        elif max_values > len(options):
            problems.append(f"{at}: max_values {max_values} exceeds {len(options)} options")
        seen: set[str] = set()
        for k, option in enumerate(options):
            for key in ("label", "value"):
                text = option.get(key) or ""
                if not 1 <= len(text) <= SELECT_OPTION_TEXT_MAX:
                    problems.append(
                        f"{at}.options[{k}].{key} must be 1-{SELECT_OPTION_TEXT_MAX} ({len(text)})"
                    )
            description = option.get("description") or ""
            if len(description) > SELECT_OPTION_TEXT_MAX:
                problems.append(
                    f"{at}.options[{k}].description longer than {SELECT_OPTION_TEXT_MAX}"
                )
            if option.get("value") in seen:
                problems.append(f"{at}.options[{k}].value {option.get('value')!r} is duplicated")
            seen.add(option.get("value"))


def check_components(components: Iterable[dict[str, Any]], where: str = "components") -> list[str]:
    """Classic (non components-v2) layouts: action rows of buttons, or one select per row."""
    problems: list[str] = []
    components = list(components)
    rows = [c for c in components if c.get("type") == 1]
    if len(rows) > ACTION_ROWS_MAX:
        problems.append(f"{where}: at most {ACTION_ROWS_MAX} action rows (got {len(rows)})")
    custom_ids: set[str] = set()
    for i, row in enumerate(components):
        at = f"{where}[{i}]"
        if row.get("type") != 1:
            continue
        children = row.get("components") or []
        if not children:
            problems.append(f"{at}: an action row needs at least one component")
        kinds = {c.get("type") for c in children}
        if kinds & SELECT_TYPES and len(children) > 1:
            problems.append(f"{at}: a select must be alone in its action row")
        if len(children) > BUTTONS_PER_ROW_MAX:
            problems.append(
                f"{at}: at most {BUTTONS_PER_ROW_MAX} buttons per row ({len(children)})"
            )
        for j, child in enumerate(children):
            child_at = f"{at}.components[{j}]"
            kind = child.get("type")
            if kind == BUTTON:
                _check_button(child, child_at, problems)
            elif kind in SELECT_TYPES:
                _check_select(child, child_at, problems)
            cid = child.get("custom_id")
            if isinstance(cid, str):
                if cid in custom_ids:
                    problems.append(f"{child_at}.custom_id {cid!r} is used twice in the message")
                custom_ids.add(cid)
    return problems


def check_message(
    body: dict[str, Any], *, creating: bool = True, where: str = "message"
) -> list[str]:
    """Content, embeds and components of a message create or edit body."""
    problems: list[str] = []
    content = body.get("content")
    if content is not None and len(content) > CONTENT_MAX:
        problems.append(f"{where}.content longer than {CONTENT_MAX} ({len(content)})")
    embeds = body.get("embeds")
    if embeds:
        problems.extend(check_embeds(embeds, f"{where}.embeds"))
    components = body.get("components")
    if components and not (int(body.get("flags") or 0) & (1 << 15)):
        problems.extend(check_components(components, f"{where}.components"))
    if (
        creating
        and not content
        and not embeds
        and not components
        and not body.get("attachments")
        and not body.get("sticker_ids")
        and not body.get("poll")
    ):
        problems.append(f"{where}: cannot send an empty message (code 50006)")
    return problems


def check_modal(body: dict[str, Any], where: str = "modal") -> list[str]:
    problems: list[str] = []
    title = body.get("title") or ""
    if not 1 <= len(title) <= MODAL_TITLE_MAX:
        problems.append(f"{where}.title must be 1-{MODAL_TITLE_MAX} characters ({len(title)})")
    _check_custom_id(body.get("custom_id"), where, problems)
    components = body.get("components") or []
    if not 1 <= len(components) <= MODAL_COMPONENTS_MAX:
        problems.append(f"{where}: 1-{MODAL_COMPONENTS_MAX} components (got {len(components)})")
    for i, top in enumerate(components):
        at = f"{where}.components[{i}]"
        if top.get("type") == 1:
            inner = top.get("components") or []
            label = None
        elif top.get("type") == 18:
            inner = [top["component"]] if top.get("component") else []
            label = top.get("label") or ""
            if not 1 <= len(label) <= TEXT_INPUT_LABEL_MAX:
                problems.append(f"{at}.label must be 1-{TEXT_INPUT_LABEL_MAX} ({len(label)})")
        else:
            continue
        for component in inner:
            if component.get("type") == TEXT_INPUT:
                _check_custom_id(component.get("custom_id"), at, problems)
                text_label = component.get("label") if label is None else label
                if label is None and not 1 <= len(text_label or "") <= TEXT_INPUT_LABEL_MAX:
                    problems.append(f"{at}: text input label must be 1-{TEXT_INPUT_LABEL_MAX}")
                value = component.get("value") or ""
                if len(value) > TEXT_INPUT_VALUE_MAX:
                    problems.append(f"{at}: text input value longer than {TEXT_INPUT_VALUE_MAX}")
                low = component.get("min_length", 0)
                high = component.get("max_length", TEXT_INPUT_VALUE_MAX)
                if not 0 <= low <= high <= TEXT_INPUT_VALUE_MAX:
                    problems.append(f"{at}: min_length/max_length out of range ({low}/{high})")
            elif component.get("type") in SELECT_TYPES:
                _check_select(component, at, problems)
    return problems


def check_autocomplete(choices: Iterable[dict[str, Any]], where: str = "choices") -> list[str]:
    problems: list[str] = []
    choices = list(choices)
    if len(choices) > CHOICES_MAX:
        problems.append(f"{where}: at most {CHOICES_MAX} choices (got {len(choices)})")
    for i, choice in enumerate(choices):
        name = choice.get("name") or ""
        if not 1 <= len(name) <= CHOICE_NAME_MAX:
            problems.append(f"{where}[{i}].name must be 1-{CHOICE_NAME_MAX} ({len(name)})")
        value = choice.get("value")
        if isinstance(value, str) and len(value) > CHOICE_STRING_VALUE_MAX:
            problems.append(f"{where}[{i}].value longer than {CHOICE_STRING_VALUE_MAX}")
    return problems


def _check_options(
    options: list[dict[str, Any]], where: str, name_re: re.Pattern[str], problems: list[str]
) -> None:
    if len(options) > COMMAND_OPTIONS_MAX:
        problems.append(f"{where}.options: at most {COMMAND_OPTIONS_MAX} (got {len(options)})")
    seen_optional = False
    names: set[str] = set()
    for i, option in enumerate(options):
        at = f"{where}.options[{i}] ({option.get('name')!r})"
        _check_name_and_description(option, at, name_re, problems)
        if option.get("name") in names:
            problems.append(f"{at}: duplicate option name")
        names.add(option.get("name", ""))
        kind = option.get("type")
        if kind in (1, 2):
            _check_options(option.get("options") or [], at, name_re, problems)
            continue
        if option.get("required"):
            if seen_optional:
                problems.append(f"{at}: required options must come before optional ones")
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if choices and option.get("autocomplete"):
            problems.append(f"{at}: choices and autocomplete cannot be used together")
        if choices:
            problems.extend(check_autocomplete(choices, f"{at}.choices"))


def _check_name_and_description(
    item: dict[str, Any], at: str, name_re: re.Pattern[str], problems: list[str]
) -> None:
    name = item.get("name") or ""
    if not name_re.fullmatch(name) or name != name.lower():
        problems.append(f"{at}: name {name!r} must match ^[-_'\\w]{{1,32}}$ in lower case")
    description = item.get("description") or ""
    if not 1 <= len(description) <= COMMAND_DESCRIPTION_MAX:
        problems.append(
            f"{at}: description must be 1-{COMMAND_DESCRIPTION_MAX} characters ({len(description)})"
        )


def check_commands(commands: Iterable[dict[str, Any]], where: str = "commands") -> list[str]:
    """A bulk-overwrite body (``PUT .../commands``), e.g. ``[c.to_dict(tree) for c in ...]``."""
    name_re = re.compile(r"[-_'\w]{1,32}")
    problems: list[str] = []
    seen: set[tuple[int, str]] = set()
    chat_inputs = 0
    for i, command in enumerate(commands):
        kind = command.get("type", 1)
        at = f"{where}[{i}] ({command.get('name')!r})"
        key = (kind, command.get("name", ""))
        if key in seen:
            problems.append(f"{at}: duplicate command name")
        seen.add(key)
        if kind == 1:
            chat_inputs += 1
            _check_name_and_description(command, at, name_re, problems)
            _check_options(command.get("options") or [], at, name_re, problems)
        else:
            name = command.get("name") or ""
            if not 1 <= len(name) <= 32:
                problems.append(f"{at}: context menu name must be 1-32 characters")
            if command.get("description"):
                problems.append(f"{at}: context menu commands take no description")
    if chat_inputs > GLOBAL_CHAT_COMMANDS_MAX:
        problems.append(f"{where}: at most {GLOBAL_CHAT_COMMANDS_MAX} slash commands")
    return problems


def check_tree(tree: Any, *, guild: Any = None) -> list[str]:
    """Validate a CommandTree's payloads offline, as ``tree.sync()`` would send them."""
    return check_commands(cmd.to_dict(tree) for cmd in tree.get_commands(guild=guild))
