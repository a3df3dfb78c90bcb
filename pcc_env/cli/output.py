"""All printing and exiting of the CLI happens through here.

Rich tables and spinners on a terminal; plain tab-separated text when piped; JSON with --json.
Rich honours NO_COLOR. Errors go to stderr as one or two lines, never with a traceback; under
--json they are one JSON line on stdout instead (``jsonerror``), with the same exit code.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

from pcc_env.cli import interrupts
from pcc_env.cli.jsonerror import error_json
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

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

_stdout: Console | None = None
_stderr: Console | None = None
# Errors as JSON on stdout: set from the arguments (usage errors), then by ``handle_errors``
# from the command's own --json.
_json_errors = False
# Fields of a document the command had under way, merged into its JSON error (push's plan).
_error_context: dict[str, Any] = {}


def json_errors(on: bool) -> None:
    global _json_errors
    _json_errors = on
    _error_context.clear()


def json_errors_on() -> bool:
    return _json_errors


def add_error_context(**fields: Any) -> None:
    """Under --json, an error from here on carries these fields next to ``error``."""
    _error_context.update(fields)


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


def terminal_width(stream: Any) -> int | None:
    """The width of the terminal ``stream`` shows on (``COLUMNS`` first, as rich reads it), or
    None when it is not a terminal or does not say: piped output is never wrapped."""
    try:
        if not stream.isatty():
            return None
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() else os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None
    return width if width > 0 else None


def fit(text: str, width: int | None) -> str:
    """``text`` with each line longer than ``width`` wrapped at spaces. A terminal folds a long
    line at its last column, cutting a word in two ("'us-wes" / "t'"); here words stay whole,
    hyphenated ones too (a region, a host), and a word longer than a line keeps a line of its
    own. Continuation lines take the line's indent plus two spaces."""
    if width is None:
        return text
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")))
        lines.extend(
            textwrap.wrap(
                line,
                width,
                subsequent_indent=indent + "  ",
                break_long_words=False,
                break_on_hyphens=False,
                expand_tabs=False,
                replace_whitespace=False,
            )
            or [line]
        )
    return "\n".join(lines)


def _to_stderr(text: str, style: str | None = None) -> None:
    if sys.stderr.isatty():
        stderr().print(fit(text, terminal_width(sys.stderr)), markup=False, style=style)
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
    """Plain text to stdout (no markup interpretation), wrapped at spaces on a terminal."""
    print(fit(printable(message), terminal_width(sys.stdout)), flush=flush)


def styled(message: str, style: str) -> None:
    """A stdout line coloured on a terminal (wrapped at spaces), plain when piped."""
    if is_tty():
        stdout().print(
            fit(printable(message), terminal_width(sys.stdout)), style=style, markup=False
        )
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


def print_json_line(data: Any) -> None:
    """One line of an NDJSON stream (``watch --json``, ``emulator --json``), flushed."""
    print(json.dumps(data), flush=True)


def report_error(kind: str, message: str, code: int, hint: str | None = None) -> None:
    """An error: a JSON line on stdout under --json, else ``Error: ...`` (and the hint) on
    stderr. ``kind`` is the JSON ``type``: the exception class, or a name for the situation."""
    if _json_errors:
        extra = dict(_error_context)
        print(error_json(kind, printable(message), code, printable(hint) if hint else None, extra))
        sys.stdout.flush()
        return
    err(message)
    if hint:
        info(hint)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """A rich table on a terminal wide enough for every cell on one line; on a narrower one,
    one ``header: value`` line per cell (a table would cut or fold the values: a host and port,
    a set name, a deployment id). A header line and tab-separated rows when piped."""
    rows = [[escape_text(cell) for cell in row] for row in rows]  # one line per cell, no tabs
    title = printable(title) if title else None
    if is_tty():
        from rich.cells import cell_len
        from rich.table import Table

        widths = [
            max([cell_len(h), *(cell_len(row[i]) for row in rows)]) for i, h in enumerate(headers)
        ]
        # The default box: a border before each column and after the last, one space of
        # padding on each side of a cell.
        if sum(widths) + 3 * len(widths) + 1 <= stdout().width:
            t = Table(*headers, title=title, title_justify="left")
            for row in rows:
                t.add_row(*row)
            stdout().print(t)
            return
        if title:
            echo(title)
        for n, row in enumerate(rows):
            if n:
                echo()
            for header, cell in zip(headers, row, strict=True):
                print(printable(f"{header}: {cell}"))  # never wrapped: the value stays whole
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
    with after_writes([set_name]):
        yield


