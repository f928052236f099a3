"""The one switch on a stream's event types, and the one fold of them into the answer a consumer keeps.

Every consumer of a chain (the bot's streamer, :class:`~providers.client.Client`, the command
line, the benchmarks, the chain's own watchdog) implements :class:`AnswerListener`, one method per
event type, and gets its events from :func:`dispatch` or, folded, from :class:`Answer`. A new event
type is added here once (to :data:`EVENTS` and the listener), and every consumer must then handle it
(``tests/test_layout.py`` fails until each does)::

    class Display:                              # an AnswerListener
        def on_text(self, text): show(text)     # new text
        def on_reset(self, reset): clear()      # what was shown is discarded
        def on_info(self, info): ...            # who answers
        def on_finish(self, finish): ...        # why it ended
        def on_usage(self, usage): ...          # the tokens it took

    answer = Answer(messages, Display())
    async for chunk in chain.create_async_generator(model, messages):
        answer.add(chunk)
    answer.text, answer.usage, answer.info, answer.finish
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from .base import Chunk, Finish, Message, ProviderInfo, Reasoning, Reset, Usage
from .tokens import estimate_tokens, estimate_usage

#: Characters of the model's thinking an :class:`Answer` keeps, at least (its end): consumers show a
#: few thousand at most, and a model may think for far longer.
REASONING_KEPT = 20_000


class AnswerListener(Protocol):
    """What a consumer does with each event of a stream (:data:`~providers.base.Chunk`)."""

    def on_text(self, text: str) -> None:
        """Text of the answer: from :class:`Answer`, new text (non-empty, valid Unicode); from
        :func:`dispatch`, the chunk as sent ("" is a heartbeat: progress without text)."""

    def on_reset(self, reset: Reset) -> None:
        """The text so far is discarded (a provider failed mid-answer; the next one starts over)."""

    def on_info(self, info: ProviderInfo) -> None:
        """Who answers from now on (the chain's attempt: provider, model, fallback)."""

    def on_finish(self, finish: Finish) -> None:
        """Why the answer ended (``"stop"``, ``"length"``...)."""

    def on_usage(self, usage: Usage) -> None:
        """The tokens the answer took, as the server counted them (or the chain's estimate)."""

    def on_reasoning(self, reasoning: Reasoning) -> None:
        """A piece of the model's thinking (never part of the answer's text)."""


#: Each event type of :data:`~providers.base.Chunk` and the :class:`AnswerListener` method it goes to.
EVENTS: dict[type, str] = {
    str: "on_text",
    Reset: "on_reset",
    ProviderInfo: "on_info",
    Finish: "on_finish",
    Usage: "on_usage",
    Reasoning: "on_reasoning",
}


def dispatch(chunk: Chunk, listener: AnswerListener) -> None:
    """Hand ``chunk`` to the ``listener`` method of its type (:data:`EVENTS`): the only switch on
    event types. Anything else a provider yields (``None``...) is a heartbeat: ``on_text("")``.
    Whatever the listener raises propagates."""
    if isinstance(chunk, str):
        listener.on_text(chunk)
    elif isinstance(chunk, Reset):
        listener.on_reset(chunk)
    elif isinstance(chunk, ProviderInfo):
        listener.on_info(chunk)
    elif isinstance(chunk, Finish):
        listener.on_finish(chunk)
    elif isinstance(chunk, Usage):
        listener.on_usage(chunk)
    elif isinstance(chunk, Reasoning):
        listener.on_reasoning(chunk)
    else:  # no event (None, or an object of a provider's own): progress without text, a heartbeat
        listener.on_text("")


def text_deltas(chunks: Iterable[Chunk]) -> Iterator[str]:
    """The non-empty text chunks of ``chunks``, events and heartbeats left out (for a consumer that
    wants text only and handles no event, as gpt4free's sync ``create_completion``)."""
    return (chunk for chunk in chunks if isinstance(chunk, str) and chunk)


class Answer:
    """The answer being received: its text (one attempt's, never spliced), who writes it, why it
    ended, and its usage.

    It is itself an :class:`AnswerListener` (:meth:`add` dispatches each chunk to it), and passes
    each event on to ``listener`` once folded.

    Args:
        messages: the request's messages, for an estimate of the usage when the stream reports none.
        listener: the consumer told of each event, or None.

    Attributes:
        text: the text kept so far.
        info: the last :class:`~providers.base.ProviderInfo` (who writes ``text``), or None.
        finish: the :class:`~providers.base.Finish` reason (``"length"``...), or None for a natural stop.
        resets: how many times the text was discarded.
        reported: the last :class:`~providers.base.Usage` event, or None when the stream had none.
        discarded: the text the last reset discarded ("" before any).
        text_chunks: the non-empty text chunks received, over every attempt.
    """

    def __init__(self, messages: Sequence[Message] = (), listener: AnswerListener | None = None) -> None:
        self.messages = list(messages)
        self.listener = listener
        self.text = ""
        #: The model's thinking for this attempt (:class:`~providers.base.Reasoning` events), apart from
        #: the text: its last :data:`REASONING_KEPT` to twice that many characters.
        self.reasoning = ""
        #: Estimated tokens of all that thinking (for :attr:`usage` when the server counts none).
        self.reasoning_tokens = 0
        self.discarded = ""
        self.text_chunks = 0
        self.info: ProviderInfo | None = None
        self.finish: str | None = None
        self.resets = 0
        self.reported: Usage | None = None
        #: A high surrogate that ended the last chunk, waiting for its low half in the next one.
        self._pending = ""

    def _valid(self, chunk: str) -> str:
        """``chunk`` as valid Unicode: a surrogate pair split across two chunks (a server that sent
        ``"\\ud83d"`` and ``"\\ude00"`` in two JSON events) is joined, a lone surrogate becomes U+FFFD,
        so no text that UTF-8 cannot encode reaches Telegram or SQLite."""
        chunk = self._pending + chunk
        self._pending = ""
        if chunk.isascii() or not any("\ud800" <= c <= "\udfff" for c in chunk):
            return chunk
        if "\ud800" <= chunk[-1] <= "\udbff":
            chunk, self._pending = chunk[:-1], chunk[-1]
        return chunk.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    def add(self, chunk: Chunk) -> None:
        """Take one chunk of the stream: fold it into the answer, then pass it on to the listener
        (new text only when there is some; a heartbeat goes nowhere)."""
        dispatch(chunk, self)

    def on_text(self, text: str) -> None:
        """Append ``text`` (as valid Unicode) and pass on what was appended."""
        if text:
            self.text_chunks += 1
        text = self._valid(text)
        if not text:
            return
        self.text += text
        if self.listener is not None:
            self.listener.on_text(text)

    def on_reset(self, reset: Reset) -> None:
        """Discard the text (kept in :attr:`discarded`), the finish reason and the usage."""
        self.discarded = self.text
        self.text = self._pending = self.reasoning = ""
        self.reasoning_tokens = 0
        self.finish = None
        self.reported = None
        self.resets += 1
        if self.listener is not None:
            self.listener.on_reset(reset)

    def on_info(self, info: ProviderInfo) -> None:
        """Note who writes the answer from now on."""
        self.info = info
        if self.listener is not None:
            self.listener.on_info(info)

    def on_finish(self, finish: Finish) -> None:
        """Note why the answer ended (None for a natural stop)."""
        self.finish = None if finish.reason == "stop" else finish.reason
        if self.listener is not None:
            self.listener.on_finish(finish)

    def on_usage(self, usage: Usage) -> None:
        """Note the server's count of the answer's tokens."""
        self.reported = usage
        if self.listener is not None:
            self.listener.on_usage(usage)

    def on_reasoning(self, reasoning: Reasoning) -> None:
        """Keep the model's thinking apart from the text (its end, see :attr:`reasoning`), count its
        tokens, and pass it on."""
        self.reasoning += reasoning.text
        self.reasoning_tokens += estimate_tokens(reasoning.text)
        if len(self.reasoning) > 2 * REASONING_KEPT:
            self.reasoning = self.reasoning[-REASONING_KEPT:]
        if self.listener is not None:
            self.listener.on_reasoning(reasoning)

    def cut(self, length: int) -> None:
        """Keep only the first ``length`` characters of the text (a consumer's cap on an answer)."""
        self.text = self.text[:length]

    @property
    def usage(self) -> Usage:
        """The server's count when the stream reported one (its ``completion_tokens`` count the
        thinking too), else an estimate (``estimated=True``) for :attr:`text` and the thinking before
        it, answering the messages given at construction."""
        return self.reported or estimate_usage(self.messages, self.text, self.reasoning_tokens)
