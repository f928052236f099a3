"""Typed errors raised by providers and by the retrying chain.

Every provider maps its transport and protocol failures onto these classes so
that :class:`providers.retry.RetryProvider` can decide, without knowing the
wire protocol, whether to retry the same provider, move on, or give up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp


class ProviderError(RuntimeError):
    """Base class of every provider failure. A ``RuntimeError``, as the seed providers promise for a
    malformed answer, so code written from the seeds catches it.

    Attributes:
        provider: name of the provider that failed ("" when unknown).
        retryable: True when trying the same provider again may succeed.
    """

    retryable: bool = True

    def __init__(self, message: str, *, provider: str = "") -> None:
        super().__init__(message)
        self.provider = provider


class HTTPStatusError(ProviderError, aiohttp.ClientResponseError):
    """A failure the backend answered with an HTTP status (or an error object standing for one).

    Also an ``aiohttp.ClientResponseError``, as the seed providers promise for HTTP errors, so code
    written from the seeds catches it: ``status`` is the HTTP status (0 when the failure came
    another way, say a model refused before any request), ``message`` the error's text,
    ``headers`` the response's headers when known; ``request_info`` is None (the request, which
    may carry a key, is not kept).
    """

    def __init__(
        self, message: str, *, provider: str = "", status: int = 0, headers: Mapping[str, str] | None = None
    ) -> None:
        ProviderError.__init__(self, message, provider=provider)
        self.status = status
        self.message = message
        self.headers = headers  # type: ignore[assignment]
        self.history = ()
        self.request_info = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return ProviderError.__str__(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({ProviderError.__str__(self)!r}, status={self.status})"


class AuthenticationError(HTTPStatusError):
    """The backend refused the credentials (HTTP 401 or 403). Not retryable."""

    retryable = False


class QuotaExceededError(HTTPStatusError):
    """The account's quota or credit is used up (OpenAI: 429 ``insufficient_quota``; OpenRouter: 402).
    Not retryable: waiting does not help, the owner must add credit."""

    retryable = False


class BlockedError(HTTPStatusError):
    """A keyless site refused the request (HTTP 401/403 from a firewall or bot protection such as
    Cloudflare). Not retryable; not a key problem."""

    retryable = False


class BadRequestError(HTTPStatusError):
    """The backend refused the request itself (HTTP 400, 404, 422). Not retryable."""

    retryable = False


class ModelNotSupportedError(BadRequestError, ValueError):
    """The requested model is not offered by this provider. Not retryable. Also a ``ValueError``, as
    the seeds promise for a model that is not available."""


class EndpointNotFoundError(BadRequestError):
    """The server has no such endpoint (HTTP 404 that is not about a model): the configured URL is
    wrong, typically an OpenAI-compatible base URL without its ``/v1``. Not retryable."""


class ImagesNotSupportedError(BadRequestError):
    """The model or provider does not take images (a server refused the ``image_url`` part, or no
    provider of the chain sees images). Not retryable."""


class ContextLengthError(BadRequestError):
    """The conversation is longer than the model's context window. One class for every server's way
    of saying so (OpenAI's ``context_length_exceeded``, llama-server's ``exceed_context_size_error``,
    vLLM's and llama-cpp-python's "maximum context length", Ollama's "exceeds the context length",
    llama-cpp-python's empty 200 stream); see :func:`providers.http.classify`. Not retryable as it
    is: the chain leaves out older messages and asks once more.

    Attributes:
        limit: the model's context window in tokens, when the server said it.
        requested: the tokens the request took by the server's count, when it said it.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        limit: int | None = None,
        requested: int | None = None,
        status: int = 0,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.limit = limit
        self.requested = requested


class ContentFilterError(BadRequestError):
    """The provider's content filter withheld the answer (``finish_reason: "content_filter"`` with no text)."""


class RateLimitError(HTTPStatusError):
    """HTTP 429. ``retry_after`` is the backend's ``Retry-After`` in seconds, if given."""

    def __init__(self, message: str, *, provider: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, provider=provider, status=429)
        self.retry_after = retry_after


class ServerError(HTTPStatusError):
    """HTTP 5xx or another unexpected status. ``status`` is the HTTP status code."""


class ProviderConnectionError(ProviderError):
    """The connection could not be made, or was cut before the answer was complete."""


class InterruptedStreamError(ProviderConnectionError):
    """The stream ended (EOF or ``[DONE]``) without a ``finish_reason`` after text: the server stopped
    the answer, as llama-cpp-python does to a running request when another one arrives for its one
    slot (``interrupt_requests``). Retried after a longer wait than other errors."""


class AnswerInterruptedError(ProviderError):
    """A streamed answer failed after part of it was delivered, and the consumer did not opt in
    to reset chunks (``Client(...).chat.completions.create(..., stream=True, reset_chunks=True)``):
    the text received so far is incomplete. ``__cause__`` is the provider's error."""

    retryable = False


class EmptyAnswerError(ProviderError):
    """The provider ended its answer without any text (gpt4free moves on to the next provider too).
    Not retryable: the chain tries the next provider."""

    retryable = False


class ProtocolError(ProviderError):
    """The backend answered with something its protocol does not allow (a malformed line)."""


class ProviderTimeoutError(ProviderError):
    """No chunk arrived within a deadline.

    ``phase`` is ``"first_chunk"``, ``"idle"`` (between chunks) or ``"total"``.
    """

    def __init__(self, message: str, *, provider: str = "", phase: str = "total") -> None:
        super().__init__(message, provider=provider)
        self.phase = phase


class CaptchaRequiredError(ProviderError):
    """The backend demands a human check before answering. Never circumvented; not retryable.

    ``challenge`` names it: ``"turnstile"`` (Cloudflare Turnstile CAPTCHA) or
    ``"proofofwork"`` (an anti-automation puzzle).
    """

    retryable = False

    def __init__(self, message: str, *, provider: str = "", challenge: str = "turnstile") -> None:
        super().__init__(message, provider=provider)
        self.challenge = challenge


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one provider inside a :class:`~providers.retry.RetryProvider` run.

    Attributes:
        provider: provider name.
        model: model name sent to the provider.
        error: the failure, or None for the successful attempt.
        elapsed: seconds from the start of the attempt to its end.
        chunks: number of text chunks the provider yielded before it ended.
    """

    provider: str
    model: str
    error: BaseException | None
    elapsed: float
    chunks: int = 0

    @property
    def outcome(self) -> str:
        """``"ok"`` or the error's class name."""
        if self.error is None:
            return "ok"
        return type(self.error).__name__


class RetryProviderError(ProviderError):
    """Every provider of the chain failed. ``attempts`` lists every try, in order."""

    retryable = False

    def __init__(self, attempts: list[Attempt]) -> None:
        self.attempts = list(attempts)
        lines = [f"{a.provider} ({a.model}): {a.outcome}: {a.error} [{a.elapsed:.2f}s]" for a in self.attempts]
        summary = "; ".join(lines) if lines else "no provider was available"
        super().__init__(f"All providers failed: {summary}", provider="RetryProvider")


def causes(error: BaseException | None) -> list[BaseException | None]:
    """The error of every attempt of a chain's failure (:class:`RetryProviderError`), or the failure itself."""
    return [a.error for a in error.attempts if a.error] if isinstance(error, RetryProviderError) else [error]


def is_context_overflow(error: BaseException | None) -> bool:
    """True when every attempt failed because the conversation exceeds the model's context even
    after the chain left out older messages: the question alone is too long for every model."""
    found = causes(error)
    return bool(found) and all(isinstance(c, ContextLengthError) for c in found)


# gpt4free's names for the same failures (``g4f.errors``), so code written for gpt4free catches ours.
MissingAuthError = AuthenticationError
ModelNotFoundError = ModelNotSupportedError
PaymentRequiredError = QuotaExceededError
ResponseError = ProviderError
