"""pytest plugin: fail any test in which a ``discord.*`` logger logged an ERROR.

discord.py logs and swallows exceptions from views, DynamicItems, modals, autocomplete and the
command tree, so a crashing button would otherwise leave the test green. Opt out per test with
``@pytest.mark.allow_discord_errors``; read what was logged with the ``discord_error_log``
fixture. Register with ``pytest_plugins = ["bot.testing.pytest_plugin"]`` in the top-level
conftest (or ``-p bot.testing.pytest_plugin``).
"""

from __future__ import annotations

import logging
from collections.abc import Generator

import pytest

MARKER = "allow_discord_errors"


class ErrorCollector(logging.Handler):
    """Keeps the ERROR (and worse) records of discord.* while one test runs."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def describe(self) -> str:
        lines = []
        for record in self.records:
            lines.append(f"{record.name}: {record.getMessage()}")
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                lines.append(f"    {type(error).__name__}: {error}")
        return "\n".join(lines)


_COLLECTOR = pytest.StashKey[ErrorCollector]()
_INSTALLED = pytest.StashKey[bool]()


def _collector(item: pytest.Item) -> ErrorCollector:
    collector = item.stash.get(_COLLECTOR, None)
    if collector is None:
        collector = ErrorCollector()
        item.stash[_COLLECTOR] = collector
    return collector


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    # Idempotent: the hook may be registered both as a plugin and re-exported by a conftest.
    if item.stash.get(_INSTALLED, False):
        return (yield)
    item.stash[_INSTALLED] = True
    collector = _collector(item)
    logger = logging.getLogger("discord")
    logger.addHandler(collector)
    try:
        result = yield
    finally:
        logger.removeHandler(collector)
    if collector.records and item.get_closest_marker(MARKER) is None:
        pytest.fail(
            "discord.py logged an ERROR (mark the test allow_discord_errors if expected):\n"
            + collector.describe(),
            pytrace=False,
        )
    return result


@pytest.fixture
def discord_error_log(request: pytest.FixtureRequest) -> list[logging.LogRecord]:
    """The ERROR records logged by discord.* so far in this test (filled while it runs)."""
    return _collector(request.node).records
