"""Inline keyboards of /model, /provider and the Stop button, and their callback data.

Callback data (at most 64 bytes, Bot API InlineKeyboardButton) always names the
chat it belongs to, so a button can be checked against the chat it is pressed in:

- ``m:{chat_id}:{model_hash}``: choose a model (hash of the name, see :func:`model_token`);
- ``p:{chat_id}:{provider}``: choose a provider, ``auto`` for the whole chain;
- ``s:{chat_id}:{thread_id}``: stop the reply being generated in that conversation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

AUTO = "auto"
MAX_MODEL_BUTTONS = 48


@dataclass(frozen=True, slots=True)
class Callback:
    """Parsed callback data: ``kind`` is ``"m"``, ``"p"`` or ``"s"``."""

    kind: str
    chat_id: int
    value: str


def parse_callback(data: str | None) -> Callback | None:
    """The callback, or None when ``data`` is not one of ours (forged or stale)."""
    if not data:
        return None
    parts = data.split(":", 2)
    if len(parts) != 3 or parts[0] not in ("m", "p", "s") or not parts[2]:
        return None
    try:
        chat_id = int(parts[1])
    except ValueError:
        return None
    return Callback(parts[0], chat_id, parts[2])


def model_token(model: str) -> str:
    """A short stable token for a model name (names may exceed the 64-byte callback limit)."""
    return hashlib.sha1(model.encode()).hexdigest()[:10]


def model_keyboard(chat_id: int, models: list[str], current: str | None) -> InlineKeyboardMarkup:
    """Two buttons a row, the current model marked with ✅."""
    buttons = [
        InlineKeyboardButton(f"✅ {m}" if m == current else m, callback_data=f"m:{chat_id}:{model_token(m)}")
        for m in models[:MAX_MODEL_BUTTONS]
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def provider_keyboard(chat_id: int, choices: list[tuple[str, str]], current: str | None) -> InlineKeyboardMarkup:
    """One button a row: ``(name, label)`` pairs, ``auto`` first; the current one marked with ✅."""
    rows = []
    for name, label in choices:
        selected = (current or AUTO) == name
        rows.append([InlineKeyboardButton(f"✅ {label}" if selected else label, callback_data=f"p:{chat_id}:{name}")])
    return InlineKeyboardMarkup(rows)


def stop_keyboard(chat_id: int, thread_id: int) -> InlineKeyboardMarkup:
    """The Stop button shown under a reply being written in that conversation."""
    return InlineKeyboardMarkup([[InlineKeyboardButton("⏹ Stop", callback_data=f"s:{chat_id}:{thread_id}")]])
