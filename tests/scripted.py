"""An in-memory provider that follows a script, for unit tests of the chain and the streamer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from providers import Answer, BaseProvider, Finish, Messages, ProviderInfo, Reasoning, Reset, Usage


@dataclass
class Run:
    """One call: yield ``chunks`` (``delay`` s apart), then raise ``error`` if given, or ``hang`` forever."""

    chunks: list[str] = field(default_factory=list)
    error: BaseException | None = None
    delay: float = 0.0
    hang: bool = False


class ScriptedProvider(BaseProvider):
    def __init__(self, name: str, *runs: Run, default: Run | None = None) -> None:
        self._name = name
        self.runs = list(runs)
        self.default_run = default or Run(["ok"])
        self.calls: list[tuple[str, Messages]] = []

    @property
    def name(self) -> str:
        return self._name

    async def stream(
        self, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:
        self.calls.append((model, messages))
        run = self.runs.pop(0) if self.runs else self.default_run
        for chunk in run.chunks:
            if run.delay:
                await asyncio.sleep(run.delay)
            yield chunk
        if run.hang:
            await asyncio.Event().wait()
        if run.error is not None:
            raise run.error


class Recorder:
    """A display's record of a stream (an AnswerListener): text and Reset events in order, and the
    ProviderInfo events in ``infos``."""

    def __init__(self, infos: list[Any] | None = None) -> None:
        self.events: list[Any] = []
        self.infos = infos if infos is not None else []

    def on_text(self, text: str) -> None:
        self.events.append(text)

    def on_reset(self, reset: Reset) -> None:
        self.events.append(reset)

    def on_info(self, info: ProviderInfo) -> None:
        self.infos.append(info)

    def on_finish(self, finish: Finish) -> None:
        """Read from the answer."""

    def on_usage(self, usage: Usage) -> None:
        """Read from the answer."""

    def on_reasoning(self, reasoning: Reasoning) -> None:
        """Read from the answer."""


async def collect(stream: AsyncIterator[Any], infos: list[Any] | None = None) -> tuple[str, list[Any]]:
    """Consume like a display would (through :class:`providers.Answer`): text appends, Reset clears.
    Returns (final text, text and Reset events); ProviderInfo events go to ``infos`` when given."""
    recorder = Recorder(infos)
    answer = Answer(listener=recorder)
    async for chunk in stream:
        answer.add(chunk)
    return answer.text, recorder.events
