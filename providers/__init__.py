"""LLM providers with gpt4free's interface, a retrying chain, and an OpenAI-shaped client.

No Telegram here: the bot uses this package only through the chain's
async-iterator interface (``str`` deltas and :class:`Reset` events).
"""

from .base import BaseProvider, Chunk, Message, Messages, ProviderModelMixin, Reset
from .errors import (
    Attempt,
    AuthenticationError,
    BadRequestError,
    CaptchaRequiredError,
    ModelNotSupportedError,
    ProtocolError,
    ProviderConnectionError,
    ProviderError,
    ProviderNotWorkingError,
    ProviderTimeoutError,
    RateLimitError,
    RetryProviderError,
    ServerError,
)
from .openai import OpenAI
from .retry import ProviderHealth, RetryProvider, Timeouts

__all__ = [
    "Attempt",
    "AuthenticationError",
    "BadRequestError",
    "BaseProvider",
    "CaptchaRequiredError",
    "Chunk",
    "Message",
    "Messages",
    "ModelNotSupportedError",
    "OpenAI",
    "ProtocolError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHealth",
    "ProviderModelMixin",
    "ProviderNotWorkingError",
    "ProviderTimeoutError",
    "RateLimitError",
    "Reset",
    "RetryProvider",
    "RetryProviderError",
    "ServerError",
    "Timeouts",
]
