"""``python -m bot copy-store SOURCE_URL TARGET_URL``: copy history, chat settings and usage from one
store into another, empty one (SQLite to PostgreSQL, to move a bot to replicas, and back).

A store is named by a URL: ``sqlite:///relative/path.sqlite3``, ``sqlite:////absolute/path.sqlite3``
or ``postgresql://USER:PASSWORD@HOST:PORT/DBNAME``. Rows go in batches of :data:`BATCH` (memory
stays bounded whatever the size), each batch in one transaction, in order (turns keep their order;
their ids are given anew).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.state.postgres import PostgresStore, safe_url
from bot.state.protocols import Store
from bot.state.storage import PORTABLE, ConversationStore, StorageError

#: Rows read and written at a time.
BATCH = 1000


@dataclass(frozen=True, slots=True)
class CopyResult:
    """Rows copied, per table (``messages``, ``chat_settings``, ``usage``)."""

    counts: dict[str, int]


async def open_url(url: str) -> Store:
    """The store a URL names (see the module's docstring), opened and migrated.

    Raises:
        StorageError: not such a URL, or the store cannot be opened (never the password).
    """
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresStore.open(url)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise StorageError(f"{url}: name the file, as sqlite:///data/bot.sqlite3")
        return await ConversationStore.open(path)
    raise StorageError(
        f"{safe_url(url)} is no store URL: use sqlite:///relative/path, sqlite:////absolute/path or postgresql://..."
    )


async def copy_store(source: Store, target: Store) -> CopyResult:
    """Copy every row of :data:`~bot.state.storage.PORTABLE` from ``source`` to ``target``.

    Raises:
        StorageError: ``target`` holds history, settings or usage already (nothing is copied), or
            either store failed (what was copied before stays).
    """
    if not await target.is_empty():
        raise StorageError("the target already holds history, settings or usage: copy only into an empty store")
    counts: dict[str, int] = {}
    for table in PORTABLE:
        after: int | None = None
        counts[table] = 0
        while True:
            rows = await source.export_rows(table, after, BATCH)
            if not rows:
                break
            await target.import_rows(table, [columns for _, columns in rows])
            counts[table] += len(rows)
            after = rows[-1][0]
    return CopyResult(counts)
