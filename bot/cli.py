"""The ``storefront`` command: run the shop, check its configuration, migrate its database.

Exit codes: 0 done, 1 the command failed at run time (database unreachable or not
migrated), 2 the configuration or the command line is wrong. Expected failures are
one line each on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings, SettingsError, check_discord_gateway, load_settings
from store.db.engine import StoreUnavailable, create_engine
from store.db.migrate import (
    SchemaBehind,
    current_revision,
    ensure_schema,
    head_revision,
    upgrade,
)
from store.errors import ConfigError

T = TypeVar("T")
log = logging.getLogger("storefront")
Handler = Callable[[Settings, argparse.Namespace], int]


class CommandFailed(Exception):
    """A command could not do its job for a reason outside the configuration."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse reports usage errors and --help this way
        return exit_.code if isinstance(exit_.code, int) else 2
    if getattr(args, "handler", None) is None:
        incomplete: argparse.ArgumentParser = args.usage_of
        incomplete.print_usage(sys.stderr)
        print(f"{incomplete.prog}: error: choose a command", file=sys.stderr)
        return 2
    _configure_logging(args.verbose)
    handler: Handler = args.handler
    try:
        settings = load_settings(args.config)
        return handler(settings, args)
    except SettingsError as error:
        for problem in error.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    except CommandFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`storefront check-config | head`); stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storefront", description="A Discord shop for membership time and points."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress (INFO) to stderr"
    )
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument(
        "--config",
        metavar="PATH",
        help="TOML file (default: $STOREFRONT_CONFIG, ./config.toml, else built-in defaults)",
    )
    parser.set_defaults(handler=None, usage_of=parser)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser("run", parents=[config], help="start the shop")
    run.add_argument(
        "--sandbox",
        action="store_true",
        help="use the simulated guilds even when a Discord token is set",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="migrate and check everything, print what would run, then exit",
    )
    run.add_argument(
        "--gateway-events",
        action="store_true",
        help="with interactions over HTTP, also connect to Discord's gateway for guild "
        "events (role healing on joins); one process per deployment, or none",
    )
    run.set_defaults(handler=_run)

    sync = commands.add_parser(
        "sync-commands", parents=[config], help="publish the slash commands to Discord"
    )
    sync.add_argument(
        "--global", dest="all_guilds", action="store_true", help="sync to every guild"
    )
    sync.set_defaults(handler=_sync_commands)

    check = commands.add_parser(
        "check-config",
        parents=[config],
        help="validate and print the effective configuration, secrets masked",
    )
    check.set_defaults(handler=_check_config)

    db = commands.add_parser("db", help="database migrations")
    db.set_defaults(usage_of=db)
    db_commands = db.add_subparsers(title="db commands", metavar="COMMAND")
    db_upgrade = db_commands.add_parser(
        "upgrade", parents=[config], help="apply the migrations to the configured database"
    )
    db_upgrade.set_defaults(handler=_db_upgrade)
    db_current = db_commands.add_parser(
        "current", parents=[config], help="show the database's migration revision"
    )
    db_current.set_defaults(handler=_db_current)
    db_backup = db_commands.add_parser(
        "backup",
        parents=[config],
        help="copy the SQLite database consistently, even while the shop runs",
    )
    db_backup.add_argument("path", metavar="PATH", help="the file to write the copy to")
    db_backup.add_argument(
        "--force", action="store_true", help="overwrite PATH if it already exists"
    )
    db_backup.set_defaults(handler=_db_backup)
    return parser


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# -- commands -------------------------------------------------------------------------


def _run(settings: Settings, args: argparse.Namespace) -> int:
    """Prepare and report what runs; the place where the bot will be started."""
    sandbox = bool(args.sandbox) or settings.sandbox_mode
    if sandbox and settings.environment == "production":
        raise SettingsError("environment: the sandbox is for development, not production")
    test_payments = None if sandbox else check_discord_gateway(settings)
    revision = asyncio.run(_prepare_database(settings))
    gateway_events = settings.discord.interactions == "gateway" or bool(args.gateway_events)
    lines = _describe_run(
        settings, sandbox=sandbox, revision=revision, gateway_events=gateway_events
    )
    for line in lines:
        print(line, flush=True)
    if test_payments is not None:
        print(f"WARNING: {test_payments}", flush=True)
    if args.dry_run:
        return 0
    if test_payments is not None:
        log.warning("%s", test_payments)
    if sandbox:
        from bot.sandbox.runtime import serve_sandbox

        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a sandbox ends
            asyncio.run(serve_sandbox(settings))
        return 0
    token = settings.discord.token
    assert token is not None  # not sandbox mode, so a token is configured
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings, token.get_secret_value(), gateway_events=gateway_events))
    return 0


