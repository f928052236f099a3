"""Builds the message list sent to the model from the stored history."""

from __future__ import annotations

from collections.abc import Sequence

from providers import Message

from .storage import StoredMessage


def build_prompt(system_prompt: str, history: Sequence[StoredMessage], max_chars: int) -> list[Message]:
    """System prompt first, then the newest turns that fit ``max_chars`` characters, oldest first.

    The newest turn (the message being answered) is always kept, even alone
    over budget. Turns with an ``author`` (group chats) are sent as
    ``"Author: text"`` so the model can tell people apart.
    """
    kept: list[Message] = []
    used = len(system_prompt)
    for turn in reversed(history):
        content = f"{turn.author}: {turn.content}" if turn.author and turn.role == "user" else turn.content
        if kept and used + len(content) > max_chars:
            break
        kept.append({"role": turn.role, "content": content})
        used += len(content)
    kept.reverse()
    if system_prompt:
        kept.insert(0, {"role": "system", "content": system_prompt})
    return kept
