# ruff: noqa: E501 - the seed examples are copied as they are
"""Every runnable example of the five seed documents runs with only its import lines changed.

The examples are copied from ``shared/seeds`` (000–004) as they are; only ``from g4f...``
imports are replaced by ``providers`` ones. Each runs as a script in a fresh interpreter,
against fakes of its backend named by the environment (``OPENAI_BASE_URL``, ``*_URL``).
Left out: seed 002's second example, which needs the proxy it names (``proxy.example.com``).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from .fakes.openai import FakeOpenAI, Reply
from .fakes.sites import FakeAichatSite, FakeAiEngine, FakeChatGptSite
from .test_client import _env, _run

SEED_000 = """
from providers.client import Client
from providers import OpenAI as OpenaiChat, RetryProvider

# Пример с прокси
client = Client(
    proxies={
        'http': 'http://username:password@host:port',
        'https': 'http://username:password@host:port'
    },
    provider=RetryProvider([OpenaiChat], single_provider_retry=True, max_retries=5)
)

# Пример без прокси (если не требуется)
client = Client(provider=RetryProvider([OpenaiChat], single_provider_retry=True, max_retries=5))

from providers import OpenAI as OpenaiChat, RetryProvider

# Пример с OpenaiChat
provider = RetryProvider([OpenaiChat], single_provider_retry=True, max_retries=5)

# Пример с несколькими провайдерами
# provider = RetryProvider([OpenaiChat, AnotherProvider], single_provider_retry=False, max_retries=3)

messages = [
    {'role': 'user', 'content': 'Привет'}
]

response = client.chat.completions.create(model='gpt-3.5-turbo', messages=messages, stream=True)

for message in response:
    print(message.choices[0].delta.content or "")
"""

SEED_002 = """
import asyncio
from providers import Opchatgpts

async def main():
    async for message in Opchatgpts.create_async_generator(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "Hello"}]):
        print(message)

asyncio.run(main())
"""

SEED_003 = """
from providers.chatgpt import ChatGpt, format_conversation, init_session

messages = [
    {'role': 'user', 'content': 'Привет!'},
    {'role': 'assistant', 'content': 'Здравствуйте!'}
]
formatted_messages = format_conversation(messages)
print(formatted_messages)

user_agent = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36'
session = init_session(user_agent)
print(session.headers)

model_name = ChatGpt.get_model('gpt-4o')
print(model_name)

model_name = ChatGpt.get_model('gpt-3.5-turbo')
print(model_name)

model_name = ChatGpt.get_model('unknown_model')
print(model_name)

messages = [
    {'role': 'user', 'content': 'Привет!'}
]
stream = True
result = ChatGpt.create_completion(model='gpt-3.5-turbo', messages=messages, stream=stream)
for token in result:
    print(token, end='')
"""

SEED_004 = """
from providers.aichat import Aichat, _create_completion

messages = [
    {'role': 'user', 'content': 'Привет, как дела?'},
]
generator = _create_completion(model='gpt-3.5-turbo', messages=messages, stream=False)
print(next(generator))

provider = Aichat()
print(provider.url)
print(provider.model)
print(provider.supports_stream)
print(provider.needs_auth)

provider = Aichat()
messages = [
    {'role': 'user', 'content': 'Привет, как дела?'},
]
generator = provider._create_completion(model='gpt-3.5-turbo', messages=messages, stream=False)
print(next(generator))
"""


async def run_seed(source: str, tmp_path: Path, **env: str) -> list[str]:
    script = tmp_path / "seed.py"
    script.write_text(textwrap.dedent(source))
    code, out, err = await _run([sys.executable, str(script)], _env(**env), tmp_path)
    assert code == 0, err
    return out.splitlines()


async def test_seed_000_and_001_client_examples(tmp_path: Path) -> None:
    async with FakeOpenAI(default=Reply("Привет! Чем помочь?", chunk_size=4), models=["gpt-3.5-turbo"]) as llm:
        lines = await run_seed(SEED_000, tmp_path, OPENAI_BASE_URL=llm.base_url, OPENAI_API_KEY="sk-test")
        assert "".join(lines) == "Привет! Чем помочь?"
        assert [r["model"] for r in llm.requests] == ["gpt-3.5-turbo"]


async def test_seed_002_opchatgpts_example(tmp_path: Path) -> None:
    async with FakeAiEngine(answer="Hello there!") as engine:
        lines = await run_seed(SEED_002, tmp_path, OPCHATGPTS_URL=engine.url)
        assert "".join(lines) == "Hello there!"


async def test_seed_003_chatgpt_examples(tmp_path: Path) -> None:
    async with FakeChatGptSite(answer="Здравствуйте!") as site:
        lines = await run_seed(SEED_003, tmp_path, CHATGPT_URL=site.url)
    formatted, headers, *models, answer = lines
    assert "'author': {'role': 'user'}" in formatted and "'parts': ['Здравствуйте!']" in formatted
    assert "'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)" in headers and "'Cookie': '_dd_s='" in headers
    assert models == ["chatgpt-4o-latest", "gpt-3.5-turbo", "auto"]
    assert answer == "Здравствуйте!"


async def test_seed_004_aichat_examples(tmp_path: Path) -> None:
    async with FakeAichatSite(answer="Привет! Как дела? У меня все отлично.") as site:
        site.mode = "seed"  # the seed's answer shape: {"message": ...}, no "response" key
        lines = await run_seed(SEED_004, tmp_path, AICHAT_URL=site.url)
    assert lines == [
        "Привет! Как дела? У меня все отлично.",
        "https://chat-gpt.org/chat",
        "['gpt-3.5-turbo']",
        "False",
        "False",
        "Привет! Как дела? У меня все отлично.",
    ]
