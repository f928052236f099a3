"""Builds the provider chain named by ``PROVIDERS`` from the settings."""

from __future__ import annotations

from bot.config.settings import Settings
from providers import ProviderHealth, RetryProvider, Timeouts
from providers.registry import ProviderConfigError, build_providers

ChainConfigError = ProviderConfigError


def provider_settings(settings: Settings) -> dict[str, str]:
    """The backends' settings (``settings.backends``) with the validated ``OPENAI_*`` and ``PROXY``
    settings (and their defaults) on top."""
    values = dict(settings.backends)
    values["OPENAI_BASE_URL"] = settings.openai_base_url
    values["OPENAI_API_KEY"] = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    values["OPENAI_MODELS"] = ",".join(settings.openai_models)
    values["PROXY"] = settings.proxy or ""
    return values


def build_chain(settings: Settings) -> RetryProvider:
    """The :class:`~providers.RetryProvider` over ``settings.providers``, in order.

    Raises:
        ChainConfigError: a provider cannot be configured (the message names the setting).
    """
    return RetryProvider(
        build_providers(settings.providers, provider_settings(settings)),
        max_retries=settings.provider_max_retries,
        timeouts=Timeouts(
            first_chunk=settings.provider_first_chunk_timeout,
            idle=settings.provider_idle_timeout,
            total=settings.provider_total_timeout,
        ),
        health=ProviderHealth(),
        model_fallback=settings.model_fallback,
        context_reserve=settings.answer_reserve_tokens,
    )
