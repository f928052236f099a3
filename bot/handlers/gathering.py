"""Several Telegram messages that are one question: the parts of a long paste, the items of an album.

**Pastes.** Telegram apps split a text longer than 4096 UTF-16 code units into several messages,
each but the last near that limit, sent within a moment. A text message is a *part* of the paste
before it when (:func:`continues_paste`):

- the paste's newest part is at least :data:`PASTE_PART_MIN` code units long (near the limit: a
  person's own short message never starts a paste), and
- it comes from the same person in the same conversation at most :data:`PASTE_WINDOW` seconds
  after that part (a person does not type a follow-up within a second of sending 3,500 characters).

A message at least :data:`PASTE_PART_MIN` long waits :data:`PASTE_WINDOW` seconds for a next part
before it is asked; a shorter one is asked at once (it never waits). So a short follow-up is never
swallowed: it joins only the message right after a near-limit part within the window, and it ends
the paste (the part after a short one is a question of its own). At most :data:`MAX_PARTS` parts
join; ``MAX_INPUT_CHARS`` applies to the joined text.

**Albums.** Photos and files sharing a ``media_group_id`` (Bot API Message) come as one message
each, within a moment: they are one question, asked once no item came for :data:`ALBUM_WINDOW`
seconds, with every image and the caption(s). At most :data:`MAX_PARTS` items (Telegram's albums
hold 10).

The handler of a gathering's first message waits and asks; the later ones only add their part, so
the update of the first stays unhandled until the question is asked (in webhook mode, a replica
killed meanwhile leaves it to another). A message that is not a part, arriving while a paste
waits, first lets the paste be asked, so questions keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Message
from telegram.ext import ContextTypes

from bot.handlers.common import conversation_key, sender_id
from bot.state.storage import ConversationKey
from bot.telegram.rendering import utf16_len

#: A paste's part is at least this long, UTF-16 code units (Telegram splits at 4096).
PASTE_PART_MIN = 3500
#: Seconds after a paste's part within which its next part is taken.
PASTE_WINDOW = 1.0
#: Seconds without a new item after which an album is asked.
ALBUM_WINDOW = 1.0
#: Parts of one paste, or items of one album, at most.
MAX_PARTS = 10


@dataclass(frozen=True, slots=True)
class Piece:
    """What one message adds to a question: text (a paste's part, a caption, a file's content) and images."""

    text: str
    images: tuple[str, ...] = ()


#: Asks the gathered question: ``finish(first message, context, pieces)``.
Finish = Callable[[Message, ContextTypes.DEFAULT_TYPE, list[Piece]], Awaitable[None]]


def continues_paste(last_part_length: int, last_part_at: float, now: float) -> bool:
    """Whether a message arriving at ``now`` (seconds) is the next part of a paste whose newest part
    is ``last_part_length`` UTF-16 code units long and arrived at ``last_part_at``."""
    return last_part_length >= PASTE_PART_MIN and 0 <= now - last_part_at <= PASTE_WINDOW


@dataclass(eq=False)
class _Gathering:
    first: Message
    last_at: float
    last_length: int = 0
    pieces: list[asyncio.Future[Piece | None]] = field(default_factory=list)
    open: bool = True
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set when the question is about to be asked: a message after it may go.
    asked: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, piece: Piece | None) -> asyncio.Future[Piece | None]:
        slot: asyncio.Future[Piece | None] = asyncio.get_running_loop().create_future()
        if piece is not None:
            slot.set_result(piece)
        self.pieces.append(slot)
        return slot

    async def hold(self, window: float, clock: Callable[[], float]) -> list[Piece]:
        """Wait until no part came for ``window`` seconds (or the gathering was closed); its pieces."""
        while self.open:
            remaining = self.last_at + window - clock()
            if remaining <= 0:
                break
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self.wake.wait()
        self.open = False
        return [piece for piece in await asyncio.gather(*self.pieces) if piece is not None]


class Gatherer:
    """The pastes and albums being gathered, one per application (see the module's rules).

    Args:
        clock: monotonic seconds (tests may give their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._pastes: dict[tuple[ConversationKey, int | None], _Gathering] = {}
        self._albums: dict[tuple[int, str], _Gathering] = {}

    @staticmethod
    def _paste_key(message: Message) -> tuple[ConversationKey, int | None]:
        return conversation_key(message), sender_id(message)

    def expects_part(self, message: Message) -> bool:
        """True when ``message`` would be the next part of a paste being gathered (in a group, a
        part after the first does not mention the bot, yet belongs to the question)."""
        held = self._pastes.get(self._paste_key(message))
        return (
            held is not None
            and held.open
            and len(held.pieces) < MAX_PARTS
            and continues_paste(held.last_length, held.last_at, self.clock())
        )

    async def paste(self, message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, finish: Finish) -> None:
        """A text message: the next part of the paste being gathered, the first part of a new one
        (held for its next part, then asked), or a question of its own (asked at once, after a
        paste still waiting)."""
        key = self._paste_key(message)
        held = self._pastes.get(key)
        if held is not None and held.open:
            if self.expects_part(message):
                held.add(Piece(text))
                held.last_at, held.last_length = self.clock(), utf16_len(text)
                held.wake.set()
                return
            held.open = False  # this message is not a part: the paste is asked now, and first
            held.wake.set()
            await held.asked.wait()
        length = utf16_len(text)
        if length < PASTE_PART_MIN:
            await finish(message, context, [Piece(text)])
            return
        held = self._pastes[key] = _Gathering(message, self.clock(), length)
        held.add(Piece(text))
        try:
            pieces = await held.hold(PASTE_WINDOW, self.clock)
        finally:
            if self._pastes.get(key) is held:
                del self._pastes[key]
            held.asked.set()
        await finish(message, context, [Piece("\n".join(piece.text for piece in pieces))])

    def in_album(self, message: Message) -> bool:
        """True when ``message`` is an item of an album being gathered."""
        group = message.media_group_id
        held = self._albums.get((message.chat_id, group)) if group else None
        return held is not None and held.open

    async def album(
        self, message: Message, context: ContextTypes.DEFAULT_TYPE, read: Awaitable[Piece | None], finish: Finish
    ) -> None:
        """An item of an album (``media_group_id``): ``read`` gives its piece (None: nothing to add,
        after telling why). The first item's handler asks once no item came for :data:`ALBUM_WINDOW`."""
        key = (message.chat_id, message.media_group_id or "")
        held = self._albums.get(key)
        first = held is None or not held.open or len(held.pieces) >= MAX_PARTS
        if first:
            held = self._albums[key] = _Gathering(message, self.clock())
        assert held is not None
        slot = held.add(None)
        held.last_at = self.clock()
        held.wake.set()
        try:
            slot.set_result(await read)
        finally:
            if not slot.done():
                slot.set_result(None)
        if not first:
            return
        try:
            pieces = await held.hold(ALBUM_WINDOW, self.clock)
        finally:
            if self._albums.get(key) is held:
                del self._albums[key]
        if pieces:
            await finish(held.first, context, pieces)
