"""Printing helpers: the only place output is written. Plain text when piped, NO_COLOR honoured."""

from __future__ import annotations

import sys


def echo(message: str = "", *, flush: bool = False) -> None:
    print(message, flush=flush)


def err(message: str) -> None:
    print(f"Error: {message}", file=sys.stderr, flush=True)
