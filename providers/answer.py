"""The one fold of a stream's events into the answer a consumer keeps.

Every consumer of a chain (the bot's streamer, :class:`~providers.client.Client`, the command
line, the benchmarks) feeds each chunk to :meth:`Answer.add` and reads the answer from it, so a
new event type is handled here once, not in one ``isinstance`` switch per consumer::

    answer = Answer(messages)
    async for chunk in chain.create_async_generator(model, messages):
        change = answer.add(chunk)
        if isinstance(change, Reset): ...   # clear what was shown
        elif change: show(change)           # new text
    answer.text, answer.usage, answer.info, answer.finish
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import Chunk, Finish, Message, ProviderInfo, Reset, Usage
from .tokens import estimate_usage


class Answer:
    """The answer being received: its text (one attempt's, never spliced), who writes it, why it
    ended, and its usage.

    Args:
        messages: the request's messages, for an estimate of the usage when the stream reports none.

    Attributes:
        text: the text kept so far.
        info: the last :class:`~providers.base.ProviderInfo` (who writes ``text``), or None.
        finish: the :class:`~providers.base.Finish` reason (``"length"``...), or None for a natural stop.
        resets: how many times the text was discarded.
        reported: the last :class:`~providers.base.Usage` event, or None when the stream had none.
    """

    def __init__(self, messages: Sequence[Message] = ()) -> None:
        self.messages = list(messages)
        self.text = ""
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

    def add(self, chunk: Chunk) -> str | Reset | None:
        """Take one chunk of the stream.

        Returns:
            The new text (a non-empty ``str``) to show; the :class:`~providers.base.Reset` event when
            the text so far was discarded (a provider failed mid-answer); None for an event that shows nothing
            (who answers, why it ended, usage, a heartbeat).
        """
        if isinstance(chunk, str):
            text = self._valid(chunk)
            if not text:
                return None
            self.text += text
            return text
        if isinstance(chunk, Reset):
            self.text = self._pending = ""
            self.finish = None
            self.reported = None
            self.resets += 1
            return chunk
        if isinstance(chunk, ProviderInfo):
            self.info = chunk
        elif isinstance(chunk, Finish):
            self.finish = None if chunk.reason == "stop" else chunk.reason
        elif isinstance(chunk, Usage):
            self.reported = chunk
        return None

    def cut(self, length: int) -> None:
        """Keep only the first ``length`` characters of the text (a consumer's cap on an answer)."""
        self.text = self.text[:length]

    @property
    def usage(self) -> Usage:
        """The server's count when the stream reported one, else an estimate (``estimated=True``)
        for :attr:`text` answering the messages given at construction."""
        return self.reported or estimate_usage(self.messages, self.text)
