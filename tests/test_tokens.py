"""Token estimates, fitting a conversation into a window, and every server's context error."""

from __future__ import annotations

import pytest

from providers import ContextLengthError
from providers.http import classify, parse_error_body
from providers.tokens import (
    REPLY_OVERHEAD,
    answer_reserve,
    estimate_messages,
    estimate_tokens,
    estimate_usage,
    message_tokens,
    trim_to_fit,
)


def test_the_estimate_counts_ascii_by_fours_other_scripts_heavier() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2, "rounded up at the fifth character"
    assert estimate_tokens("пр") == 1 and estimate_tokens("при") == 2, "Cyrillic: two characters a token"
    assert estimate_tokens("日本語") == 3 and estimate_tokens("😀") == 1, "CJK and emoji: one each"
    assert estimate_tokens("ab日") == 2, "one for the two ASCII characters, one for the ideograph"


def test_messages_count_their_framing_and_images() -> None:
    assert message_tokens({"role": "user", "content": "abcd"}) == 4 + 1
    parts = [{"type": "text", "text": "abcd"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}}]
    assert message_tokens({"role": "user", "content": parts}) == 4 + 1 + 800
    assert estimate_messages([{"role": "user", "content": "abcd"}] * 2) == REPLY_OVERHEAD + 10
    usage = estimate_usage([{"role": "user", "content": "abcd"}], "abcdefgh")
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (REPLY_OVERHEAD + 5, 2, True)


def test_the_answer_reserve_is_at_most_a_quarter_of_the_window() -> None:
    assert answer_reserve(4096, 1024) == 1024, "exactly a quarter"
    assert answer_reserve(4095, 1024) == 1023, "one token less: the quarter"
    assert answer_reserve(512, 1024) == 128
    assert answer_reserve(100_000, 1024) == 1024


def _conversation(turns: int) -> list[dict[str, str]]:
    """A system prompt and ``turns`` alternating turns of 40 ASCII characters (14 tokens each), ending
    with the question."""
    messages = [{"role": "system", "content": "s" * 40}]
    messages += [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"{i:02d}" + "x" * 38} for i in range(turns)
    ]
    return messages


def test_trimming_keeps_the_system_prompt_and_the_question_and_fits_exactly() -> None:
    messages = _conversation(7)  # system, u0 a1 u2 a3 u4 a5 u6 (the question)
    fixed = estimate_messages([messages[0], messages[-1]])  # 3 + 14 + 14
    # Room for exactly two more turns (a5 u4 would make it start with a user turn: u4 a5 u6).
    kept, dropped = trim_to_fit(messages, fixed + 2 * 14)
    assert kept == [messages[0], *messages[5:]] and dropped == 4, "u4 a5 fit: the oldest four go"
    kept, dropped = trim_to_fit(messages, fixed + 2 * 14 - 1)
    assert kept == [messages[0], messages[7]] and dropped == 6, (
        "one token less: a5 alone fits, but a kept part never starts with an answer"
    )


def test_trimming_without_numbers_drops_the_older_half_and_nothing_when_only_the_question_is_left() -> None:
    messages = _conversation(5)  # system, u0 a1 u2 a3, u4
    kept, dropped = trim_to_fit(messages, None)
    assert kept == [messages[0], messages[3], messages[4], messages[5]] and dropped == 2
    assert trim_to_fit(_conversation(1), 10) == (_conversation(1), 0), "only the question: nothing to leave out"


def test_the_servers_count_calibrates_the_estimate() -> None:
    messages = _conversation(7)
    estimate = estimate_messages(messages)
    # The server counted twice our estimate: a budget of the whole estimate fits only about half.
    kept, dropped = trim_to_fit(messages, estimate, scale=2.0)
    assert dropped > 0 and estimate_messages(kept) * 2.0 <= estimate


@pytest.mark.parametrize(
    ("status", "body", "limit", "requested"),
    [
        (  # llama.cpp's llama-server
            400,
            '{"error": {"code": 400, "type": "exceed_context_size_error", "message": "request (918 tokens) exceeds'
            ' the available context size (512 tokens), try increasing it", "n_prompt_tokens": 918, "n_ctx": 512}}',
            512,
            918,
        ),
        (  # OpenAI
            400,
            '{"error": {"message": "This model\'s maximum context length is 8192 tokens. However, your messages'
            ' resulted in 9000 tokens. Please reduce the length of the messages.", "type": "invalid_request_error",'
            ' "param": "messages", "code": "context_length_exceeded"}}',
            8192,
            9000,
        ),
        (  # vLLM
            400,
            '{"object": "error", "message": "This model\'s maximum context length is 4096 tokens. However, you'
            ' requested 5000 tokens (4000 in the messages, 1000 in the completion).", "type": "BadRequestError",'
            ' "param": null, "code": 400}',
            4096,
            5000,
        ),
        (  # llama-cpp-python's ValueError, as its error handler passes it on
            500,
            '{"error": {"message": "Requested tokens (918) exceed context window of 512",'
            ' "type": "internal_server_error"}}',
            512,
            918,
        ),
        (  # Ollama
            500,
            '{"error": {"message": "input exceeds context length", "type": "api_error", "param": null, "code": null}}',
            None,
            None,
        ),
    ],
    ids=["llama-server", "openai", "vllm", "llama-cpp-python", "ollama"],
)
def test_every_servers_context_error_is_one_typed_error_with_its_numbers(
    status: int, body: str, limit: int | None, requested: int | None
) -> None:
    error = classify(status, parse_error_body(body), "p")
    assert isinstance(error, ContextLengthError)
    assert (error.limit, error.requested) == (limit, requested)


def test_a_missing_model_or_a_plain_server_error_is_not_a_context_error() -> None:
    missing = classify(404, parse_error_body('{"error": {"message": "model \\"x\\" not found, try pulling it"}}'), "p")
    assert not isinstance(missing, ContextLengthError)
    crashed = classify(500, parse_error_body('{"error": {"message": "CUDA error: out of memory"}}'), "p")
    assert not isinstance(crashed, ContextLengthError)
