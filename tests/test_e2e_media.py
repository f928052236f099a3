"""Photos and files through the real Application: the fake Bot API serves getFile and downloads like
Telegram's /file/bot<token>/<path>, and the fake provider checks the OpenAI content parts it gets
(and refuses images for models that do not see them, as OpenAI does)."""

from __future__ import annotations

import base64
from typing import Any

from bot import texts

from .fakes.openai import Reply
from .fakes.telegram import BOT_USERNAME
from .harness import BotHarness

CHAT = 5050
GROUP = -100505
SMALL, LARGE = b"\xff\xd8small-jpeg" * 10, b"\xff\xd8large-jpeg" * 1000


def images_sent(request: dict[str, Any]) -> list[bytes]:
    """The images of every message of a request to the model, decoded from their data: URLs."""
    found = []
    for message in request["messages"]:
        if isinstance(message["content"], list):
            for part in message["content"]:
                if part["type"] == "image_url":
                    url = part["image_url"]["url"]
                    assert url.startswith("data:image/") and ";base64," in url
                    found.append(base64.b64decode(url.split(",", 1)[1]))
    return found


def last_user_content(harness: BotHarness) -> Any:
    return harness.llm.requests[-1]["messages"][-1]["content"]


async def wait_reply(harness: BotHarness, chat: int = CHAT, count: int = 1) -> list[str]:
    """All the bot's messages in ``chat``, once there are ``count`` and none is still being written."""
    return await harness.wait_replies(chat, count)


async def test_a_photo_goes_to_the_model_as_an_image_part_with_its_caption_and_stays_in_the_history(
    harness: BotHarness,
) -> None:
    harness.llm.default = Reply("A red square.")
    await harness.start()
    harness.telegram.user_photo(CHAT, [SMALL, LARGE], caption="What is this?")
    await wait_reply(harness)
    assert harness.telegram.bot_texts(CHAT) == ["A red square."]
    content = last_user_content(harness)
    assert content[0] == {"type": "text", "text": "What is this?"}
    assert images_sent(harness.llm.requests[-1]) == [LARGE]  # the largest size within the budget
    await harness.say(CHAT, "And its colour again?")
    assert images_sent(harness.llm.requests[-1]) == [LARGE]  # resent from the history (file_id, cached)
    assert harness.llm.requests[-1]["messages"][-1]["content"] == "And its colour again?"


async def test_the_image_budget_picks_a_smaller_size_or_refuses_and_stores_nothing(harness: BotHarness) -> None:
    harness.overrides["image_max_bytes"] = 50_000
    await harness.start()
    harness.telegram.user_photo(CHAT, [SMALL, LARGE * 10])
    await wait_reply(harness)
    assert images_sent(harness.llm.requests[-1]) == [SMALL]
    harness.telegram.user_photo(CHAT, [LARGE * 10, LARGE * 20])
    texts_now = await wait_reply(harness, count=2)
    assert texts_now[-1] == "That image is too big for me (120 KB; the limit is 50 KB). Please send a smaller one."
    assert len(harness.llm.requests) == 1


async def test_a_chat_model_that_cannot_see_images_hands_the_image_to_a_vision_model_and_says_so(
    harness: BotHarness,
) -> None:
    harness.llm.vision_models = ["fake-large"]  # the server refuses images for fake-small, like OpenAI
    harness.environ["OPENAI_VISION_MODELS"] = "fake-large"
    harness.llm.default = Reply("I see a cat.")
    await harness.start()
    harness.telegram.user_photo(CHAT, [SMALL], caption="what animal?")
    await wait_reply(harness)
    assert harness.llm.requests[-1]["model"] == "fake-large"
    assert harness.telegram.bot_texts(CHAT) == [
        "I see a cat.\n\n↪ Answered by fake-large via openai: the default model can't see images."
    ]
    harness.llm.default = Reply("Text answer.")
    assert await harness.say(CHAT, "thanks") == ["Text answer."]
    assert harness.llm.requests[-1]["model"] == "fake-small"  # text goes to the chat's own model again
    assert images_sent(harness.llm.requests[-1]) == []  # which gets the earlier image as words only
    assert "[image]" in harness.llm.requests[-1]["messages"][1]["content"]


async def test_a_server_that_refuses_images_gets_one_sentence_not_a_retry_storm(harness: BotHarness) -> None:
    harness.llm.vision_models = []  # no model of this server takes images, but nobody said so
    await harness.start()
    harness.telegram.user_photo(CHAT, [SMALL])
    assert await wait_reply(harness) == [texts.NO_VISION]
    assert len(harness.llm.requests) == 1


async def test_no_provider_that_sees_images_means_one_sentence_and_nothing_stored(harness: BotHarness) -> None:
    harness.overrides["providers"] = "opchatgpts"  # a site that takes text only
    await harness.start()
    harness.telegram.user_photo(CHAT, [SMALL], caption="look")
    assert await wait_reply(harness) == [texts.NO_VISION]
    harness.telegram.user_message(CHAT, "/settings")
    shown = await wait_reply(harness, count=2)
    assert "History: 0 messages stored here" in shown[-1]
    assert harness.telegram.downloads == []  # not even downloaded