async def _serve(settings: Settings, token: str, *, gateway_events: bool) -> None:
    """Serve until stopped: the web side always; the gateway connection when asked.

    Without the gateway (interactions over HTTP), the bot logs in over REST only: it
    learns its application id and user, answers what Discord posts to /interactions,
    and sends its messages, role changes and DMs over REST.
    """
    import aiohttp
    import discord

    from bot.runtime import build_storefront, serving

    front = build_storefront(settings, gateway_events=gateway_events)
    try:
        async with serving(front):
            if gateway_events:
                await front.bot.start(token)
            else:
                await front.bot.login(token)
                log.warning(
                    "serving interactions over HTTP at %s/interactions; no gateway connection",
                    settings.web.public_url.rstrip("/"),
                )
                await asyncio.Event().wait()  # until the process is stopped
    except discord.LoginFailure:
        raise CommandFailed("Discord refused the bot token (STOREFRONT_DISCORD__TOKEN)") from None
    except (aiohttp.ClientError, OSError) as error:
        raise CommandFailed(f"Discord cannot be reached: {error}") from None


def _sync_commands(settings: Settings, args: argparse.Namespace) -> int:
    """Publish the slash commands: to the configured guilds, or everywhere with --global."""
    token = settings.discord.token
    if token is None:
        raise CommandFailed("sync-commands needs the Discord token (STOREFRONT_DISCORD__TOKEN)")
    if not args.all_guilds and not settings.discord.guild_ids:
        raise CommandFailed("set discord.guild_ids, or pass --global to sync everywhere")
    asyncio.run(_sync(settings, token.get_secret_value(), everywhere=args.all_guilds))
    return 0


async def _sync(settings: Settings, token: str, *, everywhere: bool) -> None:
    import discord

    from bot.runtime import build_storefront

    front = build_storefront(settings)
    bot = front.bot
    try:
        await bot.login(token)
        if everywhere:
            synced = await bot.tree.sync()
            print(f"synced {len(synced)} commands globally (may take up to an hour to show)")
            return
        for guild_id in settings.discord.guild_ids:
            guild = discord.Object(id=guild_id)
            bot.tree.copy_global_to(guild=guild)
            synced = await bot.tree.sync(guild=guild)
            print(f"synced {len(synced)} commands to guild {guild_id}")
    finally:
        await bot.close()
        await front.database.dispose()


def _check_config(settings: Settings, args: argparse.Namespace) -> int:
    test_payments = check_discord_gateway(settings)
    print(f"# storefront {_version()}: configuration is valid")
    print(f"# file: {settings.source}; environment variables STOREFRONT_* take precedence")
    print(f"# catalog: {len(settings.catalog)} items; secrets are shown as ********")
    print(f"# {_shards_line(settings, sandbox=settings.sandbox_mode)}")
    if test_payments is not None:
        print(f"# WARNING: {test_payments}")
    print(to_toml(settings.masked()), end="")
    return 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    async def apply(engine: AsyncEngine) -> str | None:
        await upgrade(engine)
        return await current_revision(engine)

    revision = asyncio.run(_with_engine(settings, apply))
    print(f"database {settings.database.masked_url()} is at revision {revision} (head)")
    return 0


def _db_current(settings: Settings, args: argparse.Namespace) -> int:
    revision = asyncio.run(_with_engine(settings, current_revision))
    head = head_revision()
    state = "up to date" if revision == head else "behind: run `storefront db upgrade`"
    print(f"database {settings.database.masked_url()}")
    print(f"revision {revision or 'none (never migrated)'}; code expects {head}: {state}")
    return 0


def _db_backup(settings: Settings, args: argparse.Namespace) -> int:
    """An online copy through SQLite's backup API; PostgreSQL has pg_dump for this."""
    from store.db.backup import BackupError, backup_sqlite, sqlite_path

    try:
        result = backup_sqlite(
            sqlite_path(settings.database.url), Path(args.path), force=args.force
        )
    except BackupError as error:
        raise CommandFailed(f"backup of {settings.database.masked_url()}: {error}") from None
    print(f"backed up {result.source} to {result.target} ({result.bytes} bytes)")
    return 0


# -- helpers --------------------------------------------------------------------------


async def _prepare_database(settings: Settings) -> str | None:
    """SQLite is ours to migrate on start; PostgreSQL is shared, so its operator decides."""

    async def prepare(engine: AsyncEngine) -> str | None:
        try:
            return await ensure_schema(engine, migrate=settings.database.is_sqlite)
        except SchemaBehind as error:
            raise CommandFailed(f"database {settings.database.masked_url()}: {error}") from None

    return await _with_engine(settings, prepare)


async def _with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    _check_sqlite_file(settings)
    engine = create_engine(
        settings.database.url,
        pool_size=settings.database.pool_size,
        lock_timeout_ms=settings.database.lock_timeout_ms,
    )
    try:
        return await work(engine)
    except (OperationalError, DBAPIError, OSError, StoreUnavailable) as error:
        reason = getattr(error, "orig", None) or error
        raise CommandFailed(
            f"cannot use the database {settings.database.masked_url()}: {reason}"
        ) from error
    finally:
        await engine.dispose()


