"""Usage, interrupted streams, context windows and context errors, against each server's shape."""

from __future__ import annotations

from typing import Any

import pytest

from providers import (
    AsyncClient,
    ContextLengthError,
    Finish,
    OpenAI,
    ProviderConnectionError,
    ProviderInfo,
    Reset,
    RetryProvider,
    Timeouts,
    Usage,
)

from .fakes.openai import FakeOpenAI, Reply, server_tokens
from .scripted import Run, ScriptedProvider, collect

MESSAGES = [{"role": "user", "content": "hi"}]


def provider(llm: FakeOpenAI, **kwargs: Any) -> OpenAI:
    return OpenAI(llm.base_url, "sk-test", models=["fake-small"], **kwargs)


async def events_of(p: OpenAI, messages: list[dict[str, Any]] = MESSAGES) -> list[Any]:
    return [chunk async for chunk in p.create_async_generator("fake-small", messages)]


async def test_usage_is_asked_for_and_read_after_the_finish_reason(llm: FakeOpenAI) -> None:
    events = await events_of(provider(llm))
    assert llm.requests[0]["stream_options"] == {"include_usage": True}
    assert events[-2:] == [Finish("stop"), Usage(server_tokens(MESSAGES), 6)], "the chunk after finish_reason"


async def test_a_server_refusing_stream_options_is_asked_again_without_them_once_and_remembered(
    llm: FakeOpenAI,
) -> None:
    llm.refuses_stream_options = True
    p = provider(llm)
    events = await events_of(p)
    assert "".join(e for e in events if isinstance(e, str)) == "Hello from the fake model."
    assert ["stream_options" in r for r in llm.requests] == [True, False]
    await events_of(p)
    assert ["stream_options" in r for r in llm.requests] == [True, False, False], "not asked again"
    chain = RetryProvider([p])
    events = [e async for e in chain.create_async_generator("fake-small", MESSAGES)]
    assert isinstance(events[-1], Usage) and events[-1].estimated, "no server count: the chain's estimate"


async def test_the_servers_count_wins_over_the_estimate(llm: FakeOpenAI) -> None:
    chain = RetryProvider([provider(llm)])
    events = [e async for e in chain.create_async_generator("fake-small", MESSAGES)]
    assert [e for e in events if isinstance(e, Usage)] == [Usage(server_tokens(MESSAGES), 6)]


async def test_a_json_completion_brings_its_usage(llm: FakeOpenAI) -> None:
    llm.then(Reply("whole", as_json=True))
    assert (await events_of(provider(llm)))[-1] == Usage(server_tokens(MESSAGES), 7)


@pytest.mark.parametrize("ending", ["done", "eof"])
async def test_a_stream_ending_without_a_finish_reason_after_text_is_an_interrupted_answer(
    llm: FakeOpenAI, ending: str
) -> None:
    # llama-cpp-python with one slot ends the first request this way: [DONE] after 229 characters.
    llm.then(Reply("PARTIAL ANSWER", no_finish=True) if ending == "done" else Reply("PARTIAL ANSWER", cut_after=2))
    with pytest.raises(ProviderConnectionError):
        await events_of(provider(llm))
    llm.then(Reply("PARTIAL ANSWER", no_finish=True))
    chain = RetryProvider([provider(llm)], max_retries=2, backoff_base=0)
    text, events = await collect(chain.create_async_generator("fake-small", MESSAGES))
    assert text == "Hello from the fake model." and sum(isinstance(e, Reset) for e in events) == 1


async def test_done_without_finish_and_without_text_is_an_empty_answer_not_an_error(llm: FakeOpenAI) -> None:
    llm.then(Reply("", no_finish=True))
    assert [e for e in await events_of(provider(llm)) if e] == []


async def test_the_usage_grace_ends_a_stream_that_never_closes(llm: FakeOpenAI) -> None:
    llm.then(Reply("all of it", no_done=True))
    chain = RetryProvider([provider(llm, usage_grace=0.2)], timeouts=Timeouts(first_chunk=5, idle=5, total=10))
    text, _ = await collect(chain.create_async_generator("fake-small", MESSAGES))
    assert text == "all of it" and len(llm.requests) == 1


