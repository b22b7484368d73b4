"""The Discord bot: builds the application and translates Discord to store calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.app import StorefrontBot

__all__ = ["StorefrontBot"]


def __getattr__(name: str) -> Any:
    # Importing discord.py costs time; the CLI's config commands don't need it.
    if name in __all__:
        from bot import app

        return getattr(app, name)
    raise AttributeError(name)
