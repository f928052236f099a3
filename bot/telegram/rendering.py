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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import pyromark
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


def _spans(text: str, offsets: list[int], limit: int, start: int = 0) -> Iterator[tuple[int, int, int, int]]:
    """The greedy split of ``text`` from ``start``: for each message, ``(part_start, part_end, end,
    end_max)``: the part shown (whitespace trimmed; empty when it was whitespace only), where the
    next message starts, and how far the cut looked (see :func:`_cut`)."""
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
        yield part_start, part_end, end, end_max
        start = end


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
    return [
        _slice(text, entities, offsets, part_start, part_end)
        for part_start, part_end, _, _ in _spans(text, offsets, limit)
        if part_start < part_end
    ]


def _placed(entity: MessageEntity, offset: int, length: int) -> MessageEntity:
    """``entity`` moved to ``offset`` with ``length`` (UTF-16 code units)."""
    return MessageEntity(
        type=entity.type,
        offset=offset,
        length=length,
        url=entity.url,
        language=entity.language,
        custom_emoji_id=entity.custom_emoji_id,
    )


def joined(first: Part, second: Part, separator: str = "\n\n") -> Part:
    """One message: ``first``, ``separator``, then ``second`` (its entities moved past the rest)."""
    shift = utf16_len(first.text) + utf16_len(separator)
    moved = tuple(_placed(entity, entity.offset + shift, entity.length) for entity in second.entities)
    return Part(first.text + separator + second.text, first.entities + moved)


def folded_quote(title: str, text: str, chars: int) -> Part | None:
    """The end of ``text`` as an expandable blockquote (Bot API MessageEntity ``expandable_blockquote``,
    offsets in UTF-16 code units): ``title`` on its first line (if any), then the end of ``text``,
    stripped, at most ``chars`` UTF-16 code units of it (so at most ``chars`` characters), with ``…``
    where it was cut. None when ``chars`` is 0 or ``text`` is blank."""
    body = text.strip()
    if chars <= 0 or not body:
        return None
    if utf16_len(body) > chars:
        tail = body[-chars:]
        excess = utf16_len(tail) - chars
        start = 0
        while excess > 0:  # characters above U+FFFF take two units
            excess -= 2 if ord(tail[start]) > 0xFFFF else 1
            start += 1
        body = "…" + tail[start:].lstrip()
    quoted = f"{title}\n{body}" if title else body
    return Part(quoted, (MessageEntity(MessageEntity.EXPANDABLE_BLOCKQUOTE, 0, utf16_len(quoted)),))


def _slice(
    text: str, entities: list[MessageEntity] | tuple[MessageEntity, ...], offsets: list[int], start: int, end: int
) -> Part:
    lo, hi = offsets[start], offsets[end]
    clipped = []
    for entity in entities:
        e_start, e_end = max(entity.offset, lo), min(entity.offset + entity.length, hi)
        if e_end > e_start:
            clipped.append(_placed(entity, e_start - lo, e_end - e_start))
    return Part(text[start:end], tuple(clipped))


