"""What is stored, as interfaces: the code above ``bot/state`` depends on these, never on a database.

Two implementations are chosen at wiring time (:func:`bot.state.open_store`): SQLite for one
process (:class:`~bot.state.storage.ConversationStore`, ``DATABASE_PATH``; ``":memory:"`` for tests)
and PostgreSQL for replicas (:class:`~bot.state.postgres.PostgresStore`, ``DATABASE_URL``). One
contract suite (``tests/test_store_contract.py``) runs against both.

Every method raises :class:`~bot.state.storage.StorageError` when the database fails; a failed
write changes nothing already stored.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from bot.state.storage import (
    ChatSettings,
    Conversation,
    ConversationKey,
    InterruptedReply,
    Role,
    StoredMessage,
    UsageRecord,
    UsageTotals,
)


class History(Protocol):
    """The turns of each conversation (chat, or forum topic), oldest first."""

    async def add(
        self,
        key: ConversationKey,
        role: Role,
        content: str,
        author: str | None = None,
        user_id: int | None = None,
        images: Sequence[str] = (),
    ) -> int:
        """Append a turn; returns its id. ``images``: Telegram ``file_id`` of the images it showed."""
        ...

    async def replace(self, old_id: int, key: ConversationKey, role: Role, content: str) -> int:
        """Delete the turn ``old_id`` and append a new one, in one transaction; the new id."""
        ...

    async def recent(self, key: ConversationKey, limit: int) -> list[StoredMessage]:
        """The newest ``limit`` turns, oldest first."""
        ...

    async def delete(self, message_id: int) -> None:
        """Delete one turn by its id."""

    async def count(self, key: ConversationKey) -> int:
        """How many turns the conversation holds."""
        ...

    async def clear(self, key: ConversationKey) -> int:
        """Delete the conversation's turns; how many were removed."""
        ...

    async def conversations(self, chat_id: int, limit: int) -> list[Conversation]:
        """The chat's conversations outside forum topics (``thread_id`` 0 or below) that hold
        turns, the most recent first, at most ``limit``."""
        ...

    async def note_group_message(self, key: ConversationKey, author: str | None, text: str, keep: int) -> None:
        """Keep a group message not addressed to the bot (``GROUP_CONTEXT_MESSAGES``) for the next
        question's context; only the conversation's newest ``keep`` stay. :meth:`clear` forgets them."""

    async def take_group_context(self, key: ConversationKey) -> list[tuple[str | None, str]]:
        """The group messages kept for ``key`` as ``(author, text)``, oldest first; they are forgotten."""
        ...


class ChatSettingsStore(Protocol):
    """Each chat's choices (/model, /provider, /prompt); forum topics share them."""

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        """The chat's choices (defaults when none were made)."""
        ...

    async def save_chat_settings(self, chat_id: int, settings: ChatSettings) -> None:
        """Store the chat's choices, replacing earlier ones."""


class RepliesInProgressStore(Protocol):
    """The replies being written, so that one cut short by a crash is announced after the restart."""

    async def reply_started(self, key: ConversationKey, message_id: int) -> None:
        """A reply to the user's message ``message_id`` is being written in ``key``."""

    async def reply_shown(self, key: ConversationKey, reply_message_id: int) -> None:
        """The newest Telegram message of the reply in progress in ``key``."""

    async def reply_finished(self, key: ConversationKey) -> None:
        """The reply in progress in ``key`` ended (answered, failed or stopped)."""

    async def take_interrupted(self, alone: bool = False) -> list[InterruptedReply]:
        """Replies started and never finished by a replica that is gone (``alone``: any other than
        this one), and questions still waiting there, oldest first; forgotten once returned. Waiting
        questions whose updates the inbox holds are handed to the live replicas instead."""
        ...


class Inbox(Protocol):
    """The messages received: each is handled once, and one still waiting when the bot stopped is known."""

    async def receive(self, key: ConversationKey, message_id: int) -> bool:
        """Note a message as received; False when it already was (delivered twice)."""
        ...

    async def waiting(self, key: ConversationKey, message_id: int, waiting: bool = True) -> None:
        """The question ``message_id`` waits for its turn (``waiting``), or its turn ended."""

    async def unreceive(self, key: ConversationKey, message_id: int) -> None:
        """Forget the message was received (handed to another replica, to be answered there)."""


