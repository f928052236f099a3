"""Token estimates, and fitting a conversation into a model's context window.

Servers count tokens with their model's own tokenizer, which is not available offline for
every model. Where a server reports no count, this module estimates one, on the heavy side so
that a conversation fitted with it fits the real count too:

- ASCII text: one token per :data:`ASCII_CHARS_PER_TOKEN` (4) characters, rounded up (OpenAI's
  rule of thumb for English, "What are tokens and how to count them");
- CJK and other characters from U+2E80 on: one token each (their tokenizers give about 1-1.5
  characters a token);
- other non-ASCII characters (Cyrillic, Greek, accented Latin, Arabic...): one token per 2
  characters (2.5-4 in the GPT-4 and Llama 3 tokenizers);
- every message: :data:`MESSAGE_OVERHEAD` tokens of framing (role, separators), and
  :data:`REPLY_OVERHEAD` more for the whole request (OpenAI cookbook, "How to count tokens");
- an image part: :data:`IMAGE_TOKENS` tokens (OpenAI counts 765 for a 1024x1024 picture at high detail).
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import Message, Messages, Usage, text_of

ASCII_CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
REPLY_OVERHEAD = 3
IMAGE_TOKENS = 800
#: Code points from here on (CJK radicals, kana, hangul, ideographs, emoji...) count one token each.
WIDE_FROM = 0x2E80


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (see the module's rules); 0 for ""."""
    if text.isascii():
        return -(-len(text) // ASCII_CHARS_PER_TOKEN)
    ascii_chars = wide = other = 0
    for char in text:
        code = ord(char)
        if code < 128:
            ascii_chars += 1
        elif code >= WIDE_FROM:
            wide += 1
        else:
            other += 1
    return -(-ascii_chars // ASCII_CHARS_PER_TOKEN) + wide + -(-other // 2)


def message_tokens(message: Message) -> int:
    """Estimated tokens of one chat message, framing and images included."""
    content = message.get("content") or ""
    images = sum(1 for p in content if p.get("type") == "image_url") if isinstance(content, list) else 0
    return MESSAGE_OVERHEAD + estimate_tokens(text_of(content)) + images * IMAGE_TOKENS


def estimate_messages(messages: Sequence[Message]) -> int:
    """Estimated prompt tokens of a request with ``messages``."""
    return REPLY_OVERHEAD + sum(message_tokens(m) for m in messages)


def estimate_usage(messages: Sequence[Message], answer: str, reasoning_tokens: int = 0) -> Usage:
    """An estimated :class:`~providers.base.Usage` (``estimated=True``) for ``answer`` to ``messages``,
    after ``reasoning_tokens`` of the model's thinking (output tokens too, as servers count them:
    OpenAI's ``completion_tokens`` include ``completion_tokens_details.reasoning_tokens``)."""
    return Usage(estimate_messages(messages), estimate_tokens(answer) + reasoning_tokens, estimated=True)


def answer_reserve(window: int, reserve: int) -> int:
    """Tokens of ``window`` kept free for the answer: ``reserve``, but at most a quarter of the window
    (a small local model's 512-token window still takes a prompt)."""
    return min(reserve, window // 4)


def trim_to_fit(messages: Messages, budget: int | None, *, scale: float = 1.0) -> tuple[Messages, int]:
    """Leave out the oldest messages until the estimate (times ``scale``) fits ``budget`` tokens.

    System messages and the last message (the question) always stay; a kept part of the
    conversation never starts with an answer (its question was left out). With ``budget``
    None (the server gave no numbers) the older half of the droppable messages goes.

    ``scale`` calibrates the estimate to the server's count: the prompt tokens the server
    reported divided by :func:`estimate_messages` of the same messages.

    Returns:
        The kept messages, in order, and how many were left out (0: nothing could be).
    """
    system = [m for m in messages[:-1] if m.get("role") == "system"]
    middle = [m for m in messages[:-1] if m.get("role") != "system"]
    last = messages[-1:]
    if not middle:
        return messages, 0
    if budget is None:
        keep_from = (len(middle) + 1) // 2
    else:
        used = (estimate_messages(system + last)) * scale
        keep_from = len(middle)
        for index in range(len(middle) - 1, -1, -1):
            cost = message_tokens(middle[index]) * scale
            if used + cost > budget:
                break
            used += cost
            keep_from = index
    while keep_from < len(middle) and middle[keep_from].get("role") == "assistant":
        keep_from += 1
    if keep_from == 0:
        return messages, 0
    return system + middle[keep_from:] + last, keep_from
