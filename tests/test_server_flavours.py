"""Server flavours the chain meets: a dead proxy on one backend, Ollama's model list, LiteLLM's headers."""

from __future__ import annotations

import socket

from providers import OpenAI, ProviderConnectionError, ProviderInfo, RateLimitError, RetryProvider, Timeouts

from .fakes.openai import Fail, FakeOpenAI
from .scripted import collect

MESSAGES = [{"role": "user", "content": "hi"}]


def closed_port() -> int:
    """A loopback port nothing listens on (a proxy that died)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_dead_proxy_on_one_backend_leaves_the_others_answering(llm: FakeOpenAI) -> None:
    port = closed_port()
    for scheme in ("socks5", "http"):
        dead = OpenAI(llm.base_url, "k", name="behind-proxy", proxy=f"{scheme}://127.0.0.1:{port}")
        healthy = OpenAI(llm.base_url, "k", name="healthy")
        chain = RetryProvider([dead, healthy], max_retries=1, timeouts=Timeouts(first_chunk=5, idle=5, total=10))
        infos: list[ProviderInfo] = []
        before = len(llm.requests)
        text, _ = await collect(chain.create_async_generator("fake-small", MESSAGES), infos)  # a model is set
        assert text == "Hello from the fake model." and infos[-1].provider == "healthy", scheme
        assert len(llm.requests) == before + 1, "only the healthy backend reached the server"
        ok, line = await dead.probe()
        assert not ok and "cannot connect" in line


async def test_every_provider_maps_a_dead_proxy_to_a_connection_error(llm: FakeOpenAI) -> None:
    dead = OpenAI(llm.base_url, "k", proxy=f"socks5://127.0.0.1:{closed_port()}")
    try:
        await collect(dead.create_async_generator("fake-small", MESSAGES))
    except ProviderConnectionError as error:
        assert "Proxy" in str(error) or "connect" in str(error).lower()
    else:
        raise AssertionError("a dead proxy must fail the request")


async def test_ollama_without_any_model_pulled_lists_none_and_says_so() -> None:
    async with FakeOpenAI(flavor="ollama") as ollama:
        ollama.models = []  # GET /v1/models: {"object": "list", "data": null}
        provider = OpenAI(ollama.base_url, None, name="ollama")
        assert await provider.list_models() == []
        assert await provider.offers("llama3.2") is None
        ok, line = await provider.probe()
        assert not ok and "lists no models" in line


async def test_an_ollama_name_without_a_tag_means_latest() -> None:
    async with FakeOpenAI(models=["llama3.2:latest", "qwen2.5:7b"], flavor="ollama") as ollama:
        provider = OpenAI(ollama.base_url, None, name="ollama", models=["llama3.2"])  # OLLAMA_MODELS=llama3.2
        assert await provider.offers("llama3.2") is True
        assert await provider.offers("qwen2.5") is False, "only :latest is implied"
        ok, line = await provider.probe()
        assert ok, line
        text, _ = await collect(RetryProvider([provider]).create_async_generator("llama3.2", MESSAGES))
        assert text == "Hello from the fake model." and ollama.requests[-1]["model"] == "llama3.2"


async def test_litellms_retry_after_header_is_read(llm: FakeOpenAI) -> None:
    # The LiteLLM proxy passes the upstream's Retry-After on as llm_provider-retry-after.
    llm.then(Fail(429, "rate limited upstream", headers={"llm_provider-retry-after": "3"}))
    try:
        await collect(OpenAI(llm.base_url, "k").create_async_generator("fake-small", MESSAGES))
    except RateLimitError as error:
        assert error.retry_after == 3.0
    else:
        raise AssertionError("a 429 must raise RateLimitError")