async def test_the_chains_idle_timeout_after_the_finish_reason_keeps_the_answer(llm: FakeOpenAI) -> None:
    llm.then(Reply("all of it", no_done=True))
    chain = RetryProvider([provider(llm, usage_grace=30)], timeouts=Timeouts(first_chunk=10, idle=1.5, total=30))
    text, _ = await collect(chain.create_async_generator("fake-small", MESSAGES))
    assert text == "all of it" and len(llm.requests) == 1, "finished: a missing usage chunk is no failure"


# -- context windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", ["openrouter", "vllm", "llama-server", "litellm"])
async def test_each_server_tells_its_context_window_its_own_way(flavor: str) -> None:
    async with FakeOpenAI(flavor=flavor) as llm:
        llm.context_window = 3000
        assert await provider(llm).context_window("fake-small") == 3000
        llm.tells_context = False
        assert await provider(llm, context_tokens=2048).context_window("") == 2048, "else {NAME}_CONTEXT_TOKENS"
        assert await provider(llm).context_window("") is None, "else nothing"


@pytest.mark.parametrize("base", ["/v1", ""], ids=["base-url-with-v1", "base-url-at-the-root"])
async def test_the_api_key_goes_only_to_urls_under_the_base_url(base: str) -> None:
    """llama-server's /props lies at the host's root: under ``http://host/v1`` it is asked without
    the key (and, the key being required there, says nothing); under ``http://host`` with it."""
    async with FakeOpenAI(flavor="llama-server", api_key="sk-local-secret") as llm:
        llm.context_window = 3000
        root = llm.base_url.removesuffix("/v1")
        backend = OpenAI(base_url=root + base, api_key="sk-local-secret", models=["fake-small"], name="local")
        if base == "":  # the fake serves the API under /v1 only: what this case needs is /props
            backend._llama_server = True
            assert await backend._ask_context() == {"": 3000} and backend.served_slots == 1
            assert llm.metadata_requests == [("/props", "Bearer sk-local-secret")]
            return
        assert await backend.context_window("fake-small") is None
        assert ("/props", None) in llm.metadata_requests, "asked, without the key"
        assert all(auth is None for path, auth in llm.metadata_requests if path == "/props")
        assert ("/v1/model/info", "Bearer sk-local-secret") in llm.metadata_requests  # under the base URL


async def test_only_servers_that_can_answer_are_asked_for_metadata() -> None:
    """An OpenAI-compatible host that is not llama-server is never asked /props, and /model/info
    once: a 404 is remembered through later model-list refreshes."""
    async with FakeOpenAI(flavor="vllm") as llm:
        backend = provider(llm, models_ttl=0.0)
        for _ in range(3):
            assert await backend.context_window("fake-small") is None
        assert llm.metadata_requests == [("/v1/model/info", "Bearer sk-test")]
    async with FakeOpenAI(flavor="llama-server") as llm:
        llm.context_window, llm.total_slots = 3000, 2
        backend = provider(llm, models_ttl=0.0)
        assert await backend.context_window("fake-small") == 3000 and backend.served_slots == 2
        assert [path for path, _ in llm.metadata_requests] == ["/props"]
    async with FakeOpenAI() as llm:

        class Official(OpenAI):
            url = llm.base_url  # a backend's own API (api.openai.com for OpenAI) has neither endpoint

        assert await Official(api_key="sk-test", models=["fake-small"]).context_window("fake-small") is None
        assert llm.metadata_requests == []


async def test_a_server_that_says_nothing_uses_the_setting(llm: FakeOpenAI) -> None:
    llm.context_window = 3000  # OpenAI's /models has no window
    assert await provider(llm, context_tokens=4096).context_window("fake-small") == 4096


# -- context errors and the chain's recovery ------------------------------------------------------------


def long_conversation(turns: int, size: int = 120) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "Be brief."}]
    for i in range(turns):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "w" * size})
    return messages


