"""Reading the files an operator names in the settings (``PROMPTS_FILE``, ``PRICES_FILE``)."""

from __future__ import annotations

from pathlib import Path

#: The largest operator file read, bytes: a presets or price list is a few kilobytes.
MAX_OPERATOR_FILE_BYTES = 1_000_000


class OperatorFileError(ValueError):
    """The file cannot be used; the message says why in one line."""


def read_operator_file(path: Path, max_bytes: int = MAX_OPERATOR_FILE_BYTES) -> str:
    """The UTF-8 text of ``path``: a regular file of at most ``max_bytes`` bytes. A FIFO, a device
    (``/dev/zero``) or a folder is refused before anything is read, so start-up never hangs or
    fills memory; at most ``max_bytes + 1`` bytes are read, even from a file that grows.

    Raises:
        OperatorFileError: missing, not a regular file, too large, unreadable, holding NUL bytes or
            not UTF-8. The message never quotes the file's content.
    """
    try:
        if not path.exists():
            raise OperatorFileError(f"cannot read {path}: No such file or directory")
        if not path.is_file():
            raise OperatorFileError(f"{path} is not a regular file")
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise OperatorFileError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise OperatorFileError(f"{path} is larger than {max_bytes // 1000} KB; is it the right file?")
    if b"\0" in data:  # /proc/self/environ, a database, an image: never echoed, never parsed
        raise OperatorFileError(f"{path} is not a text file (it holds NUL bytes); is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OperatorFileError(f"{path} is not UTF-8 text (byte {error.start} is not UTF-8)") from None
