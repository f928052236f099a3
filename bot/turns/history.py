"""Builds the message list sent to the model from the stored history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.state.storage import StoredMessage
from providers import Message
from providers.tokens import REPLY_OVERHEAD, message_tokens

#: How a stored image is named in a prompt until :func:`attach_images` fetches it: ``tg-file:{file_id}``.
TELEGRAM_FILE = "tg-file:"
#: What replaces an image of an older turn (beyond ``HISTORY_MAX_IMAGES``) or one Telegram no longer has.
IMAGE_LEFT_OUT = "[an image was shown here]"


def build_prompt(system_prompt: str, history: Sequence[StoredMessage], max_tokens: int) -> list[Message]:
    """System prompt first, then the newest turns that fit ``max_tokens`` tokens, oldest first.

    Tokens are estimated (:func:`providers.tokens.message_tokens`: framing and text; the system
    prompt and the request's overhead count too): the whole prompt's estimate stays within
    ``max_tokens``. The newest turn (the message being answered) is always kept, even alone
    over budget. Turns with an ``author`` (group chats) are sent as
    ``"Author: text"`` so the model can tell people apart. A turn with images becomes
    OpenAI content parts (text, then one ``image_url`` per image named ``tg-file:{file_id}``,
    for :func:`attach_images`); images do not count against ``max_tokens``.
    """
    kept: list[Message] = []
    used = REPLY_OVERHEAD + (message_tokens({"role": "system", "content": system_prompt}) if system_prompt else 0)
    for turn in reversed(history):
        content = f"{turn.author}: {turn.content}" if turn.author and turn.role == "user" else turn.content
        cost = message_tokens({"role": turn.role, "content": content})
        if kept and used + cost > max_tokens:
            break
        if turn.images and turn.role == "user":
            parts: list[dict[str, Any]] = [{"type": "text", "text": content}] if content else []
            parts += [{"type": "image_url", "image_url": {"url": TELEGRAM_FILE + f}} for f in turn.images]
            kept.append({"role": turn.role, "content": parts})
        else:
            kept.append({"role": turn.role, "content": content})
        used += cost
    kept.reverse()
    if system_prompt:
        kept.insert(0, {"role": "system", "content": system_prompt})
    return kept


async def attach_images(
    messages: list[Message], fetch: Callable[[str], Awaitable[str | None]], max_images: int
) -> list[Message]:
    """``messages`` with the newest ``max_images`` images fetched (``fetch(file_id)`` gives a
    ``data:`` URL, or None when the file is gone) and every other image left out as a short text."""
    budget = max_images
    result: list[Message] = []
    for message in reversed(messages):
        content = message["content"]
        if isinstance(content, list):
            parts: list[dict[str, Any]] = []
            for part in reversed(content):
                url = str(part.get("image_url", {}).get("url", "")) if part.get("type") == "image_url" else ""
                if not url.startswith(TELEGRAM_FILE):
                    parts.append(part)
                    continue
                fetched = await fetch(url.removeprefix(TELEGRAM_FILE)) if budget > 0 else None
                if fetched is None:
                    parts.append({"type": "text", "text": IMAGE_LEFT_OUT})
                else:
                    budget -= 1
                    parts.append({"type": "image_url", "image_url": {"url": fetched}})
            parts.reverse()
            if not any(p.get("type") == "image_url" for p in parts):
                message = {**message, "content": "\n".join(str(p["text"]) for p in parts)}
            else:
                message = {**message, "content": parts}
        result.append(message)
    result.reverse()
    return result
