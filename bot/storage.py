"""Conversation store: per-chat (and per forum topic) message history in SQLite.

aiosqlite runs SQLite in a worker thread; the database is in WAL mode so
reads do not block the single writer. The schema is versioned with
``PRAGMA user_version`` and :data:`MIGRATIONS` are applied at start-up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiosqlite

Role = Literal["user", "assistant"]

#: Migration *i* brings the schema from version *i* to *i + 1*.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id INTEGER NOT NULL,
        thread_id INTEGER NOT NULL DEFAULT 0,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        author TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages (chat_id, thread_id, id);
    """,
    """
    CREATE TABLE chat_settings (
        chat_id INTEGER PRIMARY KEY,
        provider TEXT,
        model TEXT,
        updated_at REAL NOT NULL
    );
    """,
    """
    ALTER TABLE messages ADD COLUMN user_id INTEGER;
    """,
]


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer version of the bot (``PRAGMA user_version`` > known migrations)."""


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Identifies one conversation: a chat, or one forum topic of it.

    ``thread_id`` is the Bot API ``message_thread_id`` of a forum topic, 0 otherwise.
    """

    chat_id: int
    thread_id: int = 0


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """A chat's choices; forum topics share them. None means "not chosen": the whole chain / the default model."""

    provider: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One stored turn. ``author`` is the sender's display name in groups, else None; ``user_id``
    the Telegram user who wrote a user turn (None for answers and for turns stored before schema 3)."""

    id: int
    role: Role
    content: str
    author: str | None
    created_at: float
    user_id: int | None = None


class ConversationStore:
    """Async access to the history database. Create with :meth:`open`, finish with :meth:`close`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path | str) -> ConversationStore:
        """Open (creating folders and file as needed), enable WAL, and migrate to the latest schema.

        ``":memory:"`` opens a private in-memory database.
        """
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path))
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=5000")
            store = cls(db)
            await store._migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        """Close the database connection."""
        await self._db.close()

    async def schema_version(self) -> int:
        """The applied schema version (``PRAGMA user_version``): the number of migrations run."""
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        version = await self.schema_version()
        if version > len(MIGRATIONS):
            raise SchemaTooNewError(
                f"the database's schema version {version} is newer than this bot knows ({len(MIGRATIONS)});"
                " run a newer version of the bot, or point DATABASE_PATH at another file"
            )
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await self._db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {target};\nCOMMIT;")

    async def add(
        self, key: ConversationKey, role: Role, content: str, author: str | None = None, user_id: int | None = None
    ) -> int:
        """Append a turn and commit; returns its row id."""
        cursor = await self._db.execute(
            "INSERT INTO messages (chat_id, thread_id, role, content, author, created_at, user_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key.chat_id, key.thread_id, role, content, author, time.time(), user_id),
        )
        await self._db.commit()
        return int(cursor.lastrowid or 0)

    async def recent(self, key: ConversationKey, limit: int) -> list[StoredMessage]:
        """The newest ``limit`` turns of the conversation, oldest first."""
        async with self._db.execute(
            "SELECT id, role, content, author, created_at, user_id FROM messages"
            " WHERE chat_id = ? AND thread_id = ? ORDER BY id DESC LIMIT ?",
            (key.chat_id, key.thread_id, limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [StoredMessage(int(r[0]), r[1], r[2], r[3], float(r[4]), r[5]) for r in reversed(list(rows))]

    async def delete(self, message_id: int) -> None:
        """Delete one stored turn by its row id."""
        await self._db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
        await self._db.commit()

    async def count(self, key: ConversationKey) -> int:
        """How many turns the conversation holds."""
        async with self._db.execute(
            "SELECT COUNT(*) FROM messages WHERE chat_id = ? AND thread_id = ?", (key.chat_id, key.thread_id)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        """The chat's provider and model choices (defaults when none were made)."""
        async with self._db.execute("SELECT provider, model FROM chat_settings WHERE chat_id = ?", (chat_id,)) as cur:
            row = await cur.fetchone()
        return ChatSettings(row[0], row[1]) if row else ChatSettings()

    async def save_chat_settings(self, chat_id: int, settings: ChatSettings) -> None:
        """Store the chat's choices (replacing earlier ones)."""
        await self._db.execute(
            "INSERT INTO chat_settings (chat_id, provider, model, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (chat_id) DO UPDATE SET provider = excluded.provider, model = excluded.model,"
            " updated_at = excluded.updated_at",
            (chat_id, settings.provider, settings.model, time.time()),
        )
        await self._db.commit()

    async def clear(self, key: ConversationKey) -> int:
        """Delete the conversation's history; returns how many turns were removed."""
        cursor = await self._db.execute(
            "DELETE FROM messages WHERE chat_id = ? AND thread_id = ?", (key.chat_id, key.thread_id)
        )
        await self._db.commit()
        return cursor.rowcount
