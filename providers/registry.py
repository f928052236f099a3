"""Providers by name, configured from an environment mapping.

Known names: ``openai``, ``opchatgpts``, ``aichat``, ``chatgpt``. Any other name is
an OpenAI-compatible backend configured by ``{NAME}_BASE_URL`` (required),
``{NAME}_API_KEY``, ``{NAME}_MODELS`` and ``{NAME}_PROXY``: several such backends
can be in one chain (say ``openrouter`` then ``ollama``).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from .backends.aichat import Aichat
from .backends.chatgpt import ChatGpt
from .backends.opchatgpts import Opchatgpts
from .backends.openai import OpenAI
from .base import BaseProvider, env_prefix

PROVIDER_CLASSES: dict[str, type[OpenAI] | type[Opchatgpts] | type[Aichat] | type[ChatGpt]] = {
    "openai": OpenAI,
    "opchatgpts": Opchatgpts,
    "aichat": Aichat,
    "chatgpt": ChatGpt,
}


class ProviderConfigError(ValueError):
    """A provider name cannot be configured; the message names the missing setting."""


#: Hosted OpenAI-compatible APIs that refuse every request without a key.
KEYED_HOSTS = (
    "api.openai.com",
    "openrouter.ai",
    "api.groq.com",
    "api.mistral.ai",
    "api.deepseek.com",
    "api.together.xyz",
    "api.fireworks.ai",
    "generativelanguage.googleapis.com",
)
URL_SCHEMES = ("http://", "https://")
PROXY_SCHEMES = ("http://", "https://", "socks4://", "socks5://")


def _check_url(setting: str, value: str | None, schemes: tuple[str, ...], example: str) -> None:
    if value and not value.lower().startswith(schemes):
        raise ProviderConfigError(f"{setting} must start with {' or '.join(schemes)}, like {example}")


def build_provider(name: str, environ: Mapping[str, str]) -> BaseProvider:
    """The provider called ``name`` (see :func:`_build`).

    Raises:
        ProviderConfigError: as :func:`_build`, and for a ``{NAME}_CONTEXT_TOKENS`` that is no token count.
    """
    try:
        return _build(name, environ)
    except ProviderConfigError:
        raise
    except ValueError as error:
        raise ProviderConfigError(str(error)) from None


def _build(name: str, environ: Mapping[str, str]) -> BaseProvider:
    """The provider called ``name`` (case-insensitive), configured from ``environ``.

    Raises:
        ProviderConfigError: an unknown name without ``{NAME}_BASE_URL``; a URL or proxy without its
            scheme (``{NAME}_BASE_URL``, ``{NAME}_URL``, ``{NAME}_PROXY``, ``PROXY``); no
            ``{NAME}_API_KEY`` for a hosted API that needs one (:data:`KEYED_HOSTS`). The message
            names the setting and never its value when that could be a secret.
    """
    name = name.strip().lower()
    prefix = env_prefix(name)
    known = PROVIDER_CLASSES.get(name)
    proxy = f"{prefix}_PROXY" if environ.get(f"{prefix}_PROXY") else "PROXY"
    _check_url(proxy, environ.get(proxy), PROXY_SCHEMES, "socks5://127.0.0.1:1080")
    if known is not None and not issubclass(known, OpenAI):
        _check_url(f"{prefix}_URL", environ.get(f"{prefix}_URL"), URL_SCHEMES, f"https://{name}.example")
        return known.from_env(environ, name=name)
    base_url = environ.get(f"{prefix}_BASE_URL")
    if known is None and not base_url:
        raise ProviderConfigError(f"PROVIDERS names {name!r} but {prefix}_BASE_URL is not set")
    _check_url(f"{prefix}_BASE_URL", base_url, URL_SCHEMES, "http://localhost:11434/v1")
    host = urlsplit(base_url or OpenAI.url or "").hostname or ""
    if not environ.get(f"{prefix}_API_KEY") and any(host == h or host.endswith("." + h) for h in KEYED_HOSTS):
        raise ProviderConfigError(f"{prefix}_API_KEY is not set, and {host} refuses requests without a key")
    return (known or OpenAI).from_env(environ, name=name)


def build_providers(names: list[str], environ: Mapping[str, str]) -> list[BaseProvider]:
    """Each named provider, in order (see :func:`build_provider`)."""
    return [build_provider(name, environ) for name in names]
