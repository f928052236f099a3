"""Inline keyboards of /model, /provider and the Stop button, and their callback data.

Callback data (at most 64 bytes, Bot API InlineKeyboardButton) always names the
chat it belongs to, so a button can be checked against the chat it is pressed in:

- ``m:{chat_id}:{model_hash}``: choose a model (hash of the name, see :func:`model_token`);
- ``d:{chat_id}:default``: go back to the default model;
- ``g:{chat_id}:{page}``: show that page of the model keyboard (0-based);
- ``p:{chat_id}:{provider}``: choose a provider, ``auto`` for the whole chain;
- ``s:{chat_id}:{thread_id}``: stop the reply being generated in that conversation;
- ``r:{chat_id}:{index}``: use that system-prompt preset (0-based, file order), ``default`` for
  the operator's ``SYSTEM_PROMPT``;
- ``l:{chat_id}:{language}``: speak that language (a catalog code), ``auto`` for the automatic choice;
- ``c:{chat_id}:{thread_id}``: go back to that conversation (/conversations; 0 or below).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts

AUTO = "auto"
#: Model buttons on one page of the /model keyboard.
MODELS_PER_PAGE = 10
KINDS = ("m", "d", "g", "p", "s", "r", "l", "c")


@dataclass(frozen=True, slots=True)
class Callback:
    """Parsed callback data: ``kind`` is one of :data:`KINDS`."""

    kind: str
    chat_id: int
    value: str


def parse_callback(data: str | None) -> Callback | None:
    """The callback, or None when ``data`` is not one of ours (forged or stale)."""
    if not data:
        return None
    parts = data.split(":", 2)
    if len(parts) != 3 or parts[0] not in KINDS or not parts[2]:
        return None
    try:
        chat_id = int(parts[1])
    except ValueError:
        return None
    return Callback(parts[0], chat_id, parts[2])


def model_token(model: str) -> str:
    """A short stable token for a model name: names may exceed the callback data limit
    (``telegram.constants.InlineKeyboardButtonLimit.MAX_CALLBACK_DATA``, 64 bytes);
    ``m:{chat_id}:{token}`` never does (at most 2 + 14 + 1 + 10 bytes)."""
    return hashlib.sha1(model.encode()).hexdigest()[:10]


def page_count(total: int, per_page: int = MODELS_PER_PAGE) -> int:
    """Pages needed for ``total`` models (at least 1)."""
    return max(1, math.ceil(total / per_page))


def model_keyboard(
    chat_id: int,
    models: Sequence[tuple[str, str]],
    current: str | None,
    page: int,
    per_page: int = MODELS_PER_PAGE,
) -> InlineKeyboardMarkup:
    """One page of ``(model, label)`` buttons, the current model marked with ✅, then
    ◀ page/pages ▶ when there are several pages, then a "Default" button (✅ when ``current``
    is None). Labels longer than the model name get a row each; plain names go two a row."""
    pages = page_count(len(models), per_page)
    page = min(max(page, 0), pages - 1)
    shown = models[page * per_page : (page + 1) * per_page]
    buttons = [
        InlineKeyboardButton(
            f"✅ {label}" if model == current else label, callback_data=f"m:{chat_id}:{model_token(model)}"
        )
        for model, label in shown
    ]
    width = 1 if any(label != model for model, label in shown) else 2
    rows = [buttons[i : i + width] for i in range(0, len(buttons), width)]
    if pages > 1:
        rows.append(
            [
                InlineKeyboardButton("◀", callback_data=f"g:{chat_id}:{(page - 1) % pages}"),
                InlineKeyboardButton(f"{page + 1}/{pages}", callback_data=f"g:{chat_id}:{page}"),
                InlineKeyboardButton("▶", callback_data=f"g:{chat_id}:{(page + 1) % pages}"),
            ]
        )
    rows.append(
        [InlineKeyboardButton(_marked(texts.BUTTON_DEFAULT, current is None), callback_data=f"d:{chat_id}:default")]
    )
    return InlineKeyboardMarkup(rows)


def provider_keyboard(chat_id: int, choices: list[tuple[str, str]], current: str | None) -> InlineKeyboardMarkup:
    """One button a row: ``(name, label)`` pairs, ``auto`` first; the current one marked with ✅."""
    rows = []
    for name, label in choices:
        selected = (current or AUTO) == name
        rows.append([InlineKeyboardButton(f"✅ {label}" if selected else label, callback_data=f"p:{chat_id}:{name}")])
    return InlineKeyboardMarkup(rows)


def prompt_keyboard(chat_id: int, names: Sequence[str], current: str | None, default: bool) -> InlineKeyboardMarkup:
    """The presets, two a row, the ``current`` one marked with ✅, then "Default" (✅ when ``default``)."""
    buttons = [
        InlineKeyboardButton(f"✅ {name}" if name == current else name, callback_data=f"r:{chat_id}:{i}")
        for i, name in enumerate(names)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(_marked(texts.BUTTON_DEFAULT, default), callback_data=f"r:{chat_id}:default")])
    return InlineKeyboardMarkup(rows)


def stop_keyboard(chat_id: int, thread_id: int) -> InlineKeyboardMarkup:
    """The Stop button shown under a reply being written in that conversation."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.BUTTON_STOP, callback_data=f"s:{chat_id}:{thread_id}")]])


def language_keyboard(chat_id: int, languages: Sequence[tuple[str, str]], current: str | None) -> InlineKeyboardMarkup:
    """The languages (``(code, name)``), two a row, the ``current`` one marked with ✅, then
    "Automatic" (✅ when none is chosen)."""
    buttons = [
        InlineKeyboardButton(_marked(name, code == current), callback_data=f"l:{chat_id}:{code}")
        for code, name in languages
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(
        [InlineKeyboardButton(_marked(texts.LANGUAGE_AUTO, current is None), callback_data=f"l:{chat_id}:auto")]
    )
    return InlineKeyboardMarkup(rows)


def conversations_keyboard(chat_id: int, titles: Sequence[tuple[int, str]], current: int) -> InlineKeyboardMarkup:
    """One button a conversation (``(thread_id, title)``, most recent first), the ``current`` one
    marked with ✅."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_marked(title, thread == current), callback_data=f"c:{chat_id}:{thread}")]
            for thread, title in titles
        ]
    )


def _marked(label: str, current: bool) -> str:
    """``label``, with ✅ before it when it is the current choice."""
    return f"✅ {label}" if current else label
