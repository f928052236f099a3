"""The streamer on its own, with a real PTB Bot against the fake Bot API."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.pacing import ChatPacer
from bot.telegram.ratelimit import ChatRateLimiter
from bot.telegram.rendering import folded_quote, utf16_len
from bot.telegram.streaming import ReplyStreamer, ReplyTarget
from providers import Chunk, ProviderConnectionError, Reasoning, Reset

from .fakes.telegram import FakeBotApi

CHAT = 31


@pytest.fixture
async def bot(telegram: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        yield bot


def streamer(bot: Bot, interval: float = 0.0, limit: int = 4096) -> ReplyStreamer:
    return ReplyStreamer(
        bot, ChatRateLimiter(ChatPacer(private_interval=interval, global_per_second=1000)), limit=limit
    )


async def chunks(*items: Chunk | float) -> AsyncIterator[Chunk]:
    for item in items:
        if isinstance(item, float):
            await asyncio.sleep(item)
        else:
            yield item


def sentence(error: BaseException) -> str:
    return "Sorry, no answer."


async def test_reset_replaces_the_partial_answer(bot: Bot, telegram: FakeBotApi) -> None:
    stream = streamer(bot).open(ReplyTarget(CHAT), sentence)
    result = await stream.run(chunks("Partial from A", 0.05, Reset("a", "cut"), 0.05, "Whole answer from B"))
    assert telegram.bot_texts(CHAT) == ["Whole answer from B"]
    assert result.text == "Whole answer from B" and result.resets == 1
    assert telegram.errors == []


STOP = InlineKeyboardMarkup([[InlineKeyboardButton("⏹ Stop", callback_data="stop")]])


async def test_reset_of_a_long_answer_deletes_the_extra_messages(bot: Bot, telegram: FakeBotApi) -> None:
    stream = streamer(bot, limit=50).open(ReplyTarget(CHAT), sentence, stop_markup=STOP)
    long = "word " * 40
    await stream.run(chunks(long, 0.05, Reset("a", "cut"), "short"))
    assert telegram.bot_texts(CHAT) == ["short"]
    assert len(telegram.calls_of("deleteMessage", CHAT)) == 3
    assert telegram.stop_shown_until_the_end(CHAT), telegram.screens


async def test_a_long_answer_shows_the_stop_button_until_its_last_part_is_out(bot: Bot, telegram: FakeBotApi) -> None:
    stream = streamer(bot, limit=50).open(ReplyTarget(CHAT), sentence, stop_markup=STOP)
    await stream.run(chunks(*(["word "] * 60)))
    assert len(telegram.bot_texts(CHAT)) == 6
    assert telegram.stop_shown_until_the_end(CHAT), telegram.screens
    drafting_stream = drafting(bot, limit=50).open(ReplyTarget(CHAT + 1), sentence, stop_markup=STOP)
    await drafting_stream.run(chunks(*[x for _ in range(60) for x in ("word ", 0.002)]))
    assert len(telegram.bot_texts(CHAT + 1)) == 6
    # Drafting, the stop button is Telegram's own, under the draft that follows every part sent.
    assert not any(n for c, n in telegram.stop_buttons if c == CHAT + 1), "no message carries the bot's button"
    draft_calls = telegram.calls_of("sendMessageDraft", CHAT + 1)
    assert all(c.params["can_stop"] for c in draft_calls)
    sends = [c.at for c in telegram.calls_of("sendMessage", CHAT + 1)]
    assert all(any(d.at > sent for d in draft_calls) for sent in sends[:-1]), "a stoppable draft after each part"
    # older parts lose their button (the one before the newest only at its last edit)
    assert max(n for c, n in telegram.stop_buttons if c == CHAT) <= 2, telegram.stop_buttons


async def test_unchanged_content_is_never_sent_as_an_edit(bot: Bot, telegram: FakeBotApi) -> None:
    stream = streamer(bot).open(ReplyTarget(CHAT), sentence)
    # Whitespace-only deltas render to the same text: no edit for them.
    result = await stream.run(chunks("Hello", 0.02, " ", 0.02, "\n", 0.02, "  ", 0.02, " world"))
    assert telegram.bot_texts(CHAT) == ["Hello\nworld"]
    assert telegram.errors == []
    assert result.edits == 1


async def test_flood_wait_on_the_final_edit_still_delivers_everything(bot: Bot, telegram: FakeBotApi) -> None:
    stream = streamer(bot).open(ReplyTarget(CHAT), sentence)
    telegram.fail("editMessageText", 429, "Too Many Requests: retry after 1", retry_after=1, times=2)
    result = await stream.run(chunks("Start", 0.05, " and the end."))
    assert telegram.bot_texts(CHAT) == ["Start and the end."]
    assert result.flood_waits == 2


async def test_provider_error_after_text_keeps_it_and_adds_the_sentence(bot: Bot, telegram: FakeBotApi) -> None:
    async def failing() -> AsyncIterator[Chunk]:
        yield "Half an answer"
        raise ProviderConnectionError("cut")

    result = await streamer(bot).open(ReplyTarget(CHAT), sentence).run(failing())
    assert telegram.bot_texts(CHAT) == ["Half an answer\n\n⚠️ Cut off here. Sorry, no answer."]
    assert isinstance(result.error, ProviderConnectionError)


async def test_text_shown_is_never_wiped_when_the_next_attempt_writes_nothing(bot: Bot, telegram: FakeBotApi) -> None:
    """After a Reset the shown text stays until the next attempt writes; when that attempt fails
    too, the user keeps what was shown, cut, and the result says what was shown."""
    shown_after_reset: list[list[str]] = []

    async def failing() -> AsyncIterator[Chunk]:
        yield "A first attempt's half answer"
        await asyncio.sleep(0.05)
        yield Reset("local", "interrupted")
        await asyncio.sleep(0.05)
        shown_after_reset.append(telegram.bot_texts(CHAT))
        raise ProviderConnectionError("interrupted again")

    result = await streamer(bot).open(ReplyTarget(CHAT), sentence).run(failing())
    assert shown_after_reset == [["A first attempt's half answer"]], "not wiped while the next attempt starts"
    assert telegram.bot_texts(CHAT) == ["A first attempt's half answer\n\n⚠️ Cut off here. Sorry, no answer."]
    assert result.text == "A first attempt's half answer" and isinstance(result.error, ProviderConnectionError)


async def test_after_a_reset_the_next_attempts_text_replaces_the_shown_one(bot: Bot, telegram: FakeBotApi) -> None:
    result = (
        await streamer(bot)
        .open(ReplyTarget(CHAT), sentence)
        .run(chunks("Spliced? ", 0.05, Reset("a", "cut"), 0.05, "The whole answer."))
    )
    assert telegram.bot_texts(CHAT) == ["The whole answer."] and result.text == "The whole answer."


async def test_provider_error_before_text_is_one_sentence(bot: Bot, telegram: FakeBotApi) -> None:
    async def failing() -> AsyncIterator[Chunk]:
        raise ProviderConnectionError("refused")
        yield ""  # pragma: no cover

    result = await streamer(bot).open(ReplyTarget(CHAT), sentence).run(failing())
    assert telegram.bot_texts(CHAT) == ["Sorry, no answer."]
    assert result.text == ""


async def test_empty_answer_says_so(bot: Bot, telegram: FakeBotApi) -> None:
    await streamer(bot).open(ReplyTarget(CHAT), sentence).run(chunks())
    assert telegram.bot_texts(CHAT) == ["The model returned an empty answer."]


async def test_stop_keeps_what_was_shown_and_removes_the_button(bot: Bot, telegram: FakeBotApi) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Stop", callback_data="stop")]])
    stream = streamer(bot).open(ReplyTarget(CHAT), sentence, stop_markup=markup)

    async def endless() -> AsyncIterator[Chunk]:
        yield "Some text"
        while True:
            await asyncio.sleep(0.01)
            yield "."

    task = asyncio.create_task(stream.run(endless()))
    await telegram.wait_for(lambda: bool(telegram.bot_messages(CHAT)))
    assert telegram.bot_messages(CHAT)[0].reply_markup is not None
    stream.stop()
    result = await task
    [message] = telegram.bot_messages(CHAT)
    assert message.text.startswith("Some text") and message.text.endswith("⏹ Stopped.")
    assert message.reply_markup is None
    assert result.stopped


async def test_each_message_sent_is_noted_and_a_failing_note_does_not_stop_the_reply(
    bot: Bot, telegram: FakeBotApi
) -> None:
    noted: list[int] = []

    async def note(message_id: int) -> None:
        noted.append(message_id)
        raise RuntimeError("database is locked")

    stream = streamer(bot, limit=50).open(ReplyTarget(CHAT), sentence, on_message=note)
    await stream.run(chunks(*(["word "] * 30)))
    assert noted == [m.message_id for m in telegram.bot_messages(CHAT)] and len(noted) == 3
    assert " ".join(telegram.bot_texts(CHAT)).split() == ["word"] * 30


async def test_typing_until_first_text(bot: Bot, telegram: FakeBotApi) -> None:
    await streamer(bot).open(ReplyTarget(CHAT, thread_id=None), sentence).run(chunks(0.1, "hi"))
    actions = telegram.calls_of("sendChatAction", CHAT)
    assert actions and actions[0].params["action"] == "typing"
    first_send = telegram.calls_of("sendMessage", CHAT)[0].at
    assert all(a.at < first_send for a in actions)


async def test_group_reply_answers_the_message_in_its_topic(bot: Bot, telegram: FakeBotApi) -> None:
    telegram.chat(-100, "supergroup", is_forum=True)
    telegram.user_message(-100, "question", thread_id=5)
    target = ReplyTarget(-100, is_group=True, thread_id=5, reply_to=1)
    await streamer(bot).open(target, sentence).run(chunks("answer"))
    [message] = telegram.bot_messages(-100, thread_id=5)
    assert message.reply_to == 1 and message.text == "answer"


async def test_edits_carry_everything_received_so_far(bot: Bot, telegram: FakeBotApi) -> None:
    stream = streamer(bot, interval=0.2).open(ReplyTarget(CHAT), sentence)
    items: list[Chunk | float] = []
    for n in range(30):
        items += [f"{n} ", 0.02]
    await stream.run(chunks(*items))
    sent = [c.params["text"] for c in telegram.calls if c.method in ("sendMessage", "editMessageText")]
    assert len(sent) <= 6, "about one request per 0.2 s over 0.6 s of streaming"
    assert all(b.startswith(a) for a, b in itertools.pairwise(sent))
    assert sent[-1] == " ".join(str(n) for n in range(30))


def drafting(bot: Bot, limit: int = 4096) -> ReplyStreamer:
    return ReplyStreamer(
        bot, ChatRateLimiter(ChatPacer(private_interval=0.0, global_per_second=1000)), limit=limit, drafts=True
    )


async def test_draft_mode_streams_drafts_then_sends_the_message(bot: Bot, telegram: FakeBotApi) -> None:
    result = await drafting(bot).open(ReplyTarget(CHAT), sentence).run(chunks("Hello", 0.03, " there", 0.03, " friend"))
    assert telegram.bot_texts(CHAT) == ["Hello there friend"]
    thinking, *drafts = telegram.drafts[CHAT]
    assert thinking == "", "the first draft is Telegram's Thinking… placeholder"
    assert drafts[0] == "Hello" and len(drafts) >= 2 and all(b.startswith(a) for a, b in itertools.pairwise(drafts))
    assert result.edits == 0 and result.sends == 1 and result.drafts == len(drafts) + 1
    calls = telegram.calls_of("sendMessageDraft")
    assert len({c.params["draft_id"] for c in calls}) == 1, "one animated draft"
    assert all(c.params["can_stop"] is True and c.params["keep_on_stop"] is True for c in calls), "Telegram's stop"
    assert not telegram.live_drafts, "the message replaced the draft"


async def test_draft_mode_turns_complete_parts_into_messages(bot: Bot, telegram: FakeBotApi) -> None:
    words = [f"w{n} " for n in range(40)]
    await drafting(bot, limit=40).open(ReplyTarget(CHAT), sentence).run(chunks(*[x for w in words for x in (w, 0.005)]))
    texts = telegram.bot_texts(CHAT)
    assert " ".join(texts).split() == [w.strip() for w in words]
    assert all(len(t) <= 40 for t in texts)
    first_send = telegram.calls_of("sendMessage", CHAT)[0].at
    assert any(c.at > first_send for c in telegram.calls_of("sendMessageDraft", CHAT)), (
        "earlier parts sent while drafting"
    )


async def test_draft_mode_falls_back_to_edits_when_drafts_are_refused(bot: Bot, telegram: FakeBotApi) -> None:
    telegram.fail("sendMessageDraft", 400, "Bad Request: method not available")
    result = await drafting(bot).open(ReplyTarget(CHAT), sentence).run(chunks("Hello", 0.03, " there", 0.03, " again"))
    assert telegram.bot_texts(CHAT) == ["Hello there again"]
    assert result.drafts == 0 and result.sends == 1


async def test_draft_mode_is_not_used_in_groups(bot: Bot, telegram: FakeBotApi) -> None:
    telegram.chat(-7, "supergroup")
    await drafting(bot).open(ReplyTarget(-7, is_group=True), sentence).run(chunks("Hi", 0.03, " all"))
    assert telegram.bot_texts(-7) == ["Hi all"] and not telegram.calls_of("sendMessageDraft")


@pytest.mark.parametrize("drafts", [False, True])
async def test_stop_sends_no_part_not_yet_shown(bot: Bot, telegram: FakeBotApi, drafts: bool) -> None:
    """A long answer already read but not yet delivered (pacing holds it back) is not delivered
    after /stop: the messages shown keep their text and end with the note; no further part is sent."""
    pacer = ChatPacer(private_interval=0.3, global_per_second=1000)
    stream = ReplyStreamer(bot, ChatRateLimiter(pacer), limit=60, drafts=drafts).open(
        ReplyTarget(CHAT), sentence, stop_markup=STOP
    )
    read = 0

    async def answer() -> AsyncIterator[Chunk]:
        nonlocal read
        for _ in range(200):
            read += 1
            yield "word "
        await asyncio.sleep(3600)

    task = asyncio.create_task(stream.run(answer()))
    await telegram.wait_for(lambda: bool(telegram.bot_messages(CHAT)))
    stream.stop()
    result = await task
    messages = telegram.bot_messages(CHAT)
    assert len(messages) <= 2 and len(result.message_ids) == len(messages)  # 1,000 characters would need 17
    assert messages[-1].text.endswith("⏹ Stopped.") and all(len(m.text) <= 60 for m in messages)
    assert all(m.reply_markup is None for m in messages)
    assert result.stopped and read == 200


async def test_a_lost_send_is_looked_for_only_among_messages_nobody_knows(telegram: FakeBotApi) -> None:
    """Between the lost copy and its resend come a user's message and another message of the bot:
    the user's cannot be edited, the bot's own is known (``bot.sent``); only the copy is deleted."""
    from bot.telegram.tolerant import TolerantBot, TolerantRequest

    async with TolerantBot(telegram.token, base_url=telegram.base_url, request=TolerantRequest()) as bot:
        question = telegram.user_message(CHAT, "question")
        telegram.lose("sendMessage")
        stream = streamer(bot).open(ReplyTarget(CHAT, after=question["message_id"]), sentence, stop_markup=STOP)
        task = asyncio.create_task(stream.run(chunks("Hello", 1.0, " world")))
        await telegram.wait_for(lambda: len(telegram.calls_of("sendMessage", CHAT)) == 1)
        telegram.user_message(CHAT, "meanwhile")
        other = await bot.send_message(CHAT, "another reply")
        result = await task
    assert telegram.bot_texts(CHAT) == ["another reply", "Hello world"]
    assert [m.text for m in telegram.messages.values() if not m.from_bot] == ["question", "meanwhile"]
    assert telegram.messages[(CHAT, other.message_id)].edits == 0
    assert result.duplicates_removed == 1 and not any(m.shows_stop() for m in telegram.bot_messages(CHAT))


# -- the model's reasoning ------------------------------------------------------------------------

THINKING = "💭 Thinking…"
TITLE = "💭 Reasoning"


def reasoner(bot: Bot, limit: int = 4096, drafts: bool = False) -> ReplyStreamer:
    pacer = ChatPacer(private_interval=0.0, global_per_second=1000)
    return ReplyStreamer(bot, ChatRateLimiter(pacer), limit=limit, drafts=drafts)


def quote_of(message: Any) -> dict[str, Any] | None:
    return next((e for e in message.entities if e["type"] == "expandable_blockquote"), None)


async def test_a_thinking_model_shows_thinking_then_its_reasoning_folded_above_the_answer(
    bot: Bot, telegram: FakeBotApi
) -> None:
    stream = reasoner(bot).open(ReplyTarget(CHAT), sentence, reasoning_chars=100)
    events = [Reasoning("Light "), 0.05, Reasoning("scatters."), 0.05, "Blue ", 0.02, "sky."]
    result = await stream.run(chunks(*events))
    [message] = telegram.bot_messages(CHAT)
    folded = f"{TITLE}\nLight scatters."
    assert message.text == f"{folded}\n\nBlue sky." and result.text == "Blue sky."
    assert quote_of(message) == {"type": "expandable_blockquote", "offset": 0, "length": utf16_len(folded)}
    shown = [c.params["text"] for c in telegram.calls if c.method in ("sendMessage", "editMessageText")]
    assert shown[0].startswith(f"{THINKING}\n"), "while it thinks the reply says so, with the reasoning so far"
    assert not any("Blue" in text for text in shown if text.startswith(THINKING))


async def test_reasoning_is_cut_to_its_last_characters_at_the_bound_and_one_past(
    bot: Bot, telegram: FakeBotApi
) -> None:
    for chat, reasoning in ((CHAT, "x" * 49 + "END"), (CHAT + 1, "x" * 50 + "END")):
        await (
            reasoner(bot)
            .open(ReplyTarget(chat), sentence, reasoning_chars=52)
            .run(chunks(Reasoning(reasoning), "Answer."))
        )
    assert telegram.bot_texts(CHAT) == [f"{TITLE}\n{'x' * 49}END\n\nAnswer."], "52 characters: shown whole"
    assert telegram.bot_texts(CHAT + 1) == [f"{TITLE}\n…{'x' * 49}END\n\nAnswer."], "53: its last 52, marked cut"


def test_a_folded_quote_counts_utf16_code_units() -> None:
    quote = folded_quote("", "🙂" * 10, 7)
    assert quote is not None and quote.text == "…🙂🙂🙂" and utf16_len(quote.text) - 1 <= 7
    assert folded_quote("t", "   ", 10) is None and folded_quote("t", "x", 0) is None


async def test_without_reasoning_shown_the_reply_still_says_it_thinks(bot: Bot, telegram: FakeBotApi) -> None:
    stream = reasoner(bot).open(ReplyTarget(CHAT), sentence, reasoning_chars=0)
    await stream.run(chunks(Reasoning("secret"), 0.05, "Blue sky."))
    assert telegram.bot_texts(CHAT) == ["Blue sky."]
    assert telegram.calls_of("sendMessage", CHAT)[0].params["text"] == THINKING
    assert not any("secret" in c.params.get("text", "") for c in telegram.calls)


async def test_a_long_answer_below_its_reasoning_keeps_every_part_within_the_limit(
    bot: Bot, telegram: FakeBotApi
) -> None:
    words = [f"w{n} " for n in range(60)]
    stream = reasoner(bot, limit=80).open(ReplyTarget(CHAT), sentence, reasoning_chars=30)
    await stream.run(chunks(Reasoning("r" * 40), *[x for w in words for x in (w, 0.002)]))
    texts_ = telegram.bot_texts(CHAT)
    assert all(utf16_len(t) <= 80 for t in texts_) and len(texts_) > 2
    requests = [c.params["text"] for c in telegram.calls if c.method in ("sendMessage", "editMessageText")]
    assert max(map(utf16_len, requests)) <= 80, "no request, growing or final, passed the limit"
    folded = f"{TITLE}\n…{'r' * 30}"
    assert texts_[0].startswith(folded + "\n\nw0 ")
    assert " ".join([texts_[0][len(folded) :], *texts_[1:]]).split() == [w.strip() for w in words]
    assert all(quote_of(m) is None for m in telegram.bot_messages(CHAT)[1:]), "only the first message folds it"


async def test_after_a_failover_the_reasoning_shown_is_the_answering_attempts(bot: Bot, telegram: FakeBotApi) -> None:
    stream = reasoner(bot).open(ReplyTarget(CHAT), sentence, reasoning_chars=100)
    events = [Reasoning("first idea"), "Half", 0.05, Reset("a", "cut"), Reasoning("second idea"), 0.02, "Whole."]
    await stream.run(chunks(*events))
    assert telegram.bot_texts(CHAT) == [f"{TITLE}\nsecond idea\n\nWhole."]


async def test_drafting_the_thinking_goes_to_the_draft(bot: Bot, telegram: FakeBotApi) -> None:
    stream = reasoner(bot, drafts=True).open(ReplyTarget(CHAT), sentence, reasoning_chars=100)
    await stream.run(chunks(0.05, Reasoning("hmm"), 0.05, "Done."))
    assert telegram.drafts[CHAT][0] == "" and f"{THINKING}\nhmm" in telegram.drafts[CHAT]
    assert telegram.bot_texts(CHAT) == [f"{TITLE}\nhmm\n\nDone."]


async def test_a_stop_while_thinking_says_stopped_without_the_reasoning(bot: Bot, telegram: FakeBotApi) -> None:
    stream = reasoner(bot).open(ReplyTarget(CHAT), sentence, reasoning_chars=100)

    async def thinking() -> AsyncIterator[Chunk]:
        yield Reasoning("still thinking")
        await asyncio.sleep(3600)

    task = asyncio.create_task(stream.run(thinking()))
    await telegram.wait_for(lambda: bool(telegram.bot_messages(CHAT)))
    stream.stop()
    result = await task
    assert telegram.bot_texts(CHAT) == ["⏹ Stopped."] and result.text == ""
