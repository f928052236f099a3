"""The text catalog (bot/texts/catalog.py): every language complete, plurals by CLDR, English as the code has it."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

import bot.texts as texts
from bot.texts.catalog import LOCALES, TextCatalog

from .sources import tree

CATALOG = TextCatalog.load()


def entries(language: str) -> dict[str, tuple[str, ...]]:
    with (LOCALES / f"{language}.po").open("rb") as source:
        catalog = read_po(source, locale=language)
    return {
        (message.id[0] if isinstance(message.id, tuple) else message.id): (
            tuple(message.string) if isinstance(message.string, tuple | list) else (message.string,)
        )
        for message in catalog
        if message.id
    }


def placeholders(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name}


@pytest.mark.parametrize("language", [p.stem for p in sorted(LOCALES.glob("*.po"))])
def test_every_language_has_every_key_with_the_same_placeholders_and_its_plural_forms(language: str) -> None:
    english, other = entries("en"), entries(language)
    assert set(other) == set(english), set(other) ^ set(english)
    plural_forms = get_plural(language).num_plurals
    for key, forms in other.items():
        assert all(form.strip() for form in forms), f"{language}: {key} is empty"
        for form in forms:
            assert placeholders(form) == placeholders(english[key][0]), f"{language}: {key}: {form!r}"
        if len(english[key]) > 1:  # a plural entry: one form per CLDR category
            assert len(forms) == plural_forms, f"{language}: {key} has {len(forms)} forms, CLDR {plural_forms}"


def test_every_sentence_the_code_names_is_in_the_catalog() -> None:
    """``texts.NAME`` and ``texts.say("NAME")`` in the code name a catalog key (a missing one would
    raise AttributeError, or show its key), and every command of the menu has its description."""
    root = Path(__file__).resolve().parent.parent
    english = entries("en")
    named: set[str] = set()
    for path in (root / "bot").rglob("*.py"):
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "texts" and node.attr.isupper():
                named.add(node.attr)
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) == "texts.say"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                named.add(str(node.args[0].value))
    named -= {"CATALOG", "COMMAND_NAMES"}
    assert named and not named - set(english), sorted(named - set(english))
    assert {f"COMMAND_{name}" for name in texts.COMMAND_NAMES} <= set(english)
    with pytest.raises(AttributeError):
        texts.NO_SUCH_SENTENCE  # noqa: B018


@pytest.mark.parametrize(
    ("count", "russian", "english"),
    [
        (1, "1 сообщение", "1 message"),
        (2, "2 сообщения", "2 messages"),
        (5, "5 сообщений", "5 messages"),
        (11, "11 сообщений", "11 messages"),
        (21, "21 сообщение", "21 messages"),
        (22, "22 сообщения", "22 messages"),
        (25, "25 сообщений", "25 messages"),
        (0, "0 сообщений", "0 messages"),
        (1200, "1\xa0200 сообщений", "1,200 messages"),
    ],
)
def test_plurals_follow_each_languages_cldr_rule(count: int, russian: str, english: str) -> None:
    assert CATALOG.plural("ru", "UNIT_MESSAGE", count) == russian
    assert CATALOG.plural("en", "UNIT_MESSAGE", count) == english


def test_languages_are_chosen_by_their_base_tag_and_fall_back_to_english() -> None:
    assert CATALOG.languages[0] == "en" and "ru" in CATALOG.languages
    assert CATALOG.language("ru-RU") == CATALOG.language("ru") == CATALOG.language("RU") == "ru"
    assert CATALOG.language("xx-YY") == CATALOG.language(None) == "en"
    assert CATALOG.language("xx", default="ru") == "ru"
    assert CATALOG.text("ru", "TOO_LONG", length=5000, limit=4000).startswith("Это сообщение слишком длинное")
    assert CATALOG.text("xx", "STOPPED") == "Stopped."


def test_a_language_is_one_file_and_a_broken_one_is_named(tmp_path: Path) -> None:
    for name in ("en.po", "ru.po"):
        (tmp_path / name).write_bytes((LOCALES / name).read_bytes())
    (tmp_path / "de.po").write_text('msgid ""\nmsgstr ""\n"Language: de\\n"\n\nmsgid "STOPPED"\nmsgstr "Angehalten."\n')
    catalog = TextCatalog.load(tmp_path)
    assert catalog.languages == ["en", "de", "ru"]
    assert catalog.text("de", "STOPPED") == "Angehalten." and catalog.text("de", "STOP_STALE") == texts.STOP_STALE
    assert catalog.has("STOPPED") and not catalog.has("NO_SUCH_SENTENCE")
    (tmp_path / "xx.po").write_text('msgid "unterminated\n')
    with pytest.raises(ValueError, match=r"xx\.po"):
        TextCatalog.load(tmp_path)


#: Calls that put text in front of a person: the argument that holds it (position, keyword).
SENDERS = {
    "reply_text": (0, "text"),
    "send_message": (1, "text"),
    "edit_message_text": (0, "text"),
    "answer": (0, "text"),
    "say": (0, "text"),
    "InlineKeyboardButton": (0, "text"),
    "Part": (0, "text"),
}
#: Where the bot's sentences are made: handlers, the turn service, the streamer, keyboards, wiring.
SPEAKERS = ["handlers", "turns/service.py", "telegram/streaming.py", "telegram/keyboards.py", "app/wiring.py"]


def literal_words(node: ast.AST) -> list[str]:
    """The pieces of text written into the code in ``node`` (a literal, an f-string's literal parts,
    a ``+`` of them) that hold a letter: a sentence that does not come from the catalog."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if re.search(r"[^\W\d_]", node.value) else []
    if isinstance(node, ast.JoinedStr):
        return [w for part in node.values for w in literal_words(part)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal_words(node.left) + literal_words(node.right)
    if isinstance(node, ast.IfExp):
        return literal_words(node.body) + literal_words(node.orelse)
    return []


def test_no_sentence_reaches_a_person_outside_the_catalog() -> None:
    """Every text sent, edited, answered, said or put on a button comes from the catalog: a literal
    with a letter in it, in those calls, fails here (emoji, ellipses and names built from values pass)."""
    root = Path(__file__).resolve().parent.parent / "bot"
    paths = [p for spot in SPEAKERS for p in ((root / spot).rglob("*.py") if (root / spot).is_dir() else [root / spot])]
    found = []
    for path in paths:
        for node in ast.walk(tree(path)):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in SENDERS or ast.unparse(node.func) == "texts.say":  # texts.say takes a key
                continue
            position, keyword = SENDERS[name]
            arguments = [k.value for k in node.keywords if k.arg == keyword]
            if len(node.args) > position:
                arguments.append(node.args[position])
            for argument in arguments:
                for words in literal_words(argument):
                    found.append(f"{path.relative_to(root)}:{node.lineno} {words!r}")
    assert not found, "\n".join(found)
