"""Conversation store: per-chat (and per forum topic) message history in SQLite.

aiosqlite runs SQLite in a worker thread; the database is in WAL mode so
reads do not block the single writer. The schema is versioned with
``PRAGMA user_version`` and :data:`MIGRATIONS` are applied at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiosqlite

from bot.state.backlog import Backlog, BacklogFullError, PendingTurn, PendingWrite

logger = logging.getLogger(__name__)

Role = Literal["user", "assistant"]
_T = TypeVar("_T")

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
    """
    CREATE TABLE updates (
        update_id INTEGER PRIMARY KEY,
        body TEXT NOT NULL,
        received_at REAL NOT NULL,
        done INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX updates_by_time ON updates (received_at);
    """,
    """
    CREATE TABLE replicas (id TEXT PRIMARY KEY, seen_at REAL NOT NULL) WITHOUT ROWID;
    CREATE TABLE leases (chat_id INTEGER PRIMARY KEY, owner TEXT NOT NULL);
    ALTER TABLE replies_in_progress ADD COLUMN owner TEXT;
    ALTER TABLE received ADD COLUMN owner TEXT;
    ALTER TABLE updates ADD COLUMN chat_id INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE updates ADD COLUMN message_id INTEGER;
    ALTER TABLE updates ADD COLUMN owner TEXT;
    CREATE INDEX updates_open ON updates (done, chat_id, update_id);
    """,
    """
    CREATE TABLE provider_cooldowns (provider TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID;
    """,
    """
    ALTER TABLE chat_settings ADD COLUMN language TEXT;
    """,
    """
    ALTER TABLE chat_settings ADD COLUMN reasoning INTEGER;
    """,
    """
    ALTER TABLE chat_settings ADD COLUMN conversation INTEGER;
    """,
    """
    CREATE TABLE group_context (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id INTEGER NOT NULL,
        thread_id INTEGER NOT NULL,
        author TEXT,
        text TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX group_context_by_conversation ON group_context (chat_id, thread_id, id);
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
    created_at: float | None = None,
) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters appending one turn (``created_at``: Unix time, default now)."""
    return (
        "INSERT INTO messages (chat_id, thread_id, role, content, author, created_at, user_id, images)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key.chat_id,
            key.thread_id,
            role,
            content,
            author,
            time.time() if created_at is None else created_at,
            user_id,
            json.dumps(list(images)) if images else None,
        ),
    )


def usage_filter(
    since: float, user_id: int | None, chat_id: int | None, mark: Callable[[int], str] = lambda _: "?"
) -> tuple[str, list[Any]]:
    """The ``WHERE`` condition of a ledger query from ``since`` on, for a user and/or a chat, and its
    parameters; ``mark(n)`` writes the n-th parameter's placeholder (``?`` for SQLite, ``$n`` for
    PostgreSQL)."""
    where, parameters = [f"created_at >= {mark(1)}"], [since]
    for column, value in (("user_id", user_id), ("chat_id", chat_id)):
        if value is not None:
            parameters.append(value)
            where.append(f"{column} = {mark(len(parameters))}")
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
    #: The language chosen with /language (a catalog language code), or None: the person's own
    #: (private chats) or ``DEFAULT_LANGUAGE`` (groups).
    language: str | None = None
    #: /reasoning: show the model's reasoning folded above its answers (True), hide it (False), or
    #: None: shown (when the operator's ``REASONING_MAX_CHARS`` is not 0).
    reasoning: bool | None = None
    #: The conversation the chat's messages outside forum topics go to (/new, /conversations): a
    #: ``thread_id`` of 0 or below (those never clash with Telegram's topics); None: 0, the first.
    conversation: int | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation of a chat outside forum topics (/conversations).

    Attributes:
        thread_id: its ``thread_id`` in the history (0 or below).
        first_question: its first user turn's text ("" when it has none), which names it.
        turns: how many turns it holds.
        last_at: when its newest turn was stored (Unix time).
    """

    thread_id: int
    first_question: str
    turns: int
    last_at: float


#: The chat_settings columns a chat's choices are stored in, in :func:`settings_row`'s order.
SETTINGS_COLUMNS = ("provider", "model", "system_prompt", "language", "reasoning", "conversation")


def settings_row(settings: ChatSettings) -> tuple[str | int | None, ...]:
    """The values of :data:`SETTINGS_COLUMNS` for ``settings`` (a choice of /reasoning as 0 or 1)."""
    reasoning = None if settings.reasoning is None else int(settings.reasoning)
    conversation = settings.conversation or None
    return (settings.provider, settings.model, settings.system_prompt, settings.language, reasoning, conversation)


#: The conversations of a chat outside forum topics, most recent first: thread_id, first question,
#: turns, newest turn's time (placeholders ``chat`` and ``limit``, each store's own style).
CONVERSATIONS_QUERY = (
    "SELECT m.thread_id,"
    " (SELECT f.content FROM messages f WHERE f.chat_id = m.chat_id AND f.thread_id = m.thread_id"
    "  AND f.role = 'user' ORDER BY f.id LIMIT 1),"
    " COUNT(*), MAX(m.created_at)"
    " FROM messages m WHERE m.chat_id = {chat} AND m.thread_id <= 0"
    " GROUP BY m.chat_id, m.thread_id ORDER BY MAX(m.id) DESC LIMIT {limit}"
)


#: Forget a conversation's kept group messages but the newest ``keep`` (placeholders ``a``: chat,
#: ``b``: thread, ``keep``).
GROUP_CONTEXT_TRIM = (
    "DELETE FROM group_context WHERE chat_id = {a} AND thread_id = {b} AND id NOT IN"
    " (SELECT id FROM group_context WHERE chat_id = {a} AND thread_id = {b} ORDER BY id DESC LIMIT {keep})"
)


def settings_upsert(placeholders: Sequence[str]) -> str:
    """The statement storing a chat's choices: ``chat_id``, :data:`SETTINGS_COLUMNS` and ``updated_at``,
    one placeholder each (``?`` for SQLite, ``$1``... for PostgreSQL), replacing earlier ones."""
    columns = ("chat_id", *SETTINGS_COLUMNS, "updated_at")
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns[1:])
    return (
        f"INSERT INTO chat_settings ({', '.join(columns)}) VALUES ({', '.join(placeholders)})"
        f" ON CONFLICT (chat_id) DO UPDATE SET {updates}"
    )


