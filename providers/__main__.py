"""``python -m providers``: list providers, ask a question, or check the configured chain.

    python -m providers --list
    python -m providers "Why is the sky blue?"                 # through the PROVIDERS chain
    python -m providers "Hi" --provider ollama --model llama3.2
    python -m providers "Hi" --model gpt-4o-mini              # routed to the providers offering it
    python -m providers --check                                # probe each configured provider

Configuration comes from the environment and ``.env`` (the same names as the bot:
``PROVIDERS``, ``OPENAI_*``, ``{NAME}_BASE_URL``..., ``PROXY``, ``MODEL_FALLBACK``).
A question goes through the chain (model routing, retries, fallbacks); stderr says which
provider and model answered.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping
from typing import TextIO

from dotenv import dotenv_values

from .answer import Answer
from .base import BaseProvider, Finish, ProviderInfo, Reasoning, Reset, Usage
from .errors import ProviderError
from .registry import PROVIDER_CLASSES, ProviderConfigError, build_providers
from .retry import RetryProvider, Timeouts


def configured_names(environ: Mapping[str, str]) -> list[str]:
    """``PROVIDERS`` (default ``openai``) as lower-case names."""
    return [n.strip().lower() for n in environ.get("PROVIDERS", "openai").split(",") if n.strip()]


def list_providers(environ: Mapping[str, str]) -> int:
    """Print the built-in providers and any other configured names; exit code 0."""
    print(f"{'name':<12} {'working':<8} {'auth':<6} {'stream':<7} models")
    for name, cls in PROVIDER_CLASSES.items():
        models = ", ".join(cls.models)
        print(f"{name:<12} {cls.working!s:<8} {cls.needs_auth!s:<6} {cls.supports_stream!s:<7} {models}")
    extra = [n for n in configured_names(environ) if n not in PROVIDER_CLASSES]
    for name in extra:
        print(f"{name:<12} {'?':<8} {'?':<6} {'True':<7} OpenAI-compatible at {name.upper()}_BASE_URL")
    return 0


class AnswerWriter:
    """Writes a streamed answer to ``out`` so that only the kept answer remains.

    On a terminal, text shows as it arrives and a :class:`~providers.Reset` erases the
    partial answer (ANSI: cursor up, erase to the end of the screen) before the next one.
    Piped or redirected, nothing is written until the answer is complete: the output is
    exactly the kept answer.
    """

    def __init__(self, out: TextIO, columns: int | None = None) -> None:
        self.out = out
        self.live = out.isatty()
        self.columns = columns or shutil.get_terminal_size().columns
        self.text = ""

    def write(self, chunk: str) -> None:
        """Add text to the answer."""
        self.text += chunk
        if self.live:
            self.out.write(chunk)
            self.out.flush()

    def reset(self) -> None:
        """Discard the answer so far (and, on a terminal, erase it)."""
        if self.live and self.text:
            rows = sum(max(1, math.ceil(len(line) / self.columns)) for line in self.text.split("\n"))
            self.out.write("\r" + (f"\x1b[{rows - 1}A" if rows > 1 else "") + "\x1b[J")
            self.out.flush()
        self.text = ""

    # -- the chain's events (providers.AnswerListener) ------------------------------------------

    def on_text(self, text: str) -> None:
        self.write(text)

    def on_reset(self, reset: Reset) -> None:
        """A failover: the answer starts over, and stderr says why."""
        self.reset()
        print(f"[{reset.provider} failed mid-answer ({reset.reason}); starting over]", file=sys.stderr)

    def on_info(self, info: ProviderInfo) -> None:
        """Who answers: printed at the end, from the answer."""

    def on_finish(self, finish: Finish) -> None:
        """Why it ended: printed at the end, from the answer."""

    def on_usage(self, usage: Usage) -> None:
        """The tokens: printed at the end, from the answer."""

    def on_reasoning(self, reasoning: Reasoning) -> None:
        """The model's thinking: not the answer, not printed."""

    def finish(self) -> None:
        """End the answer with a newline (written whole when not on a terminal)."""
        self.out.write(("" if self.live else self.text) + "\n")
        self.out.flush()


