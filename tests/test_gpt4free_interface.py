"""``providers`` as gpt4free's own unit tests use gpt4free: providers written the gpt4free way (a
classmethod generator, a sync ``create_completion``, a ``create_async``), passed as classes or
instances to a ``Client``, an ``AsyncClient`` and an ``IterListProvider``/``RetryProvider``; the
``create(messages, model)`` call forms; ``max_tokens`` and ``stop`` applied by the client; the first
chunk carrying the role; empty and failing providers skipped. Written here from reading gpt4free's
tests (``etc/unittest``), not copied from them."""

from __future__ import annotations

import pytest

from providers import (
    AbstractProvider,
    AsyncClient,
    AsyncGeneratorProvider,
    AsyncProvider,
    Client,
    EmptyAnswerError,
    IterListProvider,
    Opchatgpts,
    ProtocolError,
    RetryProvider,
    RetryProviderError,
)
from providers.client import ChatCompletion, ChatCompletionChunk
from providers.errors import MissingAuthError, ModelNotFoundError, PaymentRequiredError, ResponseError

from .fakes.openai import FakeOpenAI
from .scripted import collect

HELLO = [{"role": "user", "content": "Hello"}]
PIECES = [{"role": "user", "content": piece} for piece in ["How ", "are ", "you", "?"]]


class Echo(AsyncGeneratorProvider):
    """Yields each message's content, one chunk each (gpt4free's tests count chunks this way)."""

    @classmethod
    async def create_async_generator(cls, model, messages, stream, **kwargs):  # type: ignore[no-untyped-def]
        for message in messages:
            yield message["content"]


class SaysModel(AbstractProvider):
    """A synchronous generator that answers with the model it was asked for."""

    @classmethod
    def create_completion(cls, model, messages, stream, **kwargs):  # type: ignore[no-untyped-def]
        yield model


class Whole(AsyncProvider):
    """A coroutine giving the whole answer at once."""

    @classmethod
    async def create_async(cls, model, messages, **kwargs):  # type: ignore[no-untyped-def]
        return "all at once"


class Fails(AbstractProvider):
    @classmethod
    def create_completion(cls, model, messages, stream, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("broken")
        yield "never"


class FailsAsync(AsyncGeneratorProvider):
    @classmethod
    async def create_async_generator(cls, model, messages, stream, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("broken")
        yield "never"


class YieldsNone(AsyncGeneratorProvider):
    @classmethod
    async def create_async_generator(cls, model, messages, stream, **kwargs):  # type: ignore[no-untyped-def]
        yield None


class Nothing(AsyncGeneratorProvider):
    @classmethod
    async def create_async_generator(cls, model, messages, stream, **kwargs):  # type: ignore[no-untyped-def]
        return
        yield


# -- providers written the gpt4free way --------------------------------------------------------------


@pytest.mark.parametrize("provider", [Echo, Echo(), SaysModel, Whole], ids=["class", "instance", "sync", "async"])
def test_a_gpt4free_style_provider_joins_the_sync_client_as_a_class_or_an_instance(provider: object) -> None:
    completion = Client(provider=provider).chat.completions.create(HELLO, "Hello")  # type: ignore[arg-type]
    assert isinstance(completion, ChatCompletion)
    assert completion.choices[0].message.content in ("Hello", "all at once")


async def test_the_async_client_passes_the_model_and_reads_every_kind() -> None:
    assert (await AsyncClient(provider=SaysModel).chat.completions.create(HELLO, "m-1")).choices[
        0
    ].message.content == "m-1"
    assert (await AsyncClient(provider=Whole).chat.completions.create(HELLO, "")).choices[0].message.content == (
        "all at once"
    )
    chain = RetryProvider([Fails, Echo])
    assert (await AsyncClient(provider=chain).chat.completions.create(HELLO)).choices[0].message.content == "Hello"


def test_create_takes_gpt4free_order_positionally_and_both_keyword_forms() -> None:
    client = Client(provider=SaysModel)
    assert client.chat.completions.create(HELLO, "a").choices[0].message.content == "a"  # type: ignore[union-attr]
    assert client.chat.completions.create(messages=HELLO, model="b").choices[0].message.content == "b"  # type: ignore[union-attr]
    assert client.chat.completions.create(model="c", messages=HELLO).choices[0].message.content == "c"  # type: ignore[union-attr]
    with pytest.raises(TypeError, match=r"create\(\) takes \(messages, model, \.\.\.\) in that order"):
        client.chat.completions.create("d", HELLO)  # type: ignore[arg-type]


# -- max_tokens, stop, and the shape of a stream ------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "expected", "finish"),
    [
        (1, "How ", "length"),
        (2, "How are ", "length"),
        (4, "How are you?", "length"),
        (5, "How are you?", "stop"),
        (0, "How are you?", "stop"),
    ],
)
def test_max_tokens_counts_text_chunks_for_providers_that_ignore_it(limit: int, expected: str, finish: str) -> None:
    completion = Client(provider=Echo).chat.completions.create(PIECES, "", max_tokens=limit)
    assert completion.choices[0].message.content == expected  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == finish, "at the limit the answer ends for its length"  # type: ignore[union-attr]


async def test_a_stream_is_its_text_chunks_then_the_finish_chunk_and_the_first_carries_the_role() -> None:
    messages = [{"role": "user", "content": piece} for piece in ["You ", "You ", "Other", "?"]]
    chunks = [
        c async for c in AsyncClient(provider=Echo).chat.completions.create(messages, "", stream=True, max_tokens=2)
    ]
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert [c.choices[0].delta.content for c in chunks] == ["You ", "You ", None]
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[1].choices[0].delta.role is None
    assert chunks[-1].choices[0].finish_reason == "length"


def test_the_sync_stream_without_a_limit_is_every_chunk_and_the_finish() -> None:
    whole = list(Client(provider=Echo).chat.completions.create(PIECES, "", stream=True))
    assert [c.choices[0].delta.content for c in whole] == ["How ", "are ", "you", "?", None]  # type: ignore[union-attr]
    assert whole[-1].choices[0].finish_reason == "stop"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("stop", "expected"),
    [(["and"], "How are you?"), ("are", "How "), (["re y", "?"], "How a"), (["you?"], "How are ")],
    ids=["absent", "in-a-chunk", "across-chunks", "ends-the-answer"],
)
async def test_stop_cuts_the_answer_before_the_first_stop_sequence(stop: str | list[str], expected: str) -> None:
    client = AsyncClient(provider=Echo)
    completion = await client.chat.completions.create(PIECES, "", stop=stop)
    assert completion.choices[0].message.content == expected
    streamed = [c async for c in client.chat.completions.create(PIECES, "", stream=True, stop=stop)]
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == expected


