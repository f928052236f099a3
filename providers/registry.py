"""Providers by name, configured from an environment mapping.

Known names: ``openai``, ``opchatgpts``, ``aichat``, ``chatgpt``. Any other name is
an OpenAI-compatible backend configured by ``{NAME}_BASE_URL`` (required),
``{NAME}_API_KEY``, ``{NAME}_MODELS`` and ``{NAME}_PROXY``: several such backends
can be in one chain (say ``openrouter`` then ``ollama``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dotenv import dotenv_values

from .aichat import Aichat
from .base import BaseProvider
from .chatgpt import ChatGpt
from .opchatgpts import Opchatgpts
from .openai import OpenAI

PROVIDER_CLASSES: dict[str, type[OpenAI] | type[Opchatgpts] | type[Aichat] | type[ChatGpt]] = {
    "openai": OpenAI,
    "opchatgpts": Opchatgpts,
    "aichat": Aichat,
    "chatgpt": ChatGpt,
}


def environment(env_file: str = ".env") -> dict[str, str]:
    """``env_file`` values (if the file exists) overlaid by the process environment."""
    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if os.path.exists(env_file) else {}
    values.update(os.environ)
    return values


class ProviderConfigError(ValueError):
    """A provider name cannot be configured; the message names the missing setting."""


def build_provider(name: str, environ: Mapping[str, str]) -> BaseProvider:
    """The provider called ``name`` (case-insensitive), configured from ``environ``.

    Raises:
        ProviderConfigError: an unknown name without ``{NAME}_BASE_URL``.
    """
    name = name.strip().lower()
    known = PROVIDER_CLASSES.get(name)
    if known is not None:
        return known.from_env(environ, name=name)
    prefix = name.upper().replace("-", "_")
    if not environ.get(f"{prefix}_BASE_URL"):
        raise ProviderConfigError(f"PROVIDERS names {name!r} but {prefix}_BASE_URL is not set")
    return OpenAI.from_env(environ, name=name)


def build_providers(names: list[str], environ: Mapping[str, str]) -> list[BaseProvider]:
    """Each named provider, in order (see :func:`build_provider`)."""
    return [build_provider(name, environ) for name in names]
