"""Thinking written inline: ``<think>…</think>`` at the start of a model's content (deepseek-r1 and
qwen3 write it so, through Ollama and other OpenAI-compatible servers), turned into
:class:`~providers.base.Reasoning` events so that it never becomes answer text.

Only a block that opens the content is thinking (whitespace before it allowed): once the answer's
text has begun, a ``<think>`` in it is text (a model explaining the tag stays readable). The tags
may be split across chunks anywhere; a block a stream leaves unclosed is thinking to its end.
"""

from __future__ import annotations

from .base import Reasoning

OPEN, CLOSE = "<think>", "</think>"


def _held_prefix(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` may be the start of ``tag`` (0 when none)."""
    return max((k for k in range(1, len(tag)) if text.endswith(tag[:k])), default=0)


class ThinkSplitter:
    """Feeds content deltas in, gets answer text and :class:`~providers.base.Reasoning` out, in order.
    One per answer (a new attempt needs a new one)."""

    def __init__(self) -> None:
        self._thinking = False
        self._answering = False
        self._after_block = False
        self._held = ""

    def feed(self, text: str) -> list[str | Reasoning]:
        """The pieces ``text`` completes (text that may still be a tag is held back)."""
        if self._answering:
            return [text] if text else []
        buffer, self._held = self._held + text, ""
        out: list[str | Reasoning] = []
        while buffer:
            if self._thinking:
                end = buffer.find(CLOSE)
                if end >= 0:
                    if end:
                        out.append(Reasoning(buffer[:end]))
                    buffer, self._thinking, self._after_block = buffer[end + len(CLOSE) :], False, True
                    continue
                keep = _held_prefix(buffer, CLOSE)
                if len(buffer) > keep:
                    out.append(Reasoning(buffer[: len(buffer) - keep]))
                self._held, buffer = buffer[len(buffer) - keep :], ""
                continue
            start = buffer.lstrip()
            if start.startswith(OPEN) and not self._after_block:
                buffer, self._thinking = start[len(OPEN) :], True
                continue
            if not start or (OPEN.startswith(start) and not self._after_block):
                self._held, buffer = buffer, ""  # whitespace, or what may still open a block
                continue
            self._answering = True
            out.append(start if self._after_block else buffer)
            buffer = ""
        return out

    def flush(self) -> list[str | Reasoning]:
        """What is held back, at the end of the answer: thinking when a block was left open, else text."""
        held, self._held = self._held, ""
        if not held or (not self._thinking and not held.strip()):
            return []
        return [Reasoning(held)] if self._thinking else [held]
