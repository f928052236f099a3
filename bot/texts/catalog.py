"""The text catalog: every sentence in every language, keyed by name, in gettext catalogs (Babel).

One file per language, ``bot/texts/locales/LANG.po``: adding a language is adding its file (the
tests hold it to the same keys and placeholders as English, and to its CLDR plural forms). The
files are compiled in memory at start-up (``babel.messages.mofile.write_mo``), so no compiled form
is committed, stale or not. Plural entries follow each language's CLDR plural rules through the
``Plural-Forms`` header Babel derives from CLDR (Russian: one, few, many: 1, 2, 5, 11, 21 сообщение,
сообщения, сообщений...), never hand-made pairs.

Lookups fall back to English, then to the key itself, so a missing translation shows English, never
nothing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

#: The catalogs' folder.
LOCALES = Path(__file__).resolve().parent / "locales"
#: The language of the keys' fallback texts.
FALLBACK = "en"


class TextCatalog:
    """Every language's sentences. Build with :meth:`load` at start-up.

    Args:
        translations: compiled catalogs by language code (``en``, ``ru``...).
        keys: the sentences' keys (English's).
    """

    def __init__(self, translations: dict[str, Translations], keys: set[str]) -> None:
        if FALLBACK not in translations:
            raise ValueError(f"the catalog needs {FALLBACK}.po")
        self._translations = translations
        self._keys = frozenset(keys)

    @classmethod
    def load(cls, folder: Path = LOCALES) -> TextCatalog:
        """Read and compile every ``*.po`` of ``folder``.

        Raises:
            ValueError: a file cannot be read as a gettext catalog (its name in the message), or
                there is no English one.
        """
        translations: dict[str, Translations] = {}
        keys: set[str] = set()
        for path in sorted(folder.glob("*.po")):
            try:
                with path.open("rb") as source:
                    catalog = read_po(source, locale=path.stem, abort_invalid=True)
            except Exception as error:  # noqa: BLE001 - Babel raises several kinds; one line naming the file
                raise ValueError(f"{path.name} is not a readable gettext catalog: {error}") from None
            compiled = io.BytesIO()
            write_mo(compiled, catalog)
            compiled.seek(0)
            translations[path.stem] = Translations(compiled)
            if path.stem == FALLBACK:
                keys = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
        return cls(translations, keys)

    def has(self, key: str) -> bool:
        """True when ``key`` is a sentence of the (English) catalog."""
        return key in self._keys

    @property
    def languages(self) -> list[str]:
        """The languages with a catalog, English first."""
        return [FALLBACK, *sorted(code for code in self._translations if code != FALLBACK)]

    def language(self, code: str | None, default: str = FALLBACK) -> str:
        """The catalog's language for an IETF tag such as Telegram's ``language_code`` (``ru-RU``
        and ``ru`` are both ``ru``); ``default`` when there is none for it."""
        if code:
            base = code.replace("_", "-").split("-", 1)[0].lower()
            if base in self._translations:
                return base
        return default if default in self._translations else FALLBACK

    def text(self, language: str, key: str, /, **values: Any) -> str:
        """The sentence ``key`` in ``language`` (else English), its ``{placeholders}`` filled from ``values``.

        Raises:
            KeyError: a placeholder of the sentence has no value.
        """
        sentence = self._translations[self.language(language)].gettext(key)
        if sentence == key and language != FALLBACK:
            sentence = self._translations[FALLBACK].gettext(key)
        return sentence.format(**values) if values else sentence

    def plural(self, language: str, key: str, count: int, /, **values: Any) -> str:
        """The form of ``key`` that ``count`` takes in ``language`` (its CLDR plural rule), with
        ``{count}`` written as the language writes numbers (``1,200``; ``1 200``)."""
        language = self.language(language)
        sentence = self._translations[language].ngettext(key, key, count)
        if sentence == key and language != FALLBACK:
            language = FALLBACK
            sentence = self._translations[FALLBACK].ngettext(key, key, count)
        return sentence.format(count=format_decimal(count, locale=Locale.parse(language)), **values)
