"""The usage ledger, the budgets read from it (each at its edge), and the prices."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config.prices import Backend, ModelPrice, PriceBook, PricesError, backend_of, is_local, load_prices
from bot.state.storage import ConversationKey, ConversationStore, UsageRecord
from bot.texts import budget_refusal, budgets_text, totals_text
from bot.turns.budgets import Budgets, day_start, month_start
from providers import Opchatgpts, OpenAI, Usage

# 2026-12-03 15:00 UTC
NOW = datetime.datetime(2026, 12, 3, 15, 0, tzinfo=datetime.UTC).timestamp()
CHAT, OTHER_CHAT, ANN, BOB, OWNER = -100, -200, 1, 2, 9


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ConversationStore]:
    opened = await ConversationStore.open(tmp_path / "bot.sqlite3")
    yield opened
    await opened.close()


async def spend(
    store: ConversationStore,
    tokens: int,
    *,
    user: int | None = ANN,
    chat: int = CHAT,
    at: float = NOW - 60,
    cost: float | None = 0.0,
    estimated: bool = False,
    model: str = "gpt-4o-mini",
) -> None:
    record = UsageRecord(ConversationKey(chat), user, f"user {user}", "openai", model, tokens, 0, estimated, cost, at)
    await store.record_usage(record)


def budgets(store: ConversationStore, **limits: float) -> Budgets:
    return Budgets(store, exempt=[OWNER], clock=lambda: NOW, **limits)  # type: ignore[arg-type]


async def test_the_ledger_sums_per_user_per_chat_and_per_model(store: ConversationStore) -> None:
    await spend(store, 100, cost=0.5)
    await spend(store, 50, chat=OTHER_CHAT, cost=None, estimated=True)
    await spend(store, 30, user=BOB, model="llama3.2")
    await spend(store, 1000, at=day_start(NOW) - 1)  # yesterday
    today = day_start(NOW)
    ann = await store.usage_totals(today, user_id=ANN)
    assert (ann.answers, ann.tokens, ann.cost, ann.estimated, ann.unpriced) == (2, 150, 0.5, True, True)
    chat = await store.usage_totals(today, chat_id=CHAT)
    assert (chat.answers, chat.tokens) == (2, 130)
    assert (await store.usage_totals(month_start(NOW))).tokens == 1180
    top = await store.top_users(CHAT, today)
    assert [(t.label, t.tokens) for t in top] == [("user 1", 100), ("user 2", 30)]
    by_model = await store.usage_by_model(today)
    assert [(t.label, t.tokens) for t in by_model] == [("openai/gpt-4o-mini", 150), ("openai/llama3.2", 30)]
    assert totals_text(ann) == "≈150 tokens, $0.50 + unpriced answers"


async def test_a_token_budget_refuses_exactly_at_its_limit(store: ConversationStore) -> None:
    limits = budgets(store, tokens_per_day=1000)
    await spend(store, 999)
    assert await limits.refusal(ANN, CHAT) is None, "one token left: asked"
    await spend(store, 1)
    refusal = await limits.refusal(ANN, CHAT)
    assert refusal is not None and refusal.name == "user_tokens_per_day" and refusal.used == 1000
    assert refusal.resets_at == day_start(NOW) + 86400
    assert await limits.refusal(BOB, CHAT) is None, "another user's budget is their own"
    assert await limits.refusal(OWNER, CHAT) is None and await limits.states(OWNER, CHAT) == [], "owners exempt"
    assert budget_refusal(refusal, NOW) == (
        "You've used your 1,000 tokens for today. Your budget starts again at 00:00 UTC, in 9 h."
    )


async def test_yesterdays_tokens_do_not_count_today(store: ConversationStore) -> None:
    limits = budgets(store, tokens_per_day=1000)
    await spend(store, 5000, at=day_start(NOW) - 1)
    await spend(store, 999, at=day_start(NOW))
    assert await limits.refusal(ANN, CHAT) is None


async def test_the_chat_budget_counts_everyone_in_the_chat_and_no_one_elsewhere(store: ConversationStore) -> None:
    limits = budgets(store, chat_tokens_per_day=100)
    await spend(store, 60, user=ANN)
    await spend(store, 39, user=BOB)
    await spend(store, 500, user=BOB, chat=OTHER_CHAT)
    assert await limits.refusal(ANN, CHAT) is None
    await spend(store, 1, user=BOB)
    assert (await limits.refusal(ANN, CHAT) or object()).name == "chat_tokens_per_day"  # type: ignore[attr-defined]
    assert await limits.refusal(None, CHAT) is not None, "an anonymous admin too"


async def test_the_cost_budget_is_per_calendar_month(store: ConversationStore) -> None:
    limits = budgets(store, cost_per_month=1.0)
    await spend(store, 10, cost=0.99)
    await spend(store, 10, cost=None)  # unpriced: costs nothing
    await spend(store, 10, cost=5.0, at=month_start(NOW) - 1)  # last month
    assert await limits.refusal(ANN, CHAT) is None
    await spend(store, 10, cost=0.01)
    refusal = await limits.refusal(ANN, CHAT)
    assert refusal is not None and refusal.name == "user_cost_per_month"
    assert refusal.resets_at == datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC).timestamp(), "December rolls over"
    assert budget_refusal(refusal, NOW).startswith("You've used your $1.00 budget for this month. It starts again on")


async def test_the_hourly_limit_counts_answers_in_a_sliding_hour(store: ConversationStore) -> None:
    limits = budgets(store, messages_per_hour=2)
    await spend(store, 1, at=NOW - 3600)  # exactly an hour ago: still in the window
    await spend(store, 1, at=NOW - 10)
    refusal = await limits.refusal(ANN, CHAT)
    assert refusal is not None and refusal.resets_at == NOW, "the oldest leaves the window now"
    later = Budgets(store, messages_per_hour=2, clock=lambda: NOW + 0.5)
    assert await later.refusal(ANN, CHAT) is None, "half a second later it has left"


async def test_budgets_text_says_what_is_left(store: ConversationStore) -> None:
    limits = budgets(store, tokens_per_day=1000, chat_tokens_per_day=5000)
    await spend(store, 250)
    assert budgets_text(await limits.states(ANN, CHAT)) == (
        "your tokens today: 750 tokens left of 1,000 tokens;"
        " this chat's tokens today: 4,750 tokens left of 5,000 tokens"
    )
    assert budgets_text(await budgets(store).states(ANN, CHAT)) == "none"


def test_day_and_month_starts_are_utc() -> None:
    assert day_start(NOW) == datetime.datetime(2026, 12, 3, tzinfo=datetime.UTC).timestamp()
    assert month_start(NOW) == datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC).timestamp()
    assert month_start(NOW, 1) == datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC).timestamp()


# -- prices ------------------------------------------------------------------------------------------


def test_the_operators_prices_win_and_local_servers_and_sites_are_free(tmp_path: Path) -> None:
    file = tmp_path / "prices.toml"
    file.write_text('[models."gpt-4o-mini"]\ninput = 1.0\noutput = 2.0\n[models."llama3.2"]\ninput = 0\noutput = 0.5\n')
    own = load_prices(file)
    assert own["gpt-4o-mini"] == ModelPrice(1.0, 2.0)
    openai = OpenAI("https://api.openai.com/v1", "k")
    local = OpenAI("http://127.0.0.1:11434/v1", None, name="ollama")
    book = PriceBook(own, {"openai": backend_of(openai), "ollama": backend_of(local), "site": backend_of(Opchatgpts())})
    usage = Usage(1_000_000, 500_000)
    assert book.cost("openai", "gpt-4o-mini", usage) == 2.0, "the file wins over the bundled price"
    assert book.cost("ollama", "llama3.2:latest", usage) == 0.25, "a priced local model costs; :latest matches"
    assert book.cost("ollama", "qwen2.5", usage) == 0.0, "an unpriced local model is free"
    assert book.cost("site", "gpt-3.5-turbo", usage) == 0.0, "keyless sites are free"


def test_known_models_are_priced_from_genai_prices_and_unknown_ones_never_made_up() -> None:
    book = PriceBook(
        {},
        {"openai": Backend("https://api.openai.com/v1", False), "proxy": Backend("https://llm.example.com/v1", False)},
    )
    cost = book.cost("openai", "gpt-4o-mini", Usage(1_000_000, 1_000_000))
    assert cost is not None and 0.5 < cost < 1.0, "gpt-4o-mini: $0.15 + $0.60 a million"
    assert book.cost("proxy", "gpt-4o-mini", Usage(1000, 1000)) is not None, "a proxy of a known model: its price"
    assert book.cost("openai", "my-own-finetune-7b", Usage(1000, 1000)) is None


def test_locality_is_read_from_the_address() -> None:
    assert is_local("http://localhost:11434/v1") and is_local("http://192.168.1.5:8080/v1")
    assert is_local("http://host.docker.internal:11434/v1") and is_local("http://[::1]:8000/v1")
    assert not is_local("https://openrouter.ai/api/v1") and not is_local("http://8.8.8.8/v1")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not toml [", "is not valid TOML"),
        ('[models."x"]\ninput = 1\n', "needs input and output prices"),
        ('[models."x"]\ninput = -1\noutput = 1\n', "needs input and output prices"),
        ("x = 1\n", 'must have a [models."NAME"] table'),
    ],
)
def test_a_bad_prices_file_is_one_line(tmp_path: Path, content: str, words: str) -> None:
    file = tmp_path / "prices.toml"
    file.write_text(content)
    with pytest.raises(PricesError, match=words.replace("[", r"\[")):
        load_prices(file)


def test_a_prices_file_that_is_no_regular_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PricesError, match="not a regular file"):
        load_prices(tmp_path)
    with pytest.raises(PricesError, match="not a regular file"):
        load_prices(Path("/dev/zero"))
