"""Telegram's own stop button under a draft: the ``stopped_message_generation`` update.

Bot API 10.3 (sendMessageDraft ``can_stop``) sends a bot this update when the user presses the stop
button Telegram shows under its draft. Its object, ``MessageGenerationStopped``, has ``chat`` (Chat),
optional ``message_thread_id`` and ``draft_id`` (Bot API "MessageGenerationStopped").
python-telegram-bot 22.8 speaks Bot API 10.0: it keeps the field in the update's ``api_kwargs``,
where :func:`generation_stopped` reads it, and ``Update.ALL_TYPES`` lacks it, so the bot asks for it
by name (:data:`ALLOWED_UPDATES`): Telegram sends only the update types a bot lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler

#: The update's field (Bot API "Update").
STOPPED_GENERATION = "stopped_message_generation"
#: Every update type the bot asks Telegram for (getUpdates and setWebhook ``allowed_updates``).
ALLOWED_UPDATES: list[str] = [*Update.ALL_TYPES, STOPPED_GENERATION]


@dataclass(frozen=True, slots=True)
class GenerationStopped:
    """A user stopped a draft: its chat, its topic (``message_thread_id``, or None) and its ``draft_id``."""

    chat_id: int
    thread_id: int | None
    draft_id: int


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def generation_stopped(update: Update) -> GenerationStopped | None:
    """The ``stopped_message_generation`` an update carries, or None (another update, or one whose
    object lacks its chat id or draft id)."""
    data: Any = update.api_kwargs.get(STOPPED_GENERATION)
    if not isinstance(data, dict) or not isinstance(data.get("chat"), dict):
        return None
    chat_id, draft_id = _int(data["chat"].get("id")), _int(data.get("draft_id"))
    if chat_id is None or not draft_id:
        return None
    return GenerationStopped(chat_id, _int(data.get("message_thread_id")), draft_id)


class GenerationStoppedHandler(BaseHandler[Update, Any, None]):
    """A python-telegram-bot handler for ``stopped_message_generation`` updates; its callback reads
    the event with :func:`generation_stopped`."""

    def check_update(self, update: object) -> bool:
        return isinstance(update, Update) and generation_stopped(update) is not None
