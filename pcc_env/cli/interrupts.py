"""Ctrl-C during start-up: deferred until a command starts, then a clean exit 130.

A KeyboardInterrupt raised in the middle of an import can surface as a traceback from
wherever the import was, be swallowed by importlib ("Exception ignored in ..."), or break a
half-built class (pydantic: "Error calling __set_name__"). While modules load and arguments are
parsed, SIGINT is only noted; ``release`` (called as a command starts) restores Python's handler
and raises the noted interrupt where ``handle_errors`` turns it into "interrupted", exit 130.
"""

from __future__ import annotations

import signal

_pending: list[int] = []
_deferring = False


def defer() -> None:
    """Note SIGINT instead of raising it (the CLI's entry point calls this first)."""
    global _deferring
    _deferring = True
    signal.signal(signal.SIGINT, lambda signum, _frame: _pending.append(signum))


def release() -> None:
    """Restore the default SIGINT handler; raise KeyboardInterrupt if one arrived meanwhile."""
    global _deferring
    if not _deferring:
        return
    _deferring = False
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if _pending:
        raise KeyboardInterrupt


def pending() -> bool:
    return bool(_pending)


def release_quietly() -> None:
    """Restore the default handler without raising (the command is over)."""
    global _deferring
    if _deferring:
        _deferring = False
        signal.signal(signal.SIGINT, signal.default_int_handler)
