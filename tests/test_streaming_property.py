"""Properties of the streamer, whatever the stream (chunks, resets, sizes, drafts or edits): the user
ends up seeing exactly the last answer, and can tell when it is finished (a Stop button is on screen
from the first message until the reply ends, and gone after)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.pacing import ChatPacer
from bot.telegram.ratelimit import ChatRateLimiter
from bot.telegram.rendering import render_markdown, utf16_len
from bot.telegram.streaming import ReplyStreamer, ReplyTarget
from providers import Chunk, Reset

from .fakes.telegram import FakeBotApi

WORDS = st.sampled_from(["word", "**bold**", "`code`", "😀", "\n\n", "\n", "- item", "# head", "_it_", "ж", "x" * 30])
CHUNK = st.lists(WORDS, min_size=1, max_size=6).map(" ".join)
EVENT = st.one_of(CHUNK, st.just("RESET"))
STOP = InlineKeyboardMarkup([[InlineKeyboardButton("⏹ Stop", callback_data="s:1:None")]])


def squash(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(EVENT, max_size=25), limit=st.integers(20, 200), plain=st.booleans(), drafts=st.booleans())
def test_the_user_sees_exactly_the_last_answer(events: list[str], limit: int, plain: bool, drafts: bool) -> None:
    async def scenario() -> None:
        async with FakeBotApi(reject_entities=plain) as telegram:
            async with Bot(telegram.token, base_url=telegram.base_url) as bot:
                pacer = ChatPacer(private_interval=0.0, global_per_second=10_000)
                streamer = ReplyStreamer(bot, ChatRateLimiter(pacer), limit=limit, drafts=drafts)

                async def chunks() -> AsyncIterator[Chunk]:
                    for event in events:
                        await asyncio.sleep(0)
                        yield Reset("p", "cut") if event == "RESET" else event

                result = await streamer.open(ReplyTarget(1), lambda e: "error", stop_markup=STOP).run(chunks())
            if drafts:  # Telegram's own stop button is under the draft (can_stop): no message has ours
                assert not any(n for _, n in telegram.stop_buttons), telegram.stop_buttons
                assert all(c.params["can_stop"] for c in telegram.calls_of("sendMessageDraft"))
            else:
                assert telegram.stop_shown_until_the_end(1), telegram.screens
                # Older parts lose their button: the newest part shows it, and the one before only
                # until the edit that gives it its last words.
                assert max((n for _, n in telegram.stop_buttons), default=0) <= 2, telegram.stop_buttons
            last = "".join(events[max((i for i, e in enumerate(events) if e == "RESET"), default=-1) + 1 :])
            shown = telegram.bot_texts(1)
            assert [e for e in telegram.errors if "entities" not in e[1]] == [], telegram.errors
            assert result.text == last
            if not last.strip():
                assert shown == ["The model returned an empty answer."]
                return
            assert all(0 < utf16_len(t) <= limit for t in shown)
            rendered = squash(render_markdown(last)[0])
            if plain:
                # Refused entities switch the reply to the model's plain text; a rendering with
                # no entities at all is never refused and stays rendered.
                assert squash("".join(shown)) in (squash(last), rendered)
            else:
                assert squash("".join(shown)) == rendered

    asyncio.run(scenario())
