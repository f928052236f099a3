"""The OpenAI-compatible provider against what real servers send, and the fake checked by the official SDK."""

from __future__ import annotations

import email.utils
import io
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from providers import (
    AuthenticationError,
    BlockedError,
    ContentFilterError,
    ContextLengthError,
    Finish,
    ModelNotSupportedError,
    OpenAI,
    ProtocolError,
    QuotaExceededError,
    RateLimitError,
    RetryProvider,
    ServerError,
    Timeouts,
    Usage,
)
from providers.http import parse_retry_after

from .fakes.openai import Fail, FakeOpenAI, Reply
from .harness import BotHarness
from .scripted import collect
from .test_client import _env, _run

MESSAGES = [{"role": "user", "content": "hi"}]
TEXT = "Привет, мир — ünïcødé 😀 and some more text."


async def answer(llm: FakeOpenAI, behaviour: Reply | Fail, **chain: Any) -> tuple[str, list[Any]]:
    llm.then(behaviour)
    provider = OpenAI(llm.base_url, "sk-test", models=["fake-small"])
    events: list[Any] = []
    async for chunk in provider.create_async_generator("fake-small", MESSAGES):
        events.append(chunk)
    return "".join(e for e in events if isinstance(e, str)), events


# -- the fake against the official SDK -------------------------------------------------------------


