"""Markdown rendering and splitting into messages that fit Telegram's limit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rendering import plain_parts, render_markdown, render_parts, split_rendered, utf16_len

TEXT = st.text(
    alphabet=st.sampled_from(list("abc xyz\n*_`#-[]()😀ж\t"))
    | st.characters(min_codepoint=0x1F300, max_codepoint=0x1F6FF),
    max_size=600,
)


@settings(max_examples=300, deadline=None)
@given(text=TEXT, limit=st.integers(8, 120))
def test_parts_fit_and_lose_nothing_but_whitespace(text: str, limit: int) -> None:
    rendered, entities = render_markdown(text)
    parts = split_rendered(rendered, entities, limit)
    for part in parts:
        assert 0 < utf16_len(part.text) <= limit
        assert part.text == part.text.strip()
        size = utf16_len(part.text)
        for entity in part.entities:
            assert entity.offset >= 0 and entity.length > 0 and entity.offset + entity.length <= size
    squash = lambda s: "".join(s.split())  # noqa: E731
    assert squash("".join(p.text for p in parts)) == squash(rendered)


def test_splits_prefer_paragraphs_then_lines_then_words() -> None:
    text = "aaaa bbbb\n\ncccc dddd\neeee ffff"
    assert [p.text for p in plain_parts(text, 12)] == ["aaaa bbbb", "cccc dddd", "eeee ffff"]
    assert [p.text for p in plain_parts("one two three four", 9)] == ["one two", "three", "four"]
    assert [p.text for p in plain_parts("x" * 10, 4)] == ["xxxx", "xxxx", "xx"]


def test_limit_is_counted_in_utf16_code_units() -> None:
    emoji = "😀" * 3000  # 6000 UTF-16 code units
    parts = plain_parts(emoji)
    assert [utf16_len(p.text) for p in parts] == [4096, 1904]


def test_entities_are_clipped_across_a_split() -> None:
    text, entities = render_markdown("**" + ("bold words " * 10).strip() + "**")
    first, second = split_rendered(text, entities, 60)
    assert first.entities[0].type == "bold" and first.entities[0].offset == 0
    assert first.entities[0].length == utf16_len(first.text)
    assert second.entities[0].offset == 0


def test_unbalanced_markdown_mid_stream_renders() -> None:
    assert [p.text for p in render_parts("**unclosed bold and `code")] == ["**unclosed bold and `code"]
    [part] = render_parts("a [link](https://example.org) 😀 **b**")
    assert part.text == "a link 😀 b"
    link, bold = part.entities
    assert link.type == "text_link" and link.url == "https://example.org" and (link.offset, link.length) == (2, 4)
    assert bold.type == "bold" and bold.offset == 10
