"""The model's thinking is a typed event (providers.Reasoning), kept apart from the answer's text."""

from __future__ import annotations

import pytest

from bot.telegram.rendering import utf16_len
from bot.texts import CATALOG
from providers import Answer, OpenAI, Reasoning, Reset, RetryProvider, Usage
from providers.answer import REASONING_KEPT

from .fakes.openai import FakeOpenAI, Reply
from .fakes.telegram import StoredMessage
from .harness import BotHarness
from .scripted import Recorder

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


def test_the_answer_keeps_reasoning_apart_and_a_reset_discards_it() -> None:
    recorder = Recorder()
    answer = Answer(MESSAGES, recorder)
    for chunk in [Reasoning("Rayleigh "), Reasoning("scattering..."), "Because ", "of scattering."]:
        answer.add(chunk)
    assert answer.text == "Because of scattering." and answer.reasoning == "Rayleigh scattering..."
    assert recorder.events == ["Because ", "of scattering."], "a display is never given the thinking as text"
    answer.add(Reset("a", "cut"))
    assert answer.text == answer.reasoning == ""


def test_an_estimated_usage_counts_the_thinking_and_a_reported_one_stands() -> None:
    plain, thinking = Answer(MESSAGES), Answer(MESSAGES)
    plain.add("Because of scattering.")
    for chunk in [Reasoning("Rayleigh "), Reasoning("scattering..."), "Because of scattering."]:
        thinking.add(chunk)
    assert thinking.usage.estimated and thinking.usage.prompt_tokens == plain.usage.prompt_tokens
    assert thinking.usage.completion_tokens == plain.usage.completion_tokens + 3 + 4  # 9 and 13 ASCII characters
    thinking.add(Usage(20, 50))
    assert thinking.usage == Usage(20, 50), "the server's count (its completion tokens include the thinking)"


def test_an_endless_thought_is_kept_by_its_end_only() -> None:
    answer = Answer(MESSAGES)
    for n in range(5000):
        answer.add(Reasoning(f"step {n:05d}; "))
    assert answer.reasoning.endswith("step 04999; ") and len(answer.reasoning) <= 2 * REASONING_KEPT
    assert len(answer.reasoning) >= REASONING_KEPT and answer.reasoning_tokens == 5000 * 3  # 12 ASCII characters each


@pytest.mark.parametrize("flavor", ["openai", "openrouter"])  # delta.reasoning_content, delta.reasoning
async def test_reasoning_deltas_of_a_server_are_reasoning_events_never_text(flavor: str) -> None:
    async with FakeOpenAI(flavor=flavor) as llm:
        llm.then(Reply("The sky scatters blue light.", reasoning=["Think about ", "light."]))
        provider = OpenAI(api_key="sk-test", base_url=llm.base_url)
        chain = RetryProvider([provider], max_retries=1)
        answer = Answer(MESSAGES)
        events = []
        async for chunk in chain.create_async_generator("", MESSAGES):
            answer.add(chunk)
            events.append(chunk)
    assert [e.text for e in events if isinstance(e, Reasoning)] == ["Think about ", "light."]
    assert answer.text == "The sky scatters blue light." and answer.reasoning == "Think about light."


def title() -> str:
    from bot.texts import CATALOG

    return CATALOG.text("en", "REASONING_TITLE")


def folded(message: StoredMessage, quoted: str) -> bool:
    """The message starts with ``quoted`` in an expandable blockquote (Bot API entity)."""
    quote = {"type": "expandable_blockquote", "offset": 0, "length": utf16_len(quoted)}
    return message.text.startswith(quoted + "\n\n") and quote in message.entities


async def test_the_bot_shows_the_thinking_folded_and_never_stores_or_sends_it_back(harness: BotHarness) -> None:
    harness.llm.then(
        Reply("Blue light scatters most.", reasoning=["secret ", "thoughts"], reasoning_delay=0.4), Reply("Yes.")
    )
    await harness.start()
    telegram = harness.telegram
    telegram.user_message(5, "Why is the sky blue?")
    thinking = CATALOG.text("en", "THINKING")
    await telegram.wait_for(lambda: any(t.startswith(thinking) for t in telegram.bot_texts(5)))
    [answer] = await harness.wait_replies(5)
    assert answer == f"{title()}\nsecret thoughts\n\nBlue light scatters most."
    assert folded(telegram.bot_messages(5)[0], f"{title()}\nsecret thoughts")
    await harness.say(5, "Really?")
    sent = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
    assert sent == ["Why is the sky blue?", "Blue light scatters most.", "Really?"], "not sent back to the model"


async def test_reasoning_off_in_a_chat_shows_only_that_the_model_thinks(harness: BotHarness) -> None:
    harness.llm.then(Reply("Blue.", reasoning=["secret ", "thoughts"], reasoning_delay=0.4))
    await harness.start()
    hidden = CATALOG.text("en", "REASONING_HIDDEN")
    assert await harness.say(8, "/reasoning off") == [CATALOG.text("en", "REASONING_SET").format(state=hidden)]
    telegram = harness.telegram
    telegram.user_message(8, "Why is the sky blue?")
    await telegram.wait_for(lambda: CATALOG.text("en", "THINKING") in telegram.bot_texts(8))
    await harness.wait_replies(8, 2)
    assert telegram.bot_texts(8)[-1] == "Blue."
    assert await harness.say(8, "/settings") and f"Reasoning: {hidden}" in telegram.bot_texts(8)[-1]


async def test_inline_thinking_split_across_chunks_is_folded_and_not_stored(harness: BotHarness) -> None:
    harness.llm.then(Reply("<think>a secret plan</think>\n\nThe answer.", chunk_size=4), Reply("Sure."))
    await harness.start()
    assert await harness.say(6, "Plan?") == [f"{title()}\na secret plan\n\nThe answer."]
    assert folded(harness.telegram.bot_messages(6)[0], f"{title()}\na secret plan")
    await harness.say(6, "Again?")
    sent = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
    assert sent == ["Plan?", "The answer.", "Again?"]


async def test_a_model_that_only_thought_gets_one_sentence(harness: BotHarness) -> None:
    harness.llm.then(Reply("<think>hmm, and hmm again", chunk_size=5))
    await harness.start()
    assert await harness.say(7, "Anything?") == [CATALOG.text("en", "ERROR_EMPTY")]


async def test_in_a_group_only_admins_turn_reasoning_off(harness: BotHarness) -> None:
    group = -100930
    harness.telegram.chat(group, "supergroup")
    harness.telegram.chat_members[(group, 90)] = "administrator"
    await harness.start()
    telegram = harness.telegram
    telegram.user_message(group, "/reasoning off", user_id=78)
    await telegram.wait_for(lambda: len(telegram.bot_texts(group)) == 1)
    assert telegram.bot_texts(group) == [CATALOG.text("en", "ADMINS_ONLY")]
    telegram.user_message(group, "/reasoning off", user_id=90)
    await telegram.wait_for(lambda: len(telegram.bot_texts(group)) == 2)
    hidden = CATALOG.text("en", "REASONING_HIDDEN")
    assert telegram.bot_texts(group)[-1] == CATALOG.text("en", "REASONING_SET").format(state=hidden)
