"""LLM providers with gpt4free's interface, a retrying chain, and an OpenAI-shaped client.

No Telegram here: the bot uses this package only through the chain's
async-iterator interface (``str`` deltas and :class:`Reset` events).
"""

from .aichat import Aichat
from .base import BaseProvider, Chunk, Message, Messages, ProviderModelMixin, Reset
from .chatgpt import ChatGpt
from .client import AsyncClient, Client
from .errors import (
    Attempt,
    AuthenticationError,
    BadRequestError,
    CaptchaRequiredError,
    ModelNotSupportedError,
    ProtocolError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    RetryProviderError,
    ServerError,
)
from .opchatgpts import Opchatgpts
from .openai import OpenAI
from .registry import PROVIDER_CLASSES, ProviderConfigError, build_provider, build_providers
from .retry import ProviderHealth, RetryProvider, Timeouts

__all__ = [
    "PROVIDER_CLASSES",
    "Aichat",
    "AsyncClient",
    "Attempt",
    "AuthenticationError",
    "BadRequestError",
    "BaseProvider",
    "CaptchaRequiredError",
    "ChatGpt",
    "Chunk",
    "Client",
    "Message",
    "Messages",
    "ModelNotSupportedError",
    "Opchatgpts",
    "OpenAI",
    "ProtocolError",
    "ProviderConfigError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHealth",
    "ProviderModelMixin",
    "ProviderTimeoutError",
    "RateLimitError",
    "Reset",
    "RetryProvider",
    "RetryProviderError",
    "ServerError",
    "Timeouts",
    "build_provider",
    "build_providers",
]
