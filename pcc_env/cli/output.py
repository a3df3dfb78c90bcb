"""All printing and exiting of the CLI happens through here.

Rich tables and spinners on a terminal; plain tab-separated text when piped; JSON with --json.
Rich honours NO_COLOR. Errors go to stderr as one or two lines, never with a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

from pcc_env.cli import interrupts
from pcc_env.errors import (
    ConfigError,
    InputError,
    InvalidApiKeyError,
    NoApiKeyError,
    NotFoundError,
    PccEnvError,
    ReadyTimeoutError,
    UnauthorizedError,
)
from pcc_env.rules import escape_text

if TYPE_CHECKING:
    from rich.console import Console

    from pcc_env.client import RetryNotice

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILED, EXIT_USAGE = 1, 2

_stdout: Console | None = None
_stderr: Console | None = None


def stdout() -> Console:
    """Rich on stdout: only for a terminal (rich costs start-up time; piped output is plain)."""
    global _stdout
    if _stdout is None:
        from rich.console import Console

        _stdout = Console(highlight=False, soft_wrap=True)
    return _stdout


def stderr() -> Console:
    global _stderr
    if _stderr is None:
        from rich.console import Console

        _stderr = Console(stderr=True, highlight=False, soft_wrap=True)
    return _stderr


def _to_stderr(text: str, style: str | None = None) -> None:
    if sys.stderr.isatty():
        stderr().print(text, markup=False, style=style)
    else:
        print(text, file=sys.stderr, flush=True)


def is_tty() -> bool:
    return sys.stdout.isatty()


def stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()  # None: started with stdin closed


def printable(message: str) -> str:
    """``message`` with control characters escaped in each of its lines: a file name, an
    argument or a server's string must not move the cursor, recolour the terminal or hide text.
    (Strings from the server have their line breaks escaped when they are read.)"""
    if message.isprintable():
        return message
    return "\n".join(escape_text(line) for line in message.split("\n"))


def echo(message: str = "", *, flush: bool = False) -> None:
    """Plain text to stdout (no markup interpretation)."""
    print(printable(message), flush=flush)


def styled(message: str, style: str) -> None:
    """A stdout line coloured on a terminal, plain when piped."""
    if is_tty():
        stdout().print(printable(message), style=style, markup=False)
    else:
        echo(message)


def info(message: str) -> None:
    """A progress or hint line for people: stderr, so stdout stays clean for pipes."""
    _to_stderr(printable(message))


def success(message: str) -> None:
    styled(message, "green")


def warn(message: str) -> None:
    _to_stderr(f"Warning: {printable(message)}", "yellow")


def err(message: str) -> None:
    _to_stderr(f"Error: {printable(message)}", "red")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """A rich table on a terminal; a header line and tab-separated rows when piped."""
    rows = [[escape_text(cell) for cell in row] for row in rows]  # one line per cell, no tabs
    title = printable(title) if title else None
    if is_tty():
        from rich.table import Table

        t = Table(*headers, title=title, title_justify="left")
        for row in rows:
            t.add_row(*row)
        stdout().print(t)
        return
    if title:
        print(title)
    print("\t".join(headers))
    for row in rows:
        print("\t".join(row))


_spinner: tuple[Any, str] | None = None  # the rich Status on screen, and its message


@contextmanager
def spinner(message: str) -> Iterator[None]:
    global _spinner
    if not sys.stderr.isatty():
        yield
        return
    with stderr().status(message) as status:
        _spinner = (status, message)
        try:
            yield
        finally:
            _spinner = None


@contextmanager
def after_write(set_name: str) -> Iterator[None]:
    """Around the wait for ``ready`` that follows a write: Ctrl-C says the write was accepted
    and how to follow it, then exits 130."""
    try:
        yield
    except KeyboardInterrupt:
        err("interrupted while waiting; the write was accepted and is being provisioned.")
        info(f"Follow it with: pcc-env secrets wait {set_name}")
        raise typer.Exit(130) from None


def retry_notice(notice: RetryNotice) -> None:
    """Retries are visible: in the spinner on a terminal, else one stderr line per retry."""
    what = f"{notice.reason}, retrying {notice.attempt}/{notice.attempts}"
    if _spinner is not None:
        status, message = _spinner
        status.update(f"{message} ({what})")
    else:
        info(f"{notice.method} {notice.path}: {what}")


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print an error and return the Exit to raise: ``raise fail("...")``."""
    err(message)
    return typer.Exit(code)


def exit_code_for(exc: PccEnvError) -> int:
    if isinstance(exc, (InputError, ConfigError, NoApiKeyError, InvalidApiKeyError)):
        return EXIT_USAGE
    return EXIT_FAILED


def hint_for(exc: PccEnvError) -> str | None:
    if isinstance(exc, UnauthorizedError):
        return "The API key was refused: check PIPECAT_API_KEY or run 'pcc-env login'."
    if isinstance(exc, ReadyTimeoutError):
        return f"Check again later with 'pcc-env secrets wait {escape_text(exc.set_name)}'."
    if isinstance(exc, NotFoundError) and exc.path and exc.path.startswith("/secrets/"):
        parts = exc.path.split("/")[2:]
        if len(parts) == 1:
            return "'pcc-env secrets list' shows the secret sets of this organization."
        return (
            "'pcc-env secrets list' shows the secret sets, and "
            f"'pcc-env secrets list {escape_text(parts[0])}' the keys of one."
        )
    return None


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the library's typed errors into a one or two line message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            interrupts.release()  # a Ctrl-C during start-up ends here, cleanly
            return func(*args, **kwargs)
        except PccEnvError as exc:
            err(str(exc))
            hint = hint_for(exc)
            if hint:
                info(hint)
            raise typer.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            err("interrupted")
            raise typer.Exit(130) from None

    return wrapper
