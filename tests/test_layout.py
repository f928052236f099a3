"""The layout shows the architecture: each package of ``bot`` imports (at run time) only the
packages before it in the order of ``bot/__init__.py``, and ``providers`` never imports ``bot``
nor ``telegram``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .sources import tree

ROOT = Path(__file__).resolve().parent.parent
#: Lowest first: a package may import those before it, never one after it.
ORDER = ["texts", "config", "state", "turns", "telegram", "handlers", "app"]
#: What else each may import besides the packages before it.
EXTERNAL_ALLOWED = {
    "texts": {"providers", "telegram"},  # PTB's escape_markdown
    "config": {"providers", "telegram"},  # PTB's constants (message and flood limits)
    "state": set(),
    "turns": {"providers"},
    "telegram": {"providers", "telegram"},
    "handlers": {"providers", "telegram"},
    "app": {"providers", "telegram"},
}


def runtime_imports(path: Path, root: Path = ROOT) -> set[str]:
    """The absolute module names ``path`` (a file under ``root``) imports, leaving out
    ``if TYPE_CHECKING:`` blocks."""
    parsed = tree(path)
    package = ".".join(path.relative_to(root).parts[:-1])
    skipped: set[int] = set()
    for node in ast.walk(parsed):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for n in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(parsed):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "bot" and len(parts) > 1 and parts[1] in ORDER else None


def wrong_imports(package: str, root: Path = ROOT) -> list[str]:
    """The run-time imports of ``root/bot/package`` that break the order, one line each."""
    allowed = set(ORDER[: ORDER.index(package) + 1])
    wrong = []
    for path in sorted((root / "bot" / package).rglob("*.py")):
        for module in runtime_imports(path, root):
            top = module.split(".")[0]
            layer = layer_of(module)
            if layer is not None and layer not in allowed:
                wrong.append(f"{path.relative_to(root)} imports {module}")
            if top in {"telegram", "providers"} and top not in EXTERNAL_ALLOWED[package]:
                wrong.append(f"{path.relative_to(root)} imports {module}")
    return wrong


@pytest.mark.parametrize("package", ORDER)
def test_a_package_imports_only_the_packages_before_it(package: str) -> None:
    wrong = wrong_imports(package)
    assert not wrong, "\n".join(wrong)


def test_bot_has_only_its_entry_point_outside_the_packages() -> None:
    assert sorted(p.name for p in (ROOT / "bot").glob("*.py")) == ["__init__.py", "__main__.py"]
    packages = sorted(p.name for p in (ROOT / "bot").iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(ORDER)


def test_providers_never_import_bot_or_telegram() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "providers").rglob("*.py"))
        for module in runtime_imports(path)
        if module.split(".")[0] in {"bot", "telegram"}
    ]
    assert not wrong, "\n".join(wrong)


def test_the_layering_test_sees_a_wrong_import(tmp_path: Path) -> None:
    """Break the rule once on purpose (in a copy, never in the checkout): an import of a later
    package is caught, and a relative one as well."""
    state = tmp_path / "bot" / "state"
    state.mkdir(parents=True)
    (state / "storage.py").write_text("from bot.telegram.streaming import ReplyStreamer\nfrom ..turns import budgets\n")
    assert sorted(wrong_imports("state", tmp_path)) == [
        "bot/state/storage.py imports bot.telegram.streaming",
        "bot/state/storage.py imports bot.telegram.streaming.ReplyStreamer",
        "bot/state/storage.py imports bot.turns",
        "bot/state/storage.py imports bot.turns.budgets",
    ]


def test_the_handlers_stay_thin() -> None:
    """The turn lives in ``bot/turns/service.py``; the conversation handlers parse and say (608 lines
    before the turn service, one class with 31 methods)."""
    lines = len((ROOT / "bot" / "handlers" / "conversation.py").read_text().splitlines())
    assert lines < 320, f"bot/handlers/conversation.py has {lines} lines"


#: The names of the stream's event types (besides ``str``), as code spells them.
EVENT_TYPES = {"Reset", "ProviderInfo", "Finish", "Usage", "Reasoning"}


def python_files() -> list[Path]:
    return [p for folder in ("bot", "providers", "benchmarks", "tests") for p in sorted((ROOT / folder).rglob("*.py"))]


def test_every_event_type_has_a_listener_method() -> None:
    """A new event type added to ``Chunk`` fails here until :data:`providers.answer.EVENTS` and the
    listener protocol name it (and then :func:`test_every_consumer_handles_every_event` fails until
    each consumer handles it)."""
    from typing import get_args

    from providers.answer import EVENTS, AnswerListener
    from providers.base import Chunk

    assert set(get_args(Chunk)) == set(EVENTS)
    assert {name for name in vars(AnswerListener) if name.startswith("on_")} == set(EVENTS.values())
    assert {t.__name__ for t in EVENTS} - {"str"} == EVENT_TYPES


def test_every_consumer_handles_every_event() -> None:
    """A class that handles one event of a chain (an ``on_*`` method of AnswerListener) handles them all."""
    from providers.answer import EVENTS

    methods = set(EVENTS.values())
    consumers, missing = [], []
    for path in python_files():
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ClassDef):
                defined = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} & methods
                if defined:
                    consumers.append(node.name)
                    if defined != methods:
                        missing.append(f"{path.relative_to(ROOT)}: {node.name} lacks {sorted(methods - defined)}")
    assert not missing, "\n".join(missing)
    assert {"ReplyStream", "Answer", "AnswerWriter", "_Deltas", "_Progress", "_Display"} <= set(consumers)


def test_only_the_answer_module_switches_on_event_types() -> None:
    """Consumers get events through ``providers.answer`` (dispatch, Answer); no ``isinstance`` on an
    event type elsewhere (five consumers branched on Reset, and the chain had a switch of its own)."""
    found = []
    for path in python_files():
        if path.parent.name == "tests" and path.name.startswith("test_"):
            continue  # assertions about events are no consumers
        if path.relative_to(ROOT) == Path("providers/answer.py"):
            continue
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
                types = ast.unparse(node.args[1]) if len(node.args) > 1 else ""
                subject = ast.unparse(node.args[0]) if node.args else ""
                if any(name in types.replace("(", " ").replace(",", " ").split() for name in EVENT_TYPES) or (
                    types == "str" and subject in {"chunk", "change"}
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} isinstance({subject}, {types})")
    assert not found, "\n".join(found)


def test_only_the_rate_limiter_asks_the_pacer_for_slots_or_blocks_a_chat() -> None:
    """One pacing mechanism: ``bot/telegram/ratelimit.py`` is the only caller of the pacer's
    acquire/penalize (the streamer paced itself and handled a 429 a second time before)."""
    calls = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if path.name in {"ratelimit.py", "pacing.py"}:
            continue
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Attribute) and node.attr in {"acquire", "acquire_global", "penalize"}:
                owner = ast.unparse(node.value)
                if "pacer" in owner.lower():
                    calls.append(f"{path.relative_to(ROOT)}:{node.lineno} {owner}.{node.attr}")
    assert not calls, "\n".join(calls)


def test_only_the_state_package_imports_a_database_driver() -> None:
    """Everything above ``bot/state`` depends on its interfaces (``bot.state.protocols``), never on a driver."""
    drivers = {"sqlite3", "aiosqlite", "asyncpg", "psycopg"}
    found = []
    for path in sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "providers").rglob("*.py")):
        if path.is_relative_to(ROOT / "bot" / "state"):
            continue
        for module in runtime_imports(path):
            if module.split(".")[0] in drivers:
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not found, "\n".join(found)
