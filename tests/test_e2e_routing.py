"""A chosen model never breaks failover: the configurations operators run, through the real Application."""

from __future__ import annotations

import pytest

from .fakes.openai import Behaviour, Fail, FakeOpenAI, Hang, Reply
from .fakes.sites import FakeAichatSite, FakeAiEngine
from .harness import BotHarness, Lines
from .test_e2e_choices import command

CHAT = 4242

FAULTS: dict[str, Behaviour] = {
    "500": Fail(500, "boom"),
    "hang": Hang(),
    "cut": Reply("PRIMARY PARTIAL TEXT THAT DIES", chunk_size=4, delay=0.02, cut_after=3),
}


def buttons(harness: BotHarness, message_id: int, chat: int = CHAT) -> list[list[dict[str, str]]]:
    markup = harness.telegram.messages[(chat, message_id)].reply_markup
    return markup["inline_keyboard"] if markup else []


def labels(harness: BotHarness, message_id: int, chat: int = CHAT) -> list[str]:
    return harness.telegram.messages[(chat, message_id)].labels()


def data_of(harness: BotHarness, message_id: int, label: str, chat: int = CHAT) -> str:
    return next(b["callback_data"] for row in buttons(harness, message_id, chat) for b in row if b["text"] == label)


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_chosen_model_fails_over_across_a_heterogeneous_chain(
    harness: BotHarness, lines: Lines, fault: str
) -> None:
    async with FakeAiEngine(answer="Engine answer, whole.") as engine, FakeAichatSite(answer="Aichat.") as site:
        harness.overrides.update(
            providers="openai,opchatgpts,aichat",
            default_model="fake-large",
            provider_first_chunk_timeout=1,
            provider_max_retries=1,
        )
        harness.environ = {"OPCHATGPTS_URL": engine.url, "AICHAT_URL": site.url}
        harness.llm.then(FAULTS[fault])
        await harness.start()
        assert await harness.say(CHAT, "question") == [
            "Engine answer, whole.\n\n↪ Answered by gpt-3.5-turbo via opchatgpts: fake-large was unavailable."
        ]
        assert harness.llm.requests[0]["model"] == "fake-large"
        assert site.requests == [], "one complete answer from the first fallback; nothing more"
        # The operator's one-line summary of each reply says who answered.
        await lines.wait_for("answered provider=opchatgpts model=gpt-3.5-turbo requested=fake-large fallback=True")
        # The chosen model answering again: no note.
        assert await harness.say(CHAT, "again") == ["Hello from the fake model."]
        assert harness.llm.requests[-1]["model"] == "fake-large"
        await lines.wait_for("answered provider=openai model=fake-large requested=fake-large fallback=False")
        # The history holds the fallback's answer, without the note.
        assert harness.llm.requests[-1]["messages"][2] == {"role": "assistant", "content": "Engine answer, whole."}
        await harness.stop()


async def test_the_readme_chain_openrouter_then_ollama(harness: BotHarness) -> None:
    async with (
        FakeOpenAI(models=["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"], api_key="sk-or-1") as openrouter,
        FakeOpenAI(default=Reply("Local answer."), models=["llama3.2", "qwen2.5"], flavor="ollama") as ollama,
    ):
        harness.overrides["providers"] = "openrouter,ollama"
        harness.environ = {
            "OPENROUTER_BASE_URL": openrouter.base_url,
            "OPENROUTER_API_KEY": "sk-or-1",
            "OLLAMA_BASE_URL": ollama.base_url,
        }
        await harness.start()
        assert await command(harness, "/model openai/gpt-4o-mini", CHAT) == "Model for this chat: openai/gpt-4o-mini."
        openrouter.then(Fail(500, "upstream error"))
        assert await harness.say(CHAT, "hello") == [
            "Local answer.\n\n↪ Answered by llama3.2 via ollama: openai/gpt-4o-mini was unavailable."
        ]
        assert [r["model"] for r in ollama.requests] == ["llama3.2"], "never the model Ollama lacks"
        assert await harness.say(CHAT, "and now?") == ["Hello from the fake model."]
        assert openrouter.requests[-1]["model"] == "openai/gpt-4o-mini"
        await harness.stop()


async def test_a_backend_that_cannot_list_models_refuses_the_name_and_answers_with_its_own(
    harness: BotHarness,
) -> None:
    async with FakeOpenAI(default=Reply("Local answer."), models=["llama3.2"], flavor="ollama") as ollama:
        ollama.models_status = 500
        harness.overrides["providers"] = "openai,ollama"
        harness.environ = {"OLLAMA_BASE_URL": ollama.base_url, "OLLAMA_MODELS": "llama3.2"}
        await harness.start()
        assert await command(harness, "/model qwen-unlisted", CHAT) == (
            "Model for this chat: qwen-unlisted. ollama could not list its models, so the name goes to it as it is."
        )
        harness.llm.then(Fail(500, "down"))
        assert await harness.say(CHAT, "hello") == [
            "Local answer.\n\n↪ Answered by llama3.2 via ollama: qwen-unlisted was unavailable."
        ]
        assert [r["model"] for r in ollama.requests] == ["qwen-unlisted", "llama3.2"]
        assert harness.llm.requests[0]["model"] == "fake-small", "openai lacks it: a fallback with its default"
        await harness.stop()


