"""Speech to text through any OpenAI-compatible ``POST {base_url}/audio/transcriptions``.

OpenAI, Groq and local whisper servers (faster-whisper-server, LocalAI, whisper.cpp's server)
take the same multipart request (OpenAI API reference, "Create transcription"): a ``file`` part
with the audio, a ``model`` field (``whisper-1``, ``whisper-large-v3``...) and
``response_format=json``; the answer is ``{"text": "..."}``. Telegram voice notes are OGG/Opus,
which these servers accept as ``.ogg``.
"""

from __future__ import annotations

import aiohttp

from .errors import ProtocolError, ProviderError
from .http import TRANSPORT_ERRORS, connection_error, open_session, raise_for_status


class Transcriber:
    """Turns audio into text.

    Args:
        base_url: API root including the version, e.g. ``https://api.openai.com/v1``.
        api_key: sent as ``Authorization: Bearer``; None for a local server.
        model: the speech model's name on that server.
        proxy: ``http``/``https``/``socks4``/``socks5`` URL, or None.
        timeout: seconds for the whole request (upload, recognition, answer).
    """

    name = "transcription"

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        model: str = "whisper-1",
        proxy: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or None
        self.model = model
        self.proxy = proxy
        self.timeout = timeout

    async def transcribe(self, audio: bytes, filename: str = "voice.ogg", content_type: str = "audio/ogg") -> str:
        """The text spoken in ``audio`` ("" when nothing was said).

        Raises:
            ProviderError: the typed error of the failure (:class:`~providers.errors.AuthenticationError`,
                :class:`~providers.errors.RateLimitError`, :class:`~providers.errors.ServerError`,
                :class:`~providers.errors.ProviderConnectionError`...); ProtocolError for an
                answer without ``text``.
        """
        form = aiohttp.FormData()
        form.add_field("file", audio, filename=filename, content_type=content_type)
        form.add_field("model", self.model)
        form.add_field("response_format", "json")
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            async with open_session(self.proxy, headers) as session:
                url, limit = f"{self.base_url}/audio/transcriptions", aiohttp.ClientTimeout(total=self.timeout)
                async with session.post(url, data=form, timeout=limit) as response:
                    await raise_for_status(response, self.name)
                    body = await response.json(content_type=None)
        except ProviderError:
            raise  # typed already (an HTTP status error is also an aiohttp.ClientError)
        except TRANSPORT_ERRORS as error:
            raise connection_error(error, self.name) from error
        except ValueError as error:
            raise ProtocolError(f"the transcription is not JSON: {error}", provider=self.name) from error
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise ProtocolError("the transcription has no text", provider=self.name)
        return text.strip()
