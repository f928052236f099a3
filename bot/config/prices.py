"""What an answer cost: the operator's ``PRICES_FILE`` first, then the maintained price data of
``genai-prices`` (pydantic's package of LLM API prices, read offline from its bundled snapshot).

Prices are US dollars per million tokens. A backend on this machine or the local network
(Ollama, llama.cpp, vLLM, LM Studio...) and the keyless sites cost 0 unless the file prices
the model; a model nobody prices has no cost (None): the bot shows its tokens only, never a
made-up cost.
"""

from __future__ import annotations

import ipaddress
import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot.config.operator_files import OperatorFileError, read_operator_file
from providers import BaseProvider, OpenAI, Usage

logger = logging.getLogger(__name__)

#: Host names that are this machine, a container's host or the local network.
LOCAL_HOSTS = ("localhost", "host.docker.internal", "host.containers.internal")


class PricesError(OperatorFileError):
    """``PRICES_FILE`` cannot be used; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """A model's price in US dollars per million tokens: ``input`` (the prompt) and ``output`` (the answer)."""

    input: float
    output: float

    def cost(self, usage: Usage) -> float:
        """Dollars for ``usage``."""
        return (usage.prompt_tokens * self.input + usage.completion_tokens * self.output) / 1_000_000


def load_prices(path: Path) -> dict[str, ModelPrice]:
    """The prices in a TOML file, model name -> price::

        [models."gpt-4o-mini"]
        input = 0.15    # US dollars per million prompt tokens
        output = 0.60   # ... per million answer tokens

    Raises:
        PricesError: the file cannot be read (:func:`~bot.config.operator_files.read_operator_file`: not a
            regular file, over 1 MB...), is not valid TOML, or a price is missing, negative or not a number.
    """
    try:
        data = tomllib.loads(read_operator_file(path))
    except OperatorFileError as error:
        raise PricesError(str(error)) from None
    except tomllib.TOMLDecodeError as error:
        raise PricesError(f"{path} is not valid TOML: {error}") from None
    models = data.get("models")
    if not isinstance(models, dict):
        raise PricesError(f'{path} must have a [models."NAME"] table per model, with input and output prices')
    prices: dict[str, ModelPrice] = {}
    for name, entry in models.items():
        values = [entry.get(side) if isinstance(entry, dict) else None for side in ("input", "output")]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in values):
            raise PricesError(f"{path}: {name!r} needs input and output prices, dollars per million tokens (>= 0)")
        prices[str(name)] = ModelPrice(float(values[0]), float(values[1]))  # type: ignore[arg-type]
    return prices


def is_local(url: str) -> bool:
    """True when ``url``'s host is this machine, a container's host, or a private network address."""
    host = (urlsplit(url).hostname or "").lower()
    if host in LOCAL_HOSTS or host.endswith((".local", ".internal", ".lan")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


@dataclass(frozen=True, slots=True)
class Backend:
    """What pricing needs of a provider: its API address (None for a site), and whether it is free
    to the operator (a local server or a keyless site)."""

    api_url: str | None
    free: bool


def backend_of(provider: BaseProvider) -> Backend:
    """An OpenAI-compatible provider is priced by its address (free when local); the sites are free."""
    if isinstance(provider, OpenAI):
        return Backend(provider.base_url, is_local(provider.base_url))
    return Backend(None, not provider.needs_auth)


class PriceBook:
    """Costs of answers.

    Args:
        own: the operator's prices (``PRICES_FILE``), by model name; they win.
        backends: each provider's :class:`Backend`, by provider name.
    """

    def __init__(self, own: Mapping[str, ModelPrice], backends: Mapping[str, Backend]) -> None:
        self.own = dict(own)
        self.backends = dict(backends)

    def cost(self, provider: str, model: str, usage: Usage) -> float | None:
        """US dollars for ``usage`` of ``model`` at ``provider``; None when no price is known.

        The operator's price of the model (an Ollama tag ``name:latest`` also matches ``name``);
        else 0 for a free backend; else genai-prices by the backend's address, then by the model
        name alone (a proxy in front of a known provider).
        """
        own = self.own.get(model) or self.own.get(model.removesuffix(":latest"))
        if own is not None:
            return own.cost(usage)
        backend = self.backends.get(provider, Backend(None, False))
        if backend.free:
            return 0.0
        return _catalog_cost(model, usage, backend.api_url)


def _catalog_cost(model: str, usage: Usage, api_url: str | None) -> float | None:
    """genai-prices' price of ``usage``: for the provider at ``api_url``, else any provider of ``model``."""
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    tokens = PriceUsage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens)
    for url in (api_url, None) if api_url else (None,):
        try:
            return float(calc_price(tokens, model, provider_api_url=url).total_price)
        except LookupError:
            continue
        except Exception as error:  # noqa: BLE001 - a price package's bug must not lose an answer's record
            logger.warning("cannot price %s: %s", model, error)
            return None
    return None