def settings_from_row(row: Sequence[Any]) -> ChatSettings:
    """The :class:`ChatSettings` a row of :data:`SETTINGS_COLUMNS` stores."""
    provider, model, system_prompt, language, reasoning, conversation = row
    shown = None if reasoning is None else bool(reasoning)
    return ChatSettings(provider, model, system_prompt, language, shown, int(conversation) if conversation else None)


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


def totals_from_row(row: Sequence[Any], label: str = "") -> UsageTotals:
    """The totals of a ledger row selected with the store's totals columns (answers, prompt and
    completion tokens, cost, estimated, unpriced, first time), in that order."""
    first = float(row[6]) if row[6] is not None else None
    return UsageTotals(int(row[0]), int(row[1]), int(row[2]), float(row[3]), bool(row[4]), bool(row[5]), label, first)


#: Seconds SQLite waits for another process's write lock before a write waits in the backlog
#: instead (:mod:`bot.state.backlog`): a short lock (a backup's moment) is waited out, a long one is not.
BUSY_TIMEOUT = 1.0
#: Seconds each try of the backlog's writer waits for the lock (reads wait as long: one connection).
FLUSH_BUSY_TIMEOUT = 0.2
#: Seconds between two tries of the backlog's writer, at most.
FLUSH_RETRY_MAX = 1.0
#: Seconds the database may stay locked before it is reported (an error line; writes go on waiting).
LOCK_REPORT_AFTER = 30.0
#: Seconds :meth:`ConversationStore.close` keeps trying to write the backlog before saving it.
CLOSE_FLUSH_SECONDS = 5.0


#: What ``python -m bot copy-store`` copies: each table's columns (ids are given anew, in order).
PORTABLE: dict[str, tuple[str, ...]] = {
    "messages": ("chat_id", "thread_id", "role", "content", "author", "created_at", "user_id", "images"),
    "chat_settings": (
        "chat_id", "provider", "model", "system_prompt", "language", "reasoning", "conversation", "updated_at",
    ),
    "usage": (
        "chat_id", "thread_id", "user_id", "user_name", "provider", "model", "prompt_tokens",
        "completion_tokens", "estimated", "cost", "created_at",
    ),
}  # fmt: skip
#: Each table's order key for copying in batches.
ORDER_KEYS = {"messages": "id", "chat_settings": "chat_id", "usage": "id"}

#: SQL: the row's ``owner`` replica is gone (none, or not seen lately); parameters ``me`` and ``since``.
_GONE = "(owner IS NULL OR (owner <> :me AND owner NOT IN (SELECT id FROM replicas WHERE seen_at >= :since)))"


def new_replica_id() -> str:
    """A new id for this process among the replicas, ``host-pid-random`` (random: a restarted
    process is a new replica)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def earlier_here(ids: Iterable[str], me: str) -> list[str]:
    """The replicas among ``ids`` that ran on this host and are gone for certain: their process is
    no longer running, or it is this process's (an earlier run of the same process id, as a
    restarted container's process 1 is). Other hosts' replicas are left to time out."""
    host = me.rpartition("-")[0].rpartition("-")[0]
    gone = []
    for replica in ids:
        their_host, _, their_pid = replica.rpartition("-")[0].rpartition("-")
        if replica == me or their_host != host or not their_pid.isdigit():
            continue
        pid = int(their_pid)
        if pid == os.getpid() or not _running(pid):
            gone.append(replica)
    return gone


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


#: Seconds between two heartbeats of a replica (:meth:`ConversationStore.beat`).
BEAT_INTERVAL = 10.0
#: A replica not seen for this many seconds is dead: its conversations, updates and replies in
#: progress are taken over by the others.
REPLICA_TIMEOUT = 30.0


def _is_locked(error: sqlite3.Error) -> bool:
    """True for SQLite's "database is locked" / "database is busy": another process holds a lock."""
    return isinstance(error, sqlite3.OperationalError) and any(w in str(error) for w in ("locked", "busy"))


