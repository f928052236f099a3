"""What a turn asks of the chat it answers in, and what a reply ended as.

The turn service (:mod:`bot.turns.service`) knows no Telegram: each request comes with a
:class:`ReplyPort`, which the Telegram side implements for the message being answered
(``bot.handlers.reply.MessageReply``): a sentence in reply, the "seen, waiting" mark of a queued
question, the stream that shows the answer as it grows, and the images of earlier turns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.state.storage import ConversationKey
from bot.turns.replies import ReplyInProgress
from providers import Chunk, Message, ProviderInfo, Usage


@dataclass(slots=True)
class StreamResult:
    """What a reply ended as.

    Attributes:
        text: the answer's Markdown source ("" when it failed before any text); when it failed after
            some was shown, what was shown last (an earlier attempt's, if the last wrote nothing).
        error: the provider error that ended the stream, or None.
        stopped: True when the reply was stopped by the user.
        message_ids: the Telegram messages that show the reply, in order.
        sends, edits, drafts, deletes: Bot API requests made for it.
        flood_waits: 429 answers met.
        resets: provider failovers that discarded shown text.
        first_visible: seconds from the start of the reply to the first message with text.
        answered_by: the provider and model that wrote the answer kept (the last
            ProviderInfo), or None when the stream named none.
        finish: the answer's :class:`~providers.Finish` reason (``"length"``...), or None.
        forbidden: Telegram's 403 description when the bot may no longer write to the chat
            ("Forbidden: bot was blocked by the user"); the reply was abandoned.
        usage: the tokens of the answer kept (the server's count, else an estimate), or None
            when no text was received.
        capped: the cap (``MAX_ANSWER_CHARS``) when the answer was longer and was cut there, else None.
        duplicates_removed: messages a send left behind when its answer was lost and it was sent again.
    """

    text: str = ""
    error: BaseException | None = None
    stopped: bool = False
    message_ids: list[int] = field(default_factory=list)
    sends: int = 0
    edits: int = 0
    drafts: int = 0
    deletes: int = 0
    flood_waits: int = 0
    resets: int = 0
    first_visible: float | None = None
    answered_by: ProviderInfo | None = None
    finish: str | None = None
    forbidden: str | None = None
    usage: Usage | None = None
    capped: int | None = None
    duplicates_removed: int = 0


class TurnObserver(Protocol):
    """Told of every reply as it ends (the metrics, ``bot.app.metrics.Metrics``)."""

    def answered(self, result: StreamResult, seconds: float, cost: float | None) -> None:
        """A reply ended as ``result`` after ``seconds``; ``cost`` in US dollars when known."""


class AnswerStream(ReplyInProgress, Protocol):
    """A reply that shows an answer as it is written (``bot.telegram.streaming.ReplyStream``)."""

    async def run(self, chunks: AsyncIterator[Chunk], prompt: Sequence[Message] = ()) -> StreamResult:
        """Show the chain's events ``chunks`` until they end, the reply is stopped, or the chat is
        forbidden; ``prompt`` is what they answer (for a usage estimate). Provider errors end up in
        ``StreamResult.error``, never raised."""
        ...


class ReplyPort(Protocol):
    """Where one request's outcome goes: the chat of the message being answered."""

    async def say(self, text: str) -> None:
        """Send ``text`` (one sentence: a refusal, "restarting") in reply to the request."""

    async def acknowledge(self) -> None:
        """Mark a question that waits for earlier ones as received (failures are the port's to log)."""

    def stream(
        self, key: ConversationKey, on_message: Callable[[int], Awaitable[object]], reasoning_chars: int = 0
    ) -> AnswerStream:
        """A reply that will show the answer in ``key``; ``on_message`` is awaited with the id of
        each message it sends; ``reasoning_chars``: how much of the model's reasoning it shows folded
        above the answer (its last characters; 0: none)."""
        ...

    async def image_url(self, file_id: str) -> str | None:
        """A ``data:`` URL of an image an earlier turn showed (its Telegram ``file_id``), or None
        when it is no longer available."""
