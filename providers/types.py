"""OpenAI-shaped response objects returned by :mod:`providers.client`.

They mirror the OpenAI Chat Completions API objects ``chat.completion`` and
``chat.completion.chunk`` as far as callers read them:
``chunk.choices[0].delta.content`` and ``completion.choices[0].message.content``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


def completion_id() -> str:
    """A new ``chatcmpl-…`` id."""
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


@dataclass(slots=True)
class CompletionUsage:
    """``usage`` of a completion (OpenAI's ``CompletionUsage``): tokens of the prompt and of the answer.
    ``estimated`` is True when the server reported no count and the numbers are
    :func:`providers.tokens.estimate_usage`'s."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    estimated: bool = False


@dataclass(slots=True)
class Delta:
    """New text of a chunk; ``content`` is None on the first (role) and last chunks and on a reset."""

    content: str | None = None
    role: str | None = None


@dataclass(slots=True)
class ChunkChoice:
    """``choices[i]`` of a chunk: the delta and, on the last chunk, ``finish_reason`` (``"stop"``,
    ``"length"`` or ``"content_filter"``)."""

    delta: Delta
    index: int = 0
    finish_reason: str | None = None


@dataclass(slots=True)
class ChatCompletionChunk:
    """One streamed piece. ``reset`` is True when the text streamed so far must be discarded
    (a provider failed mid-answer; a complete answer from the next attempt follows)."""

    id: str
    model: str
    provider: str
    choices: list[ChunkChoice]
    reset: bool = False
    #: Only on the last chunk, whose ``choices`` is empty, when ``stream_options={"include_usage": True}``
    #: was passed (as the OpenAI API does); None on every other chunk.
    usage: CompletionUsage | None = None
    object: str = "chat.completion.chunk"
    created: int = field(default_factory=lambda: int(time.time()))


@dataclass(slots=True)
class ChatMessage:
    """The assistant's message of a completion."""

    content: str
    role: str = "assistant"


@dataclass(slots=True)
class Choice:
    """``choices[i]`` of a completion."""

    message: ChatMessage
    index: int = 0
    finish_reason: str = "stop"


@dataclass(slots=True)
class ChatCompletion:
    """A whole answer."""

    id: str
    model: str
    provider: str
    choices: list[Choice]
    usage: CompletionUsage | None = None
    object: str = "chat.completion"
    created: int = field(default_factory=lambda: int(time.time()))