async def test_the_official_openai_sdk_reads_the_fake(llm: FakeOpenAI) -> None:
    client = openai.AsyncOpenAI(base_url=llm.base_url, api_key="sk-test", max_retries=0)
    models = [m.id async for m in client.models.list()]
    assert models == ["fake-small", "fake-large"]
    completion = await client.chat.completions.create(model="fake-small", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == "Hello from the fake model."
    assert completion.choices[0].finish_reason == "stop" and completion.usage is not None
    stream = await client.chat.completions.create(model="fake-small", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from the fake model."
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage is None  # usage only when asked
    stream = await client.chat.completions.create(
        model="fake-small",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 6
    with pytest.raises(openai.NotFoundError) as missing:
        await client.chat.completions.create(model="gpt-9", messages=MESSAGES)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found"
    llm.api_key = "sk-right"
    with pytest.raises(openai.AuthenticationError) as refused:
        await client.chat.completions.create(model="fake-small", messages=MESSAGES)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_api_key"


# -- 1. a JSON answer to a stream request, or an HTML page ---------------------------------------


async def test_a_json_completion_sent_for_a_stream_request_is_the_answer(llm: FakeOpenAI) -> None:
    text, _ = await answer(llm, Reply(TEXT, as_json=True))
    assert text == TEXT and len(llm.requests) == 1


async def test_an_html_page_is_a_protocol_error_naming_the_content_type(llm: FakeOpenAI) -> None:
    with pytest.raises(ProtocolError, match="text/html"):
        await answer(llm, Reply(as_html=True))


# -- 2. keep-alive comments keep an attempt alive --------------------------------------------------


async def test_keepalive_comments_are_not_a_hang(llm: FakeOpenAI) -> None:
    async with FakeOpenAI(default=Reply("backup"), models=["fake-small"]) as backup:
        llm.then(Reply(TEXT, keepalive=2.0, keepalive_every=0.25))
        chain = RetryProvider(
            [OpenAI(llm.base_url, "k", models=["fake-small"]), OpenAI(backup.base_url, "k", name="b")],
            max_retries=1,
            timeouts=Timeouts(first_chunk=0.75, idle=0.75, total=30),
        )
        text, _ = await collect(chain.create_async_generator("fake-small", MESSAGES))
    assert text == TEXT and backup.requests == []


# -- 3. a finish_reason ends the answer --------------------------------------------------------------


async def test_the_answer_is_complete_at_finish_reason_without_done_or_eof(llm: FakeOpenAI) -> None:
    chain = RetryProvider(
        [OpenAI(llm.base_url, "k", models=["fake-small"])], timeouts=Timeouts(first_chunk=1, idle=1, total=5)
    )
    llm.then(Reply(TEXT, no_done=True))
    text, _ = await collect(chain.create_async_generator("fake-small", MESSAGES))
    assert text == TEXT and len(llm.requests) == 1


# -- 4. length and content_filter --------------------------------------------------------------------


async def test_length_and_content_filter_end_with_a_finish_event(llm: FakeOpenAI) -> None:
    text, events = await answer(llm, Reply(TEXT, finish_reason="length"))
    assert text == TEXT and events[-2:] == [Finish("length"), Usage(6, 9)]
    text, events = await answer(llm, Reply(TEXT, finish_reason="content_filter", as_json=True))
    assert text == TEXT and events[-2:] == [Finish("content_filter"), Usage(6, 7)]
    with pytest.raises(ContentFilterError):
        await answer(llm, Reply("", finish_reason="content_filter"))


# -- 5. framing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "framing",
    [
        {"newline": "\r\n"},
        {"newline": "\r"},
        {"fancy_fields": True},
        {"write_size": 3},
        {"write_size": 1, "newline": "\r\n"},
        {"gzip": True},
    ],
    ids=["crlf", "cr", "event-and-multiline-data", "split-utf8", "bytewise-crlf", "gzip"],
)
async def test_every_framing_real_servers_use_parses(llm: FakeOpenAI, framing: dict[str, Any]) -> None:
    text, _ = await answer(llm, Reply(TEXT, chunk_size=3, **framing))
    assert text == TEXT


# -- 6, 7. errors as the servers mean them -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fail", "error"),
    [
        (Fail(401, "Incorrect API key provided", code="invalid_api_key"), AuthenticationError),
        (Fail(429, "You exceeded your current quota", code="insufficient_quota"), QuotaExceededError),
        (Fail(402, "Insufficient credits"), QuotaExceededError),
        (Fail(429, "Rate limit reached", code="rate_limit_exceeded", retry_after=3), RateLimitError),
        (Fail(404, "The model `x` does not exist", code="model_not_found"), ModelNotSupportedError),
        (
            Fail(400, "This model's maximum context length is 8192 tokens.", code="context_length_exceeded"),
            ContextLengthError,
        ),
        (Fail(503, "overloaded"), ServerError),
    ],
)
async def test_errors_are_classified_by_status_and_body(llm: FakeOpenAI, fail: Fail, error: type[Exception]) -> None:
    with pytest.raises(error):
        await answer(llm, fail)


async def test_a_keyless_site_refusing_is_not_a_key_problem() -> None:
    from providers import Aichat

    from .fakes.sites import FakeAichatSite

    async with FakeAichatSite(mode="cloudflare") as site:
        with pytest.raises(BlockedError):
            await collect(Aichat(site.url).create_async_generator("", MESSAGES))


# -- 8. an error object inside the stream --------------------------------------------------------------


async def test_an_error_inside_the_stream_is_a_retryable_server_error(llm: FakeOpenAI) -> None:
    with pytest.raises(ServerError) as raised:
        await answer(llm, Reply(TEXT, chunk_size=4, error_after=2))
    assert raised.value.retryable and raised.value.status == 502
    with pytest.raises(ServerError) as raised:  # LiteLLM and OpenRouter: no code, or a word
        await answer(llm, Reply(TEXT, error_after=1, error={"message": "Provider returned error", "code": None}))
    assert raised.value.retryable
    chain = RetryProvider([OpenAI(llm.base_url, "k", models=["fake-small"])], max_retries=2, backoff_base=0.01)
    llm.then(Reply("dies", error_after=0, error={"message": "overloaded", "type": "server_error"}), Reply(TEXT))
    text, _ = await collect(chain.create_async_generator("fake-small", MESSAGES))
    assert text == TEXT


# -- 9. Retry-After forms ----------------------------------------------------------------------------


def test_retry_after_in_seconds_as_a_date_and_in_milliseconds() -> None:
    now = time.time()
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28.0 <= (parse_retry_after({"Retry-After": date}, now=now) or 0) <= 31.0
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    assert parse_retry_after({"Retry-After": "soon"}) is None and parse_retry_after({}) is None


async def test_retry_after_headers_reach_the_rate_limit_error(llm: FakeOpenAI) -> None:
    with pytest.raises(RateLimitError) as raised:
        await answer(llm, Fail(429, "slow down", headers={"retry-after-ms": "250"}))
    assert raised.value.retry_after == 0.25


# -- what the user reads -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "shown"),
    [
        (
            Reply("A long story", finish_reason="length"),
            "A long story\n\n✂️ The model stopped here: it reached its length limit.",
        ),
        (
            Reply("Half of it", finish_reason="content_filter"),
            "Half of it\n\n⚠️ The provider's content filter cut this answer short.",
        ),
        (
            Fail(400, "This model's maximum context length is 8192 tokens.", code="context_length_exceeded"),
            "Your message is too long for the language model: it takes at most 8,192 tokens (a token is about"
            " 4 characters of English). Please shorten it or send it in parts. Nothing of it was kept.",
        ),
        (
            Fail(429, "You exceeded your current quota", code="insufficient_quota"),
            "The language model provider's quota is used up; the bot's owner needs to add credit.",
        ),
        (
            Fail(401, "Incorrect API key provided", code="invalid_api_key"),
            "The language model refused the bot's credentials; the bot's owner needs to fix its API key.",
        ),
    ],
    ids=["length", "content_filter", "context_length", "quota", "key"],
)
async def test_the_user_reads_why_an_answer_ended_or_failed(
    harness: BotHarness, behaviour: Reply | Fail, shown: str
) -> None:
    harness.llm.then(behaviour)
    await harness.start()
    assert await harness.say(31, "question") == [shown]


