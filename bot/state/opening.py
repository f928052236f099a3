"""The store chosen at wiring time: PostgreSQL when ``DATABASE_URL`` is set, else SQLite at ``DATABASE_PATH``."""

from __future__ import annotations

from pathlib import Path

from bot.state.postgres import PostgresStore
from bot.state.protocols import Store
from bot.state.storage import ConversationStore, StorageError


async def open_store(database_url: str | None, database_path: Path | str) -> Store:
    """Open (and migrate) the store.

    Raises:
        StorageError: it cannot be opened; the message starts with the setting to fix
            (``DATABASE_URL ...`` or ``DATABASE_PATH: ...``) and never holds a password.
    """
    if database_url:
        return await PostgresStore.open(database_url)
    try:
        return await ConversationStore.open(database_path)
    except StorageError as error:
        raise type(error)(f"DATABASE_PATH: {error}") from error.__cause__