# -- the chain ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "broken", [Fails, FailsAsync, YieldsNone, Nothing], ids=["raises", "raises-async", "none", "empty"]
)
async def test_the_chain_skips_a_provider_that_fails_or_answers_nothing(broken: type) -> None:
    client = AsyncClient(provider=IterListProvider([broken, Echo], False))
    assert (await client.chat.completions.create(HELLO, "")).choices[0].message.content == "Hello"
    chunks = [c async for c in client.chat.completions.create(HELLO, "", stream=True)]
    assert [c.choices[0].delta.content for c in chunks] == ["Hello", None]


async def test_two_working_providers_give_one_answer() -> None:
    for chain in (IterListProvider([Echo, Echo]), RetryProvider([Echo, Echo], single_provider_retry=True)):
        completion = await AsyncClient(provider=chain).chat.completions.create(HELLO, "")
        assert completion.choices[0].message.content == "Hello"
    chunks = [
        c
        async for c in AsyncClient(provider=IterListProvider([Echo, Echo], False)).chat.completions.create(
            [{"role": "user", "content": "You "}] * 2, "", stream=True, max_tokens=2
        )
    ]
    assert [c.choices[0].delta.content for c in chunks] == ["You ", "You ", None]


async def test_only_empty_answers_fail_with_the_empty_answer_error() -> None:
    with pytest.raises(RetryProviderError) as raised:
        await AsyncClient(provider=IterListProvider([YieldsNone, Nothing], False)).chat.completions.create(HELLO, "")
    assert [type(a.error) for a in raised.value.attempts] == [EmptyAnswerError, EmptyAnswerError]


# -- what gpt4free code catches ----------------------------------------------------------------------------


def test_errors_are_what_the_seeds_and_gpt4free_name() -> None:
    assert issubclass(ProtocolError, RuntimeError), "the seeds: a malformed line raises RuntimeError"
    assert issubclass(RetryProviderError, ResponseError)
    assert (
        MissingAuthError.__name__ == "AuthenticationError" and ModelNotFoundError.__name__ == "ModelNotSupportedError"
    )
    assert PaymentRequiredError.__name__ == "QuotaExceededError"
    assert Opchatgpts.supports_gpt_35_turbo is True


def test_get_model_takes_gpt4free_keyword_arguments() -> None:
    assert Opchatgpts.get_model("", api_key="unused") == "gpt-3.5-turbo"
    with pytest.raises(ModelNotFoundError):
        Opchatgpts.get_model("no-such-model", api_key="unused")


async def test_the_chain_alone_gives_gpt4free_providers_the_stream_argument_they_require() -> None:
    text, _ = await collect(RetryProvider([FailsAsync, Echo]).create_async_generator("", HELLO))
    assert text == "Hello"


async def test_code_written_from_the_seeds_catches_http_errors_as_aiohttp_does(llm: FakeOpenAI) -> None:
    import aiohttp

    from providers import OpenAI

    from .fakes.openai import Fail

    llm.then(Fail(503, "overloaded"))
    try:
        await collect(OpenAI(llm.base_url, "k").create_async_generator("fake-small", HELLO))
    except aiohttp.ClientResponseError as error:  # the Opchatgpts seed: HTTP errors are ClientResponseError
        assert error.status == 503 and "overloaded" in str(error) and error.request_info is None
    else:
        raise AssertionError("a 503 must raise")
    with pytest.raises(ValueError, match="not supported"):  # the ChatGpt seed: an unknown model is a ValueError
        Opchatgpts.get_model("no-such-model")