@pytest.mark.parametrize("flavor", ["openai", "llama-server", "vllm", "llama-cpp-python", "ollama"])
async def test_each_servers_overflow_is_recovered_by_leaving_out_the_oldest_turns(flavor: str) -> None:
    async with FakeOpenAI(flavor=flavor) as llm:
        messages = long_conversation(9)
        llm.context_window = server_tokens(messages) - 60
        chain = RetryProvider([provider(llm)], max_retries=1)
        infos: list[ProviderInfo] = []
        text, events = await collect(chain.create_async_generator("fake-small", messages), infos)
        assert text == "Hello from the fake model." and not any(isinstance(e, Reset) for e in events)
        assert len(llm.requests) == 2, "asked once more"
        sent = llm.requests[1]["messages"]
        assert sent[0] == messages[0] and sent[-1] == messages[-1], "system prompt and question stay"
        assert sent[1]["role"] == "user" and server_tokens(sent) <= llm.context_window
        assert infos[-1].left_out == len(messages) - len(sent) > 0


async def test_the_first_attempt_raises_the_typed_error_with_the_servers_numbers() -> None:
    async with FakeOpenAI(flavor="llama-server") as llm:
        llm.context_window = 10
        with pytest.raises(ContextLengthError) as raised:
            await events_of(provider(llm), long_conversation(1))
        assert raised.value.limit == 10 and raised.value.requested == server_tokens(long_conversation(1))


async def test_a_question_too_long_for_one_provider_goes_to_one_with_a_larger_window() -> None:
    async with FakeOpenAI(flavor="llama-server") as small, FakeOpenAI() as large:
        messages = long_conversation(3, size=600)
        small.context_window = server_tokens(messages[-1:]) - 1  # not even the question fits
        chain = RetryProvider(
            [OpenAI(small.base_url, None, name="small", models=["fake-small"]), provider(large)], max_retries=1
        )
        infos: list[ProviderInfo] = []
        text, _ = await collect(chain.create_async_generator("fake-small", messages), infos)
        assert text == "Hello from the fake model." and infos[-1].provider == "openai"
        assert len(small.requests) == 2, "asked once more without the older turns, then left"
        assert large.requests[0]["messages"] == messages, "the next provider gets the whole conversation"
        assert infos[-1].left_out == 0


async def test_overflow_is_asked_again_only_once() -> None:
    failing = ScriptedProvider(
        "a",
        Run(error=ContextLengthError("too long", provider="a", limit=40, requested=400)),
        Run(error=ContextLengthError("still too long", provider="a", limit=40, requested=300)),
    )
    chain = RetryProvider([failing], max_retries=3, backoff_base=0)
    with pytest.raises(Exception) as raised:
        await collect(chain.create_async_generator("m", long_conversation(7)))
    assert len(failing.calls) == 2 and len(raised.value.attempts) == 2  # type: ignore[attr-defined]


# -- the client -------------------------------------------------------------------------------------


async def test_client_responses_carry_usage_as_the_openai_sdk_does(llm: FakeOpenAI) -> None:
    client = AsyncClient(provider=provider(llm))
    completion = await client.chat.completions.create(model="fake-small", messages=MESSAGES)
    assert completion.usage is not None and not completion.usage.estimated
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (server_tokens(MESSAGES), 6)
    assert completion.usage.total_tokens == server_tokens(MESSAGES) + 6
    chunks = [c async for c in client.chat.completions.create(model="fake-small", messages=MESSAGES, stream=True)]
    assert all(c.usage is None for c in chunks), "not asked for: no usage chunk"
    asked = client.chat.completions.create(
        model="fake-small", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in asked]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    assert chunks[-2].choices[0].finish_reason == "stop"


async def test_a_provider_without_usage_gets_an_estimate_marked_as_such() -> None:
    site = ScriptedProvider("site", default=Run(["abcd", "efgh"]))
    completion = await AsyncClient(provider=site).chat.completions.create(model="", messages=MESSAGES)
    assert completion.usage is not None and completion.usage.estimated
    assert completion.usage.completion_tokens == 2
