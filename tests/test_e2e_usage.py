"""Tokens as users and operators meet them, through the real Application: context windows that never
strand a chat, interrupted answers, the usage ledger, /usage, and budgets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .fakes.openai import Fail, Reply, server_tokens
from .harness import BotHarness
from .test_e2e_groups import ADMIN, GROUP, MEMBER, MENTION, group_message, setup_group

ANSWER = "Hello from the fake model."
LEFT_OUT = "📜 The conversation was too long for the model: it did not see the earliest"
USER = 71


def stored_turns(harness: BotHarness) -> list[str]:
    with sqlite3.connect(harness.db_path) as db:
        return [row[0] for row in db.execute("SELECT content FROM messages WHERE chat_id = ? ORDER BY id", (USER,))]


def ledger(harness: BotHarness) -> list[tuple[int, int, int, float | None]]:
    with sqlite3.connect(harness.db_path) as db:
        return list(db.execute("SELECT prompt_tokens, completion_tokens, estimated, cost FROM usage ORDER BY id"))


async def noted(harness: BotHarness, answers: int) -> None:
    """Wait until the ledger holds ``answers`` answers: an answer is noted just after the user sees it
    whole, and /usage (which waits for no answer in progress) reads the ledger as it is."""
    await harness.telegram.wait_for(lambda: len(ledger(harness)) >= answers)


async def test_a_chat_that_outgrows_the_models_window_keeps_answering_with_a_note(harness: BotHarness) -> None:
    harness.llm.context_window = 600  # the server's count; it does not say so (OpenAI's /models has no window)
    await harness.start()
    noted = []
    for i in range(8):
        [reply] = await harness.say(USER, f"question {i}: " + "q" * 300)
        assert reply.startswith(ANSWER), f"question {i} is answered"
        noted.append(LEFT_OUT in reply)
    assert not noted[0] and any(noted), "the early turns fit; later ones leave the oldest out and say so"
    fitted = [r for r in harness.llm.requests if server_tokens(r["messages"]) <= 600]
    assert len(fitted) == 8, "every question got exactly one request that fit"
    # the whole history is still stored (the last answer just after it shows): only the request was fitted
    await harness.telegram.wait_for(lambda: len(stored_turns(harness)) == 16)


async def test_the_window_a_server_tells_fits_the_history_before_it_is_sent(harness: BotHarness) -> None:
    harness.llm.flavor = "llama-server"  # GET /props: default_generation_settings.n_ctx
    harness.llm.context_window = 800
    await harness.start()
    for i in range(6):
        [reply] = await harness.say(USER, f"вопрос {i}: " + "ж" * 300)  # the bot's estimate is the heavier here
        assert reply == ANSWER, "no overflow, so no note"
    assert len(harness.llm.requests) == 6, "no request was refused"
    assert len(harness.llm.requests[-1]["messages"]) < 12, "older turns were left out before sending"
    [settings] = await harness.say(USER, "/settings")
    assert "Context window: 800 tokens (from openai), 200 kept for the answer" in settings


async def test_a_message_too_long_for_the_model_gets_one_sentence_and_the_next_question_is_answered(
    harness: BotHarness,
) -> None:
    harness.llm.flavor = "llama-server"
    harness.llm.context_window = 300
    harness.llm.tells_context = False
    await harness.start()
    [refusal] = await harness.say(USER, "please read this: " + "z" * 2000)
    assert refusal == (
        "Your message is too long for the language model: it takes at most 300 tokens (a token is about 4"
        " characters of English). Please shorten it or send it in parts. Nothing of it was kept."
    )
    await harness.telegram.wait_for(lambda: stored_turns(harness) == [])  # removed just after the sentence shows
    assert ledger(harness) == [], "a failed answer costs nothing"
    [reply] = await harness.say(USER, "a short one")
    assert reply == ANSWER
    assert [m["content"] for m in harness.llm.requests[-1]["messages"][1:]] == ["a short one"]


async def test_an_answer_ending_without_a_finish_reason_is_retried_not_stored_half(harness: BotHarness) -> None:
    harness.overrides["provider_max_retries"] = 2
    harness.llm.then(Reply("HALF AN ANS", chunk_size=4, no_finish=True))  # llama-cpp-python's interrupted stream
    await harness.start()
    assert await harness.say(USER, "hi") == [ANSWER]
    await harness.telegram.wait_for(lambda: stored_turns(harness) == ["hi", ANSWER])


async def test_usage_shows_what_the_server_counted_and_the_cost_of_the_operators_prices(
    harness: BotHarness, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."fake-small"]\ninput = 1000\noutput = 2000\n')
    harness.overrides["prices_file"] = prices
    await harness.start()
    await harness.say(USER, "hello")
    await noted(harness, 1)
    [(prompt, completion, estimated, cost)] = ledger(harness)
    request = harness.llm.requests[0]
    assert (prompt, completion, estimated) == (server_tokens(request["messages"]), 6, 0), "the server's own count"
    assert cost == (prompt * 1000 + completion * 2000) / 1_000_000
    [report] = await harness.say(USER, "/usage")
    total = f"{prompt + completion:,} tokens, ${cost:,.2f}"
    assert f"You — today: {total}; this month: {total}" in report
    assert f"This chat — today: {total}" in report and "≈" not in report


async def test_local_servers_cost_nothing_and_failed_answers_cost_nothing(harness: BotHarness) -> None:
    harness.overrides["user_messages_per_hour"] = 1
    harness.llm.default = Fail(500, "down")
    await harness.start()
    [failed] = await harness.say(USER, "hello")
    assert failed.startswith("Sorry, I couldn't get an answer")
    [report] = await harness.say(USER, "/usage")
    assert "You — today: nothing yet; this month: nothing yet" in report
    assert "your messages this hour: 1 message left of 1 message" in report, "the failed answer is not counted"
    harness.llm.default = Reply()
    assert await harness.say(USER, "hello again") == [ANSWER]
    await noted(harness, 1)
    [report] = await harness.say(USER, "/usage")
    assert ", $0;" in report, "the fake server is on loopback: a local server, free"
    [refused] = await harness.say(USER, "one more")
    assert refused.startswith("You've reached the limit of 1 message an hour. Please try again in")


async def test_a_token_budget_refuses_says_when_it_starts_again_and_then_does(harness: BotHarness) -> None:
    harness.overrides["user_tokens_per_day"] = 50
    await harness.start()
    assert await harness.say(USER, "hello") == [ANSWER]  # the system prompt alone is over 50 tokens
    [refusal] = await harness.say(USER, "and again")
    assert refusal.startswith("You've used your 50 tokens for today. Your budget starts again at 00:00 UTC, in")
    assert len(harness.llm.requests) == 1, "no provider was asked"
    assert stored_turns(harness) == ["hello", ANSWER], "the refused question is not stored"
    [settings] = await harness.say(USER, "/settings")
    assert "Budgets: your tokens today: 0 tokens left of 50 tokens" in settings
    with sqlite3.connect(harness.db_path) as db:  # a day passes
        db.execute("UPDATE usage SET created_at = created_at - 86400")
    assert await harness.say(USER, "and again") == [ANSWER]


async def test_a_chat_budget_stops_the_whole_group_but_not_the_bot_owner(harness: BotHarness) -> None:
    harness.overrides["chat_tokens_per_day"] = 60
    harness.overrides["bot_admin_ids"] = [ADMIN]
    await setup_group(harness)
    group_message(harness.telegram, f"{MENTION} hi", user_id=MEMBER, name="Bob")
    await harness.wait_replies(GROUP, 1)
    group_message(harness.telegram, f"{MENTION} more", user_id=MEMBER + 1, name="Carol")
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_texts(GROUP)) >= 2)
    assert harness.telegram.bot_texts(GROUP)[-1].startswith("This chat has used its 60 tokens for today.")
    group_message(harness.telegram, f"{MENTION} owner here", user_id=ADMIN, name="Alice")
    await harness.wait_replies(GROUP, 3)
    assert harness.telegram.bot_texts(GROUP)[-1] == ANSWER, "bot owners are exempt"
    assert len(harness.llm.requests) == 2


async def test_group_admins_see_the_top_users_and_owners_the_whole_bot(harness: BotHarness) -> None:
    harness.overrides["bot_admin_ids"] = [99]
    await setup_group(harness)
    group_message(harness.telegram, f"{MENTION} hi", user_id=MEMBER, name="Bob")
    await harness.wait_replies(GROUP, 1)
    await noted(harness, 1)
    group_message(harness.telegram, "/usage", user_id=MEMBER, name="Bob")
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_texts(GROUP)) >= 2)
    member_view = harness.telegram.bot_texts(GROUP)[-1]
    assert "Top users" not in member_view and "whole bot" not in member_view
    group_message(harness.telegram, "/usage", user_id=ADMIN, name="Alice")
    await harness.telegram.wait_for(lambda: len(harness.telegram.bot_texts(GROUP)) >= 3)
    admin_view = harness.telegram.bot_texts(GROUP)[-1]
    assert "Top users here this month:\n1. Bob:" in admin_view and "whole bot" not in admin_view
    [owner_view] = await harness.say(99, "/usage")
    assert "The whole bot this month, by model:\n1. openai/fake-small:" in owner_view


async def test_a_surrogate_pair_split_across_two_events_shows_whole_and_a_lone_one_never_reaches_telegram(
    harness: BotHarness,
) -> None:
    # "Smile \ud83d" then "\ude00 and \udc00..." as two JSON events: the pair is 😀, the lone half is invalid.
    harness.llm.then(Reply("Smile \ud83d\ude00 and \udc00 done", chunk_size=7))
    await harness.start()
    assert await harness.say(USER, "hi") == ["Smile 😀 and \ufffd done"]
    await harness.telegram.wait_for(lambda: stored_turns(harness) == ["hi", "Smile 😀 and \ufffd done"])