class TurnOrder(Protocol):
    """The order of turns in each conversation: one at a time, first come first served.

    Per process by nature (``bot.turns.ordering.ConversationQueue``): across replicas the order
    is kept by the inbox, which gives each chat's updates to one replica at a time
    (:class:`UpdateInbox`), so the turns of a conversation all queue in one process."""

    def pending(self, key: Hashable, member: Hashable | None = None) -> int:
        """Questions of ``key`` being answered or waiting (only ``member``'s, when given)."""
        ...

    def total(self) -> int:
        """Questions being answered or waiting, in every conversation."""
        ...

    def turn(self, key: Hashable, member: Hashable | None = None) -> AbstractAsyncContextManager[None]:
        """Wait for the conversation's earlier turns, then hold its turn for the ``async with`` body."""
        ...


class Replicas(Protocol):
    """The processes sharing the store. Each has an id; one not seen for
    :data:`~bot.state.storage.REPLICA_TIMEOUT` seconds is gone, and what it held is taken over."""

    replica_id: str

    async def beat(self) -> None:
        """This replica is alive (every :data:`~bot.state.storage.BEAT_INTERVAL` seconds)."""

    async def leave(self) -> None:
        """This replica stops: what it still holds goes to the others at once."""

    async def forget_gone_here(self) -> list[str]:
        """Forget the replicas of this host whose process is gone (a crash, then a restart): their
        work is taken over at once. Returns their ids."""
        ...

    async def alive_count(self) -> int:
        """How many replicas are alive, this one included (Telegram's limits are the bot's: each
        replica takes its share)."""
        ...


class ProviderCooldowns(Protocol):
    """Providers cooling down, shared by the replicas: a dead backend is not tried by each in turn."""

    async def set_cooldown(self, provider: str, until: float) -> None:
        """``provider`` cools down until Unix time ``until``."""

    async def clear_cooldown(self, provider: str) -> None:
        """``provider`` answered again."""

    async def cooldowns(self) -> dict[str, float]:
        """The providers cooling down now: name -> until (Unix time)."""
        ...


class UpdateInbox(Protocol):
    """Updates received by webhook, kept before Telegram is answered 200 and until they are handled.

    Several replicas share it: each chat's updates are handled by one replica at a time (it holds
    the chat's lease), in ``update_id`` order; a replica that is gone loses its leases, and the
    updates it took but did not handle go to the others."""

    async def put_update(self, update_id: int, body: str, chat_id: int = 0, message_id: int | None = None) -> bool:
        """Keep the update (its JSON ``body``; its chat, 0 for none; its message); False when it
        already was (delivered again)."""
        ...

    async def claim_updates(self, limit: int = 100) -> list[tuple[int, str]]:
        """The updates this replica is to handle now, oldest first: (``update_id``, JSON body)."""
        ...

    async def update_done(self, update_id: int) -> None:
        """The update was handled; its chat's lease ends when none of its updates is left."""

    async def pending_updates(self, limit: int = 1000) -> list[tuple[int, str]]:
        """Updates kept and not handled, oldest first: (``update_id``, JSON body)."""
        ...


class UsageLedger(Protocol):
    """The tokens and cost of every answer, and their totals (for /usage and the budgets)."""

    async def record_usage(self, record: UsageRecord) -> None:
        """Add one answer."""

    async def usage_totals(
        self, since: float, *, user_id: int | None = None, chat_id: int | None = None
    ) -> UsageTotals:
        """Totals from Unix time ``since`` on: the user's (every chat), the chat's, or the whole bot's."""
        ...

    async def top_users(self, chat_id: int, since: float, limit: int = 5) -> list[UsageTotals]:
        """The chat's users with the most tokens from ``since`` on, most first."""
        ...

    async def usage_by_model(self, since: float) -> list[UsageTotals]:
        """The whole bot's totals per provider and model from ``since`` on, most tokens first."""
        ...


class Portable(Protocol):
    """What ``python -m bot copy-store`` reads and writes: history, chat settings and usage rows."""

    async def is_empty(self) -> bool:
        """True when no history, chat settings or usage is stored."""
        ...

    async def export_rows(self, table: str, after: int | None, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` rows of ``table`` (``messages``, ``chat_settings``, ``usage``) after the
        order key ``after`` (None: from the first), in order: (order key, columns)."""
        ...

    async def import_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` as :meth:`export_rows` gave them, in one transaction."""


class Store(
    History,
    ChatSettingsStore,
    RepliesInProgressStore,
    Inbox,
    UpdateInbox,
    UsageLedger,
    Replicas,
    ProviderCooldowns,
    Portable,
    Protocol,
):
    """Everything the bot stores, in one database."""

    @property
    def statements(self) -> int:
        """Statements sent to the database since start (round trips; for benchmarks)."""
        ...

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a chat's rows to its new id (a group upgraded to a supergroup), in one transaction;
        settings already stored for the new id are kept."""

    async def schema_version(self) -> int:
        """The number of migrations applied."""
        ...

    async def close(self) -> None:
        """Finish pending work and release the connection(s)."""
