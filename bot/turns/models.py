"""Which models a chat can choose, and which model a chat's request asks the chain for.

A chat's choices (:class:`~bot.state.storage.ChatSettings`) name a provider (None: the whole
chain, "Auto") and a model (None: the operator's ``DEFAULT_MODEL``, else each
provider's own default). The chain routes the requested model to the providers
that offer it (see :class:`providers.RetryProvider`); this module answers the
questions the commands ask about it.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass

from bot.state.storage import ChatSettings
from providers import BaseProvider, ProviderError, ProviderModelMixin, RetryProvider

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model of the /model keyboard: its name and the first provider (in chain order) offering it."""

    model: str
    provider: str


@dataclass(frozen=True, slots=True)
class Window:
    """The context window a chat's question is fitted to: ``tokens``, and who said so (``source``: the
    provider's name when its server or its ``{NAME}_CONTEXT_TOKENS`` did, "" for ``CONTEXT_TOKENS``)."""

    tokens: int
    source: str = ""


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the chain says of a model name someone typed.

    Attributes:
        offered_by: providers whose model list has it, in chain order.
        unknown_to: providers that could not tell (their list could not be fetched): the name
            is passed to them as it is and their server decides.
    """

    offered_by: list[str]
    unknown_to: list[str]

    @property
    def usable(self) -> bool:
        """True when some provider offers the name or may (it could not tell)."""
        return bool(self.offered_by or self.unknown_to)


class ModelCatalog:
    """Models of a chain as a chat sees them.

    Args:
        chain: the whole provider chain.
        default_model: the operator's ``DEFAULT_MODEL`` ("" = each provider's default).
    """

    def __init__(self, chain: RetryProvider, default_model: str = "") -> None:
        self.chain = chain
        self.default_model = default_model

    def chain_for(self, provider: str | None) -> RetryProvider:
        """The chain answering a chat: only its pinned provider (failover stays within it), or the whole chain."""
        if provider and any(p.name == provider for p in self.chain.providers):
            return self.chain.only([provider])
        return self.chain

    def providers(self, choice: ChatSettings) -> list[BaseProvider]:
        """The providers answering a chat with these choices, in chain order."""
        return self.chain_for(choice.provider).providers

    async def entries(self, choice: ChatSettings) -> list[ModelEntry]:
        """Every model the chat's provider(s) list, each once, grouped by provider in chain order."""
        seen: set[str] = set()
        entries: list[ModelEntry] = []
        for provider in self.providers(choice):
            if not isinstance(provider, ProviderModelMixin):
                continue
            for model in await provider.list_models():
                if model not in seen:
                    seen.add(model)
                    entries.append(ModelEntry(model, provider.name))
        return entries

    async def lookup(self, choice: ChatSettings, model: str) -> Lookup:
        """Which of the chat's providers offer ``model`` (see :meth:`providers.BaseProvider.offers`)."""
        offered_by: list[str] = []
        unknown_to: list[str] = []
        for provider in self.providers(choice):
            try:
                offers = await provider.offers(model)
            except ProviderError:
                offers = None
            if offers:
                offered_by.append(provider.name)
            elif offers is None:
                unknown_to.append(provider.name)
        return Lookup(offered_by, unknown_to)

    async def requested(self, choice: ChatSettings) -> str:
        """The model a request of this chat asks the chain for ("" = each provider's default).

        The chat's own choice; else ``DEFAULT_MODEL``, unless the chat pinned a provider
        that does not offer it (then that provider's default: the operator's default
        applies where it is offered).
        """
        if choice.model:
            return choice.model
        if not self.default_model or choice.provider is None:
            return self.default_model
        lookup = await self.lookup(choice, self.default_model)
        return self.default_model if lookup.usable else ""

    async def context_window(self, choice: ChatSettings, fallback: int) -> Window:
        """The context window of the model that answers first for a chat with these choices (the first
        route of its chain, :meth:`providers.RetryProvider.plan`), as its provider knows it
        (:meth:`providers.BaseProvider.context_window`); ``fallback`` tokens when it does not know.
        A fallback with another window is fitted by the chain itself when the server complains."""
        routes, _ = await self.chain_for(choice.provider).plan(await self.requested(choice))
        if not routes:
            return Window(fallback)
        route = routes[0]
        try:
            tokens = await route.provider.context_window(route.model)
        except ProviderError as error:
            logger.info("cannot tell the context window of %s: %s", route.provider.name, error)
            tokens = None
        return Window(tokens, route.provider.name) if tokens else Window(fallback)

    async def default(self, choice: ChatSettings) -> str:
        """The model a chat with these choices uses when it chose none ("" when it cannot be told)."""
        requested = await self.requested(ChatSettings(choice.provider, None))
        if requested:
            return requested
        try:
            return await self.providers(choice)[0].resolve_model("")
        except ProviderError as error:
            logger.info("cannot tell the default model of %s: %s", self.providers(choice)[0].name, error)
            return ""

    async def suggestions(self, choice: ChatSettings, wanted: str, limit: int = 5) -> list[str]:
        """Up to ``limit`` listed names close to ``wanted``: those containing it first, then similar ones."""
        names = [entry.model for entry in await self.entries(choice)]
        needle = wanted.lower()
        containing = [name for name in names if needle in name.lower()]
        similar = difflib.get_close_matches(wanted, names, n=limit, cutoff=0.6)
        return list(dict.fromkeys(containing + similar))[:limit]