async def test_text_files_are_read_with_their_name_and_other_files_get_one_sentence(harness: BotHarness) -> None:
    await harness.start()
    harness.telegram.user_document(CHAT, b"print('hi')\n", "hello.py", "text/x-python", caption="Review this")
    await wait_reply(harness)
    assert last_user_content(harness) == "Review this\n\nFile hello.py:\n```\nprint('hi')\n\n```"
    harness.telegram.user_document(CHAT, b"a,b\n1,2\n", "table.csv", None)  # no MIME type: by extension
    await wait_reply(harness, count=2)
    assert last_user_content(harness) == "File table.csv:\n```\na,b\n1,2\n\n```"
    harness.telegram.user_document(CHAT, "caf\xe9".encode("latin-1"), "notes.txt", "text/plain")
    await wait_reply(harness, count=3)
    harness.telegram.user_document(CHAT, b"%PDF-1.7 ...", "paper.pdf", "application/pdf")
    await wait_reply(harness, count=4)
    harness.telegram.user_document(CHAT, b"x" * 300_000, "big.log", "text/plain")
    shown = await wait_reply(harness, count=5)
    assert shown[2:] == [
        "Sorry, I can't read notes.txt: it is not UTF-8 text.",
        "Sorry, I can't read this kind of file (application/pdf). Send text files (.txt, .md, .py, .json, .csv...)"
        " or images.",
        "That file is too big for me (300 KB; the limit is 200 KB). Please send a smaller one.",
    ]
    assert len(harness.llm.requests) == 2


async def test_a_file_without_a_declared_size_is_held_to_the_limit_once_it_came(harness: BotHarness) -> None:
    harness.overrides["document_max_bytes"] = 1000
    await harness.start()
    harness.telegram.user_document(CHAT, b"x" * 1000, "exact.txt", "text/plain", declared=False)
    await wait_reply(harness)
    assert last_user_content(harness) == "File exact.txt:\n```\n" + "x" * 1000 + "\n```", "exactly at the limit: read"
    harness.telegram.user_document(CHAT, b"x" * 1001, "over.txt", "text/plain", declared=False)
    shown = await wait_reply(harness, count=2)
    assert shown[-1] == (
        "That file is too big for me (1,001 bytes; the limit is 1,000 bytes). Please send a smaller one."
    )
    assert len(harness.llm.requests) == 1, "one byte over: not sent to the model"


