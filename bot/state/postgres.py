"""The store on PostgreSQL (``DATABASE_URL``), for several replicas sharing one database.

asyncpg with a connection pool. The schema is versioned in ``schema_migrations``; :data:`MIGRATIONS`
run at start-up under a PostgreSQL advisory lock, so replicas starting together apply each once.
A server lost while the bot runs: each call tries again, with a growing pause, for up to
:data:`RECONNECT_SECONDS`, then raises :class:`~bot.state.storage.StorageError` (the user gets one
sentence); a write that failed changed nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from yarl import URL

from bot.state.storage import (
    CONVERSATIONS_QUERY,
    GROUP_CONTEXT_TRIM,
    ORDER_KEYS,
    PORTABLE,
    RECEIVED_KEPT,
    RECEIVED_PRUNE_EVERY,
    REPLICA_TIMEOUT,
    SETTINGS_COLUMNS,
    ChatSettings,
    Conversation,
    ConversationKey,
    InterruptedReply,
    Role,
    SchemaTooNewError,
    StorageError,
    StoredMessage,
    UsageRecord,
    UsageTotals,
    earlier_here,
    new_replica_id,
    settings_from_row,
    settings_row,
    settings_upsert,
    totals_from_row,
    usage_filter,
)

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Migration *i* brings the schema from version *i* to *i + 1* (version 1 is today's SQLite schema).
MIGRATIONS: list[str] = [
    """
    CREATE TABLE messages (
        id BIGSERIAL PRIMARY KEY,
        chat_id BIGINT NOT NULL,
        thread_id BIGINT NOT NULL DEFAULT 0,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        author TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        user_id BIGINT,
        images TEXT
    );
    CREATE INDEX messages_by_conversation ON messages (chat_id, thread_id, id);
    CREATE TABLE chat_settings (
        chat_id BIGINT PRIMARY KEY,
        provider TEXT,
        model TEXT,
        system_prompt TEXT,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE replies_in_progress (
        chat_id BIGINT NOT NULL,
        thread_id BIGINT NOT NULL DEFAULT 0,
        message_id BIGINT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        reply_message_id BIGINT,
        PRIMARY KEY (chat_id, thread_id)
    );
    CREATE TABLE usage (
        id BIGSERIAL PRIMARY KEY,
        chat_id BIGINT NOT NULL,
        thread_id BIGINT NOT NULL DEFAULT 0,
        user_id BIGINT,
        user_name TEXT,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        estimated BOOLEAN NOT NULL,
        cost DOUBLE PRECISION,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX usage_by_user ON usage (user_id, created_at);
    CREATE INDEX usage_by_chat ON usage (chat_id, created_at);
    CREATE INDEX usage_by_time ON usage (created_at);
    CREATE TABLE received (
        chat_id BIGINT NOT NULL,
        message_id BIGINT NOT NULL,
        thread_id BIGINT NOT NULL DEFAULT 0,
        waiting BOOLEAN NOT NULL DEFAULT FALSE,
        received_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE INDEX received_by_time ON received (received_at);
    """,
    """
    CREATE TABLE updates (
        update_id BIGINT PRIMARY KEY,
        body TEXT NOT NULL,
        received_at DOUBLE PRECISION NOT NULL,
        done BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX updates_by_time ON updates (received_at);
    """,
    """
    CREATE TABLE replicas (id TEXT PRIMARY KEY, seen_at DOUBLE PRECISION NOT NULL);
    CREATE TABLE leases (chat_id BIGINT PRIMARY KEY, owner TEXT NOT NULL);
    ALTER TABLE replies_in_progress ADD COLUMN owner TEXT;
    ALTER TABLE received ADD COLUMN owner TEXT;
    ALTER TABLE updates ADD COLUMN chat_id BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE updates ADD COLUMN message_id BIGINT;
    ALTER TABLE updates ADD COLUMN owner TEXT;
    CREATE INDEX updates_open ON updates (done, chat_id, update_id);
    """,
    """
    CREATE TABLE provider_cooldowns (provider TEXT PRIMARY KEY, until DOUBLE PRECISION NOT NULL);
    """,
    """
    ALTER TABLE chat_settings ADD COLUMN language TEXT;
    """,
    """
    ALTER TABLE chat_settings ADD COLUMN reasoning INTEGER;
    """,
    """
    ALTER TABLE chat_settings ADD COLUMN conversation BIGINT;
    """,
    """
    CREATE TABLE group_context (
        id BIGSERIAL PRIMARY KEY,
        chat_id BIGINT NOT NULL,
        thread_id BIGINT NOT NULL,
        author TEXT,
        text TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX group_context_by_conversation ON group_context (chat_id, thread_id, id);
    """,
]

#: The advisory lock (pg_advisory_lock) held while migrations run: any 64-bit number this bot owns.
MIGRATION_LOCK = 0x7E1E_B07_0001
#: Seconds a call keeps trying while the server cannot be reached, before it fails.
RECONNECT_SECONDS = 30.0
#: Seconds the first connection may take at start-up.
CONNECT_TIMEOUT = 10.0
#: Connections in the pool, at most.
POOL_SIZE = 10

_TOTALS = (
    "COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost), 0),"
    " COALESCE(BOOL_OR(estimated), FALSE), COALESCE(BOOL_OR(cost IS NULL), FALSE), MIN(created_at)"
)

#: Errors that mean the server (or the connection to it) is gone for now: the call is tried again.
_LOST = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,
)


#: SQL: the row's ``owner`` replica is gone (none, or not seen since $2); $1 is this replica.
_GONE = "(owner IS NULL OR (owner <> $1 AND owner NOT IN (SELECT id FROM replicas WHERE seen_at >= $2)))"


def safe_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return "(an unreadable URL)"
    return str(parsed.with_password("***")) if parsed.password else str(parsed)


def _count(status: str) -> int:
    """The row count of a command status (``"DELETE 3"``, ``"INSERT 0 1"``)."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


class PostgresStore:
    """The :class:`~bot.state.protocols.Store` on PostgreSQL. Create with :meth:`open`, finish with
    :meth:`close`. Every method raises :class:`~bot.state.storage.StorageError` when the database
    fails or stays unreachable for :data:`RECONNECT_SECONDS`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        url: str,
        reconnect_seconds: float = RECONNECT_SECONDS,
        replica_id: str | None = None,
    ) -> None:
        self._pool = pool
        #: This process among the replicas sharing the database (see :class:`~bot.state.protocols.Replicas`).
        self.replica_id = replica_id or new_replica_id()
        self._url = safe_url(url)
        self._reconnect_seconds = reconnect_seconds
        self._received = 0
        self._updates = 0
        self._statements = [0]

    @property
    def statements(self) -> int:
        """Statements sent to the server since start (each one round trip; a benchmark's measure)."""
        return self._statements[0]

    @classmethod
    async def open(
        cls, url: str, reconnect_seconds: float = RECONNECT_SECONDS, replica_id: str | None = None
    ) -> PostgresStore:
        """Connect to ``url`` (``postgresql://USER:PASSWORD@HOST:PORT/DBNAME``) and apply the migrations.

        Raises:
            StorageError: the server cannot be reached, refuses the login, has no such database,
                or holds a schema newer than this bot knows; the message names ``DATABASE_URL``
                and never the password.
        """
        statements = [0]

        async def watch(connection: asyncpg.Connection) -> None:  # counts every statement sent
            connection.add_query_logger(lambda _: statements.__setitem__(0, statements[0] + 1))

        try:
            pool = await asyncio.wait_for(
                asyncpg.create_pool(url, min_size=1, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT, init=watch),
                CONNECT_TIMEOUT * 2,
            )
        except (asyncpg.PostgresError, *_LOST, ValueError) as error:
            raise StorageError(f"DATABASE_URL {safe_url(url)}: {_reason(error)}") from None
        store = cls(pool, url, reconnect_seconds, replica_id)
        store._statements = statements
        try:
            await store._migrate()
            await store.beat()
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        """Close the pool (waiting for calls in progress)."""
        try:
            await asyncio.wait_for(self._pool.close(), 5.0)
        except TimeoutError:
            self._pool.terminate()

    async def _run(self, work: Callable[[asyncpg.Connection], Awaitable[_T]]) -> _T:
        """``work`` on a pooled connection, tried again while the server is unreachable."""
        deadline = time.monotonic() + self._reconnect_seconds
        pause = 0.2
        while True:
            try:
                async with self._pool.acquire() as connection:
                    try:
                        return await work(connection)
                    except asyncpg.exceptions.InternalClientError:
                        connection.terminate()  # left mid-operation (a call cancelled there): never reused
                        raise
            except (*_LOST, asyncpg.exceptions.InternalClientError) as error:
                if time.monotonic() + pause > deadline:
                    raise StorageError(f"the database {self._url} cannot be reached: {_reason(error)}") from None
                level = logging.WARNING if pause == 0.2 else logging.DEBUG  # one line per outage
                logger.log(level, "the database %s cannot be reached (%s); trying again", self._url, _reason(error))
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
            except asyncpg.PostgresError as error:
                raise StorageError(f"the database {self._url} refused: {_reason(error)}") from None

    async def _execute(self, sql: str, *parameters: Any) -> str:
        return await self._run(lambda c: c.execute(sql, *parameters))

    async def _fetch(self, sql: str, *parameters: Any) -> list[asyncpg.Record]:
        return await self._run(lambda c: c.fetch(sql, *parameters))

    async def schema_version(self) -> int:
        """The number of migrations applied (0 for an empty database)."""

        async def version(connection: asyncpg.Connection) -> int:
            return await _version(connection)

        return await self._run(version)

    async def _migrate(self) -> None:
        async def migrate(connection: asyncpg.Connection) -> None:
            await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await connection.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
                )
                current = await _version(connection)
                if current > len(MIGRATIONS):
                    raise SchemaTooNewError(
                        f"DATABASE_URL {self._url}: the schema version {current} is newer than this bot knows"
                        f" ({len(MIGRATIONS)}); run a newer version of the bot"
                    )
                for target, script in enumerate(MIGRATIONS[current:], start=current + 1):
                    async with connection.transaction():
                        await connection.execute(script)
                        await connection.execute(
                            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", target, time.time()
                        )
                    logger.info("database %s: schema migrated to version %d", self._url, target)
            finally:
                await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

        await self._run(migrate)

    # -- history ---------------------------------------------------------------------------------

    async def add(
        self,
        key: ConversationKey,
        role: Role,
        content: str,
        author: str | None = None,
        user_id: int | None = None,
        images: Sequence[str] = (),
    ) -> int:
        """Append a turn; returns its id."""
        rows = await self._fetch(
            "INSERT INTO messages (chat_id, thread_id, role, content, author, created_at, user_id, images)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            key.chat_id,
            key.thread_id,
            role,
            content,
            author,
            time.time(),
            user_id,
            json.dumps(list(images)) if images else None,
        )
        return int(rows[0][0])

    async def replace(self, old_id: int, key: ConversationKey, role: Role, content: str) -> int:
        """Delete the turn ``old_id`` and append a new one in one transaction; the new id."""

        async def replace(connection: asyncpg.Connection) -> int:
            async with connection.transaction():
                await connection.execute("DELETE FROM messages WHERE id = $1", old_id)
                return int(
                    await connection.fetchval(
                        "INSERT INTO messages (chat_id, thread_id, role, content, created_at)"
                        " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                        key.chat_id,
                        key.thread_id,
                        role,
                        content,
                        time.time(),
                    )
                )

        return await self._run(replace)

    async def recent(self, key: ConversationKey, limit: int) -> list[StoredMessage]:
        """The newest ``limit`` turns, oldest first."""
        if limit <= 0:
            return []
        rows = await self._fetch(
            "SELECT id, role, content, author, created_at, user_id, images FROM messages"
            " WHERE chat_id = $1 AND thread_id = $2 ORDER BY id DESC LIMIT $3",
            key.chat_id,
            key.thread_id,
            limit,
        )
        return [
            StoredMessage(int(r[0]), r[1], r[2], r[3], float(r[4]), r[5], tuple(json.loads(r[6])) if r[6] else ())
            for r in reversed(rows)
        ]

    async def delete(self, message_id: int) -> None:
        """Delete one turn by its id."""
        await self._execute("DELETE FROM messages WHERE id = $1", message_id)

    async def count(self, key: ConversationKey) -> int:
        """How many turns the conversation holds."""
        rows = await self._fetch(
            "SELECT COUNT(*) FROM messages WHERE chat_id = $1 AND thread_id = $2", key.chat_id, key.thread_id
        )
        return int(rows[0][0])

    async def clear(self, key: ConversationKey) -> int:
        """Delete the conversation's turns, and the group messages kept for it; how many turns were removed."""
        await self._execute(
            "DELETE FROM group_context WHERE chat_id = $1 AND thread_id = $2", key.chat_id, key.thread_id
        )
        status = await self._execute(
            "DELETE FROM messages WHERE chat_id = $1 AND thread_id = $2", key.chat_id, key.thread_id
        )
        return _count(status)

    # -- chat settings ---------------------------------------------------------------------------

    async def note_group_message(self, key: ConversationKey, author: str | None, text: str, keep: int) -> None:
        """Keep a group message not addressed to the bot; only the newest ``keep`` of the conversation stay."""

        async def note(connection: asyncpg.Connection) -> None:
            async with connection.transaction():
                await connection.execute(
                    "INSERT INTO group_context (chat_id, thread_id, author, text, created_at)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    key.chat_id,
                    key.thread_id,
                    author,
                    text,
                    time.time(),
                )
                await connection.execute(
                    GROUP_CONTEXT_TRIM.format(a="$1", b="$2", keep="$3"), key.chat_id, key.thread_id, keep
                )

        await self._run(note)

    async def take_group_context(self, key: ConversationKey) -> list[tuple[str | None, str]]:
        """The group messages kept for ``key`` (author, text), oldest first; they are forgotten."""
        rows = await self._fetch(
            "DELETE FROM group_context WHERE chat_id = $1 AND thread_id = $2 RETURNING id, author, text",
            key.chat_id,
            key.thread_id,
        )
        return [(r["author"], str(r["text"])) for r in sorted(rows, key=lambda r: int(r["id"]))]

    async def conversations(self, chat_id: int, limit: int) -> list[Conversation]:
        """The chat's conversations outside forum topics that hold turns, the most recent first, at
        most ``limit`` of them."""
        rows = await self._fetch(CONVERSATIONS_QUERY.format(chat="$1", limit="$2"), chat_id, limit)
        return [Conversation(int(r[0]), r[1] or "", int(r[2]), float(r[3])) for r in rows]

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        """The chat's choices (defaults when none were made)."""
        rows = await self._fetch(f"SELECT {', '.join(SETTINGS_COLUMNS)} FROM chat_settings WHERE chat_id = $1", chat_id)
        return settings_from_row(tuple(rows[0])) if rows else ChatSettings()

    async def save_chat_settings(self, chat_id: int, settings: ChatSettings) -> None:
        """Store the chat's choices, replacing earlier ones."""
        row = settings_row(settings)
        placeholders = [f"${n}" for n in range(1, len(row) + 3)]
        await self._execute(settings_upsert(placeholders), chat_id, *row, time.time())

    # -- replies in progress ---------------------------------------------------------------------

    async def reply_started(self, key: ConversationKey, message_id: int) -> None:
        """A reply to the user's message ``message_id`` is being written in ``key``."""
        await self._execute(
            "INSERT INTO replies_in_progress (chat_id, thread_id, message_id, started_at, owner)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chat_id, thread_id) DO UPDATE SET message_id ="
            " excluded.message_id, started_at = excluded.started_at, reply_message_id = NULL, owner = excluded.owner",
            key.chat_id,
            key.thread_id,
            message_id,
            time.time(),
            self.replica_id,
        )

    async def reply_shown(self, key: ConversationKey, reply_message_id: int) -> None:
        """The newest Telegram message of the reply in progress in ``key``."""
        await self._execute(
            "UPDATE replies_in_progress SET reply_message_id = $1 WHERE chat_id = $2 AND thread_id = $3",
            reply_message_id,
            key.chat_id,
            key.thread_id,
        )

    async def reply_finished(self, key: ConversationKey) -> None:
        """The reply in progress in ``key`` ended."""
        await self._execute(
            "DELETE FROM replies_in_progress WHERE chat_id = $1 AND thread_id = $2", key.chat_id, key.thread_id
        )

    async def take_interrupted(self, alone: bool = False) -> list[InterruptedReply]:
        """Replies started and never finished by a replica that is gone (not seen for
        :data:`~bot.state.storage.REPLICA_TIMEOUT` seconds; with ``alone``: any other), and the
        questions still waiting there, oldest first; forgotten once returned (one transaction).
        Waiting questions whose updates the inbox holds are handed to the live replicas instead."""
        since = time.time() + 1 if alone else time.time() - REPLICA_TIMEOUT

        async def take(connection: asyncpg.Connection) -> list[asyncpg.Record]:
            async with connection.transaction():
                rows = await connection.fetch(
                    "SELECT chat_id, thread_id, message_id, started_at, reply_message_id, TRUE FROM replies_in_progress"
                    f" WHERE {_GONE} UNION ALL SELECT chat_id, thread_id, message_id, received_at, NULL, FALSE"
                    f" FROM received r WHERE waiting AND {_GONE} AND NOT EXISTS (SELECT 1 FROM replies_in_progress p"
                    " WHERE p.chat_id = r.chat_id AND p.message_id = r.message_id) AND NOT EXISTS (SELECT 1 FROM"
                    " updates u WHERE u.chat_id = r.chat_id AND u.message_id = r.message_id AND NOT u.done)"
                    " ORDER BY 4",
                    self.replica_id,
                    since,
                )
                await connection.execute(
                    f"DELETE FROM received r WHERE waiting AND {_GONE} AND NOT EXISTS (SELECT 1 FROM"
                    " replies_in_progress p WHERE p.chat_id = r.chat_id AND p.message_id = r.message_id) AND EXISTS"
                    " (SELECT 1 FROM updates u WHERE u.chat_id = r.chat_id AND u.message_id = r.message_id"
                    " AND NOT u.done)",
                    self.replica_id,
                    since,
                )
                for statement in (
                    f"DELETE FROM replies_in_progress WHERE {_GONE}",
                    f"UPDATE received SET waiting = FALSE WHERE waiting AND {_GONE}",
                    f"UPDATE updates SET owner = NULL WHERE NOT done AND owner IS NOT NULL AND {_GONE}",
                    f"DELETE FROM leases WHERE {_GONE}",
                ):
                    await connection.execute(statement, self.replica_id, since)
                return rows

        rows = await self._run(take)
        return [
            InterruptedReply(ConversationKey(int(r[0]), int(r[1])), int(r[2]), float(r[3]), r[4], bool(r[5]))
            for r in rows
        ]

    # -- replicas --------------------------------------------------------------------------------

    async def beat(self) -> None:
        """Note that this replica is alive (every :data:`~bot.state.storage.BEAT_INTERVAL` seconds)."""
        await self._execute(
            "INSERT INTO replicas (id, seen_at) VALUES ($1, $2)"
            " ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
            self.replica_id,
            time.time(),
        )

    async def alive_count(self) -> int:
        """How many replicas are alive (this one included)."""
        rows = await self._fetch("SELECT COUNT(*) FROM replicas WHERE seen_at >= $1", time.time() - REPLICA_TIMEOUT)
        return max(1, int(rows[0][0]))

    async def set_cooldown(self, provider: str, until: float) -> None:
        """``provider`` cools down until Unix time ``until``, for every replica."""
        await self._execute(
            "INSERT INTO provider_cooldowns (provider, until) VALUES ($1, $2)"
            " ON CONFLICT (provider) DO UPDATE SET until = GREATEST(provider_cooldowns.until, excluded.until)",
            provider,
            until,
        )

    async def clear_cooldown(self, provider: str) -> None:
        """``provider`` answered: no replica need wait for it."""
        await self._execute("DELETE FROM provider_cooldowns WHERE provider = $1", provider)

    async def cooldowns(self) -> dict[str, float]:
        """The providers cooling down now, and until when (Unix time)."""
        rows = await self._fetch("SELECT provider, until FROM provider_cooldowns WHERE until > $1", time.time())
        return {str(r[0]): float(r[1]) for r in rows}

    async def forget_gone_here(self) -> list[str]:
        """Forget the replicas that ran on this host and are gone for certain (see
        :func:`~bot.state.storage.earlier_here`); returns their ids."""
        rows = await self._fetch("SELECT id FROM replicas")
        gone = earlier_here((str(r[0]) for r in rows), self.replica_id)
        if gone:
            await self._execute("DELETE FROM replicas WHERE id = ANY($1::TEXT[])", gone)
        return gone

    async def leave(self) -> None:
        """This replica stops: what it still holds goes to the others at once."""
        await self._execute("DELETE FROM replicas WHERE id = $1", self.replica_id)

    # -- inbox -----------------------------------------------------------------------------------

    async def receive(self, key: ConversationKey, message_id: int) -> bool:
        """Note a message as received; False when it already was."""
        status = await self._execute(
            "INSERT INTO received (chat_id, message_id, thread_id, received_at, owner) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT DO NOTHING",
            key.chat_id,
            message_id,
            key.thread_id,
            time.time(),
            self.replica_id,
        )
        if _count(status) == 0:
            return False
        self._received += 1
        if self._received % RECEIVED_PRUNE_EVERY == 0:
            await self._execute(
                "DELETE FROM received WHERE received_at < $1 AND NOT waiting", time.time() - RECEIVED_KEPT
            )
        return True

    async def waiting(self, key: ConversationKey, message_id: int, waiting: bool = True) -> None:
        """The question ``message_id`` waits for its turn (``waiting``), or its turn ended."""
        await self._execute(
            "UPDATE received SET waiting = $1 WHERE chat_id = $2 AND message_id = $3", waiting, key.chat_id, message_id
        )

    async def put_update(self, update_id: int, body: str, chat_id: int = 0, message_id: int | None = None) -> bool:
        """Keep an update received by webhook until it is handled; False when it already was."""
        status = await self._execute(
            "INSERT INTO updates (update_id, body, received_at, chat_id, message_id) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT DO NOTHING",
            update_id,
            body,
            time.time(),
            chat_id,
            message_id,
        )
        if _count(status) == 0:
            return False
        self._updates += 1
        if self._updates % RECEIVED_PRUNE_EVERY == 0:
            await self._execute("DELETE FROM updates WHERE done AND received_at < $1", time.time() - RECEIVED_KEPT)
        return True

    async def claim_updates(self, limit: int = 100) -> list[tuple[int, str]]:
        """Take the updates this replica is to handle now, oldest first: those of chats no live replica
        holds (their lease becomes this replica's, row-locked so two replicas never both take one)
        and of chats it holds."""
        since = time.time() - REPLICA_TIMEOUT

        async def claim(connection: asyncpg.Connection) -> list[tuple[int, str]]:
            async with connection.transaction():
                chats = await connection.fetch(
                    "SELECT chat_id FROM updates WHERE NOT done AND owner IS NULL GROUP BY chat_id"
                    " ORDER BY MIN(update_id) LIMIT $1",
                    limit,
                )
                held = []
                for row in chats:
                    taken = await connection.fetchval(
                        "INSERT INTO leases (chat_id, owner) VALUES ($1, $2) ON CONFLICT (chat_id) DO UPDATE"
                        " SET owner = excluded.owner WHERE leases.owner = excluded.owner OR leases.owner NOT IN"
                        " (SELECT id FROM replicas WHERE seen_at >= $3) RETURNING chat_id",
                        row[0],
                        self.replica_id,
                        since,
                    )
                    if taken is not None:
                        held.append(int(taken))
                if not held:
                    return []
                rows = await connection.fetch(
                    "UPDATE updates SET owner = $1 WHERE NOT done AND owner IS NULL AND chat_id = ANY($2::BIGINT[])"
                    " RETURNING update_id, body",
                    self.replica_id,
                    held,
                )
                return sorted((int(r[0]), str(r[1])) for r in rows)

        return await self._run(claim)

    async def update_done(self, update_id: int) -> None:
        """The update was handled: it is not handled again; its chat's lease ends when none is left."""

        async def done(connection: asyncpg.Connection) -> None:
            async with connection.transaction():
                chat_id = await connection.fetchval(
                    "UPDATE updates SET done = TRUE WHERE update_id = $1 RETURNING chat_id", update_id
                )
                if chat_id is not None:
                    await connection.execute(
                        "DELETE FROM leases WHERE owner = $1 AND chat_id = $2 AND NOT EXISTS"
                        " (SELECT 1 FROM updates u WHERE u.chat_id = $2 AND NOT u.done)",
                        self.replica_id,
                        chat_id,
                    )

        await self._run(done)

    async def pending_updates(self, limit: int = 1000) -> list[tuple[int, str]]:
        """Updates kept and not handled, oldest first: (id, JSON body)."""
        rows = await self._fetch(
            "SELECT update_id, body FROM updates WHERE NOT done ORDER BY update_id LIMIT $1", limit
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    async def is_empty(self) -> bool:
        """True when no history, chat settings or usage is stored (a target of copy-store)."""
        for table in PORTABLE:
            if await self._fetch(f"SELECT 1 FROM {table} LIMIT 1"):
                return False
        return True

    async def export_rows(self, table: str, after: int | None, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` rows of ``table`` after the order key ``after``, in order."""
        columns = PORTABLE[table]
        order = ORDER_KEYS[table]
        rows = await self._fetch(
            f"SELECT {order}, {', '.join(columns)} FROM {table} WHERE $1::BIGINT IS NULL OR {order} > $1"
            f" ORDER BY {order} LIMIT $2",
            after,
            limit,
        )
        return [(int(r[0]), dict(zip(columns, tuple(r)[1:], strict=True))) for r in rows]

    async def import_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` (as :meth:`export_rows` gives them) to ``table`` in one transaction."""
        columns = PORTABLE[table]
        places = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({places})"
        converted = [tuple(bool(r[c]) if c == "estimated" else r[c] for c in columns) for r in rows]

        async def load(connection: asyncpg.Connection) -> None:
            async with connection.transaction():
                await connection.executemany(statement, converted)

        await self._run(load)

    async def unreceive(self, key: ConversationKey, message_id: int) -> None:
        """Forget that a message was received (a question handed to another replica, to be answered there)."""
        await self._execute("DELETE FROM received WHERE chat_id = $1 AND message_id = $2", key.chat_id, message_id)

    # -- usage -----------------------------------------------------------------------------------

    async def record_usage(self, record: UsageRecord) -> None:
        """Add one answer to the ledger."""
        await self._execute(
            "INSERT INTO usage (chat_id, thread_id, user_id, user_name, provider, model, prompt_tokens,"
            " completion_tokens, estimated, cost, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            record.key.chat_id,
            record.key.thread_id,
            record.user_id,
            record.user_name,
            record.provider,
            record.model,
            record.prompt_tokens,
            record.completion_tokens,
            record.estimated,
            record.cost,
            record.created_at,
        )

    async def usage_totals(
        self, since: float, *, user_id: int | None = None, chat_id: int | None = None
    ) -> UsageTotals:
        """Totals from Unix time ``since`` on: the user's (every chat), the chat's, or the whole bot's."""
        where, parameters = usage_filter(since, user_id, chat_id, lambda n: f"${n}")
        rows = await self._fetch(f"SELECT {_TOTALS} FROM usage WHERE {where}", *parameters)
        return totals_from_row(rows[0])

    async def top_users(self, chat_id: int, since: float, limit: int = 5) -> list[UsageTotals]:
        """The chat's users with the most tokens from ``since`` on, most first (label: name or id)."""
        rows = await self._fetch(
            f"SELECT {_TOTALS}, user_id, MAX(user_name) FROM usage WHERE chat_id = $1 AND created_at >= $2"
            " GROUP BY user_id ORDER BY SUM(prompt_tokens + completion_tokens) DESC, user_id NULLS FIRST LIMIT $3",
            chat_id,
            since,
            limit,
        )
        return [totals_from_row(r, str(r[8] or r[7] or "?")) for r in rows]

    async def usage_by_model(self, since: float) -> list[UsageTotals]:
        """The bot's totals per provider and model from ``since`` on, most tokens first."""
        rows = await self._fetch(
            f"SELECT {_TOTALS}, provider, model FROM usage WHERE created_at >= $1"
            " GROUP BY provider, model ORDER BY SUM(prompt_tokens + completion_tokens) DESC, provider, model",
            since,
        )
        return [totals_from_row(r, f"{r[7]}/{r[8]}") for r in rows]

    # -- chats -----------------------------------------------------------------------------------

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a chat's rows to its new id in one transaction; settings already stored for the new id
        are kept (as are rows whose key the new id already has)."""

        async def move(connection: asyncpg.Connection) -> None:
            async with connection.transaction():
                for table in ("messages", "usage", "group_context"):
                    moved = f"UPDATE {table} SET chat_id = $1 WHERE chat_id = $2"
                    await connection.execute(moved, new_chat_id, old_chat_id)
                for table, column in (("replies_in_progress", "thread_id"), ("received", "message_id")):
                    await connection.execute(
                        f"UPDATE {table} t SET chat_id = $1 WHERE chat_id = $2 AND NOT EXISTS"
                        f" (SELECT 1 FROM {table} n WHERE n.chat_id = $1 AND n.{column} = t.{column})",
                        new_chat_id,
                        old_chat_id,
                    )
                await connection.execute(
                    f"INSERT INTO chat_settings (chat_id, {', '.join(SETTINGS_COLUMNS)}, updated_at)"
                    f" SELECT $1, {', '.join(SETTINGS_COLUMNS)}, updated_at FROM chat_settings"
                    " WHERE chat_id = $2"
                    " ON CONFLICT (chat_id) DO NOTHING",
                    new_chat_id,
                    old_chat_id,
                )
                await connection.execute("DELETE FROM chat_settings WHERE chat_id = $1", old_chat_id)

        await self._run(move)


async def _version(connection: asyncpg.Connection) -> int:
    exists = await connection.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await connection.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))


def _reason(error: BaseException) -> str:
    """An error in words, without any URL it may quote."""
    refused = asyncpg.exceptions.InvalidPasswordError, asyncpg.exceptions.InvalidAuthorizationSpecificationError
    if isinstance(error, refused):
        return "the server refused the user name or password"
    if isinstance(error, asyncpg.exceptions.InvalidCatalogNameError):
        return "the server has no such database"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the server running, on that host and port?)"
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "no answer in time"
    if isinstance(error, ValueError):
        return "not a postgresql:// URL"
    text = str(error) or type(error).__name__
    return text.splitlines()[0]