async def test_cli_piped_writes_only_the_kept_answer(llm: FakeOpenAI, tmp_path: Path) -> None:
    llm.then(Reply("PARTIAL TEXT THAT DIES", chunk_size=4, cut_after=3))  # then the retry answers whole
    env = _env(PROVIDERS="openai", OPENAI_BASE_URL=llm.base_url)
    code, out, err = await _run([sys.executable, "-m", "providers", "Hi"], env, tmp_path)
    assert code == 0 and out == "Hello from the fake model.\n"
    assert "failed mid-answer" in err and "[answered by openai, model fake-small; 6 + 6 tokens]" in err


def test_cli_on_a_terminal_erases_the_partial_answer() -> None:
    from providers.__main__ import AnswerWriter

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    writer = AnswerWriter(screen, columns=10)
    writer.write("partial text that is\nlonger than a row")
    writer.reset()
    writer.write("whole answer")
    writer.finish()
    shown = screen.getvalue()
    erase = "\r\x1b[3A\x1b[J"  # "partial text that is" takes 2 rows of 10, the next line 2: up 3, erase
    assert shown == "partial text that is\nlonger than a row" + erase + "whole answer\n"


async def test_the_official_sdk_and_the_fake_agree_on_image_content_parts(llm: FakeOpenAI) -> None:
    client = openai.AsyncOpenAI(base_url=llm.base_url, api_key="sk-test", max_retries=0)
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    question: Any = [{"role": "user", "content": [{"type": "text", "text": "what is it?"}, image]}]
    llm.vision_models = ["fake-large"]
    answer = await client.chat.completions.create(model="fake-large", messages=question)
    assert answer.choices[0].message.content == "Hello from the fake model."
    with pytest.raises(openai.BadRequestError, match="image_url is only supported by certain models"):
        await client.chat.completions.create(model="fake-small", messages=question)
    broken: Any = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]}
    ]
    with pytest.raises(openai.BadRequestError, match="Invalid base64"):
        await client.chat.completions.create(model="fake-large", messages=broken)
    # our provider reads the same refusal as "this model takes no images", not as a retryable error
    from providers import ImagesNotSupportedError, OpenAI

    provider = OpenAI(llm.base_url, "sk-test")
    with pytest.raises(ImagesNotSupportedError):
        await collect(provider.create_async_generator("fake-small", question))
    await client.close()


async def test_image_routes_skip_text_only_providers_and_use_a_vision_model() -> None:
    from providers import Aichat, OpenAI, RetryProvider

    backend = OpenAI("http://127.0.0.1:9/v1", "k", models=["small", "big"], vision_models=["big"])
    chain = RetryProvider([Aichat(), backend])
    routes = await chain.image_routes("")
    assert [(r.provider.name, r.model, r.fallback, r.reason) for r in routes] == [
        ("openai", "big", True, "can't see images")
    ]
    assert await RetryProvider([Aichat()]).image_routes("") == []
    anything = OpenAI("http://127.0.0.1:9/v1", "k", models=["small"])
    assert [(r.model, r.fallback) for r in await RetryProvider([anything]).image_routes("small")] == [("small", False)]


async def test_a_model_list_that_names_input_modalities_decides_who_sees_images() -> None:
    from providers import OpenAI, RetryProvider

    async with FakeOpenAI(flavor="openrouter") as openrouter:
        openrouter.vision_models = ["fake-large"]
        backend = OpenAI(openrouter.base_url, "sk-test")
        assert await backend.sees_images("fake-small") is False
        assert await backend.sees_images("fake-large") is True
        routes = await RetryProvider([backend]).image_routes("fake-small")
        assert [(r.model, r.fallback) for r in routes] == [("fake-large", True)]
        openrouter.vision_models = []
        none = OpenAI(openrouter.base_url, "sk-test")
        assert await RetryProvider([none]).image_routes("") == []
