"""The message a question replies to, given to the model with the question.

A question that replies to a message (the bot's older answer, someone else's message in a group, a
forwarded text, or a part of one quoted with Telegram's quote feature) is stored and asked as that
message's text, marked as quoted, then the question::

    Quoting Alice:
    > the quoted text

    the question

The quoted text is cut to :data:`QUOTE_MAX_CHARS` characters. A reply to the bot's latest answer
as a whole (the usual way to go on in a group) repeats nothing: the model has that answer last. An
image the history already shows is not attached again. The labels are the model's, in English, as
the operator's system prompt is; people never see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.state.storage import StoredMessage

#: Characters of a replied-to message given to the model, at most (its beginning, then "…").
QUOTE_MAX_CHARS = 2000
#: The author of the bot's own message.
ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True)
class Quote:
    """The message a question replies to, as the turns see it.

    Attributes:
        text: its text or caption, or only the part the user quoted (``Message.quote``).
        author: who wrote it (a person's name, a forwarded message's origin, ``assistant`` for the
            bot's own), or None.
        partial: True when ``text`` is the part the user quoted, not the whole message.
        from_bot: True for the bot's own message.
        image: the ``file_id`` of the photo (or image file) it shows, or None.
    """

    text: str
    author: str | None = None
    partial: bool = False
    from_bot: bool = False
    image: str | None = None


def quoted_question(quote: Quote, question: str) -> str:
    """The question as the model gets it and the history keeps it: who is quoted, the quote's text
    (at most :data:`QUOTE_MAX_CHARS` characters) as Markdown quote lines, then the question."""
    text = quote.text.strip()
    if len(text) > QUOTE_MAX_CHARS:
        text = text[:QUOTE_MAX_CHARS].rstrip() + "…"
    if quote.from_bot:
        header = "Quoting your earlier answer:"
    elif quote.author:
        header = f"Quoting {quote.author}:"
    else:
        header = "Quoting:"
    block = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    quoted = f"{header}\n{block}" if block else header
    return f"{quoted}\n\n{question}" if question else quoted


#: Characters of each group message kept for context, at most (``GROUP_CONTEXT_MESSAGES``).
GROUP_MESSAGE_MAX_CHARS = 500


def with_group_context(messages: Sequence[tuple[str | None, str]], question: str) -> str:
    """The question after the group's recent messages not addressed to the bot (``(author, text)``,
    oldest first), as quote lines, each text cut to :data:`GROUP_MESSAGE_MAX_CHARS` characters."""
    lines = []
    for author, text in messages:
        cut = text if len(text) <= GROUP_MESSAGE_MAX_CHARS else text[:GROUP_MESSAGE_MAX_CHARS].rstrip() + "…"
        flat = " ".join(cut.split())
        lines.append(f"> {author}: {flat}" if author else f"> {flat}")
    if not lines:
        return question
    return "Recent messages in this chat, for context:\n" + "\n".join(lines) + f"\n\n{question}"


def already_known(quote: Quote, history: Sequence[StoredMessage]) -> bool:
    """True when ``quote`` is the whole message that showed the latest answer in ``history`` (or a
    part of it, as a long answer's later message is): the model has it last already. A part the
    user chose to quote, or an older answer, is not known: it says which part or answer they mean."""
    if not quote.from_bot or quote.partial:
        return False
    text = quote.text.strip()
    latest = next((turn.content.strip() for turn in reversed(history) if turn.role == "assistant"), "")
    return not text or (bool(latest) and (text in latest or latest in text))


def shown_images(history: Sequence[StoredMessage]) -> set[str]:
    """The ``file_id`` of every image the turns of ``history`` show."""
    return {file_id for turn in history for file_id in turn.images}