@contextmanager
def after_writes(accepted: Sequence[str]) -> Iterator[None]:
    """Around writes to several sets, ``accepted`` filling as each write is accepted: Ctrl-C
    names the sets whose write went through and how to follow them, then exits 130 (a plain
    interrupt when none did)."""
    try:
        yield
    except KeyboardInterrupt:
        names = sorted(escape_text(n) for n in accepted)
        if not names:
            raise
        which = (
            "the write was accepted"
            if len(names) == 1
            else f"the writes to {', '.join(names)} were accepted"
        )
        report_error(
            "Interrupted",
            f"interrupted while waiting; {which} and {'is' if len(names) == 1 else 'are'} "
            "being provisioned.",
            EXIT_INTERRUPTED,
            "Follow it with: " + "; ".join(f"pcc-env secrets wait {n}" for n in names),
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None


_unannounced = threading.local()


@contextmanager
def retries_unannounced() -> Iterator[None]:
    """Retries made by this thread inside are not shown: for a background read whose result is
    only a hint, whose retry lines would interleave with the command's output or come after
    its last line (the command may have ended and closed the client under it)."""
    _unannounced.on = True
    try:
        yield
    finally:
        _unannounced.on = False


def retry_notice(notice: RetryNotice) -> None:
    """Retries are visible: in the spinner on a terminal, else one stderr line per retry."""
    if getattr(_unannounced, "on", False):
        return
    what = f"{notice.reason}, retrying {notice.attempt}/{notice.attempts}"
    if _spinner is not None:
        status, message = _spinner
        status.update(f"{message} ({what})")
    else:
        info(f"{notice.method} {notice.path}: {what}")


def fail(
    message: str, code: int = EXIT_FAILED, kind: str | None = None, hint: str | None = None
) -> typer.Exit:
    """Report an error and return the Exit to raise: ``raise fail("...")``. The JSON ``type``
    is ``kind``, else InputError for exit 2 (bad input, nothing sent) and Error otherwise."""
    report_error(kind or ("InputError" if code == EXIT_USAGE else "Error"), message, code, hint)
    return typer.Exit(code)


def cancelled(message: str) -> typer.Exit:
    """The user declined: a plain line on stderr (not an error), or a JSON error; exit 1."""
    if _json_errors:
        report_error("Cancelled", message, EXIT_FAILED)
    else:
        info(message)
    return typer.Exit(EXIT_FAILED)


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
        # The client cut names that look like credentials to a prefix ending in "…".
        cut = "A name that looks like a credential is shown by its first characters only. "
        head = cut if any(p.endswith("…") for p in parts) else ""
        if len(parts) == 1 or parts[0].endswith("…"):
            return head + "'pcc-env secrets list' shows the secret sets of this organization."
        return head + (
            "'pcc-env secrets list' shows the secret sets, and "
            f"'pcc-env secrets list {escape_text(parts[0])}' the keys of one."
        )
    return None


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the library's typed errors into a one or two line message (or, when the command's
    ``json`` option is on, a JSON error) and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        json_errors(bool(kwargs.get("json")))  # Typer passes every parameter by name
        try:
            interrupts.release()  # a Ctrl-C during start-up ends here, cleanly
            return func(*args, **kwargs)
        except PccEnvError as exc:
            report_error(type(exc).__name__, str(exc), exit_code_for(exc), hint_for(exc))
            raise typer.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            report_error("Interrupted", "interrupted", EXIT_INTERRUPTED)
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper
