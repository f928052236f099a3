"""Opchatgpts, Aichat and ChatGpt against fakes of their backends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers import (
    Aichat,
    AuthenticationError,
    CaptchaRequiredError,
    ChatGpt,
    ModelNotSupportedError,
    Opchatgpts,
    ProtocolError,
    ProviderConnectionError,
    ServerError,
)
from providers.backends.aichat import format_prompt
from providers.backends.chatgpt import BROWSER_USER_AGENT, format_conversation

from .fakes.sites import FakeAichatSite, FakeAiEngine, FakeChatGptSite
from .scripted import collect

HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "How are you?"},
]


@pytest.fixture
async def engine() -> AsyncIterator[FakeAiEngine]:
    async with FakeAiEngine() as site:
        yield site


@pytest.fixture
async def aichat_site() -> AsyncIterator[FakeAichatSite]:
    async with FakeAichatSite() as site:
        yield site


@pytest.fixture
async def chatgpt_site() -> AsyncIterator[FakeChatGptSite]:
    async with FakeChatGptSite(answer="The whole text, streamed cumulatively.") as site:
        yield site


async def test_opchatgpts_streams_live_chunks_until_end(engine: FakeAiEngine) -> None:
    text, events = await collect(Opchatgpts(engine.url).create_async_generator("", HISTORY))
    assert text == "Hello from the site." and len(events) > 1
    [body] = engine.requests
    assert body["botId"] == "default" and body["customId"] is None and body["session"] == "N/A"
    assert isinstance(body["contextId"], int) and body["chatId"] and body["stream"] is True
    assert body["messages"] == HISTORY and body["newMessage"] == "How are you?"


@pytest.mark.parametrize(
    ("mode", "error"), [("untyped", ProtocolError), ("error", ServerError), ("no_end", ProviderConnectionError)]
)
async def test_opchatgpts_protocol_faults(engine: FakeAiEngine, mode: str, error: type[Exception]) -> None:
    engine.mode = mode
    with pytest.raises(error):
        await collect(Opchatgpts(engine.url).create_async_generator("gpt-3.5-turbo", HISTORY))


async def test_opchatgpts_from_env_and_unknown_model(engine: FakeAiEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPCHATGPTS_URL", engine.url)
    text, _ = await collect(Opchatgpts.create_async_generator("", [{"role": "user", "content": "x"}]))
    assert text == "Hello from the site."
    with pytest.raises(ModelNotSupportedError):
        await collect(Opchatgpts(engine.url).create_async_generator("gpt-4", HISTORY))


def test_aichat_prompt_format() -> None:
    assert format_prompt([{"role": "user", "content": "Just this"}]) == "Just this"
    assert format_prompt(HISTORY) == "System: Be brief.\nUser: Hi\nAssistant: Hello!\nUser: How are you?\nAssistant:"


async def test_aichat_answers_whole(aichat_site: FakeAichatSite) -> None:
    text, events = await collect(Aichat(aichat_site.url).create_async_generator("", HISTORY))
    assert text == "Hello from the site." and events == [text]
    [body] = aichat_site.requests
    assert body == {
        "message": format_prompt(HISTORY),
        "temperature": 0.5,
        "presence_penalty": 0,
        "top_p": 1,
        "frequency_penalty": 0,
    }


@pytest.mark.parametrize(("mode", "error"), [("refused", ServerError), ("html", ProtocolError)])
async def test_aichat_faults(aichat_site: FakeAichatSite, mode: str, error: type[Exception]) -> None:
    aichat_site.mode = mode
    with pytest.raises(error):
        await collect(Aichat(aichat_site.url).create_async_generator("", HISTORY))


def test_chatgpt_models_and_aliases() -> None:
    assert ChatGpt.working is False
    assert ChatGpt.get_model("gpt-4o") == "chatgpt-4o-latest"
    assert ChatGpt.get_model("gpt-3.5-turbo") == "gpt-3.5-turbo"
    assert ChatGpt.get_model("unknown_model") == "auto"
    assert ChatGpt.get_model("") == "auto"


def test_chatgpt_format_conversation() -> None:
    [first, second] = format_conversation(HISTORY[1:3])
    assert first["author"] == {"role": "user"} and second["author"] == {"role": "assistant"}
    assert first["content"] == {"content_type": "text", "parts": ["Hi"]}
    assert first["metadata"] == {"serialization_metadata": {"custom_symbol_offsets": []}}
    assert first["id"] != second["id"] and isinstance(first["create_time"], float)


async def test_chatgpt_cumulative_stream_becomes_deltas(chatgpt_site: FakeChatGptSite) -> None:
    text, events = await collect(ChatGpt(chatgpt_site.url).create_async_generator("gpt-4o", HISTORY))
    assert text == "The whole text, streamed cumulatively."
    assert all(len(e) <= 5 for e in events), "each delta is only the new suffix"
    assert chatgpt_site.requests[0]["model"] == "chatgpt-4o-latest"
    assert chatgpt_site.sentinel_headers == ["sentinel-token"]


@pytest.mark.parametrize("challenge", ["turnstile", "proofofwork"])
async def test_chatgpt_reports_a_challenge_and_never_solves_it(chatgpt_site: FakeChatGptSite, challenge: str) -> None:
    chatgpt_site.mode = challenge
    with pytest.raises(CaptchaRequiredError) as caught:
        await collect(ChatGpt(chatgpt_site.url).create_async_generator("", HISTORY))
    assert caught.value.challenge == challenge and not caught.value.retryable
    assert chatgpt_site.requests == [], "no conversation request is made"


async def test_chatgpt_login_demand(chatgpt_site: FakeChatGptSite) -> None:
    chatgpt_site.mode = "login"
    with pytest.raises(AuthenticationError):
        await collect(ChatGpt(chatgpt_site.url).create_async_generator("", HISTORY))


def test_site_settings_override_the_hosts() -> None:
    from providers import build_provider

    environ = {
        "OPCHATGPTS_URL": "http://op.test",
        "AICHAT_URL": "http://ai.test/",
        "CHATGPT_URL": "http://gpt.test",
        "PROXY": "socks5://127.0.0.1:1080",
    }
    for name, url in (("opchatgpts", "http://op.test"), ("aichat", "http://ai.test"), ("chatgpt", "http://gpt.test")):
        provider = build_provider(name, environ)
        assert provider.base_url == url and provider.proxy == "socks5://127.0.0.1:1080"  # type: ignore[attr-defined]
    assert build_provider("aichat", {}).site == "https://chat-gpt.org"  # type: ignore[attr-defined]


async def test_chatgpt_keeps_an_answer_that_continues_in_a_second_message() -> None:
    async with FakeChatGptSite(answer="First part of the answer.\n\nSecond part, after a tool step.") as site:
        site.mode = "two_messages"
        text, _ = await collect(ChatGpt(site.url).create_async_generator("auto", HISTORY))
    assert text == "First part of the answer.\n\nSecond part, after a tool step."


async def test_aichat_never_puts_the_answer_in_an_error(aichat_site: FakeAichatSite) -> None:
    aichat_site.mode = "refused"
    aichat_site.answer = "SECRET ANSWER TEXT"
    with pytest.raises(ServerError) as raised:
        await collect(Aichat(aichat_site.url).create_async_generator("", HISTORY))
    assert "Too many requests" not in str(raised.value) and "response: false" in str(raised.value)


async def test_chatgpt_sends_each_header_once(chatgpt_site: FakeChatGptSite) -> None:
    await collect(ChatGpt(chatgpt_site.url).create_async_generator("auto", HISTORY))
    sent = chatgpt_site.conversation_headers[0]
    assert sent.getall("Accept") == ["text/event-stream"]
    assert sent.getall("User-Agent") == [BROWSER_USER_AGENT]