def render_parts(markdown: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[Part]:
    """Markdown -> the messages that show it, each within ``limit`` UTF-16 code units."""
    text, entities = render_markdown(markdown)
    return split_rendered(text, entities, limit)


def plain_parts(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[Part]:
    """The same split without formatting: the fallback when Telegram refuses entities."""
    return split_rendered(text, (), limit)


def _blocks(markdown: str) -> list[tuple[int, str]]:
    """The top-level blocks of ``markdown`` as (offset in characters of the line where the block
    starts, kind: ``Paragraph``, ``Heading``, ``List``, ``CodeBlock``, ``Table``...), parsed as
    telegramify-markdown parses it (pyromark)."""
    starts: list[int] = []
    kinds: list[str] = []
    depth = 0
    data = markdown.encode("utf-8")
    for event, span in pyromark.events_with_range(markdown, options=telegramify_markdown.converter.STANDARD_OPTIONS):
        if not isinstance(event, dict):
            continue
        if "Start" in event:
            if depth == 0:
                starts.append(span["start"])
                tag = event["Start"]
                kinds.append(tag if isinstance(tag, str) else next(iter(tag)))
            depth += 1
        elif "End" in event:
            depth -= 1
    # A block's range may start after its indentation (an indented code block does): from its line.
    lines = [data.rfind(b"\n", 0, b) + 1 for b in starts]
    if len(data) != len(markdown):
        lines = [len(data[:b].decode("utf-8", "ignore")) for b in lines]
    return list(zip(lines, kinds, strict=True))


#: An open paragraph is cut (:func:`_paragraph_cut`) once this many characters of it are written...
_PARAGRAPH_PIECE = 1024
#: ...and this many more after the cut, which stay open.
_PARAGRAPH_OPEN = 256
#: Characters that may take part in inline markup (emphasis, code, links, math, escapes, HTML).
_MARKUP = frozenset("*_~`[]<>$\\&|!")


def _paragraph_cut(source: str) -> int | None:
    """Where a long paragraph still being written can be cut so that each side converts alone as in
    the whole: a space inside the paragraph's first line, at least ``_PARAGRAPH_PIECE`` characters in
    and ``_PARAGRAPH_OPEN`` from the end, before a letter (so the rest cannot start a block), with
    no markup before it left open (every emphasis, code span and link before it closed; no
    delimiter, escape or bracket left as text). None when there is no such place."""
    if len(source) < _PARAGRAPH_PIECE + _PARAGRAPH_OPEN:
        return None
    end = len(source) - _PARAGRAPH_OPEN
    line_end = source.find("\n", 0, end)
    if line_end != -1:
        end = line_end
    at = source.rfind(" ", _PARAGRAPH_PIECE, end)
    if at == -1 or not source[at + 1].isalpha():
        return None
    depth = 0
    blocks = 0
    for event, _ in pyromark.events_with_range(source[:at], options=telegramify_markdown.converter.STANDARD_OPTIONS):
        if not isinstance(event, dict):
            return None  # a soft or hard break, a rule: not a plain run of text
        if "Start" in event:
            if depth == 0:
                blocks += 1
                if event["Start"] != "Paragraph":
                    return None
            depth += 1
        elif "End" in event:
            depth -= 1
        elif "Text" in event and not _MARKUP.isdisjoint(event["Text"]):
            return None
    return at if blocks == 1 else None


#: Characters after a cut window that may still move the cut (:func:`_grapheme_boundary` looks ahead).
_CUT_LOOKAHEAD = _GRAPHEME_WINDOW + 1


#: A paragraph converted first so that what follows converts as a block that is not the first.
_FIRST_BLOCK = "x\n\n"


class _Snapshot(NamedTuple):
    """What :class:`GrowingRender` had settled at some point (see its fields there)."""

    source: str
    kept: int
    text: str
    entities: list[MessageEntity]
    separator: str
    trailing: int


class GrowingRender:
    """The messages of an answer that is still being written, with each finished message rendered once.

    :func:`render_parts` of a growing answer costs the whole answer at every edit. Here the top-level
    blocks the model has finished (each followed by another) are converted once and joined as
    telegramify-markdown joins blocks; only the open last block is converted again (with
    :func:`close_open_markup`), and a message whose cut cannot move any more (the finished blocks
    reach past its window) is kept and never split again. So an edit costs the open block and the
    last message or two, not the answer. The parts kept are the first parts of
    ``render_parts(answer)`` whenever the blocks convert alone as they do in the whole answer (always
    but for Markdown that reaches across blocks, such as a link reference defined further down);
    the final answer is rendered whole (:func:`render_parts`), and the streamer edits any part
    that differs.

    Args:
        limit: message length limit in UTF-16 code units (Bot API sendMessage: 4096).
    """

    def __init__(self, limit: int = TELEGRAM_TEXT_LIMIT) -> None:
        self.limit = limit
        self._reset()

    def _reset(self) -> None:
        self._source = ""  # the answer's settled Markdown (finished blocks, the cut start of a paragraph)
        self._kept: list[Part] = []  # messages whose content is final
        self._text = ""  # rendered finished blocks, from the first message not kept
        self._entities: list[MessageEntity] = []  # theirs, UTF-16 offsets into _text
        self._separator = ""  # what joins the finished text and the next piece ("\n", "\n\n" or " ")
        self._trailing = 0  # line breaks that end the finished blocks' text
        # The state before the open paragraph was first cut: a line that follows may still turn the
        # whole paragraph into a heading (``===`` below it) or a table header, and undo the cuts.
        self._before_cut: _Snapshot | None = None

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(self._source, len(self._kept), self._text, self._entities, self._separator, self._trailing)

    def _restore(self, snapshot: _Snapshot) -> None:
        self._source, kept, self._text, self._entities, self._separator, self._trailing = snapshot
        del self._kept[kept:]
        self._before_cut = None

    @property
    def kept(self) -> tuple[Part, ...]:
        """The first messages of the answer, whose content can no longer change."""
        if self._before_cut is not None:
            return tuple(self._kept[: self._before_cut.kept])
        return tuple(self._kept)

    def parts(self, markdown: str) -> list[Part]:
        """The messages that show ``markdown``, a partial answer (open markup closed), each within
        ``limit`` UTF-16 code units. A ``markdown`` that does not extend the last one starts over."""
        if not markdown.startswith(self._source):
            self._reset()
        self._settle(markdown)
        tail_text, tail_entities = self._render(close_open_markup(markdown[len(self._source) :]))
        text, entities = self._join(tail_text, tail_entities)
        offsets = _utf16_offsets(text)
        fresh: list[Part] = []
        settled = len(self._text)
        kept_to = 0
        for part_start, part_end, end, end_max in _spans(text, offsets, self.limit):
            part = _slice(text, entities, offsets, part_start, part_end) if part_start < part_end else None
            if end_max + _CUT_LOOKAHEAD <= settled and end <= settled and not fresh:
                if part is not None:
                    self._kept.append(part)
                kept_to = end
            elif part is not None:
                fresh.append(part)
        if kept_to:
            self._drop(kept_to, offsets[kept_to])
        return [*self._kept, *fresh]

    def _settle(self, markdown: str) -> None:
        """Convert the blocks of ``markdown`` past the settled source that another block follows, and
        the start of a long open paragraph that can be cut (see :func:`_paragraph_cut`)."""
        open_source = markdown[len(self._source) :]
        # Only whole lines: a line still being written may turn out to continue the block before
        # (``2`` is a paragraph until ``2. b`` continues the numbered list above it).
        blocks = _blocks(open_source[: open_source.rfind("\n") + 1])
        if self._before_cut is not None and blocks and blocks[0][1] != "Paragraph":
            # The paragraph that was cut became a heading or a table: convert it whole after all.
            self._restore(self._before_cut)
            open_source = markdown[len(self._source) :]
            blocks = _blocks(open_source[: open_source.rfind("\n") + 1])
        if len(blocks) >= 2:
            finished = open_source[: blocks[-1][0]]
            tail = finished[len(finished.rstrip(" \t\n\r>")) :]
            self._finish(finished, "\n\n" if tail.count("\n") >= 2 else "\n")
            self._before_cut = None  # the cut paragraph, if any, ended as a paragraph
            open_source = open_source[len(finished) :]
            blocks = blocks[-1:]
        if blocks and blocks[0][1] != "Paragraph":
            return
        cut = _paragraph_cut(open_source)
        if cut is not None:
            if self._before_cut is None:
                self._before_cut = self._snapshot()
            self._finish(open_source[:cut], " ", consumed=cut + 1)

    def _finish(self, source: str, separator: str, consumed: int | None = None) -> None:
        """``source`` is final: convert it once and join it to the finished text; the next piece
        follows ``separator`` (block spacing, or the space a paragraph was cut at)."""
        text, entities = self._render(source)
        self._text, self._entities = self._join(text, entities)
        if text:
            self._trailing = len(text) - len(text.rstrip("\n"))
        self._separator = separator
        self._source += source if consumed is None else source + separator

    def _render(self, source: str) -> tuple[str, list[MessageEntity]]:
        """``render_markdown(source)`` as ``source`` renders after the settled blocks: telegramify-markdown
        spaces the blocks nested in a list one way in the first block and another way later, so a
        block that is not the first converts after a stand-in first block, then cut off."""
        if not self._source:
            return render_markdown(source)
        text, entities = render_markdown(_FIRST_BLOCK + source)
        if not text.startswith(_FIRST_BLOCK):
            return render_markdown(source)
        cut = len(_FIRST_BLOCK)  # the same in UTF-16 code units: ASCII
        return text[cut:], [_placed(e, e.offset - cut, e.length) for e in entities if e.offset >= cut]

    def _join(self, text: str, entities: list[MessageEntity]) -> tuple[str, list[MessageEntity]]:
        """The finished text followed by ``text``, spaced as telegramify-markdown spaces two blocks
        (one line break, two after a blank line in the source), or by the space of a paragraph cut."""
        if not self._source:
            return text, entities
        if not text:
            return self._text, self._entities
        if self._separator == " ":
            joined = self._text + " "
        else:
            joined = self._text + "\n" * max(0, len(self._separator) - self._trailing)
        shift = utf16_len(joined)
        moved = [_placed(e, e.offset + shift, e.length) for e in entities]
        return joined + text, [*self._entities, *moved]

    def _drop(self, chars: int, units: int) -> None:
        """Forget the first ``chars`` characters (``units`` UTF-16 code units) of the finished text."""
        self._text = self._text[chars:]
        kept = []
        for e in self._entities:
            start, end = max(e.offset - units, 0), e.offset + e.length - units
            if end > start:
                kept.append(_placed(e, start, end - start))
        self._entities = kept
