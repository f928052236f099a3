"""LLM providers with gpt4free's interface, a retrying chain, and an OpenAI-shaped client.

No Telegram here: the bot uses this package only through the chain's
async-iterator interface (``str`` deltas, :class:`ProviderInfo`, :class:`Reset`, :class:`Finish` and
:class:`Usage` events, folded by :class:`Answer`).
"""

import sys as _sys

from .answer import Answer, AnswerListener, dispatch
from .backends import aichat as _aichat
from .backends import chatgpt as _chatgpt
from .backends import opchatgpts as _opchatgpts
from .backends import openai as _openai
from .backends.aichat import Aichat
from .backends.chatgpt import ChatGpt
from .backends.opchatgpts import Opchatgpts
from .backends.openai import OpenAI
from .base import (
    AbstractProvider,
    AsyncGeneratorProvider,
    AsyncProvider,
    BaseProvider,
    Chunk,
    Finish,
    Message,
    Messages,
    ProviderInfo,
    ProviderModelMixin,
    Reasoning,
    Reset,
    Usage,
    has_images,
    text_of,
    without_images,
)
from .client import AsyncClient, Client
from .errors import (
    AnswerInterruptedError,
    Attempt,
    AuthenticationError,
    BadRequestError,
    BlockedError,
    CaptchaRequiredError,
    ContentFilterError,
    ContextLengthError,
    EmptyAnswerError,
    EndpointNotFoundError,
    ImagesNotSupportedError,
    InterruptedStreamError,
    ModelNotSupportedError,
    ProtocolError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    RetryProviderError,
    ServerError,
)
from .registry import PROVIDER_CLASSES, ProviderConfigError, build_provider, build_providers
from .retry import IterListProvider, ProviderHealth, RetryProvider, Route, Timeouts
from .transcription import Transcriber

__all__ = [
    "PROVIDER_CLASSES",
    "AbstractProvider",
    "Aichat",
    "Answer",
    "AnswerInterruptedError",
    "AnswerListener",
    "AsyncClient",
    "AsyncGeneratorProvider",
    "AsyncProvider",
    "Attempt",
    "AuthenticationError",
    "BadRequestError",
    "BaseProvider",
    "BlockedError",
    "CaptchaRequiredError",
    "ChatGpt",
    "Chunk",
    "Client",
    "ContentFilterError",
    "ContextLengthError",
    "EmptyAnswerError",
    "EndpointNotFoundError",
    "Finish",
    "ImagesNotSupportedError",
    "InterruptedStreamError",
    "IterListProvider",
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
    "ProviderInfo",
    "ProviderModelMixin",
    "ProviderTimeoutError",
    "QuotaExceededError",
    "RateLimitError",
    "Reasoning",
    "Reset",
    "RetryProvider",
    "RetryProviderError",
    "Route",
    "ServerError",
    "Timeouts",
    "Transcriber",
    "Usage",
    "build_provider",
    "build_providers",
    "dispatch",
    "has_images",
    "text_of",
    "without_images",
]

# The module paths the seed documents (and gpt4free's users) import from: ``providers.chatgpt``,
# ``providers.aichat``... are the backends' modules themselves, not copies.
for _module in (_aichat, _chatgpt, _opchatgpts, _openai):
    _sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module