async def _configure(db: aiosqlite.Connection, busy_timeout: float = BUSY_TIMEOUT) -> None:
    """The connection settings: WAL (readers never wait for the writer), NORMAL sync, and
    ``busy_timeout`` seconds of waiting for another process's lock before SQLite answers
    "database is locked"."""
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")


async def _connect(path: Path, busy_timeout: float = BUSY_TIMEOUT) -> aiosqlite.Connection:
    """A configured connection to the database at ``path`` (see :func:`_configure`)."""
    db = await aiosqlite.connect(str(path))
    try:
        await _configure(db, busy_timeout)
    except BaseException:
        await db.close()
        raise
    return db


class ConversationStore:
    """Async access to the history database. Create with :meth:`open`, finish with :meth:`close`.

    Every method raises :class:`StorageError` when SQLite fails (read-only file, full disk, corruption);
    a failed write changes nothing already stored (each write is one transaction).

    **Another process holding the write lock** (an operator's ``sqlite3`` shell, a backup tool) for
    longer than ``busy_timeout`` seconds does not fail writes: they wait in a :class:`~bot.state.backlog.Backlog`,
    in order, reads see them (history, chat settings, received messages; not the usage ledger), and a
    background writer puts them in once the lock is released. A lock held over
    :data:`LOCK_REPORT_AFTER` seconds is reported (one error line); writes keep waiting, at most
    :data:`~bot.state.backlog.MAX_PENDING` of them. Writes still waiting when the store closes are saved
    beside the database (``NAME.pending.json``) and written at the next start.
    """

    def __init__(
        self,
        db: aiosqlite.Connection,
        path: Path | None = None,
        busy_timeout: float = BUSY_TIMEOUT,
        replica_id: str | None = None,
    ) -> None:
        self._db = db
        #: This process among the replicas sharing the database (see :class:`~bot.state.protocols.Replicas`).
        self.replica_id = replica_id or new_replica_id()
        #: The database file and its identity (device, inode) when opened; None for ":memory:".
        self._path = path
        self._identity = _identity(path) if path is not None else None
        self._lost = False
        self._received = 0
        self._updates = 0
        #: Statements run since start (a benchmark's measure of the work per turn).
        self.statements = 0
        #: Held while a deleted file is put back: every use of the connection waits for it.
        self._restoring = asyncio.Lock()
        self._busy_timeout = busy_timeout
        #: Writes go one at a time: they share the connection, so a write's rollback would also undo
        #: another one's statements not committed yet.
        self._writing = asyncio.Lock()
        #: Writes waiting for another process's lock, and the task writing them.
        self._backlog = Backlog()
        self._flusher: asyncio.Task[None] | None = None
        self._locked_since: float | None = None
        self._reported = False
        #: The backlog holds writes saved at the last stop: the file is kept up to date until it is empty.
        self._from_file = False
        #: When :meth:`close` stops waiting for the lock (monotonic seconds), or None.
        self._close_by: float | None = None

    @property
    def pending_path(self) -> Path | None:
        """Where writes still waiting at :meth:`close` are saved: ``NAME.pending.json`` beside the database."""
        return self._path.with_name(self._path.name + ".pending.json") if self._path is not None else None

    @property
    def waiting_writes(self) -> int:
        """Writes waiting for another process's lock on the database."""
        return len(self._backlog)

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
        async with self._writing:  # no write is half done on the connection being closed
            target = await aiosqlite.connect(str(copy))
            try:
                await self._db.backup(target)
            finally:
                await target.close()
            await self._db.close()
            os.replace(copy, self._path)
            self._db = await _connect(self._path, self._busy_timeout)
            self._identity = _identity(self._path)

    @classmethod
    async def open(
        cls, path: Path | str, busy_timeout: float = BUSY_TIMEOUT, replica_id: str | None = None
    ) -> ConversationStore:
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
            await _configure(db, busy_timeout)
            store = cls(db, None if str(path) == ":memory:" else Path(path), busy_timeout, replica_id)
            await db.set_trace_callback(store._count_statement)
            await store._migrate()
            store._load_pending()
            await store.beat()
        except sqlite3.Error as error:
            await db.close()
            raise StorageError(f"cannot use {path}: {error}") from None
        except BaseException:
            await db.close()
            raise
        return store

    def _count_statement(self, sql: str) -> None:
        self.statements += 1

    async def _write(self, sql: str, parameters: Iterable[Any] = (), **overlay: Any) -> int:
        """Run one statement and commit (see :meth:`_submit`); returns the rows it changed, -1 when
        it waits for another process's lock. ``overlay``: what reads see of it meanwhile
        (:class:`~bot.state.backlog.PendingWrite`'s ``cleared``, ``settings``, ``received``)."""
        _, changed = await self._submit(PendingWrite("sql", [(sql, tuple(parameters))], **overlay))
        return changed

    async def _submit(self, write: PendingWrite) -> tuple[int | None, int]:
        """Run ``write`` in one transaction now, or queue it behind the writes waiting for another
        process's lock (also when it meets that lock itself). Returns the row id of the turn it
        appends (provisional while it waits) and the rows its last statement changed (-1: waits).

        Raises:
            StorageError: SQLite failed for another reason (rolled back), the file was replaced, or
                :data:`~bot.state.backlog.MAX_PENDING` writes wait already.
        """
        await self._check_file()
        if not self._backlog:
            try:
                async with self._writing:
                    try:
                        return await self._apply(write)
                    except sqlite3.Error:
                        await self._rollback()
                        raise
            except sqlite3.Error as error:
                if not _is_locked(error):
                    raise StorageError(str(error)) from error
                self._locked_since = time.monotonic()
                logger.warning(
                    "the database is locked by another process; writes wait in memory, in order, and go in"
                    " once it is free"
                )
        try:
            self._backlog.append(write)
        except BacklogFullError as error:
            raise StorageError(str(error)) from None
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return (write.turn.id if write.turn is not None else None), -1

    def _statements(self, write: PendingWrite) -> list[tuple[str, tuple[Any, ...]]]:
        """The SQL of ``write``, with a provisional turn id resolved to its row id."""
        statements = list(write.statements)
        if write.target is not None:
            statements.append(("DELETE FROM messages WHERE id = ?", (self._backlog.resolve(write.target),)))
        turn = write.turn
        if turn is not None:
            key = ConversationKey(turn.chat_id, turn.thread_id)
            statements.append(
                _insert_turn(key, turn.role, turn.content, turn.author, turn.user_id, turn.images, turn.created_at)  # type: ignore[arg-type]
            )
        return statements

    async def _apply(self, write: PendingWrite) -> tuple[int | None, int]:
        """Run ``write`` in one transaction; (row id of its turn or None, rows its last statement changed).

        Raises:
            sqlite3.Error: it failed (the caller rolls back).
        """
        cursor = None
        for sql, parameters in self._statements(write):
            cursor = await self._db.execute(sql, parameters)
        await self._db.commit()
        if cursor is None:
            return None, 0
        return (int(cursor.lastrowid or 0) if write.turn is not None else None), cursor.rowcount

    async def _flush(self) -> None:
        """Write the waiting writes in order once the lock is released (retrying every
        :data:`FLUSH_RETRY_MAX` seconds at most); report a lock held over :data:`LOCK_REPORT_AFTER`
        seconds; stop at :meth:`close`'s deadline."""
        written = 0
        wait = 0.05
        await self._db.execute(f"PRAGMA busy_timeout={int(FLUSH_BUSY_TIMEOUT * 1000)}")
        try:
            while (write := self._backlog.head()) is not None:
                if self._close_by is not None and time.monotonic() > self._close_by:
                    return
                try:
                    async with self._writing:
                        try:
                            turn_id, _ = await self._apply(write)
                        except sqlite3.Error:
                            await self._rollback()
                            raise
                except sqlite3.Error as error:
                    if not _is_locked(error):
                        logger.error("a write that waited for the database's lock failed and is dropped: %s", error)
                        self._backlog.done()
                        continue
                    self._report_lock()
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, FLUSH_RETRY_MAX)
                    continue
                self._backlog.done(turn_id)
                written += 1
                wait = 0.05
                self._save_pending()
        finally:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await self._db.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        logger.warning("the database is free again: %d writes that waited went in, in order", written)
        self._locked_since, self._reported = None, False

    def _report_lock(self) -> None:
        since = self._locked_since
        if since is None:
            self._locked_since = since = time.monotonic()
        if not self._reported and time.monotonic() - since >= LOCK_REPORT_AFTER:
            self._reported = True
            logger.error(
                "the database %s has been locked by another process for %.0f s; %d writes wait in memory"
                " (at most %d) and go in once it is free; find what holds it (a sqlite3 shell, a backup tool)",
                self._path,
                time.monotonic() - since,
                len(self._backlog),
                self._backlog.limit,
            )

    def _save_pending(self) -> None:
        """Keep the saved backlog file in step while it is being written (see :meth:`_load_pending`)."""
        path = self.pending_path
        if not self._from_file or path is None:
            return
        try:
            if self._backlog:
                self._backlog.dump(path)
            else:
                path.unlink(missing_ok=True)
                self._from_file = False
        except OSError as error:
            logger.error("cannot update %s: %s", path, error)

    def _load_pending(self) -> None:
        """Queue the writes saved when the bot last stopped with the database locked."""
        path = self.pending_path
        if path is None or not path.exists():
            return
        try:
            count = self._backlog.load(path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.error("cannot read the writes saved in %s (%s); the file is left as it is", path, error)
            return
        self._from_file = True
        logger.warning("%d writes saved at the last stop (the database was locked) go in now", count)
        self._flusher = asyncio.create_task(self._flush())

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
        """Write what waits for the lock (for :data:`CLOSE_FLUSH_SECONDS` at most, then save it beside
        the database for the next start, see :attr:`pending_path`), and close the connection."""
        if self._flusher is not None and not self._flusher.done():
            self._close_by = time.monotonic() + CLOSE_FLUSH_SECONDS
            await self._flusher
        path = self.pending_path
        if self._backlog and path is not None:
            try:
                self._backlog.dump(path)
            except OSError as error:
                logger.error("the database is still locked and %d writes are lost: %s", len(self._backlog), error)
            else:
                logger.error(
                    "the database is still locked: %d writes are saved in %s and go in at the next start",
                    len(self._backlog),
                    path,
                )
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
        """Append a turn and commit; returns its row id (provisional, negative, while writes wait for
        another process's lock). ``images``: Telegram file_ids it showed."""
        turn = PendingTurn(
            key.chat_id,
            key.thread_id,
            self._backlog.provisional_id(),
            role,
            content,
            author,
            time.time(),
            user_id,
            tuple(images),
        )
        turn_id, _ = await self._submit(PendingWrite("add", turn=turn))
        return int(turn_id or 0)

    async def replace(self, old_id: int, key: ConversationKey, role: Role, content: str) -> int:
        """Delete the turn ``old_id`` and append a new one in one transaction (/retry's new answer
        replacing the old): on a failure both stay as they were. Returns the new turn's row id."""
        turn = PendingTurn(key.chat_id, key.thread_id, self._backlog.provisional_id(), role, content, None, time.time())
        turn_id, _ = await self._submit(PendingWrite("replace", turn=turn, target=old_id))
        return int(turn_id or 0)

    async def recent(self, key: ConversationKey, limit: int) -> list[StoredMessage]:
        """The newest ``limit`` turns of the conversation, oldest first (with the writes that wait for
        another process's lock applied)."""
        waiting = len(self._backlog)
        rows = await self._rows(
            "SELECT id, role, content, author, created_at, user_id, images FROM messages"
            " WHERE chat_id = ? AND thread_id = ? ORDER BY id DESC LIMIT ?",
            (key.chat_id, key.thread_id, limit + waiting),
        )
        turns = [
            StoredMessage(int(r[0]), r[1], r[2], r[3], float(r[4]), r[5], tuple(json.loads(r[6])) if r[6] else ())
            for r in reversed(rows)
        ]
        if waiting:
            turns = [
                t
                if isinstance(t, StoredMessage)
                else StoredMessage(t.id, t.role, t.content, t.author, t.created_at, t.user_id, t.images)  # type: ignore[arg-type]  # role: a Role
                for t in self._backlog.history(key.chat_id, key.thread_id, turns)
            ]
        return turns[-limit:] if limit > 0 else []

    async def delete(self, message_id: int) -> None:
        """Delete one stored turn by its row id (or the provisional id :meth:`add` gave)."""
        await self._submit(PendingWrite("delete", target=message_id))

    async def count(self, key: ConversationKey) -> int:
        """How many turns the conversation holds."""
        if self._backlog:
            return len(await self.recent(key, 1_000_000))
        rows = await self._rows(
            "SELECT COUNT(*) FROM messages WHERE chat_id = ? AND thread_id = ?", (key.chat_id, key.thread_id)
        )
        return int(rows[0][0]) if rows else 0

    async def note_group_message(self, key: ConversationKey, author: str | None, text: str, keep: int) -> None:
        """Keep a group message not addressed to the bot, for the next question's context; only the
        newest ``keep`` of the conversation stay."""
        await self._write(
            "INSERT INTO group_context (chat_id, thread_id, author, text, created_at) VALUES (?, ?, ?, ?, ?)",
            (key.chat_id, key.thread_id, author, text, time.time()),
        )
        chat, thread = key.chat_id, key.thread_id
        await self._write(GROUP_CONTEXT_TRIM.format(a="?", b="?", keep="?"), (chat, thread, chat, thread, keep))

    async def take_group_context(self, key: ConversationKey) -> list[tuple[str | None, str]]:
        """The group messages kept for ``key`` (author, text), oldest first; they are forgotten."""
        rows = await self._rows(
            "SELECT id, author, text FROM group_context WHERE chat_id = ? AND thread_id = ? ORDER BY id",
            (key.chat_id, key.thread_id),
        )
        if rows:
            await self._write(
                "DELETE FROM group_context WHERE chat_id = ? AND thread_id = ? AND id <= ?",
                (key.chat_id, key.thread_id, int(rows[-1][0])),
            )
        return [(r[1], str(r[2])) for r in rows]

    async def conversations(self, chat_id: int, limit: int) -> list[Conversation]:
        """The chat's conversations outside forum topics that hold turns, the most recent first, at
        most ``limit`` of them (writes still waiting for another process's lock are not counted)."""
        rows = await self._rows(CONVERSATIONS_QUERY.format(chat="?", limit="?"), (chat_id, limit))
        return [Conversation(int(r[0]), r[1] or "", int(r[2]), float(r[3])) for r in rows]

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        """The chat's provider and model choices (defaults when none were made)."""
        waiting = self._backlog.settings(chat_id)
        if waiting is not None:
            return settings_from_row(waiting[1:])
        rows = await self._rows(
            f"SELECT {', '.join(SETTINGS_COLUMNS)} FROM chat_settings WHERE chat_id = ?", (chat_id,)
        )
        return settings_from_row(tuple(rows[0])) if rows else ChatSettings()

    async def save_chat_settings(self, chat_id: int, settings: ChatSettings) -> None:
        """Store the chat's choices (replacing earlier ones)."""
        row = settings_row(settings)
        await self._write(settings_upsert("?" * (len(row) + 2)), (chat_id, *row, time.time()), settings=(chat_id, *row))

    async def clear(self, key: ConversationKey) -> int:
        """Delete the conversation's history, and the group messages kept for it; returns how many
        turns were removed."""
        await self._write("DELETE FROM group_context WHERE chat_id = ? AND thread_id = ?", (key.chat_id, key.thread_id))
        held = await self.count(key)
        removed = await self._write(
            "DELETE FROM messages WHERE chat_id = ? AND thread_id = ?",
            (key.chat_id, key.thread_id),
            cleared=(key.chat_id, key.thread_id),
        )
        return removed if removed >= 0 else held

    async def reply_started(self, key: ConversationKey, message_id: int) -> None:
        """Note that a reply to the user's message ``message_id`` is being written in ``key``."""
        await self._write(
            "INSERT OR REPLACE INTO replies_in_progress (chat_id, thread_id, message_id, started_at, owner)"
            " VALUES (?, ?, ?, ?, ?)",
            (key.chat_id, key.thread_id, message_id, time.time(), self.replica_id),
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

    async def take_interrupted(self, alone: bool = False) -> list[InterruptedReply]:
        """The replies started and never finished by a replica that is gone (this process before its
        restart, or a replica not seen for :data:`REPLICA_TIMEOUT` seconds; with ``alone``, as in
        polling mode, where no other process can run: every other replica), and the questions that
        were still waiting for their turn there (:meth:`waiting`), oldest first; they are forgotten
        once returned. A waiting question whose update the inbox still holds is not returned: its
        update is handed to the live replicas, to be answered (:meth:`claim_updates`)."""
        gone = {"me": self.replica_id, "since": time.time() + 1 if alone else time.time() - REPLICA_TIMEOUT}

        async def take(db: aiosqlite.Connection) -> list[sqlite3.Row]:
            async with db.execute(
                "SELECT chat_id, thread_id, message_id, started_at, reply_message_id, 1 FROM replies_in_progress"
                f" WHERE {_GONE} UNION ALL SELECT chat_id, thread_id, message_id, received_at, NULL, 0 FROM received r"
                f" WHERE waiting = 1 AND {_GONE} AND NOT EXISTS (SELECT 1 FROM replies_in_progress p"
                " WHERE p.chat_id = r.chat_id AND p.message_id = r.message_id) AND NOT EXISTS"
                " (SELECT 1 FROM updates u WHERE u.chat_id = r.chat_id AND u.message_id = r.message_id"
                " AND u.done = 0) ORDER BY 4",
                gone,
            ) as cursor:
                rows = list(await cursor.fetchall())
            await db.execute(
                f"DELETE FROM received AS r WHERE waiting = 1 AND {_GONE} AND NOT EXISTS (SELECT 1 FROM"
                " replies_in_progress p WHERE p.chat_id = r.chat_id AND p.message_id = r.message_id) AND EXISTS"
                " (SELECT 1 FROM updates u WHERE u.chat_id = r.chat_id AND u.message_id = r.message_id AND u.done = 0)",
                gone,
            )
            await db.execute(f"DELETE FROM replies_in_progress WHERE {_GONE}", gone)
            await db.execute(f"UPDATE received SET waiting = 0 WHERE waiting = 1 AND {_GONE}", gone)
            await db.execute(f"UPDATE updates SET owner = NULL WHERE done = 0 AND owner IS NOT NULL AND {_GONE}", gone)
            await db.execute(f"DELETE FROM leases WHERE {_GONE}", gone)
            return rows

        rows = await self._transaction(take)
        return [
            InterruptedReply(ConversationKey(int(r[0]), int(r[1])), int(r[2]), float(r[3]), r[4], bool(r[5]))
            for r in rows
        ]

    async def _transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[_T]]) -> _T:
        """``work`` in one transaction, committed (rolled back when it fails).

        Raises:
            StorageError: SQLite failed (another process holding the lock included: such work is
                tried again by its caller, it does not wait in the backlog).
        """
        await self._check_file()
        async with self._writing:
            try:
                result = await work(self._db)
                await self._db.commit()
            except sqlite3.Error as error:
                await self._rollback()
                raise StorageError(str(error)) from error
        return result

    async def beat(self) -> None:
        """Note that this replica is alive (every :data:`BEAT_INTERVAL` seconds)."""
        await self._write(
            "INSERT INTO replicas (id, seen_at) VALUES (?, ?)"
            " ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
            (self.replica_id, time.time()),
        )

    async def alive_count(self) -> int:
        """How many replicas are alive (this one included)."""
        rows = await self._rows("SELECT COUNT(*) FROM replicas WHERE seen_at >= ?", (time.time() - REPLICA_TIMEOUT,))
        return max(1, int(rows[0][0]))

    async def set_cooldown(self, provider: str, until: float) -> None:
        """``provider`` cools down until Unix time ``until``, for every replica."""
        await self._write(
            "INSERT INTO provider_cooldowns (provider, until) VALUES (?, ?)"
            " ON CONFLICT (provider) DO UPDATE SET until = MAX(until, excluded.until)",
            (provider, until),
        )

    async def clear_cooldown(self, provider: str) -> None:
        """``provider`` answered: no replica need wait for it."""
        await self._write("DELETE FROM provider_cooldowns WHERE provider = ?", (provider,))

    async def cooldowns(self) -> dict[str, float]:
        """The providers cooling down now, and until when (Unix time)."""
        rows = await self._rows("SELECT provider, until FROM provider_cooldowns WHERE until > ?", (time.time(),))
        return {str(r[0]): float(r[1]) for r in rows}

    async def forget_gone_here(self) -> list[str]:
        """Forget the replicas that ran on this host and are gone for certain (:func:`earlier_here`):
        after a crash and a restart, their work is taken over at once, not after
        :data:`REPLICA_TIMEOUT` seconds. Returns their ids."""
        rows = await self._rows("SELECT id FROM replicas")
        gone = earlier_here((str(r[0]) for r in rows), self.replica_id)
        for replica in gone:
            await self._write("DELETE FROM replicas WHERE id = ?", (replica,))
        return gone

    async def leave(self) -> None:
        """This replica stops (after its turns finished): what it still holds goes to the others at once."""
        await self._write("DELETE FROM replicas WHERE id = ?", (self.replica_id,))

    async def receive(self, key: ConversationKey, message_id: int) -> bool:
        """Note a message as received; False when it was already (Telegram or a proxy delivered it
        twice, in one batch or later, before a restart too): it is then not handled again."""
        if self._backlog and (self._backlog.received(key.chat_id, message_id) or await self._known(key, message_id)):
            return False
        queued = bool(self._backlog)
        changed = await self._write(
            "INSERT OR IGNORE INTO received (chat_id, message_id, thread_id, received_at, owner)"
            " VALUES (?, ?, ?, ?, ?)",
            (key.chat_id, message_id, key.thread_id, time.time(), self.replica_id),
            received=(key.chat_id, message_id),
        )
        if changed == 0 or (changed < 0 and not queued and await self._known(key, message_id)):
            return False
        if changed < 0:
            return True
        self._received += 1
        if self._received % RECEIVED_PRUNE_EVERY == 0:
            await self._write(
                "DELETE FROM received WHERE received_at < ? AND waiting = 0", (time.time() - RECEIVED_KEPT,)
            )
        return True

    async def _known(self, key: ConversationKey, message_id: int) -> bool:
        """True when the database notes ``message_id`` as received."""
        rows = await self._rows(
            "SELECT 1 FROM received WHERE chat_id = ? AND message_id = ?", (key.chat_id, message_id)
        )
        return bool(rows)

    async def waiting(self, key: ConversationKey, message_id: int, waiting: bool = True) -> None:
        """Note that the question ``message_id`` waits for its turn (``waiting``), or that its turn
        ended; a question still waiting when the bot is killed is announced after the restart."""
        await self._write(
            "UPDATE received SET waiting = ? WHERE chat_id = ? AND message_id = ?",
            (int(waiting), key.chat_id, message_id),
        )

    async def put_update(self, update_id: int, body: str, chat_id: int = 0, message_id: int | None = None) -> bool:
        """Keep an update received by webhook (its JSON ``body``; the chat it concerns, 0 for none,
        and its message) until it is handled; False when it was already (Telegram delivered it
        again). While another process locks the database it waits in memory (saved at a clean stop)."""
        changed = await self._write(
            "INSERT OR IGNORE INTO updates (update_id, body, received_at, chat_id, message_id) VALUES (?, ?, ?, ?, ?)",
            (update_id, body, time.time(), chat_id, message_id),
        )
        if changed == 0:
            return False
        self._updates += 1
        if self._updates % RECEIVED_PRUNE_EVERY == 0:
            await self._write("DELETE FROM updates WHERE done = 1 AND received_at < ?", (time.time() - RECEIVED_KEPT,))
        return True

    async def claim_updates(self, limit: int = 100) -> list[tuple[int, str]]:
        """Take the updates this replica is to handle now, oldest first: those of chats no live
        replica holds (their lease becomes this replica's) and of chats this replica holds. A chat's
        updates are handled by one replica at a time, in order; its lease ends when they are all
        handled (:meth:`update_done`), or when its replica is gone."""
        me = {"me": self.replica_id, "since": time.time() - REPLICA_TIMEOUT}

        async def claim(db: aiosqlite.Connection) -> list[tuple[int, str]]:
            async with db.execute(
                "SELECT chat_id FROM updates WHERE done = 0 AND owner IS NULL GROUP BY chat_id"
                " ORDER BY MIN(update_id) LIMIT :limit",
                {**me, "limit": limit},
            ) as cursor:
                chats = [int(r[0]) for r in await cursor.fetchall()]
            held = []
            for chat_id in chats:
                async with db.execute(
                    "INSERT INTO leases (chat_id, owner) VALUES (:chat, :me) ON CONFLICT (chat_id) DO UPDATE"
                    " SET owner = excluded.owner WHERE leases.owner = excluded.owner OR leases.owner NOT IN"
                    " (SELECT id FROM replicas WHERE seen_at >= :since) RETURNING chat_id",
                    {**me, "chat": chat_id},
                ) as cursor:
                    if await cursor.fetchone() is not None:
                        held.append(chat_id)
            claimed: list[tuple[int, str]] = []
            for chat_id in held:
                async with db.execute(
                    "UPDATE updates SET owner = :me WHERE done = 0 AND owner IS NULL AND chat_id = :chat"
                    " RETURNING update_id, body",
                    {**me, "chat": chat_id},
                ) as cursor:
                    claimed += [(int(r[0]), str(r[1])) for r in await cursor.fetchall()]
            return sorted(claimed)

        return await self._transaction(claim)

    async def update_done(self, update_id: int) -> None:
        """The update was handled: it is not handled again; its chat's lease ends when none is left."""
        await self._submit(
            PendingWrite(
                "sql",
                [
                    ("UPDATE updates SET done = 1 WHERE update_id = ?", (update_id,)),
                    (
                        "DELETE FROM leases WHERE owner = ? AND chat_id = (SELECT chat_id FROM updates WHERE"
                        " update_id = ?) AND NOT EXISTS (SELECT 1 FROM updates u WHERE u.chat_id = leases.chat_id"
                        " AND u.done = 0)",
                        (self.replica_id, update_id),
                    ),
                ],
            )
        )

    async def pending_updates(self, limit: int = 1000) -> list[tuple[int, str]]:
        """Updates kept and not handled, oldest first: (id, JSON body)."""
        rows = await self._rows(
            "SELECT update_id, body FROM updates WHERE done = 0 ORDER BY update_id LIMIT ?", (limit,)
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    async def is_empty(self) -> bool:
        """True when no history, chat settings or usage is stored (a target of copy-store)."""
        for table in PORTABLE:
            if await self._rows(f"SELECT 1 FROM {table} LIMIT 1"):
                return False
        return True

    async def export_rows(self, table: str, after: int | None, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` rows of ``table`` (one of :data:`PORTABLE`) after the order key ``after``,
        in order: (order key, columns)."""
        columns = PORTABLE[table]
        order = ORDER_KEYS[table]
        rows = await self._rows(
            f"SELECT {order}, {', '.join(columns)} FROM {table} WHERE ? IS NULL OR {order} > ?"
            f" ORDER BY {order} LIMIT ?",
            (after, after, limit),
        )
        return [(int(r[0]), dict(zip(columns, tuple(r)[1:], strict=True))) for r in rows]

    async def import_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` (as :meth:`export_rows` gives them) to ``table`` in one transaction."""
        columns = PORTABLE[table]
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        converted = [
            tuple(int(v) if c == "estimated" else v for c, v in zip(columns, (r[c] for c in columns), strict=True))
            for r in rows
        ]
        await self._submit(PendingWrite("sql", [(statement, row) for row in converted]))

    async def unreceive(self, key: ConversationKey, message_id: int) -> None:
        """Forget that a message was received (a question handed to another replica at shutdown, to
        be answered there)."""
        await self._write("DELETE FROM received WHERE chat_id = ? AND message_id = ?", (key.chat_id, message_id))

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
        where, parameters = usage_filter(since, user_id, chat_id)
        rows = await self._rows(f"SELECT {_TOTALS} FROM usage WHERE {where}", parameters)
        return totals_from_row(rows[0])

    async def top_users(self, chat_id: int, since: float, limit: int = 5) -> list[UsageTotals]:
        """The chat's users with the most tokens from ``since`` on, most first (label: their name or id)."""
        rows = await self._rows(
            f"SELECT {_TOTALS}, user_id, MAX(user_name) FROM usage WHERE chat_id = ? AND created_at >= ?"
            " GROUP BY user_id ORDER BY SUM(prompt_tokens + completion_tokens) DESC, user_id LIMIT ?",
            (chat_id, since, limit),
        )
        return [totals_from_row(r, str(r[8] or r[7] or "?")) for r in rows]

    async def usage_by_model(self, since: float) -> list[UsageTotals]:
        """The whole bot's totals per provider and model from ``since`` on, most tokens first
        (label: ``provider/model``)."""
        rows = await self._rows(
            f"SELECT {_TOTALS}, provider, model FROM usage WHERE created_at >= ?"
            " GROUP BY provider, model ORDER BY SUM(prompt_tokens + completion_tokens) DESC, provider, model",
            (since,),
        )
        return [totals_from_row(r, f"{r[7]}/{r[8]}") for r in rows]

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a chat's history, settings and replies in progress to a new id, in one transaction: a
        group upgraded to a supergroup gets a new chat id (Bot API ``migrate_to_chat_id``). Settings
        already stored for the new id are kept."""
        moves = [
            (f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
            for table in ("messages", "replies_in_progress", "usage", "received", "chat_settings", "group_context")
        ]
        await self._submit(
            PendingWrite("sql", [*moves, ("DELETE FROM chat_settings WHERE chat_id = ?", (old_chat_id,))])
        )
