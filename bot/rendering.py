"""Model Markdown -> Telegram ``text`` + ``entities``, split into messages that fit.

Sending entities (no ``parse_mode``) means Telegram never fails with "Can't
parse entities" on unbalanced Markdown: telegramify-markdown parses
CommonMark tolerantly and gives offsets in UTF-16 code units, as the Bot API
requires ("MessageEntity": offset and length in UTF-16 code units).
"""

from __future__ import annotations

import bisect
import logging
import re
from dataclasses import dataclass

import regex
import telegramify_markdown
from telegram import MessageEntity
from telegram.constants import MessageLimit

logger = logging.getLogger(__name__)

#: Bot API limit of sendMessage/editMessageText ``text``, in UTF-16 code units after entity parsing.
TELEGRAM_TEXT_LIMIT: int = MessageLimit.MAX_TEXT_LENGTH

_ENTITY_FIELDS = ("url", "language", "custom_emoji_id")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (characters above U+FFFF count 2)."""
    return telegramify_markdown.utf16_len(text)


@dataclass(frozen=True, slots=True)
class Part:
    """The content of one Telegram message: text and its entities (UTF-16 offsets)."""

    text: str
    entities: tuple[MessageEntity, ...] = ()


#: A link still being written at the end of a partial answer: ``[text](http://exa`` or ``[text``.
_OPEN_LINK = re.compile(r"(?:^|(?<=\s))\[([^\]\n]*)(?:\]\([^)\s]*)?$")
_FENCED = re.compile(r"```.*?```", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def close_open_markup(markdown: str) -> str:
    """A partial answer as it should be shown while the model still writes it: markup it has opened
    and not yet closed is closed (``Here is **bo`` -> ``Here is **bo**``, shown as bold "bo"), an
    opener with nothing after it yet is dropped, and a link still being written shows as its text,
    so the user never sees raw ``**``, ````` or ``[text](htt`` flash by. An open code fence needs
    nothing: CommonMark already renders it as a code block. The final answer is rendered as written.
    """
    if markdown.count("```") % 2:
        return markdown
    outside = _FENCED.sub("", markdown)
    if outside.count("`") % 2:
        return markdown[:-1] if markdown.endswith("`") else markdown + "`"
    link = _OPEN_LINK.search(markdown)
    if link is not None:
        markdown = markdown[: link.start()] + link.group(1)
        outside = _FENCED.sub("", markdown)
    prose = _INLINE_CODE.sub("", outside)
    for marker in ("**", "~~", "__"):
        if prose.count(marker) % 2:
            markdown = markdown[: -len(marker)] if markdown.endswith(marker) else markdown.rstrip() + marker
    return markdown


def render_markdown(markdown: str) -> tuple[str, list[MessageEntity]]:
    """Convert Markdown to plain text and entities; falls back to the raw text if the parser fails."""
    try:
        text, entities = telegramify_markdown.convert(markdown)
    except Exception:
        logger.exception("Markdown conversion failed; sending plain text")
        return markdown, []
    converted = [
        MessageEntity(
            type=e.type, offset=e.offset, length=e.length, **{f: getattr(e, f) for f in _ENTITY_FIELDS if getattr(e, f)}
        )
        for e in entities
        if e.length > 0
    ]
    return text, converted


def _utf16_offsets(text: str) -> list[int]:
    """offsets[i] = UTF-16 offset of ``text[i]``; one extra entry for the end."""
    offsets = [0] * (len(text) + 1)
    total = 0
    for i, char in enumerate(text):
        offsets[i] = total
        total += 2 if ord(char) > 0xFFFF else 1
    offsets[len(text)] = total
    return offsets


def _cut(text: str, start: int, end_max: int) -> int:
    """Where to end a message that starts at ``start`` and may reach ``end_max`` (exclusive).

    Prefers a paragraph break, then a line break, then a space, in the second
    half of the window; else cuts at the last grapheme-cluster boundary before ``end_max``
    (Unicode UAX #29: never between a letter and its combining marks, inside a ZWJ emoji
    sequence or a flag).
    """
    if end_max >= len(text):
        return len(text)
    floor = start + (end_max - start) // 2
    for separator in ("\n\n", "\n", " "):
        at = text.rfind(separator, floor, end_max)
        if at > start:
            return at + len(separator)
    return _grapheme_boundary(text, start, end_max)


#: Characters looked at before a cut to find a grapheme-cluster boundary.
_GRAPHEME_WINDOW = 64


def _grapheme_boundary(text: str, start: int, end: int) -> int:
    """The last boundary between extended grapheme clusters at or before ``end`` and after
    ``start``; ``end`` itself when none is found in the window (one cluster longer than a message)."""
    lo = max(start, end - _GRAPHEME_WINDOW)
    boundary = end
    for cluster in regex.finditer(r"\X", text, pos=lo, endpos=min(len(text), end + _GRAPHEME_WINDOW)):
        if cluster.end() > end:
            boundary = cluster.start()
            break
    return boundary if boundary > start else end


def split_rendered(
    text: str, entities: list[MessageEntity] | tuple[MessageEntity, ...], limit: int = TELEGRAM_TEXT_LIMIT
) -> list[Part]:
    """Split rendered text into parts of at most ``limit`` UTF-16 code units.

    Cuts at paragraph, line or word boundaries (see :func:`_cut`); entities
    crossing a cut are clipped into both parts. Leading and trailing whitespace
    of each part is dropped (Telegram trims it) and whitespace-only parts are
    omitted.
    """
    offsets = _utf16_offsets(text)
    parts: list[Part] = []
    start = 0
    while start < len(text):
        # Largest end such that the UTF-16 length of text[start:end] <= limit.
        largest = bisect.bisect_right(offsets, offsets[start] + limit, lo=start) - 1
        end_max = max(largest, start + 1)
        end = _cut(text, start, end_max)
        part_start, part_end = start, end
        while part_start < part_end and text[part_start].isspace():
            part_start += 1
        while part_end > part_start and text[part_end - 1].isspace():
            part_end -= 1
        if part_start < part_end:
            parts.append(_slice(text, entities, offsets, part_start, part_end))
        start = end
    return parts


def _slice(
    text: str, entities: list[MessageEntity] | tuple[MessageEntity, ...], offsets: list[int], start: int, end: int
) -> Part:
    lo, hi = offsets[start], offsets[end]
    clipped = []
    for entity in entities:
        e_start, e_end = max(entity.offset, lo), min(entity.offset + entity.length, hi)
        if e_end > e_start:
            clipped.append(
                MessageEntity(
                    type=entity.type,
                    offset=e_start - lo,
                    length=e_end - e_start,
                    url=entity.url,
                    language=entity.language,
                    custom_emoji_id=entity.custom_emoji_id,
                )
            )
    return Part(text[start:end], tuple(clipped))


def render_parts(markdown: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[Part]:
    """Markdown -> the messages that show it, each within ``limit`` UTF-16 code units."""
    text, entities = render_markdown(markdown)
    return split_rendered(text, entities, limit)


def plain_parts(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[Part]:
    """The same split without formatting: the fallback when Telegram refuses entities."""
    return split_rendered(text, (), limit)
