"""The model's thinking is a typed event (providers.Reasoning), kept apart from the answer's text."""

from __future__ import annotations

from providers import Answer, OpenAI, Reasoning, Reset, RetryProvider

from .fakes.openai import FakeOpenAI, Reply
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


async def test_reasoning_deltas_of_a_server_are_reasoning_events_never_text(llm: FakeOpenAI) -> None:
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


async def test_the_bot_never_shows_or_stores_the_thinking(harness: BotHarness) -> None:
    harness.llm.then(Reply("Blue light scatters most.", reasoning=["secret ", "thoughts"]), Reply("Yes."))
    await harness.start()
    assert await harness.say(5, "Why is the sky blue?") == ["Blue light scatters most."]
    await harness.say(5, "Really?")
    sent = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
    assert sent == ["Why is the sky blue?", "Blue light scatters most.", "Really?"], "not sent back to the model"


async def test_inline_thinking_split_across_chunks_is_neither_shown_nor_stored(harness: BotHarness) -> None:
    harness.llm.then(Reply("<think>a secret plan</think>\n\nThe answer.", chunk_size=4), Reply("Sure."))
    await harness.start()
    assert await harness.say(6, "Plan?") == ["The answer."]
    await harness.say(6, "Again?")
    sent = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
    assert sent == ["Plan?", "The answer.", "Again?"]


async def test_a_model_that_only_thought_gets_one_sentence(harness: BotHarness) -> None:
    from bot.texts import CATALOG

    harness.llm.then(Reply("<think>hmm, and hmm again", chunk_size=5))
    await harness.start()
    assert await harness.say(7, "Anything?") == [CATALOG.text("en", "ERROR_EMPTY")]