async def test_an_image_sent_as_a_file_is_seen_as_an_image(harness: BotHarness) -> None:
    await harness.start()
    harness.telegram.user_document(CHAT, b"\x89PNG-bytes", "diagram.png", "image/png")
    await wait_reply(harness)
    [part] = last_user_content(harness)
    assert part["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(b"\x89PNG-bytes").decode()


async def test_a_failed_download_is_one_sentence_and_nothing_is_stored(harness: BotHarness) -> None:
    await harness.start()
    harness.telegram.fail("getFile", 400, "Bad Request: invalid file_id")
    harness.telegram.user_photo(CHAT, [SMALL])
    assert await wait_reply(harness) == [texts.DOWNLOAD_FAILED]
    assert await harness.say(CHAT, "hello") == ["Hello from the fake model."]
    assert [m["content"] for m in harness.llm.requests[-1]["messages"][1:]] == ["hello"]


async def test_in_groups_only_photos_addressed_to_the_bot_are_answered(harness: BotHarness) -> None:
    harness.telegram.chat(GROUP, "supergroup")
    await harness.start()
    harness.telegram.user_photo(GROUP, [SMALL], caption="holiday pics", user_id=7)
    harness.telegram.user_photo(GROUP, [SMALL], caption=f"@{BOT_USERNAME} what is in it?", user_id=7)
    await wait_reply(harness, GROUP)
    assert len(harness.llm.requests) == 1
    assert last_user_content(harness)[0] == {"type": "text", "text": "Alice: what is in it?"}


async def test_only_the_newest_images_are_resent(harness: BotHarness) -> None:
    harness.overrides["history_max_images"] = 2
    await harness.start()
    pictures = [bytes([n]) * 100 for n in range(3)]
    for n, picture in enumerate(pictures):
        harness.telegram.user_photo(CHAT, [picture], caption=f"picture {n}")
        await wait_reply(harness, count=n + 1)
    assert images_sent(harness.llm.requests[-1]) == pictures[1:]
    first = harness.llm.requests[-1]["messages"][1]["content"]
    assert first == "picture 0\n[an image was shown here]"


def with_transcription(harness: BotHarness) -> None:
    harness.overrides.update(
        transcription_base_url=harness.llm.base_url, transcription_api_key="sk-test-secret-key-0123456789"
    )


async def test_a_voice_note_is_transcribed_shown_quoted_stored_and_answered(harness: BotHarness) -> None:
    with_transcription(harness)
    harness.llm.api_key = "sk-test-secret-key-0123456789"  # the speech endpoint checks the key too
    harness.llm.transcript = "What is the capital of France?"
    harness.llm.default = Reply("Paris.")
    await harness.start()
    harness.telegram.user_voice(CHAT, b"OggS-opus-audio", duration=4)
    await wait_reply(harness, count=2)  # the transcript, then the answer
    transcript, answer = harness.telegram.bot_messages(CHAT)
    assert transcript.text == "🎤 What is the capital of France?"
    assert transcript.entities == [{"type": "blockquote", "offset": 0, "length": 33}]  # 🎤 is 2 UTF-16 units
    assert answer.text == "Paris."
    assert harness.llm.transcriptions == [
        {"model": "whisper-1", "filename": "voice.ogg", "content_type": "audio/ogg", "size": 15}
    ]
    assert last_user_content(harness) == "What is the capital of France?"
    await harness.say(CHAT, "And of Italy?")
    contents = [m["content"] for m in harness.llm.requests[-1]["messages"][1:]]
    assert contents == ["What is the capital of France?", "Paris.", "And of Italy?"]


async def test_voice_without_a_backend_too_long_or_failing_is_one_sentence_and_nothing_stored(
    harness: BotHarness,
) -> None:
    harness.overrides["voice_max_seconds"] = 60
    await harness.start()
    harness.telegram.user_voice(CHAT, b"OggS", duration=3)
    assert await wait_reply(harness) == [texts.VOICE_NOT_CONFIGURED]
    await harness.stop()
    with_transcription(harness)
    await harness.start()
    harness.telegram.user_voice(CHAT, b"OggS", duration=61)
    shown = await wait_reply(harness, count=2)
    assert shown[-1] == "That recording is too long for me (1 min 1 s; the limit is 1 min). Please send a shorter one."
    harness.telegram.user_message(
        CHAT,
        extra={"audio": {"file_id": "a1", "file_unique_id": "ua1", "duration": 30, "file_size": 25_000_000}},
    )
    shown = await wait_reply(harness, count=3)
    assert shown[-1] == "That file is too big for me (25.0 MB; the limit is 20.0 MB). Please send a smaller one."
    harness.llm.transcription_status = 503
    harness.telegram.user_voice(CHAT, b"OggS", duration=3)
    shown = await wait_reply(harness, count=4)
    assert shown[-1] == texts.TRANSCRIPTION_FAILED
    harness.llm.transcription_status = None
    harness.llm.transcript = ""
    harness.telegram.user_voice(CHAT, b"OggS", duration=3)
    shown = await wait_reply(harness, count=5)
    assert shown[-1] == texts.NOTHING_HEARD
    assert harness.llm.requests == []  # nothing was answered, so nothing is in the history
    assert await harness.say(CHAT, "typing instead") == ["Hello from the fake model."]
    assert [m["content"] for m in harness.llm.requests[-1]["messages"][1:]] == ["typing instead"]


async def test_a_photo_a_file_and_a_voice_note_exactly_at_their_limits_are_taken(harness: BotHarness) -> None:
    photo = b"\xff\xd8" + b"p" * 9998  # 10,000 bytes
    harness.overrides.update(image_max_bytes=10_000, document_max_bytes=1000, voice_max_seconds=60)
    with_transcription(harness)
    await harness.start()
    harness.telegram.user_photo(CHAT, [photo])
    await wait_reply(harness)
    assert images_sent(harness.llm.requests[-1]) == [photo], "a photo of exactly IMAGE_MAX_BYTES is seen"
    harness.telegram.user_document(CHAT, b"d" * 1000, "exact.txt", "text/plain")
    await wait_reply(harness, count=2)
    assert last_user_content(harness).endswith("d" * 1000 + "\n```"), "a file of exactly DOCUMENT_MAX_BYTES is read"
    harness.telegram.user_voice(CHAT, b"OggS", duration=60)
    await wait_reply(harness, count=4)  # the transcript, then the answer
    assert harness.llm.transcriptions, "a voice note of exactly VOICE_MAX_SECONDS is transcribed"
    harness.telegram.user_photo(CHAT, [photo + b"!"])
    shown = await wait_reply(harness, count=5)
    assert shown[-1].startswith("That image is too big for me"), "one byte over: refused"


async def test_a_photo_refused_by_a_pinned_text_only_provider_says_auto_would_see_it(harness: BotHarness) -> None:
    harness.overrides["providers"] = "openai,opchatgpts"  # openai sees images, the site takes text only
    await harness.start()
    harness.telegram.user_message(CHAT, "/provider opchatgpts")
    await wait_reply(harness)
    harness.telegram.user_photo(CHAT, [SMALL], caption="look")
    shown = await wait_reply(harness, count=2)
    assert shown[-1] == (
        "Sorry, opchatgpts, the provider this chat is pinned to, cannot see images; openai can."
        " Send /provider auto to let them answer images."
    )
    assert harness.telegram.downloads == []
