"""Parsing the project's own sources for the tests that read the code (layout, catalog).

CPython 3.11 before 3.11.8 counts AST recursion depth in state its threads share
(python/cpython#106905): an ``ast.parse`` in a test while another thread formats a traceback (3.11
parses the failing line for its ``^^^`` marks) can fail with "SystemError: AST constructor recursion
depth mismatch", at random. Each file is parsed once (cached) and such a failure is parsed again.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

#: Tries of one parse that meets the spurious SystemError.
TRIES = 5


def parse(source: str) -> ast.Module:
    """``ast.parse(source)``, tried again on CPython's spurious recursion-depth SystemError."""
    for attempt in range(TRIES):
        try:
            return ast.parse(source)
        except SystemError as error:
            if "recursion depth mismatch" not in str(error) or attempt == TRIES - 1:
                raise
    raise AssertionError("unreachable")


@functools.cache
def _tree(path: Path, stamp: float) -> ast.Module:
    return parse(path.read_text())


def tree(path: Path) -> ast.Module:
    """The parsed file (parsed again when it changed)."""
    return _tree(path, path.stat().st_mtime)
