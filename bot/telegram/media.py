"""Photos and files people send: which size to take, what a document is, and downloads.

Downloads go through the Bot API (getFile, then ``{base_file_url}{token}/{file_path}``; Bot API
"getFile": files up to 20 MB). History keeps an image's ``file_id`` only; its bytes are fetched
again when a later turn resends it, through a small in-memory cache.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import PurePosixPath

from telegram import Bot, Document, PhotoSize

#: Bytes a bot may download through getFile (Bot API "getFile": up to 20 MB).
DOWNLOAD_LIMIT = 20 * 1000 * 1000
#: Document MIME types read as text, besides every ``text/*``.
TEXT_MIME_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/x-yaml",
        "application/yaml",
        "application/toml",
        "application/javascript",
        "application/x-sh",
        "application/sql",
        "application/x-python",
        "application/x-python-code",
        "application/csv",
    }
)
#: File name extensions read as text when Telegram gives no (or a generic) MIME type.
TEXT_EXTENSIONS = frozenset(
    ".txt .md .markdown .rst .py .json .jsonl .csv .tsv .yaml .yml .toml .ini .cfg .conf .log .xml .html .css"
    " .js .ts .tsx .jsx .java .kt .c .h .cpp .hpp .cs .go .rs .rb .php .swift .sh .sql .r .lua .pl .tex".split()
)
#: Image types the models take (OpenAI Vision: PNG, JPEG, WEBP, non-animated GIF).
IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


def pick_photo(sizes: Sequence[PhotoSize], max_bytes: int) -> PhotoSize | None:
    """The largest of Telegram's sizes of a photo (it sends several, smallest first) whose
    ``file_size`` is at most ``max_bytes``; None when even the smallest is larger."""
    fitting = [s for s in sizes if (s.file_size or 0) <= max_bytes]
    return max(fitting, key=lambda s: (s.width * s.height, s.file_size or 0), default=None)


def document_kind(document: Document) -> str | None:
    """``"image"`` for a picture sent as a file, ``"text"`` for a text file (by MIME type, else by
    extension), None for anything else."""
    mime = (document.mime_type or "").lower()
    if mime in IMAGE_MIME_TYPES:
        return "image"
    if mime.startswith("text/") or mime in TEXT_MIME_TYPES:
        return "text"
    suffix = PurePosixPath(document.file_name or "").suffix.lower()
    if suffix in TEXT_EXTENSIONS and mime in ("", "application/octet-stream"):
        return "text"
    return None


def decode_text(data: bytes) -> str | None:
    """The text of a file in UTF-8 (a BOM is dropped), or None when it is not text (binary, or
    another encoding)."""
    if b"\x00" in data:  # UTF-8 allows NUL; text files never hold one
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def data_url(data: bytes, mime: str = "image/jpeg") -> str:
    """``data:{mime};base64,...``: how an image goes to the model inline (OpenAI ``image_url.url``)."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class FileTooBigError(Exception):
    """A file over its limit; ``size`` is its size in bytes, as getFile declared it or as it came."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


async def download(bot: Bot, file_id: str, max_bytes: int = DOWNLOAD_LIMIT) -> bytes:
    """The file's bytes (getFile, then the download URL), at most ``max_bytes``: a size getFile
    declares over it is refused before downloading, and a file without a declared size (the Bot
    API makes ``file_size`` optional) is refused once it came larger.

    Raises:
        FileTooBigError: the file is larger than ``max_bytes``.
        telegram.error.TelegramError: Telegram refused (unknown file_id, over 20 MB) or the
            download failed.
    """
    file = await bot.get_file(file_id)
    if file.file_size is not None and file.file_size > max_bytes:
        raise FileTooBigError(file.file_size)
    data = bytes(await file.download_as_bytearray())
    if len(data) > max_bytes:
        raise FileTooBigError(len(data))
    return data


class ImageCache:
    """Recently used images by ``file_id`` with their MIME type, at most ``max_bytes`` in all (least
    recently used dropped)."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._size = 0

    def put(self, file_id: str, data: bytes, mime: str = "image/jpeg") -> None:
        """Remember ``data`` for ``file_id``."""
        if file_id in self._items:
            self._size -= len(self._items.pop(file_id)[0])
        self._items[file_id] = (data, mime)
        self._size += len(data)
        while self._size > self.max_bytes and len(self._items) > 1:
            _, (dropped, _) = self._items.popitem(last=False)
            self._size -= len(dropped)

    async def get(self, bot: Bot, file_id: str) -> tuple[bytes, str]:
        """The image's bytes and MIME type, from the cache or downloaded again (see :func:`download`;
        a photo is JPEG)."""
        item = self._items.get(file_id)
        if item is None:
            item = (await download(bot, file_id), "image/jpeg")
            self.put(file_id, *item)
        else:
            self._items.move_to_end(file_id)
        return item
