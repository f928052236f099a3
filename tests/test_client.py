"""The gpt4free-style Client and AsyncClient, proxies, the model list, the seed example and the CLI."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from providers import AnswerInterruptedError, AsyncClient, Client, OpenAI, RetryProvider, RetryProviderError

from .fakes.openai import Fail, FakeOpenAI, Reply
from .fakes.proxies import HttpConnectProxy, Proxy, Socks5Proxy
from .scripted import Run, ScriptedProvider, collect

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture
async def llm_backup() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(default=Reply("Backup.", chunk_size=3)) as fake:
        yield fake


async def test_async_client_completion_and_stream(llm: FakeOpenAI) -> None:
    client = AsyncClient(provider=OpenAI(llm.base_url, "k"))
    completion = await client.chat.completions.create(model="fake-small", messages=MESSAGES)
    assert completion.choices[0].message.content == "Hello from the fake model."
    assert completion.object == "chat.completion" and completion.provider == "openai"
    chunks = [c async for c in client.chat.completions.create(model="", messages=MESSAGES, stream=True)]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello from the fake model."
    assert chunks[-1].choices[0].finish_reason == "stop"
    awaited = await client.chat.completions.create(model="", messages=MESSAGES, stream=True)
    assert len([c async for c in awaited]) == len(chunks)
    assert llm.requests[0]["model"] == "fake-small" and llm.requests[0]["stream"] is True


async def test_async_client_marks_a_reset_and_non_stream_gives_one_answer() -> None:
    def provider() -> RetryProvider:
        failing = ScriptedProvider("a", Run(["dup", "licate"], error=ConnectionResetError("cut")))
        return RetryProvider([failing, ScriptedProvider("b", Run(["clean answer"]))], max_retries=1)

    client = AsyncClient(provider=provider())
    create = client.chat.completions.create
    chunks = [c async for c in create(model="", messages=MESSAGES, stream=True, reset_chunks=True)]
    assert [c.reset for c in chunks].count(True) == 1
    after = chunks[[c.reset for c in chunks].index(True) + 1 :]
    assert "".join(c.choices[0].delta.content or "" for c in after) == "clean answer"
    completion = await AsyncClient(provider=provider()).chat.completions.create(model="", messages=MESSAGES)
    assert completion.choices[0].message.content == "clean answer"


def test_a_plain_delta_consumer_never_gets_spliced_text() -> None:
    """The seed 001 loop (concatenate ``delta.content``) against a chain whose first provider dies mid-answer."""
    failing = ScriptedProvider("a", Run(["dup", "licate"], error=ConnectionResetError("cut")))
    chain = RetryProvider([failing, ScriptedProvider("b", Run(["clean answer"]))], max_retries=1)
    printed = ""
    with pytest.raises(AnswerInterruptedError, match="failed mid-answer"):
        for message in Client(provider=chain).chat.completions.create(MESSAGES, "", stream=True):
            printed += message.choices[0].delta.content or ""
    assert printed == "duplicate", "the partial text, then an error: never 'duplicateclean answer'"
    before_text = ScriptedProvider("a", Run(error=ConnectionResetError("refused")))
    chain = RetryProvider([before_text, ScriptedProvider("b", Run(["clean answer"]))], max_retries=1)
    chunks = list(Client(provider=chain).chat.completions.create(MESSAGES, "", stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "clean answer", "failover before any text"


def test_sync_client_completion_and_stream() -> None:
    provider = ScriptedProvider("s", default=Run(["a", "b", "c"]))
    client = Client(provider=provider)
    assert client.chat.completions.create(model="", messages=MESSAGES).choices[0].message.content == "abc"
    pieces = [c.choices[0].delta.content for c in client.chat.completions.create(MESSAGES, "", stream=True)]
    assert "".join(p or "" for p in pieces) == "abc"


@pytest.mark.parametrize("proxy_class", [HttpConnectProxy, Socks5Proxy])
async def test_requests_go_through_http_and_socks_proxies(llm: FakeOpenAI, proxy_class: type[Proxy]) -> None:
    proxy = proxy_class()
    await proxy.start()
    try:
        client = AsyncClient(provider=OpenAI(llm.base_url, "k"), proxies={"http": proxy.url, "https": proxy.url})
        completion = await client.chat.completions.create(model="", messages=MESSAGES)
    finally:
        await proxy.stop()
    assert completion.choices[0].message.content == "Hello from the fake model."
    assert proxy.tunnels == [("127.0.0.1", llm.port)]


async def test_model_list_is_fetched_cached_and_falls_back(llm: FakeOpenAI) -> None:
    provider = OpenAI(llm.base_url, "k", models=["configured"])
    assert await provider.list_models() == ["fake-small", "fake-large"], "in the server's order"
    llm.models = ["changed"]
    assert await provider.list_models() == ["fake-small", "fake-large"], "cached"
    llm.models = ["gpt-x", "text-embedding-3-small", "whisper-1", "nomic-embed-text", "llama3.2"]
    assert await OpenAI(llm.base_url, "k").list_models() == ["gpt-x", "llama3.2"], "chat models only"
    unreachable = OpenAI("http://127.0.0.1:9/v1", "k", models=["configured"])
    assert await unreachable.list_models() == ["configured"]


async def test_api_key_is_sent_and_a_bad_one_is_not_retried(llm: FakeOpenAI, llm_backup: FakeOpenAI) -> None:
    llm.api_key = "right"
    chain = RetryProvider([OpenAI(llm.base_url, "wrong"), OpenAI(llm_backup.base_url, None, name="b")])
    text, _ = await collect(chain.create_async_generator("fake-small", MESSAGES))
    assert text == "Backup." and len(llm.requests) == 1
    assert "Authorization" not in llm_backup.headers[0]
    with pytest.raises(RetryProviderError, match="AuthenticationError"):
        await collect(RetryProvider([OpenAI(llm.base_url, "wrong")]).create_async_generator("", MESSAGES))


SEED = textwrap.dedent(
    """
    from providers.client import Client
    from providers import OpenAI as OpenaiChat, RetryProvider

    # compatible countries: https://pastebin.com/UK0gT9cn
    client = Client(
        provider = RetryProvider([OpenaiChat],
                                 single_provider_retry=True, max_retries=5)
    )

    messages = [
        {'role': 'user', 'content': 'Hello'}
    ]

    response = client.chat.completions.create(model='gpt-3.5-turbo',
                                         messages=messages,
                                         stream=True)

    for message in response:
        print(message.choices[0].delta.content or "")
    """
)


async def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PROVIDERS", "PROXY"))}
    return {**env, "PYTHONPATH": str(ROOT), **values}


async def test_seed_example_runs_with_only_its_imports_changed(llm: FakeOpenAI, tmp_path: Path) -> None:
    llm.models = ["gpt-3.5-turbo", "gpt-4o-mini"]
    llm.then(Fail(503, "warming up"), Reply("Hi there, friend!", chunk_size=3))
    script = tmp_path / "seed.py"
    script.write_text(SEED)
    code, out, err = await _run([sys.executable, str(script)], _env(OPENAI_BASE_URL=llm.base_url), tmp_path)
    assert code == 0, err
    assert out.replace("\n", "") == "Hi there, friend!"
    assert [r["model"] for r in llm.requests] == ["gpt-3.5-turbo", "gpt-3.5-turbo"], "retried once after the 503"


async def test_cli_routes_a_model_and_says_who_answered(llm: FakeOpenAI, tmp_path: Path) -> None:
    async with FakeOpenAI(models=["llama3.2"], flavor="ollama") as ollama:
        env = _env(PROVIDERS="openai,ollama", OPENAI_BASE_URL=llm.base_url, OLLAMA_BASE_URL=ollama.base_url)
        llm.default = Fail(500, "down")
        code, out, err = await _run([sys.executable, "-m", "providers", "Hi", "--model", "fake-large"], env, tmp_path)
        assert code == 0 and out.strip() == "Hello from the fake model."
        said = "[answered by ollama, model llama3.2 (fake-large was unavailable); 6 + 6 tokens]"
        assert err.strip().splitlines()[-1] == said
        assert [r["model"] for r in ollama.requests] == ["llama3.2"]
        code, _, err = await _run(
            [sys.executable, "-m", "providers", "Hi", "--model", "fake-large"],
            {**env, "MODEL_FALLBACK": "off"},
            tmp_path,
        )
        assert code == 1 and "ServerError" in err and len(ollama.requests) == 1


async def test_cli_lists_asks_and_checks(llm: FakeOpenAI, tmp_path: Path) -> None:
    env = _env(OPENAI_BASE_URL=llm.base_url, PROVIDERS="openai,local", LOCAL_BASE_URL=llm.base_url)
    code, out, _ = await _run([sys.executable, "-m", "providers", "--list"], env, tmp_path)
    assert code == 0 and "chatgpt      False" in out and "local" in out
    code, out, err = await _run([sys.executable, "-m", "providers", "Say hi", "--provider", "local"], env, tmp_path)
    assert code == 0 and out.strip() == "Hello from the fake model."
    assert err.strip() == "[answered by local, model fake-small; 7 + 6 tokens]"
    llm.then(Fail(401, "bad key"))
    code, out, _ = await _run([sys.executable, "-m", "providers", "--check"], env, tmp_path)
    assert code == 1
    first, second = out.strip().splitlines()
    assert first.startswith("openai") and "FAILED" in first and "AuthenticationError" in first
    assert second.startswith("local") and " ok " in second
    code, _, err = await _run([sys.executable, "-m", "providers", "--check"], _env(PROVIDERS="nowhere"), tmp_path)
    assert code == 2 and "NOWHERE_BASE_URL" in err
