"""Builds the provider chain named by ``PROVIDERS`` from the settings."""

from __future__ import annotations

from collections.abc import Mapping

from providers import BaseProvider, OpenAI, ProviderHealth, RetryProvider, Timeouts

from .settings import Settings


class ChainConfigError(ValueError):
    """A provider named in ``PROVIDERS`` cannot be configured; the message names the setting."""


def _env_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def build_provider(name: str, settings: Settings, environ: Mapping[str, str]) -> BaseProvider:
    """One provider by its ``PROVIDERS`` name.

    ``openai`` uses ``OPENAI_*`` settings. Any other name is an OpenAI-compatible
    backend configured by ``{NAME}_BASE_URL`` (required), ``{NAME}_API_KEY`` and
    ``{NAME}_MODELS`` (comma-separated), e.g. ``OPENROUTER_BASE_URL``.

    Raises:
        ChainConfigError: the name is unknown and has no ``{NAME}_BASE_URL``.
    """
    if name == "openai":
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAI(settings.openai_base_url, key, name="openai", models=settings.openai_models, proxy=settings.proxy)
    prefix = name.upper().replace("-", "_")
    base_url = environ.get(f"{prefix}_BASE_URL")
    if not base_url:
        raise ChainConfigError(f"PROVIDERS names {name!r} but {prefix}_BASE_URL is not set")
    return OpenAI(
        base_url,
        environ.get(f"{prefix}_API_KEY") or None,
        name=name,
        models=_env_list(environ.get(f"{prefix}_MODELS")),
        proxy=environ.get(f"{prefix}_PROXY") or settings.proxy,
    )


def build_chain(settings: Settings, environ: Mapping[str, str]) -> RetryProvider:
    """The :class:`~providers.RetryProvider` over ``settings.providers``, in order."""
    providers = [build_provider(name, settings, environ) for name in settings.providers]
    return RetryProvider(
        providers,
        max_retries=settings.provider_max_retries,
        timeouts=Timeouts(
            first_chunk=settings.provider_first_chunk_timeout,
            idle=settings.provider_idle_timeout,
            total=settings.provider_total_timeout,
        ),
        health=ProviderHealth(),
    )


def provider_secrets(chain: RetryProvider) -> list[str]:
    """API keys used by the chain, for log redaction."""
    return [key for p in chain.providers if (key := getattr(p, "api_key", None))]
