"""Conversation store: per-chat (and per forum topic) message history in SQLite.

aiosqlite runs SQLite in a worker thread; the database is in WAL mode so
reads do not block the single writer. The schema is versioned with
``PRAGMA user_version`` and :data:`MIGRATIONS` are applied at start-up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiosqlite

logger = logging.getLogger(__name__)

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
    """
    CREATE TABLE replies_in_progress (
        chat_id INTEGER NOT NULL,
        thread_id INTEGER NOT NULL DEFAULT 0,
        message_id INTEGER NOT NULL,
        started_at REAL NOT NULL,
        PRIMARY KEY (chat_id, thread_id)
    );
    """,
    """
    ALTER TABLE chat_settings ADD COLUMN system_prompt TEXT;
    """,
    """
    ALTER TABLE messages ADD COLUMN images TEXT;
    """,
    """
    ALTER TABLE replies_in_progress ADD COLUMN reply_message_id INTEGER;
    """,
    """
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id INTEGER NOT NULL,
        thread_id INTEGER NOT NULL DEFAULT 0,
        user_id INTEGER,
        user_name TEXT,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        estimated INTEGER NOT NULL,
        cost REAL,
        created_at REAL NOT NULL
    );
    CREATE INDEX usage_by_user ON usage (user_id, created_at);
    CREATE INDEX usage_by_chat ON usage (chat_id, created_at);
    CREATE INDEX usage_by_time ON usage (created_at);
    """,
    """
    CREATE TABLE received (
        chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        thread_id INTEGER NOT NULL DEFAULT 0,
        waiting INTEGER NOT NULL DEFAULT 0,
        received_at REAL NOT NULL,
        PRIMARY KEY (chat_id, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX received_by_time ON received (received_at);
    """,
]

#: Messages are remembered this long (seconds) to recognise one delivered again.
RECEIVED_KEPT = 7 * 24 * 3600.0
#: Every this many new messages, those older than :data:`RECEIVED_KEPT` are forgotten.
RECEIVED_PRUNE_EVERY = 1000


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, None when there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _insert_turn(
    key: ConversationKey,
    role: Role,
    content: str,
    author: str | None = None,
    user_id: int | None = None,
    images: Sequence[str] = (),
) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters appending one turn."""
    return (
        "INSERT INTO messages (chat_id, thread_id, role, content, author, created_at, user_id, images)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key.chat_id,
            key.thread_id,
            role,
            content,
            author,
            time.time(),
            user_id,
            json.dumps(list(images)) if images else None,
        ),
    )


def _usage_filter(since: float, user_id: int | None, chat_id: int | None) -> tuple[str, list[Any]]:
    where, parameters = ["created_at >= ?"], [since]
    if user_id is not None:
        where.append("user_id = ?")
        parameters.append(user_id)
    if chat_id is not None:
        where.append("chat_id = ?")
        parameters.append(chat_id)
    return " AND ".join(where), parameters


class StorageError(RuntimeError):
    """The database cannot be opened, read or written (a sqlite3 or file-system error, with its cause
    in words: "database or disk is full", "attempt to write a readonly database", "file is not a database")."""


class SchemaTooNewError(StorageError):
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
    """A chat's choices; forum topics share them. None means "not chosen": the whole chain, the
    default model, the operator's ``SYSTEM_PROMPT``."""

    provider: str | None = None
    model: str | None = None
    system_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One stored turn. ``author`` is the sender's display name in groups, else None; ``user_id``
    the Telegram user who wrote a user turn (None for answers and for turns stored before schema 3);
    ``images`` the Telegram ``file_id`` of each image the turn showed (the bytes stay with Telegram)."""

    id: int
    role: Role
    content: str
    author: str | None
    created_at: float
    user_id: int | None = None
    images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InterruptedReply:
    """A reply that was being written when the bot last stopped without finishing it (killed, crashed,
    power lost): the conversation, the Telegram ``message_id`` of the user's message it answered, and
    that of the newest message of the reply (the one with the Stop button), if one was sent. With
    ``started`` False: a question received and confirmed to Telegram that was still waiting for its
    turn (not stored, not answered)."""

    key: ConversationKey
    message_id: int
    started_at: float
    reply_message_id: int | None = None
    #: False for a question that was still waiting for its turn (received, never started).
    started: bool = True


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One answer in the usage ledger.

    Attributes:
        key: the conversation it was written in.
        user_id: who asked (None for an anonymous admin or a channel), and ``user_name`` their name.
        provider, model: who wrote the answer kept.
        prompt_tokens, completion_tokens: its tokens; ``estimated`` when the server counted none.
        cost: in US dollars, or None when no price is known (never a made-up cost).
        created_at: Unix time, seconds.
    """

    key: ConversationKey
    user_id: int | None
    user_name: str | None
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    estimated: bool
    cost: float | None
    created_at: float


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Answers and their tokens and cost over a period.

    Attributes:
        answers: how many answers.
        prompt_tokens, completion_tokens: their sums.
        cost: the sum of the known costs (US dollars).
        estimated: True when any of the tokens are estimates.
        unpriced: True when some answer had no known price (``cost`` is then a lower bound).
        label: what the row is about (a user's name, ``provider/model``), "" for plain totals.
        first_at: Unix time of the oldest of these answers, None when there is none.
    """

    answers: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    estimated: bool = False
    unpriced: bool = False
    label: str = ""
    first_at: float | None = None

    @property
    def tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


_TOTALS = (
    "COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost), 0),"
    " COALESCE(MAX(estimated), 0), COALESCE(MAX(cost IS NULL), 0), MIN(created_at)"
)


def _totals(row: sqlite3.Row | tuple[Any, ...], label: str = "") -> UsageTotals:
    first = float(row[6]) if row[6] is not None else None
    return UsageTotals(int(row[0]), int(row[1]), int(row[2]), float(row[3]), bool(row[4]), bool(row[5]), label, first)


async def _configure(db: aiosqlite.Connection) -> None:
    """The connection settings: WAL (readers never wait for the writer), NORMAL sync, and 5 s of
    waiting for another process's lock before SQLite answers "database is locked"."""
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.execute("PRAGMA busy_timeout=5000")


async def _connect(path: Path) -> aiosqlite.Connection:
    """A configured connection to the database at ``path`` (see :func:`_configure`)."""
    db = await aiosqlite.connect(str(path))
    try:
        await _configure(db)
    except BaseException:
        await db.close()
        raise
    return db


class ConversationStore:
    """Async access to the history database. Create with :meth:`open`, finish with :meth:`close`.

    Every method raises :class:`StorageError` when SQLite fails (read-only file, full disk, corruption);
    a failed write changes nothing already stored (each write is one transaction).
    """

    def __init__(self, db: aiosqlite.Connection, path: Path | None = None) -> None:
        self._db = db
        #: The database file and its identity (device, inode) when opened; None for ":memory:".
        self._path = path
        self._identity = _identity(path) if path is not None else None
        self._lost = False
        self._received = 0
        #: Held while a deleted file is put back: every use of the connection waits for it.
        self._restoring = asyncio.Lock()

    async def _check_file(self) -> None:
        """Make sure the database file is still the one opened before using it.

        A file deleted while the bot runs (SQLite would go on writing into the unlinked file, and
        everything would be lost at the next start) is put back from the open connection, which
        still holds every row (:meth:`_restore`: SQLite's online backup into the original path),
        logged once as a warning. A file replaced by another one (an operator restoring a backup)
        is not overwritten: nothing more is written.

        Raises:
            StorageError: the file was replaced, or cannot be put back (logged once, as an error).
        """
        if self._path is None or _identity(self._path) == self._identity:
            return
        async with self._restoring:
            if _identity(self._path) == self._identity:
                return  # put back meanwhile
            if _identity(self._path) is None and not self._lost:
                try:
                    await self._restore()
                except (sqlite3.Error, OSError, ValueError) as error:
                    logger.error("cannot put the deleted database file %s back: %s", self._path, error)
                else:
                    logger.warning(
                        "the database file %s was deleted while the bot runs; it was put back from the open"
                        " connection with every row, and the bot goes on",
                        self._path,
                    )
                    return
            message = (
                f"the database file {self._path} was deleted or replaced while the bot runs; nothing more is"
                " written. Restore it (or let a restart create a new one)"
            )
            if not self._lost:
                self._lost = True
                logger.error("%s", message)
            raise StorageError(message)

    async def _restore(self) -> None:
        """Put the deleted database file back: SQLite's online backup of the open connection into a
        file beside it, the old connection closed (its last WAL frames go into the unlinked file,
        and its ``-wal`` and ``-shm`` files go), the copy renamed into place and opened as today."""
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        copy = self._path.with_name(f".{self._path.name}.restoring")
        copy.unlink(missing_ok=True)
        target = await aiosqlite.connect(str(copy))
        try:
            await self._db.backup(target)
        finally:
            await target.close()
        await self._db.close()
        os.replace(copy, self._path)
        self._db = await _connect(self._path)
        self._identity = _identity(self._path)

    @classmethod
    async def open(cls, path: Path | str) -> ConversationStore:
        """Open (creating folders and file as needed), enable WAL, and migrate to the latest schema.

        ``":memory:"`` opens a private in-memory database.

        Raises:
            StorageError: the path is a folder, cannot be created or written, or is not a SQLite
                database; :class:`SchemaTooNewError` for a database of a newer bot.
        """
        if str(path) != ":memory:":
            path = Path(path)
            if path.is_dir():
                raise StorageError(f"{path} is a folder; name a file, for example {path / 'bot.sqlite3'}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StorageError(f"cannot create the folder {path.parent}: {error.strerror or error}") from None
        try:
            db = await aiosqlite.connect(str(path))
        except sqlite3.Error as error:
            raise StorageError(f"cannot open {path}: {error}") from None
        try:
            await _configure(db)
            store = cls(db, None if str(path) == ":memory:" else Path(path))
            await store._migrate()
        except sqlite3.Error as error:
            await db.close()
            raise StorageError(f"cannot use {path}: {error}") from None
        except BaseException:
            await db.close()
            raise
        return store

    async def _write(self, sql: str, parameters: Iterable[Any] = ()) -> sqlite3.Cursor | aiosqlite.Cursor:
        """Run one statement and commit; a failure is rolled back and raised as :class:`StorageError`."""
        await self._check_file()
        try:
            cursor = await self._db.execute(sql, tuple(parameters))
            await self._db.commit()
        except sqlite3.Error as error:
            await self._rollback()
            raise StorageError(str(error)) from error
        return cursor

    async def _rows(self, sql: str, parameters: Iterable[Any] = ()) -> list[sqlite3.Row]:
        await self._check_file()
        try:
            async with self._db.execute(sql, tuple(parameters)) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as error:
            raise StorageError(str(error)) from error

    async def _rollback(self) -> None:
        try:
            await self._db.rollback()
        except sqlite3.Error:
            pass

    async def close(self) -> None:
        """Close the database connection."""
        await self._db.close()

    async def schema_version(self) -> int:
        """The applied schema version (``PRAGMA user_version``): the number of migrations run."""
        rows = await self._rows("PRAGMA user_version")
        return int(rows[0][0]) if rows else 0

    async def _migrate(self) -> None:
        version = await self.schema_version()
        if version > len(MIGRATIONS):
            raise SchemaTooNewError(
                f"the database's schema version {version} is newer than this bot knows ({len(MIGRATIONS)});"
                " run a newer version of the bot, or point DATABASE_PATH at another file"
            )
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            try:
                await self._db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {target};\nCOMMIT;")
            except sqlite3.Error:
                await self._rollback()
                raise

    async def add(
        self,
        key: ConversationKey,
        role: Role,
        content: str,
        author: str | None = None,
        user_id: int | None = None,
        images: Sequence[str] = (),
    ) -> int:
        """Append a turn and commit; returns its row id. ``images``: Telegram file_ids it showed."""
        cursor = await self._write(*_insert_turn(key, role, content, author, user_id, images))
        return int(cursor.lastrowid or 0)

    async def replace(self, old_id: int, key: ConversationKey, role: Role, content: str) -> int:
        """Delete the turn ``old_id`` and append a new one in one transaction (/retry's new answer
        replacing the old): on a failure both stay as they were. Returns the new turn's row id."""
        await self._check_file()
        try:
            await self._db.execute("DELETE FROM messages WHERE id = ?", (old_id,))
            cursor = await self._db.execute(*_insert_turn(key, role, content))
            await self._db.commit()
        except sqlite3.Error as error:
            await self._rollback()
            raise StorageError(str(error)) from error
        return int(cursor.lastrowid or 0)

    async def recent(self, key: ConversationKey, limit: int) -> list[StoredMessage]:
        """The newest ``limit`` turns of the conversation, oldest first."""
        rows = await self._rows(
            "SELECT id, role, content, author, created_at, user_id, images FROM messages"
            " WHERE chat_id = ? AND thread_id = ? ORDER BY id DESC LIMIT ?",
            (key.chat_id, key.thread_id, limit),
        )
        return [
            StoredMessage(int(r[0]), r[1], r[2], r[3], float(r[4]), r[5], tuple(json.loads(r[6])) if r[6] else ())
            for r in reversed(rows)
        ]

    async def delete(self, message_id: int) -> None:
        """Delete one stored turn by its row id."""
        await self._write("DELETE FROM messages WHERE id = ?", (message_id,))

    async def count(self, key: ConversationKey) -> int:
        """How many turns the conversation holds."""
        rows = await self._rows(
            "SELECT COUNT(*) FROM messages WHERE chat_id = ? AND thread_id = ?", (key.chat_id, key.thread_id)
        )
        return int(rows[0][0]) if rows else 0

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        """The chat's provider and model choices (defaults when none were made)."""
        rows = await self._rows(
            "SELECT provider, model, system_prompt FROM chat_settings WHERE chat_id = ?", (chat_id,)
        )
        return ChatSettings(rows[0][0], rows[0][1], rows[0][2]) if rows else ChatSettings()

    async def save_chat_settings(self, chat_id: int, settings: ChatSettings) -> None:
        """Store the chat's choices (replacing earlier ones)."""
        await self._write(
            "INSERT INTO chat_settings (chat_id, provider, model, system_prompt, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id) DO UPDATE SET provider = excluded.provider, model = excluded.model,"
            " system_prompt = excluded.system_prompt, updated_at = excluded.updated_at",
            (chat_id, settings.provider, settings.model, settings.system_prompt, time.time()),
        )

    async def clear(self, key: ConversationKey) -> int:
        """Delete the conversation's history; returns how many turns were removed."""
        cursor = await self._write(
            "DELETE FROM messages WHERE chat_id = ? AND thread_id = ?", (key.chat_id, key.thread_id)
        )
        return cursor.rowcount

    async def reply_started(self, key: ConversationKey, message_id: int) -> None:
        """Note that a reply to the user's message ``message_id`` is being written in ``key``."""
        await self._write(
            "INSERT OR REPLACE INTO replies_in_progress (chat_id, thread_id, message_id, started_at)"
            " VALUES (?, ?, ?, ?)",
            (key.chat_id, key.thread_id, message_id, time.time()),
        )

    async def reply_shown(self, key: ConversationKey, reply_message_id: int) -> None:
        """Note the newest Telegram message of the reply in progress in ``key`` (see :meth:`reply_started`)."""
        await self._write(
            "UPDATE replies_in_progress SET reply_message_id = ? WHERE chat_id = ? AND thread_id = ?",
            (reply_message_id, key.chat_id, key.thread_id),
        )

    async def reply_finished(self, key: ConversationKey) -> None:
        """The reply noted by :meth:`reply_started` ended (answered, failed or stopped)."""
        await self._write(
            "DELETE FROM replies_in_progress WHERE chat_id = ? AND thread_id = ?", (key.chat_id, key.thread_id)
        )

    async def take_interrupted(self) -> list[InterruptedReply]:
        """The replies started and never finished before this start (the bot was killed mid-answer),
        and the questions that were still waiting for their turn (:meth:`waiting`), oldest first;
        they are forgotten once returned."""
        rows = await self._rows(
            "SELECT chat_id, thread_id, message_id, started_at, reply_message_id, 1 FROM replies_in_progress"
            " UNION ALL SELECT chat_id, thread_id, message_id, received_at, NULL, 0 FROM received r"
            " WHERE waiting = 1 AND NOT EXISTS (SELECT 1 FROM replies_in_progress p"
            " WHERE p.chat_id = r.chat_id AND p.message_id = r.message_id) ORDER BY 4"
        )
        await self._write("DELETE FROM replies_in_progress")
        await self._write("UPDATE received SET waiting = 0 WHERE waiting = 1")
        return [
            InterruptedReply(ConversationKey(int(r[0]), int(r[1])), int(r[2]), float(r[3]), r[4], bool(r[5]))
            for r in rows
        ]

    async def receive(self, key: ConversationKey, message_id: int) -> bool:
        """Note a message as received; False when it was already (Telegram or a proxy delivered it
        twice, in one batch or later, before a restart too): it is then not handled again."""
        cursor = await self._write(
            "INSERT OR IGNORE INTO received (chat_id, message_id, thread_id, received_at) VALUES (?, ?, ?, ?)",
            (key.chat_id, message_id, key.thread_id, time.time()),
        )
        if cursor.rowcount == 0:
            return False
        self._received += 1
        if self._received % RECEIVED_PRUNE_EVERY == 0:
            await self._write(
                "DELETE FROM received WHERE received_at < ? AND waiting = 0", (time.time() - RECEIVED_KEPT,)
            )
        return True

    async def waiting(self, key: ConversationKey, message_id: int, waiting: bool = True) -> None:
        """Note that the question ``message_id`` waits for its turn (``waiting``), or that its turn
        ended; a question still waiting when the bot is killed is announced after the restart."""
        await self._write(
            "UPDATE received SET waiting = ? WHERE chat_id = ? AND message_id = ?",
            (int(waiting), key.chat_id, message_id),
        )

    async def record_usage(self, record: UsageRecord) -> None:
        """Add one answer to the usage ledger."""
        await self._write(
            "INSERT INTO usage (chat_id, thread_id, user_id, user_name, provider, model, prompt_tokens,"
            " completion_tokens, estimated, cost, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.key.chat_id,
                record.key.thread_id,
                record.user_id,
                record.user_name,
                record.provider,
                record.model,
                record.prompt_tokens,
                record.completion_tokens,
                int(record.estimated),
                record.cost,
                record.created_at,
            ),
        )

    async def usage_totals(
        self, since: float, *, user_id: int | None = None, chat_id: int | None = None
    ) -> UsageTotals:
        """The ledger's totals from Unix time ``since`` on: the user's (in every chat), the chat's, or
        (neither given) the whole bot's."""
        where, parameters = _usage_filter(since, user_id, chat_id)
        rows = await self._rows(f"SELECT {_TOTALS} FROM usage WHERE {where}", parameters)
        return _totals(rows[0])

    async def top_users(self, chat_id: int, since: float, limit: int = 5) -> list[UsageTotals]:
        """The chat's users with the most tokens from ``since`` on, most first (label: their name or id)."""
        rows = await self._rows(
            f"SELECT {_TOTALS}, user_id, MAX(user_name) FROM usage WHERE chat_id = ? AND created_at >= ?"
            " GROUP BY user_id ORDER BY SUM(prompt_tokens + completion_tokens) DESC, user_id LIMIT ?",
            (chat_id, since, limit),
        )
        return [_totals(r, str(r[8] or r[7] or "?")) for r in rows]

    async def usage_by_model(self, since: float) -> list[UsageTotals]:
        """The whole bot's totals per provider and model from ``since`` on, most tokens first
        (label: ``provider/model``)."""
        rows = await self._rows(
            f"SELECT {_TOTALS}, provider, model FROM usage WHERE created_at >= ?"
            " GROUP BY provider, model ORDER BY SUM(prompt_tokens + completion_tokens) DESC, provider, model",
            (since,),
        )
        return [_totals(r, f"{r[7]}/{r[8]}") for r in rows]

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a chat's history, settings and replies in progress to a new id, in one transaction: a
        group upgraded to a supergroup gets a new chat id (Bot API ``migrate_to_chat_id``). Settings
        already stored for the new id are kept."""
        await self._check_file()
        try:
            await self._db.execute("BEGIN")
            for table in ("messages", "replies_in_progress", "usage", "received"):
                await self._db.execute(
                    f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
                )
            await self._db.execute(
                "UPDATE OR IGNORE chat_settings SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
            )
            await self._db.execute("DELETE FROM chat_settings WHERE chat_id = ?", (old_chat_id,))
            await self._db.commit()
        except sqlite3.Error as error:
            await self._rollback()
            raise StorageError(str(error)) from error
