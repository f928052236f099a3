"""RetryProvider routes a chosen model to the providers that offer it; the others fall back with their own."""

from __future__ import annotations

from typing import Any

import pytest

from bot.texts import error_sentence
from providers import (
    AsyncClient,
    ModelNotSupportedError,
    ProviderInfo,
    ProviderModelMixin,
    Reset,
    RetryProvider,
    RetryProviderError,
    ServerError,
)

from .scripted import Run, ScriptedProvider, collect

MESSAGES = [{"role": "user", "content": "hi"}]


class Listed(ProviderModelMixin, ScriptedProvider):
    """A scripted provider with a model list (first = default) and aliases."""

    def __init__(self, name: str, models: list[str], *runs: Run, aliases: dict[str, str] | None = None) -> None:
        super().__init__(name, *runs, default=Run([f"from {name}"]))
        self.models = models  # type: ignore[misc]
        self.default_model = models[0]  # type: ignore[misc]
        self.model_aliases = aliases or {}  # type: ignore[misc]


async def run(chain: RetryProvider, model: str) -> tuple[str, list[ProviderInfo]]:
    infos: list[ProviderInfo] = []
    text, _ = await collect(chain.create_async_generator(model, MESSAGES), infos)
    return text, infos


async def test_the_providers_offering_the_model_come_first_in_chain_order() -> None:
    a = Listed("a", ["small"])
    b = Listed("b", ["big", "small"], Run(error=ServerError("down", status=500)))
    c = Listed("c", ["tiny", "big"])
    chain = RetryProvider([a, b, c], max_retries=1)
    routes, skipped = await chain.plan("big")
    assert [(r.provider.name, r.model, r.fallback) for r in routes] == [
        ("b", "big", False),
        ("c", "big", False),
        ("a", "", True),
    ]
    assert skipped == []
    text, infos = await run(chain, "big")
    assert text == "from c" and a.calls == []
    assert infos == [ProviderInfo("b", "big", "big"), ProviderInfo("c", "big", "big")]
    assert [model for model, _ in c.calls] == ["big"]


async def test_when_every_provider_of_the_model_fails_the_others_answer_with_their_default() -> None:
    a = Listed("a", ["big"], Run(error=ServerError("down", status=500)))
    b = Listed("b", ["local-1", "local-2"])
    text, infos = await run(RetryProvider([a, b], max_retries=1), "big")
    assert text == "from b"
    assert infos[-1] == ProviderInfo("b", "local-1", "big", fallback=True)
    assert b.calls[0][0] == "local-1", "the fallback is asked for its own default, not the model it lacks"


async def test_model_fallback_off_tries_only_the_providers_of_the_model() -> None:
    a = Listed("a", ["big"], Run(error=ServerError("down", status=500)))
    b = Listed("b", ["local-1"])
    chain = RetryProvider([a, b], max_retries=1, model_fallback=False)
    with pytest.raises(RetryProviderError) as raised:
        await run(chain, "big")
    assert b.calls == []
    assert [(x.provider, x.outcome) for x in raised.value.attempts] == [
        ("b", "ModelNotSupportedError"),
        ("a", "ServerError"),
    ]


async def test_nobody_offering_the_model_without_fallback_is_one_clear_sentence() -> None:
    chain = RetryProvider([Listed("a", ["x"]), Listed("b", ["y"])], model_fallback=False)
    with pytest.raises(RetryProviderError) as raised:
        await run(chain, "z")
    assert all(isinstance(x.error, ModelNotSupportedError) for x in raised.value.attempts)
    assert error_sentence(raised.value) == (
        "No provider offers the model chosen for this chat right now. Choose another with /model."
    )


async def test_a_server_refusing_the_model_makes_the_provider_a_fallback_without_hurting_its_health() -> None:
    # "a" cannot tell (no list): it is asked for the model, refuses, and answers later with its default.
    refusing = ScriptedProvider("a", Run(error=ModelNotSupportedError("model 'big' not found")))
    b = Listed("b", ["big"], Run(error=ServerError("down", status=500)))
    c = Listed("c", ["own"])
    chain = RetryProvider([refusing, b, c], max_retries=1)
    text, infos = await run(chain, "big")
    assert [(i.provider, i.model, i.fallback) for i in infos] == [
        ("a", "big", False),
        ("b", "big", False),
        ("a", "", True),
    ]
    assert text == "ok", "a's default answer (the scripted provider's default run)"
    assert chain.health._state.get("a") is None, "refusing a model says nothing of a provider's health"
    assert chain.health._state["b"].failures == 1


async def test_no_model_asked_means_no_routing_and_no_fallback_flag() -> None:
    a = Listed("a", ["x"], Run(error=ServerError("down", status=500)))
    b = Listed("b", ["y"])
    text, infos = await run(RetryProvider([a, b], max_retries=1), "")
    assert text == "from b"
    assert infos == [ProviderInfo("a", "x", ""), ProviderInfo("b", "y", "")]


async def test_an_alias_is_an_offer_and_not_a_fallback() -> None:
    a = Listed("a", ["chatgpt-4o-latest"], aliases={"gpt-4o": "chatgpt-4o-latest"})
    text, infos = await run(RetryProvider([Listed("b", ["other"]), a]), "gpt-4o")
    assert text == "from a" and infos == [ProviderInfo("a", "chatgpt-4o-latest", "gpt-4o", fallback=False)]


async def test_a_cooling_provider_of_the_model_gives_way_to_fallbacks_unless_fallback_is_off() -> None:
    a = Listed("a", ["big"])
    b = Listed("b", ["own"])
    chain = RetryProvider([a, b])
    chain.health.failure("a", cool_for=60)
    assert (await run(chain, "big"))[0] == "from b"
    strict = RetryProvider([a, b], model_fallback=False, health=chain.health)
    assert (await run(strict, "big"))[0] == "from a", "with nothing else to try, the cooling provider is probed"


async def test_mid_stream_failure_then_fallback_shows_only_the_fallback_answer() -> None:
    a = Listed("a", ["big"], Run(["partial "], error=ServerError("cut", status=502)))
    b = Listed("b", ["own"])
    infos: list[ProviderInfo] = []
    text, events = await collect(RetryProvider([a, b], max_retries=1).create_async_generator("big", MESSAGES), infos)
    assert text == "from b"
    assert events[0] == "partial " and isinstance(events[1], Reset)
    assert infos[-1].fallback


async def test_client_names_the_provider_and_model_that_answered() -> None:
    def chain() -> RetryProvider:
        return RetryProvider(
            [Listed("a", ["big"], Run(error=ServerError("down", status=500))), Listed("b", ["own"])], max_retries=1
        )

    completion = await AsyncClient(provider=chain()).chat.completions.create(model="big", messages=MESSAGES)
    assert (completion.provider, completion.model, completion.choices[0].message.content) == ("b", "own", "from b")
    chunks: list[Any] = [
        c async for c in AsyncClient(provider=chain()).chat.completions.create(MESSAGES, "big", stream=True)
    ]
    assert {(c.provider, c.model) for c in chunks} == {("b", "own")}
    single = await AsyncClient(provider=Listed("solo", ["m1", "m2"])).chat.completions.create(MESSAGES, "")
    assert (single.provider, single.model) == ("solo", "m1")
