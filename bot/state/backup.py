"""``python -m bot backup PATH``: a consistent copy of the history database, safe while the bot runs.

Copying ``bot.sqlite3`` with ``cp`` while the bot writes can miss the ``-wal`` file or catch a
half-written page. SQLite's online backup API (``sqlite3.Connection.backup``, "SQLite Online
Backup API") copies a consistent snapshot page by page, and the copy is a plain database file
(journal mode DELETE), complete on its own.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path


class BackupError(RuntimeError):
    """The backup cannot be made; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    """What was written: the file, its size in bytes, the stored turns and the schema version."""

    path: Path
    size: int
    messages: int
    schema_version: int


def backup_database(source: Path, target: Path | str) -> BackupResult:
    """Copy ``source`` to ``target``: a new file, or a folder to put ``bot-YYYYMMDD-HHMMSS.sqlite3`` in
    (an existing folder, or a name ending in ``/``, created if need be). Missing folders on the way
    are created.

    Raises:
        BackupError: ``source`` does not exist or is not a database, ``target`` exists already,
            a folder cannot be created, or writing it failed.
    """
    if not source.is_file():
        raise BackupError(f"{source} does not exist (DATABASE_PATH)")
    folder = str(target).endswith(("/", os.sep))
    target = Path(target)
    if folder or target.is_dir():
        target = target / time.strftime("bot-%Y%m%d-%H%M%S.sqlite3")
    if target.exists():
        raise BackupError(f"{target} exists already; name a new file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(f"cannot create the folder {target.parent}: {error.strerror or error}") from None
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as origin, sqlite3.connect(target) as copy:
            origin.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            check = copy.execute("PRAGMA quick_check").fetchone()[0]
            messages = copy.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
            version = copy.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as error:
        target.unlink(missing_ok=True)
        raise BackupError(f"cannot back up {source} to {target}: {error}") from None
    if check != "ok":
        raise BackupError(f"the copy at {target} failed SQLite's check: {check}")
    return BackupResult(target, target.stat().st_size, int(messages), int(version))
