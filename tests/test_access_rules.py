"""Rules that must hold, each with a test that fails when the rule is broken (found unguarded by a mutation run)."""

from __future__ import annotations

from typing import Any

from telegram import Chat, User
from telegram.error import NetworkError

from bot.state.storage import StoredMessage
from bot.telegram.access import AccessPolicy, AdminChecker
from bot.turns.history import build_prompt
from providers import ProviderHealth

from .harness import BotHarness

GROUP = Chat(-100123, Chat.SUPERGROUP)
OTHER_GROUP = Chat(-100456, Chat.SUPERGROUP)
ALICE = User(11, "Alice", is_bot=False)
BOB = User(22, "Bob", is_bot=False)


class MemberBot:
    """Answers getChatMember from a table; ``fail`` makes it raise (Telegram down)."""

    def __init__(self, admins: set[tuple[int, int]], fail: bool = False) -> None:
        self.admins = admins
        self.fail = fail
        self.calls: list[tuple[int, int]] = []

    async def get_chat_member(self, chat_id: int, user_id: int) -> Any:
        self.calls.append((chat_id, user_id))
        if self.fail:
            raise NetworkError("Bad Gateway")

        class Member:
            status = "administrator" if (chat_id, user_id) in self.admins else "member"

        return Member()


async def test_an_anonymous_admin_counts_only_when_posting_as_the_group_itself() -> None:
    checker = AdminChecker(AccessPolicy())
    bot = MemberBot(set())
    assert await checker.can_change_settings(bot, GROUP, None, sender_chat=GROUP)  # type: ignore[arg-type]
    channel = Chat(-100999, Chat.CHANNEL)
    assert not await checker.can_change_settings(bot, GROUP, None, sender_chat=channel)  # type: ignore[arg-type]
    assert not await checker.can_change_settings(bot, GROUP, None, sender_chat=OTHER_GROUP)  # type: ignore[arg-type]


async def test_a_failing_get_chat_member_denies_and_admin_status_is_per_chat() -> None:
    down = MemberBot({(GROUP.id, ALICE.id)}, fail=True)
    assert not await AdminChecker(AccessPolicy()).can_change_settings(down, GROUP, ALICE)  # type: ignore[arg-type]
    bot = MemberBot({(GROUP.id, ALICE.id)})
    checker = AdminChecker(AccessPolicy())
    assert await checker.can_change_settings(bot, GROUP, ALICE)  # type: ignore[arg-type]
    assert not await checker.can_change_settings(bot, OTHER_GROUP, ALICE), "an admin of one group only"  # type: ignore[arg-type]
    assert not await checker.can_change_settings(bot, GROUP, BOB)  # type: ignore[arg-type]
    assert await checker.can_change_settings(bot, GROUP, ALICE)  # type: ignore[arg-type]
    assert bot.calls.count((GROUP.id, ALICE.id)) == 1, "cached"


async def test_bot_owners_are_always_allowed_and_admins_everywhere() -> None:
    policy = AccessPolicy(allowed_users=[5], bot_admins=[BOB.id])
    assert policy.allows(BOB, OTHER_GROUP) and not policy.allows(ALICE, OTHER_GROUP)
    bot = MemberBot(set())
    assert await AdminChecker(policy).can_change_settings(bot, GROUP, BOB)  # type: ignore[arg-type]
    assert bot.calls == [], "no getChatMember needed for an owner"


def test_allowed_chats_alone_restrict_the_bot_to_those_chats() -> None:
    policy = AccessPolicy(allowed_chats=[GROUP.id])
    assert policy.allows(ALICE, GROUP)
    assert not policy.allows(ALICE, OTHER_GROUP)
    assert not policy.allows(ALICE, Chat(ALICE.id, Chat.PRIVATE))


def test_the_history_budget_bounds_what_is_sent_and_counts_the_system_prompt() -> None:
    # 100 ASCII characters are 25 tokens, plus 4 of framing: 29 a turn; the request itself takes 3.
    turns = [StoredMessage(i, "user" if i % 2 else "assistant", "x" * 100, None, 0.0) for i in range(1, 11)]
    assert len(build_prompt("", turns, max_tokens=3 + 3 * 29)) == 3, "three turns fit exactly"
    assert len(build_prompt("", turns, max_tokens=3 + 3 * 29 - 1)) == 2, "one token less: two"
    prompt = build_prompt("s" * 100, turns, max_tokens=3 + 3 * 29)
    assert [m["role"] for m in prompt] == ["system", "user", "assistant"], "the system prompt takes its share"


def test_a_success_clears_a_providers_failure_count() -> None:
    health = ProviderHealth(failures_to_cool=3)
    health.failure("a")
    health.failure("a")
    health.success("a")
    health.failure("a")
    health.failure("a")
    assert not health.is_cooling("a"), "two failures after a success are not three in a row"
    health.failure("a")
    assert health.is_cooling("a")


async def test_history_max_messages_bounds_what_is_sent(harness: BotHarness) -> None:
    harness.overrides["history_max_messages"] = 3
    await harness.start()
    for n in range(4):
        await harness.say(71, f"message {n}")
    sent = harness.llm.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[-1]["content"] == "message 3" and sent[1]["content"] == "message 2"
