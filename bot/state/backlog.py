"""Writes that wait while another process holds the database's write lock.

An operator's ``sqlite3`` shell inside ``BEGIN IMMEDIATE``, a backup or migration tool: while
another process holds SQLite's write lock, every write fails with "database is locked" once the
connection's busy timeout passes. Rather than refusing questions for as long as the lock lasts,
:class:`~bot.state.storage.ConversationStore` keeps such writes here, in order, answers its reads with them
applied (the history a question is answered with includes the question, a chat's settings the
change just made), and writes them, in order, once the lock is released. Reads still work meanwhile:
the database is in WAL mode, where readers never wait for the writer.

A turn appended while writes wait gets a *provisional* id (negative); a later delete or replace of
that id is resolved to the real one when the turn goes in. The backlog is bounded
(:data:`MAX_PENDING`); when the bot stops before the lock is released it is saved beside the
database (:meth:`Backlog.dump`) and written at the next start (:meth:`Backlog.load`).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

#: Writes kept at most while the database is locked; one more is refused (a StorageError).
MAX_PENDING = 10_000
#: Provisional ids remembered after their turn went in (a caller may still hold one).
MAX_RESOLVED = 10_000


@dataclass(frozen=True, slots=True)
class PendingTurn:
    """A turn appended while writes wait (the fields of :class:`~bot.state.storage.StoredMessage`, plus where)."""

    chat_id: int
    thread_id: int
    id: int
    role: str
    content: str
    author: str | None
    created_at: float
    user_id: int | None = None
    images: tuple[str, ...] = ()


@dataclass(slots=True)
class PendingWrite:
    """One write waiting for the database, run as one transaction when its turn comes.

    Attributes:
        kind: ``sql`` (``statements`` as they are), ``add`` (append ``turn``), ``delete`` (the turn
            ``target``), ``replace`` (delete ``target``, append ``turn``).
        statements: ``sql`` only: (SQL, parameters) pairs.
        turn: the turn appended (``add``, ``replace``), with its provisional id.
        target: the id of the turn removed (``delete``, ``replace``); provisional or real.
        cleared: ``(chat_id, thread_id)`` whose history this write deletes (``/reset``).
        settings: ``(chat_id, *settings_row(...))`` this write stores (:func:`~bot.state.storage.settings_row`).
        received: ``(chat_id, message_id)`` this write notes as received.
    """

    kind: Literal["sql", "add", "delete", "replace"]
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    turn: PendingTurn | None = None
    target: int | None = None
    cleared: tuple[int, int] | None = None
    settings: tuple[int | str | None, ...] | None = None
    received: tuple[int, int] | None = None


class _Turn(Protocol):
    @property
    def id(self) -> int: ...


_T = TypeVar("_T", bound=_Turn)


class BacklogFullError(RuntimeError):
    """:data:`MAX_PENDING` writes wait already."""


class Backlog:
    """The writes waiting for the database's lock, oldest first, and what reads see of them."""

    def __init__(self, limit: int = MAX_PENDING) -> None:
        self.limit = limit
        self._writes: deque[PendingWrite] = deque()
        self._next_id = -1
        self._resolved: OrderedDict[int, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._writes)

    def __iter__(self) -> Iterator[PendingWrite]:
        return iter(self._writes)

    def provisional_id(self) -> int:
        """A new provisional turn id (negative, never a real row id)."""
        self._next_id -= 1
        return self._next_id + 1

    def append(self, write: PendingWrite) -> None:
        """Queue ``write`` after the others.

        Raises:
            BacklogFullError: :attr:`limit` writes wait already.
        """
        if len(self._writes) >= self.limit:
            raise BacklogFullError(f"{self.limit} writes already wait for the database's lock")
        self._writes.append(write)

    def head(self) -> PendingWrite | None:
        """The oldest waiting write, or None."""
        return self._writes[0] if self._writes else None

    def done(self, real_id: int | None = None) -> None:
        """The oldest write went in; ``real_id`` is the row id its turn got."""
        write = self._writes.popleft()
        if write.turn is not None and real_id is not None:
            self._resolved[write.turn.id] = real_id
            while len(self._resolved) > MAX_RESOLVED:
                self._resolved.popitem(last=False)

    def resolve(self, turn_id: int) -> int:
        """The real id of ``turn_id`` once its turn went in; else ``turn_id`` itself."""
        return self._resolved.get(turn_id, turn_id)

    # -- what reads see ---------------------------------------------------------------------------

    def history(self, chat_id: int, thread_id: int, stored: list[_T]) -> list[_T | PendingTurn]:
        """The conversation's turns as they will be once every waiting write went in: ``stored``
        (from the database, oldest first) with the waiting appends, deletes and clears applied."""
        turns: list[_T | PendingTurn] = list(stored)
        for write in self._writes:
            if write.cleared == (chat_id, thread_id):
                turns = []
            if write.target is not None:
                gone = self.resolve(write.target)
                turns = [t for t in turns if t.id not in (write.target, gone)]
            if write.turn is not None and (write.turn.chat_id, write.turn.thread_id) == (chat_id, thread_id):
                turns.append(write.turn)
        return turns

    def settings(self, chat_id: int) -> tuple[int | str | None, ...] | None:
        """The chat's settings the newest waiting write stores, or None."""
        found = None
        for write in self._writes:
            if write.settings is not None and write.settings[0] == chat_id:
                found = write.settings
        return found

    def received(self, chat_id: int, message_id: int) -> bool:
        """True when a waiting write notes this message as received."""
        return any(write.received == (chat_id, message_id) for write in self._writes)

    # -- across a restart -------------------------------------------------------------------------

    def dump(self, path: Path) -> None:
        """Save the waiting writes to ``path`` (JSON, written to a temporary file then renamed).

        Raises:
            OSError: the file cannot be written.
        """
        data = {"next_id": self._next_id, "writes": [asdict(write) for write in self._writes]}
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(data))
        os.replace(partial, path)

    def load(self, path: Path) -> int:
        """Queue the writes saved in ``path`` by :meth:`dump` (before any new one); returns how many.

        Raises:
            OSError, ValueError, KeyError, TypeError: the file cannot be read or is not such a file.
        """
        data = json.loads(path.read_text())
        for item in data["writes"]:
            turn = item.get("turn")
            self._writes.append(
                PendingWrite(
                    kind=item["kind"],
                    statements=[(sql, tuple(parameters)) for sql, parameters in item.get("statements") or []],
                    turn=PendingTurn(**{**turn, "images": tuple(turn.get("images") or ())}) if turn else None,
                    target=item.get("target"),
                    cleared=tuple(item["cleared"]) if item.get("cleared") else None,
                    settings=tuple(item["settings"]) if item.get("settings") else None,
                    received=tuple(item["received"]) if item.get("received") else None,
                )
            )
        self._next_id = min(self._next_id, int(data.get("next_id", -1)))
        return len(data["writes"])
