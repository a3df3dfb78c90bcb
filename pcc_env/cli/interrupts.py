"""Ctrl-C during start-up: deferred until a command starts, then a clean exit 130.

A KeyboardInterrupt raised in the middle of an import can surface as a traceback from
wherever the import was, be swallowed by importlib ("Exception ignored in ...", and the command
goes on as if no Ctrl-C came), or break a half-built class (pydantic: "Error calling
__set_name__"). While modules load and arguments are parsed, SIGINT is only noted; ``release``
(called as a command starts) raises the noted interrupt where ``handle_errors`` turns it into
"interrupted", exit 130. From then on Ctrl-C raises KeyboardInterrupt as Python's own handler
does, except inside an import (commands import what they use as they go): there it is delivered
again a moment later, once the import is over.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

REDELIVER_AFTER = 0.01  # seconds

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
    signal.signal(signal.SIGINT, on_sigint)
    if _pending:
        raise KeyboardInterrupt


def on_sigint(signum: int, frame: FrameType | None) -> None:
    """Python's KeyboardInterrupt, outside imports; inside one, the same signal again soon."""
    if _importing(frame):
        timer = threading.Timer(REDELIVER_AFTER, signal.raise_signal, (signum,))
        timer.daemon = True
        timer.start()
        return
    raise KeyboardInterrupt


def _importing(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def pending() -> bool:
    return bool(_pending)


def release_quietly() -> None:
    """Restore the default handler without raising (the command is over)."""
    global _deferring
    if _deferring:
        _deferring = False
        signal.signal(signal.SIGINT, signal.default_int_handler)
