"""System-prompt presets: named prompts the operator offers in ``/prompt`` (``PROMPTS_FILE``).

The file maps a preset's name to its prompt, in TOML or YAML (by its extension)::

    # prompts.toml
    translator = "Translate every message into English; answer with the translation only."
    coder = '''You are a senior Python engineer. Answer with code first, then a short explanation.'''

    # prompts.yaml
    translator: Translate every message into English; answer with the translation only.

A top-level ``[prompts]`` table (TOML) or ``prompts:`` mapping (YAML) is read the same way.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

import yaml

from bot import texts
from bot.config.operator_files import OperatorFileError, read_operator_file

#: A preset's name is shown on a button: at most this many characters.
MAX_PRESET_NAME = 40


class PresetsError(OperatorFileError):
    """The presets file cannot be used; the message says why in one line."""


def load_presets(path: Path, max_chars: int) -> dict[str, str]:
    """The presets in ``path``, name -> prompt, in the file's order.

    Raises:
        PresetsError: the file cannot be read (:func:`~bot.config.operator_files.read_operator_file`: missing,
            a FIFO or device, over 1 MB, not UTF-8), is neither valid TOML nor YAML, is not a
            mapping of names to text, has an empty prompt, a name longer than
            :data:`MAX_PRESET_NAME` characters, or a prompt longer than ``max_chars`` characters.
    """
    try:
        text = read_operator_file(path)
    except OperatorFileError as error:
        raise PresetsError(str(error)) from None
    try:
        data = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else tomllib.loads(text)
    except yaml.YAMLError as error:
        raise PresetsError(f"{path} is not valid YAML: {yaml_problem(error)}") from None
    except tomllib.TOMLDecodeError as error:  # "Invalid value (at line 1, column 5)": no content quoted
        raise PresetsError(f"{path} is not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("prompts"), dict):
        data = data["prompts"]
    if not isinstance(data, dict) or not data:
        raise PresetsError(f"{path} must map preset names to prompts")
    presets: dict[str, str] = {}
    for name, prompt in data.items():
        name = str(name).strip()
        if not isinstance(prompt, str) or not prompt.strip():
            raise PresetsError(f"{path}: the preset {name!r} must be a non-empty text")
        if len(name) > MAX_PRESET_NAME:
            raise PresetsError(f"{path}: the preset name {name[:20]!r}... is longer than {MAX_PRESET_NAME} characters")
        if len(prompt) > max_chars:
            raise PresetsError(f"{path}: the preset {name!r} is longer than MAX_PROMPT_CHARS ({max_chars})")
        presets[name] = prompt.strip()
    return presets


def yaml_problem(error: yaml.YAMLError) -> str:
    """One line saying what is wrong in a YAML file and where (line and column, from 1), without the
    file's line that PyYAML quotes under its message: the file may hold what is not meant to be shown."""
    if isinstance(error, yaml.MarkedYAMLError):
        problem = (error.problem or error.context or "unreadable").replace("\n", " ")
        mark = error.problem_mark or error.context_mark
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem
    return type(error).__name__


def preset_name(presets: Mapping[str, str], prompt: str | None) -> str | None:
    """The name of the preset whose text is ``prompt``, or None."""
    return next((name for name, text in presets.items() if text == prompt), None)


def describe_prompt(presets: Mapping[str, str], prompt: str | None) -> str:
    """How /prompt and /settings name a chat's prompt: "the default", "preset “name”" or
    "custom (N characters)"."""
    if prompt is None:
        return texts.PROMPT_DEFAULT
    name = preset_name(presets, prompt)
    if name:
        return texts.say("PROMPT_PRESET", name=name)
    return texts.CATALOG.plural(texts.language(), "PROMPT_CUSTOM", len(prompt))