def _check_sqlite_file(settings: Settings) -> None:
    """Say why a SQLite file cannot be opened before aiosqlite tries.

    A failed aiosqlite connect leaves its worker thread reporting to an event loop that
    asyncio.run has already closed, which prints a thread traceback (omnilib/aiosqlite
    #241, fix pending in #389); the common causes are cheaper to check here.
    """
    if not settings.database.is_sqlite:
        return
    database = make_url(settings.database.url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).resolve()
    where = f"cannot use the database {settings.database.masked_url()}"
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise CommandFailed(f"{where}: {path} is not readable and writable")
    elif not path.parent.is_dir():
        raise CommandFailed(f"{where}: directory {path.parent} does not exist")
    elif not os.access(path.parent, os.W_OK | os.X_OK):
        raise CommandFailed(f"{where}: cannot create files in {path.parent}")


def _describe_run(
    settings: Settings, *, sandbox: bool, revision: str | None, gateway_events: bool = True
) -> list[str]:
    tiers = ", ".join(sorted(settings.memberships)) or "none"
    if sandbox:
        members = settings.sandbox.members
        moderators = sum(member.moderator for member in members)
        why = "--sandbox" if settings.discord.token is not None else "no Discord token"
        mode = (
            f"sandbox ({why}): simulated guilds {settings.sandbox.guild_name!r} and "
            f"{settings.sandbox.second_guild_name!r}, each its own shop, with "
            f"{len(members)} members, {moderators} moderator(s)"
        )
    else:
        guilds = ", ".join(str(g) for g in settings.discord.guild_ids) or "every guild it is in"
        mode = f"discord: bot token set, serving {guilds}"
    return [
        f"storefront {_version()} ({settings.environment})",
        f"environment: {settings.environment}",
        f"configuration: {settings.source}",
        f"database: {settings.database.masked_url()} (migrated to {revision})",
        _gateways_line(settings),
        f"web: {settings.web.host}:{settings.web.port}, public address {settings.web.public_url}",
        f"shop: {settings.store.name!r} in {settings.store.currency}, "
        f"{len(settings.catalog)} items, tiers: {tiers} (each guild's shop starts as this; "
        "one changed from Discord keeps its own)",
        f"mode: {mode}",
        _shards_line(settings, sandbox=sandbox),
        _interactions_line(settings, sandbox=sandbox, gateway_events=gateway_events),
        ("starting: the local sandbox" if sandbox else "starting: connecting to Discord"),
    ]


def _interactions_line(settings: Settings, *, sandbox: bool, gateway_events: bool) -> str:
    if sandbox or settings.discord.interactions == "gateway":
        return "interactions: over the gateway connection"
    where = f"{settings.web.public_url.rstrip('/')}/interactions"
    if gateway_events:
        return f"interactions: over HTTP at {where}; gateway connected for guild events"
    return f"interactions: over HTTP at {where}; no gateway connection (REST only)"


def _shards_line(settings: Settings, *, sandbox: bool) -> str:
    discord = settings.discord
    if discord.shard_count is None:
        return "shards: none (one connection for every guild)"
    if sandbox:
        return "shards: not used by the sandbox (simulated guilds, one process)"
    count, ids = discord.shard_count, discord.shards
    ours = "all" if len(ids) == count else ", ".join(map(str, ids))
    return (
        f"shards: {ours} of {count} (this process serves the guilds whose "
        f"(guild_id >> 22) % {count} is among them)"
    )


def _gateways_line(settings: Settings) -> str:
    enabled = settings.payments.enabled
    if len(enabled) == 1:
        return f"payment gateway: {enabled[0]}"
    names = ", ".join(f"{name} (default)" if i == 0 else name for i, name in enumerate(enabled))
    return f"payment gateways: {names}; members choose at checkout"


def _version() -> str:
    try:
        return version("discord-storefront")
    except PackageNotFoundError:
        return "unknown"


# -- TOML output ----------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def to_toml(data: Mapping[str, Any]) -> str:
    """Render plain data as TOML that reads back with tomllib; None becomes a comment,
    since TOML has no null."""
    lines: list[str] = []
    _table(lines, (), data, array=False)
    return "\n".join(lines).strip() + "\n"


def _table(lines: list[str], path: tuple[str, ...], data: Mapping[str, Any], array: bool) -> None:
    if path:
        header = ".".join(_toml_key(part) for part in path)
        lines.extend(["", f"[[{header}]]" if array else f"[{header}]"])
    nested: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, Mapping) or _is_table_array(value):
            nested.append((key, value))
        elif value is None:
            lines.append(f"# {_toml_key(key)} is not set")
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in nested:
        if isinstance(value, Mapping):
            _table(lines, (*path, key), value, array=False)
        else:
            for item in value:
                _table(lines, (*path, key), item, array=True)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        pairs = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }"
    return json.dumps(str(value), ensure_ascii=False)


if __name__ == "__main__":
    sys.exit(main())