async def ask(provider: BaseProvider, prompt: str, model: str, out: TextIO | None = None) -> int:
    """Stream the answer to ``prompt`` to ``out`` (stdout) through :class:`AnswerWriter`; to stderr, a
    failover notice and which provider and model answered (from the chain's
    :class:`~providers.ProviderInfo`). Exit code 0, or 1 on failure."""
    messages = [{"role": "user", "content": prompt}]
    writer = AnswerWriter(out or sys.stdout)
    answer = Answer(messages, writer)
    try:
        async for chunk in provider.create_async_generator(model, messages):
            answer.add(chunk)
    except ProviderError as error:
        if writer.live and writer.text:
            print(file=writer.out)
        print(f"error: {error}", file=sys.stderr)
        return 1
    writer.finish()
    if answer.finish:
        print(f"[the answer ended early: {answer.finish}]", file=sys.stderr)
    usage = answer.usage
    tokens = f"{'≈' if usage.estimated else ''}{usage.prompt_tokens} + {usage.completion_tokens} tokens"
    answered = answer.info
    if answered is not None:
        fallback = f" ({answered.requested} was unavailable)" if answered.fallback else ""
        print(f"[answered by {answered.provider}, model {answered.model or '-'}{fallback}; {tokens}]", file=sys.stderr)
    else:
        print(f"[{tokens}]", file=sys.stderr)
    return 0


async def check(providers: list[BaseProvider], model: str, timeout: float) -> int:
    """Probe each provider with a short prompt; print latency (seconds) or the error; 1 if any failed."""
    failures = 0
    for provider in providers:
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                answer = Answer()
                async for chunk in provider.create_async_generator(model, [{"role": "user", "content": "Say OK."}]):
                    answer.add(chunk)
            print(f"{provider.name:<12} ok     {time.monotonic() - started:6.2f}s  {answer.text.strip()[:40]!r}")
        except (ProviderError, TimeoutError) as error:
            failures += 1
            reason = str(error) or f"no answer within {timeout:.0f}s"
            print(f"{provider.name:<12} FAILED {time.monotonic() - started:6.2f}s  {type(error).__name__}: {reason}")
    return 1 if failures else 0


def environment(env_file: str = ".env") -> dict[str, str]:
    """This command's settings: ``env_file`` values (if the file exists) overlaid by the process
    environment. (The bot reads its own through ``bot.config``; a library user passes a mapping to
    :func:`~providers.registry.build_providers` or calls a provider's ``from_env``.)"""
    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if os.path.exists(env_file) else {}
    values.update(os.environ)
    return values


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (2 for usage or configuration errors)."""
    parser = argparse.ArgumentParser(prog="python -m providers", description=__doc__.split("\n\n")[0])
    parser.add_argument("prompt", nargs="?", help="text to send")
    parser.add_argument("--list", action="store_true", help="list providers and their models")
    parser.add_argument("--check", action="store_true", help="probe each configured provider")
    parser.add_argument("--provider", help="use only this provider (default: the PROVIDERS chain)")
    parser.add_argument("--model", default="", help="model name (default: the provider's default)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per provider for --check")
    args = parser.parse_args(argv)
    environ = environment()
    if args.list:
        return list_providers(environ)
    try:
        names = [args.provider] if args.provider else configured_names(environ)
        providers = build_providers(names, environ)
    except ProviderConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    if args.check:
        return asyncio.run(check(providers, args.model, args.timeout))
    if not args.prompt:
        parser.print_usage(sys.stderr)
        return 2
    fallback = environ.get("MODEL_FALLBACK", "on").strip().lower() not in ("off", "false", "0", "no")
    chain = RetryProvider(providers, timeouts=Timeouts(), model_fallback=fallback)
    return asyncio.run(ask(chain, args.prompt, args.model))


if __name__ == "__main__":
    sys.exit(main())
