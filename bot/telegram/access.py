"""Who may use the bot, and who may change a chat's settings.

- Access: with ``ALLOWED_USER_IDS`` and ``ALLOWED_CHAT_IDS`` both empty, everyone;
  otherwise an update is allowed when its user is listed, or its chat is listed.
  ``BOT_ADMIN_IDS`` are always allowed.
- Settings in groups (model, provider, reset): chat admins (creator or
  administrator, Bot API getChatMember), an anonymous admin posting as the
  chat itself, and ``BOT_ADMIN_IDS``. In private chats, the user.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from telegram import Bot, Chat, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

logger = logging.getLogger(__name__)

ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})


class AccessPolicy:
    """Allow-lists and bot owners.

    Args:
        allowed_users: user ids allowed everywhere (empty with ``allowed_chats`` empty: everyone).
        allowed_chats: chat ids where everyone may use the bot.
        bot_admins: user ids of the bot's owners: always allowed, admins in every chat.
        refusal_ttl: seconds during which a refused stranger is not told again.
    """

    def __init__(
        self,
        allowed_users: Iterable[int] = (),
        allowed_chats: Iterable[int] = (),
        bot_admins: Iterable[int] = (),
        refusal_ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed_users = frozenset(allowed_users)
        self.allowed_chats = frozenset(allowed_chats)
        self.bot_admins = frozenset(bot_admins)
        self.refusal_ttl = refusal_ttl
        self._clock = clock
        self._refused: dict[tuple[int, int], float] = {}

    @property
    def open(self) -> bool:
        """True when no allow-list is set."""
        return not self.allowed_users and not self.allowed_chats

    def allows(self, user: User | None, chat: Chat | None) -> bool:
        """True when the update's user or chat may use the bot (see the module docstring)."""
        if self.open:
            return True
        if user is not None and (user.id in self.allowed_users or user.id in self.bot_admins):
            return True
        return chat is not None and chat.id in self.allowed_chats

    def should_tell(self, user_id: int, chat_id: int) -> bool:
        """True the first time a stranger is refused in a chat (again after ``refusal_ttl``)."""
        now = self._clock()
        key = (chat_id, user_id)
        if self._refused.get(key, -1.0) > now:
            return False
        if len(self._refused) > 10_000:
            self._refused = {k: v for k, v in self._refused.items() if v > now}
        self._refused[key] = now + self.refusal_ttl
        return True


class AdminChecker:
    """Answers "may this user change this chat's settings?", caching getChatMember for ``ttl`` seconds."""

    def __init__(self, policy: AccessPolicy, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[int, int], tuple[float, bool]] = {}

    async def can_change_settings(
        self, bot: Bot, chat: Chat, user: User | None, sender_chat: Chat | None = None
    ) -> bool:
        """True for private chats, bot owners, anonymous admins (posting as the chat) and chat admins."""
        if chat.type == ChatType.PRIVATE:
            return True
        if sender_chat is not None and sender_chat.id == chat.id:
            return True  # an anonymous admin writes as the group itself
        if user is None:
            return False
        if user.id in self.policy.bot_admins:
            return True
        key = (chat.id, user.id)
        now = self._clock()
        cached = self._cache.get(key)
        if cached and cached[0] > now:
            return cached[1]
        try:
            member = await bot.get_chat_member(chat.id, user.id)
        except TelegramError as error:
            logger.warning("getChatMember failed in chat %s: %s", chat.id, error)
            return False
        is_admin = member.status in ADMIN_STATUSES
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[key] = (now + self.ttl, is_admin)
        return is_admin
