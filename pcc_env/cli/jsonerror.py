"""Errors under ``--json``: ``{"error": {"type", "message", "exitCode"}}`` on stdout.

One line, so that it also ends the NDJSON stream of ``watch --json``. Pure (json only): the
entry point uses it for a Ctrl-C that arrives before Typer and rich are loaded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def json_requested(args: Sequence[str]) -> bool:
    """``--json`` among the arguments pcc-env parses; those after ``--`` belong to the command
    that ``pcc-env run`` starts."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def error_json(
    kind: str,
    message: str,
    code: int,
    hint: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The error document. ``message`` and ``hint`` are the texts the terminal would show
    (already free of values and of argument text); JSON escapes any control character."""
    error: dict[str, Any] = {"type": kind, "message": message, "exitCode": code}
    if hint:
        error["hint"] = hint
    return json.dumps({**(extra or {}), "error": error})
