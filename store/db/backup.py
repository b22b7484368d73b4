"""An online, consistent copy of the SQLite database while the shop runs.

SQLite's backup API copies the pages of one read snapshot: with the database in WAL
mode writers carry on while it runs, and the copy holds exactly what was committed
when the copy began (never half a transaction). The copy is written beside the
target under a temporary name, checked, and only then moved into place, so a crash
never leaves a half-written backup under the requested name.

PostgreSQL is not copied here: use its own tools (``pg_dump``), which do the same
job with a consistent snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """The backup cannot be made; the message says why and what to do instead."""


@dataclass(frozen=True)
class BackupResult:
    source: Path
    target: Path
    pages: int
    bytes: int


def sqlite_path(url: str) -> Path:
    """The file behind a SQLite URL; refuses PostgreSQL and in-memory databases."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        raise BackupError(
            "the database is PostgreSQL: back it up with its own tools, e.g. "
            "`pg_dump --format=custom --file=storefront.dump DBNAME`"
        )
    if backend != "sqlite":
        raise BackupError(f"cannot back up a {backend!r} database")
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("an in-memory SQLite database has nothing to back up")
    path = Path(database).resolve()
    if not path.is_file():
        raise BackupError(f"the database file {path} does not exist")
    return path


def backup_sqlite(source: Path, target: Path, *, force: bool = False) -> BackupResult:
    """Copy ``source`` to ``target`` consistently, even while other processes write."""
    target = target.resolve()
    if target == source.resolve():
        raise BackupError("the backup must go to another file than the database itself")
    if target.exists() and not force:
        raise BackupError(f"{target} already exists (pass --force to overwrite it)")
    if not target.parent.is_dir():
        raise BackupError(f"directory {target.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        pages = _copy(source, tmp)
        if force:
            os.replace(tmp, target)
        else:
            # link() fails if the name appeared meanwhile: never overwrite by accident.
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise BackupError(
                    f"{target} already exists (pass --force to overwrite it)"
                ) from None
            tmp.unlink()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return BackupResult(source, target, pages, target.stat().st_size)


async def backup_sqlite_async(source: Path, target: Path, *, force: bool = False) -> BackupResult:
    """`backup_sqlite` in a worker thread, for callers on an event loop."""
    return await asyncio.to_thread(backup_sqlite, source, target, force=force)


def _copy(source: Path, tmp: Path) -> int:
    # Read-only URI: the backup never creates, migrates or writes the shop's database.
    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        dest = sqlite3.connect(tmp)
        try:
            # pages=-1: all pages in one step, from one read snapshot. In WAL mode this
            # does not block writers, and no write can restart the copy halfway.
            src.backup(dest, pages=-1)
            dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            (result,) = dest.execute("PRAGMA integrity_check").fetchone()
            if result != "ok":
                raise BackupError(f"the copy failed its integrity check: {result}")
            (pages,) = dest.execute("PRAGMA page_count").fetchone()
            dest.commit()
        finally:
            dest.close()
    except sqlite3.Error as error:
        raise BackupError(f"cannot copy {source}: {error}") from None
    finally:
        src.close()
    return int(pages)