async def test_pinning_a_provider_without_the_chats_model_moves_to_its_default(harness: BotHarness) -> None:
    async with FakeOpenAI(default=Reply("from backup"), models=["b-model"]) as backup:
        harness.overrides.update(providers="openai,backup", default_model="fake-large")
        harness.environ = {"BACKUP_BASE_URL": backup.base_url}
        await harness.start()
        assert await command(harness, "/provider backup", CHAT) == (
            "Provider for this chat: backup. backup does not offer fake-large,"
            " so this chat now uses its default model, b-model."
        )
        assert await harness.say(CHAT, "one") == ["from backup"], "the pinned provider's own model: no note"
        assert backup.requests[-1]["model"] == "b-model"
        assert "Model: default (b-model)" in await command(harness, "/settings", CHAT)
        assert await command(harness, "/provider openai", CHAT) == "Provider for this chat: openai."
        assert await command(harness, "/model fake-small", CHAT) == "Model for this chat: fake-small."
        reply = await command(harness, "/provider", CHAT)
        assert reply == "Choose the provider for this chat. Current: openai"
        keyboard = harness.telegram.bot_messages(CHAT)[-1].message_id
        harness.telegram.press(CHAT, keyboard, data_of(harness, keyboard, "backup"), user_id=CHAT)
        said = (
            "Provider for this chat: backup. backup does not offer fake-small,"
            " so this chat now uses its default model, b-model."
        )
        await harness.telegram.wait_for(lambda: harness.telegram.messages[(CHAT, keyboard)].text == said)
        assert await harness.say(CHAT, "two") == ["from backup"]
        await harness.stop()


async def test_model_keyboard_pages_labels_and_default(harness: BotHarness) -> None:
    harness.llm.models = [f"model-{i:02d}" for i in range(25)]
    await harness.start()
    telegram = harness.telegram
    assert await command(harness, "/model", CHAT) == (
        "Choose the model for this chat. Current: default (model-00)\nModels 1–10 of 25 (openai)."
    )
    keyboard = telegram.bot_messages(CHAT)[-1].message_id
    assert labels(harness, keyboard) == [f"model-{i:02d}" for i in range(10)] + ["◀", "1/3", "▶", "✅ Default"]
    assert [len(row) for row in buttons(harness, keyboard)] == [2, 2, 2, 2, 2, 3, 1]

    def shows(first: int) -> bool:
        return telegram.messages[(CHAT, keyboard)].text.endswith(f"Models {first}–{min(first + 9, 25)} of 25 (openai).")

    telegram.press(CHAT, keyboard, data_of(harness, keyboard, "▶"), user_id=CHAT)
    await telegram.wait_for(lambda: shows(11))
    assert labels(harness, keyboard)[:10] == [f"model-{i:02d}" for i in range(10, 20)]
    assert "2/3" in labels(harness, keyboard)
    edits = len(telegram.calls_of("editMessageText"))
    telegram.press(CHAT, keyboard, data_of(harness, keyboard, "2/3"), user_id=CHAT)  # the page shown: nothing to do
    await telegram.wait_for(lambda: len(telegram.callback_answers) == 2)
    assert len(telegram.calls_of("editMessageText")) == edits
    telegram.press(CHAT, keyboard, f"g:{CHAT}:99", user_id=CHAT)  # a stale page: the last one
    await telegram.wait_for(lambda: shows(21))
    assert labels(harness, keyboard) == [f"model-{i:02d}" for i in range(20, 25)] + ["◀", "3/3", "▶", "✅ Default"]
    telegram.press(CHAT, keyboard, data_of(harness, keyboard, "▶"), user_id=CHAT)  # wraps around
    await telegram.wait_for(lambda: shows(1))

    telegram.press(CHAT, keyboard, data_of(harness, keyboard, "model-07"), user_id=CHAT)
    await telegram.wait_for(lambda: telegram.messages[(CHAT, keyboard)].text == "Model for this chat: model-07.")
    await command(harness, "/model", CHAT)
    again = telegram.bot_messages(CHAT)[-1].message_id
    assert "✅ model-07" in labels(harness, again) and "Default" in labels(harness, again)
    telegram.press(CHAT, again, f"m:{CHAT}:0123456789", user_id=CHAT)  # a model no longer listed
    await telegram.wait_for(lambda: telegram.callback_answers[-1]["text"] == "This button is no longer valid.")
    await harness.say(CHAT, "hi")
    assert harness.llm.requests[-1]["model"] == "model-07"
    telegram.press(CHAT, again, data_of(harness, again, "Default"), user_id=CHAT)
    said = "Model for this chat: the default (model-00)."
    await telegram.wait_for(lambda: telegram.messages[(CHAT, again)].text == said)
    await harness.say(CHAT, "hi")
    assert harness.llm.requests[-1]["model"] == "model-00"
    assert await command(harness, "/model model-03", CHAT) == "Model for this chat: model-03."
    assert await command(harness, "/model default", CHAT) == said


async def test_auto_mode_labels_models_by_provider(harness: BotHarness) -> None:
    async with FakeOpenAI(models=["b-model", "fake-small"]) as backup:
        harness.overrides["providers"] = "openai,backup"
        harness.environ = {"BACKUP_BASE_URL": backup.base_url}
        await harness.start()
        await command(harness, "/model", CHAT)
        keyboard = harness.telegram.bot_messages(CHAT)[-1].message_id
        assert labels(harness, keyboard) == [
            "fake-small · openai",
            "fake-large · openai",
            "b-model · backup",
            "✅ Default",
        ]
        assert [len(row) for row in buttons(harness, keyboard)] == [1, 1, 1, 1]
        assert await command(harness, "/model b-model", CHAT) == "Model for this chat: b-model."
        assert await harness.say(CHAT, "hi") == ["Hello from the fake model."]
        assert harness.llm.requests == [] and backup.requests[-1]["model"] == "b-model"
        await harness.stop()
