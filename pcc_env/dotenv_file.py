"""Reading .env files with python-dotenv, the parser pydantic-settings uses at run time.

The file is parsed once into raw values (as written) and interpolated values (``${VAR}``
expanded, as the runtime sees them), so callers can refuse a value that interpolation changed.
Problems are reported by line number and key, never with the line's content.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from pcc_env.errors import DotenvError, InputError
from pcc_env.rules import (
    case_duplicate_problems,
    display_path,
    escape_text,
    is_placeholder,
    is_template_value,
    key_problems,
    looks_secret,
    show_key,
    total_size_problems,
    value_problems,
)

MAX_ENV_FILE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class EnvFile:
    """A parsed .env file. Values never appear in its repr."""

    path: Path
    raw: dict[str, str | None] = field(repr=False)
    interpolated: dict[str, str | None] = field(repr=False)
    bad_lines: list[int]
    duplicates: list[str]

    @property
    def keys(self) -> list[str]:
        return list(self.raw)

    def empty_keys(self) -> list[str]:
        return [k for k, v in self.raw.items() if not v]

    def interpolation_changed(self) -> list[str]:
        """Keys whose value ``${...}`` interpolation would change."""
        return [k for k, v in self.raw.items() if v != self.interpolated.get(k)]


class _FdReader:
    """Reads a descriptor that may be a directory (``os.fdopen`` refuses those)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, limit: int) -> bytes:
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(self.fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        os.close(self.fd)


def read_regular_file(path: Path, what: str, max_bytes: int) -> bytes:
    """The bytes of ``path``, refusing at once anything but a regular file of at most
    ``max_bytes``: a FIFO would block forever, ``/dev/zero`` would never end. Raises
    ``InputError`` (``source`` = the path) naming the problem."""
    source = escape_text(display_path(str(path)))  # a key typed where a file belongs
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not {what}", source=source) from None
    except PermissionError:
        raise InputError("permission denied", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot be opened ({type(exc).__name__})", source=source) from None
    with contextlib.closing(_FdReader(fd)) as fh:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InputError(f"is a directory, not {what}", source=source)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(
                f"is not a regular file (a pipe, socket or device); {what} must be a file",
                source=source,
            )
        if st.st_size > max_bytes:
            raise InputError(
                f"the file is {st.st_size:,} bytes; {what} over {max_bytes:,} bytes is refused",
                source=source,
            )
        return fh.read(max_bytes + 1)


def read_env_file(path: str | os.PathLike[str]) -> EnvFile:
    """Parse ``path``; raises ``DotenvError`` when it cannot be read as UTF-8 text."""
    p = Path(path)
    try:
        data = read_regular_file(p, "a .env file", MAX_ENV_FILE_BYTES)
    except DotenvError:
        raise
    except InputError as exc:
        raise DotenvError(exc.problems, source=exc.source) from None
    return parse_env_bytes(data, p)


def _line_list(numbers: list[int]) -> str:
    """``line 3`` / ``lines 2, 3, 4`` (at most ten numbers, then how many more)."""
    shown = ", ".join(map(str, numbers[:10]))
    more = f" and {len(numbers) - 10} more" if len(numbers) > 10 else ""
    return f"line{'s' if len(numbers) > 1 else ''} {shown}{more}"


def decode_env_bytes(data: bytes, path: Path) -> str:
    """The text of a .env file; ``DotenvError`` (line number only) for UTF-16, NUL, bad UTF-8."""
    source = escape_text(display_path(str(path)))  # a key typed where a file belongs
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DotenvError("the file is UTF-16 encoded; save it as UTF-8", source=source)
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DotenvError(f"line {line}: contains a NUL byte", source=source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DotenvError(f"line {line}: not valid UTF-8", source=source) from None
    return text[1:] if text.startswith("\ufeff") else text


def parse_env_bytes(data: bytes, path: Path) -> EnvFile:
    """Parse a .env file's bytes, refusing at once (line numbers only) a file with a line that
    cannot be parsed or has no ``=``: nothing of such a line is a key, and its text may be part
    of a value (an unquoted multi-line PEM key), so no later message may show any of it."""
    text = decode_env_bytes(data, path)
    source = escape_text(display_path(str(path)))  # a key typed where a file belongs
    bad_lines: list[int] = []
    no_equals: list[int] = []
    seen: set[str] = set()
    duplicates: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            bad_lines.append(binding.original.line)
        elif binding.key is not None and binding.value is None:
            no_equals.append(binding.original.line)
        elif binding.key is not None:
            if binding.key in seen and binding.key not in duplicates:
                duplicates.append(binding.key)
            seen.add(binding.key)
    problems = []
    if no_equals:
        problems.append(
            f"{_line_list(no_equals)}: no '=' (an unquoted multi-line value? Wrap it in double "
            "quotes)"
        )
    if bad_lines:
        problems.append(f"{_line_list(bad_lines)}: cannot be parsed (the line is not shown)")
    if problems:
        raise DotenvError(problems, source=source)
    # No line fails to parse, so python-dotenv has nothing to warn about on stderr.
    raw = dotenv_values(stream=io.StringIO(text), interpolate=False)
    if any(v is not None and "${" in v for v in raw.values()):
        interpolated = dotenv_values(stream=io.StringIO(text), interpolate=True)
    else:  # python-dotenv expands only ${...}: with none, the second parse gives the same
        interpolated = raw
    return EnvFile(path, dict(raw), dict(interpolated), [], duplicates)


def secrets_to_send(
    env: EnvFile,
    *,
    interpolate: bool = True,
    skip_empty: bool = False,
    empty_ok: Callable[[], Collection[str]] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The key/value pairs to push, and the keys skipped as empty.

    Refuses (one ``DotenvError`` listing every problem) unparsable lines, invalid keys, empty
    values (unless ``skip_empty``, or the key is one of ``empty_ok()``: a field with a default
    that the model reads as unset when empty, asked only when a value is empty) and values that
    ``${...}`` interpolation changes (unless ``interpolate`` is False, which sends them as
    written).
    """
    problems = [f"line {n}: cannot be parsed" for n in env.bad_lines]
    for key in env.keys:
        problems.extend(key_problems(key))
    problems += case_duplicate_problems(env.keys)
    if env.duplicates:
        problems.append(
            "defined more than once (python-dotenv keeps the last): "
            + ", ".join(map(show_key, env.duplicates))
        )
    for key, value in env.raw.items():
        if value:
            problems.extend(value_problems(key, value))
    # A template copied to .env and not filled in: 'your_daily_api_key' is no key to send.
    copied = [k for k, v in env.raw.items() if v and looks_secret(k) and is_placeholder(v)]
    if copied:
        problems.append(
            "placeholder values (a template copied and not filled in?) for "
            + ", ".join(map(show_key, copied))
            + ": fill them in, or leave them empty (KEY=) to leave them out"
        )
    empty = env.empty_keys()
    unset_ok: Collection[str] = (
        empty_ok() if empty and not skip_empty and empty_ok is not None else set()
    )
    refused = [k for k in empty if k not in unset_ok and k.upper() not in unset_ok]
    if refused and not skip_empty:
        problems.append(
            "empty values for "
            + ", ".join(map(show_key, refused))
            + " (fill them in, or pass --skip-empty to leave them out)"
        )
    if interpolate:
        changed = env.interpolation_changed()
        if changed:
            problems.append(
                "${...} interpolation changes the value of "
                + ", ".join(map(show_key, changed))
                + " (pass --no-interpolate to send them as written)"
            )
    values = {k: v for k, v in env.raw.items() if v}
    problems += total_size_problems(values)
    if not env.keys and not problems:
        problems.append("the file has no keys to send")
    if problems:
        raise DotenvError(problems, source=escape_text(str(env.path)))
    return values, empty


# Writing ----------------------------------------------------------------------------------------


def atomic_write_text(path: str | os.PathLike[str], text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same dir, fsync, rename).

    The temp file is created with ``mode`` from the start, so there is no moment at which the
    content is readable by others; readers see the old file or the new one, never half of one.
    """
    import tempfile

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class TemplateEntry:
    """One ``KEY=`` line of an onboarding template, with the comments that explain it. An
    ``optional`` key (it has a default) is written commented out, ``# KEY=default``, as Pipecat's
    templates do: a template copied to .env then leaves the default in force."""

    key: str
    comments: tuple[str, ...] = ()
    group: str = ""  # "" for the main group, else a heading such as "In the set only"
    optional: bool = False
    example: str = ""  # the default shown in ``# KEY=example`` (never a secret's)

    @property
    def line(self) -> str:
        return f"# {self.key}={self.example}" if self.optional else f"{self.key}="


# The last header line of a template pcc-env writes: optional keys need no value.
TEMPLATE_ADVICE = (
    "Copy it to .env and fill in the required keys; keys commented out (# KEY=default) are "
    "optional. Never commit a file with values."
)

# The names of a template, in the order they are looked for: ``.env.example`` first (what
# pcc-env wrote so far), then ``env.example`` (the Pipecat convention: most real bots have it).
TEMPLATE_FILES = (".env.example", "env.example")


def find_template(root: Path) -> Path:
    """The project's template: an existing ``.env.example`` or ``env.example`` (updated in
    place, never a second one beside it), else ``.env.example`` to create."""
    for name in TEMPLATE_FILES:
        path = root / name
        if path.exists() or path.is_symlink():
            return path
    return root / TEMPLATE_FILES[0]


NO_LONGER_MARK = "# pcc-env: no longer in the secret set or the settings model"
# The keys export wrote, so that a later update marks only those as gone: a key added by hand
# was never in the set or the model, and is left alone.
RECORD_PREFIX = "# pcc-env export keys:"


def _record_line(keys: list[str]) -> str:
    return " ".join([RECORD_PREFIX, *keys])


def _read_record(lines: list[str]) -> tuple[int, list[str]] | None:
    """(index, keys) of the record line, or None (a template from before it, or hand-written)."""
    for n, line in enumerate(lines):
        if line.startswith(RECORD_PREFIX):
            return n, line[len(RECORD_PREFIX) :].split()
    return None


def _record_position(lines: list[str]) -> int:
    """Where a template from before the record gets it: after its header (leading comments
    ended by a blank line), else first, so a heading such as ``# Daily credentials`` stays
    right above the key it describes."""
    end = next((n for n, x in enumerate(lines) if not x.startswith("#")), len(lines))
    if end == 0 or end == len(lines) or lines[end].strip() == "":
        return end
    return 0


def render_template(entries: list[TemplateEntry], header: list[str]) -> str:
    """A fresh template: header, then each group (main group first), one ``KEY=`` per entry."""
    lines = [f"# {h}" if h else "#" for h in header]
    lines.append(_record_line([e.key for e in entries]))
    groups: dict[str, list[TemplateEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.group, []).append(entry)
    for group, members in sorted(groups.items(), key=lambda g: g[0] != ""):
        lines.append("")
        if group:
            lines.append(f"# --- {group} ---")
        for entry in members:
            lines.extend(f"# {c}" for c in entry.comments)
            lines.append(entry.line)
    return "\n".join(lines) + "\n"


def non_template_lines(text: str) -> list[int]:
    """Line numbers of ``text`` that are not template lines (comments, blank lines, ``KEY=``).

    Anything else may hold a value in some format (``KEY=v``, YAML ``KEY: v``, JSON, ``export
    KEY v``, a bare token), so a file with such a line is never overwritten by ``export``.
    """
    return [
        b.original.line
        for b in parse_stream(io.StringIO(text))
        if b.error or (b.key is not None and b.value != "")
    ]


def lines_with_values(path: Path) -> list[int]:
    """Line numbers of an env file that hold a value (``value_shapes.lines_holding_values``):
    empty for a template. A file named as a template (``env.example``, ``x.env.sample``) may
    keep placeholders and harmless values; any other (``.env``, ``.envrc``, ``prod.env.local``)
    none. ``InputError`` when it is not a regular file; ``DotenvError`` (line number only) when
    it is not UTF-8 text, which may hold values too."""
    from pcc_env.value_shapes import is_template_name, lines_holding_values

    text = decode_env_bytes(read_regular_file(path, "an env file", MAX_ENV_FILE_BYTES), path)
    return lines_holding_values(
        text, template=is_template_name(path.name), direnv=path.name == ".envrc"
    )


def _holds_assignment(comment: str) -> bool:
    """Whether a comment line, without its ``#``, parses as ``KEY=value`` with a value."""
    body = comment.strip().lstrip("#")
    if not body or "=" not in body:
        return False
    return any(
        b.key is not None and b.value and not b.error for b in parse_stream(io.StringIO(body))
    )


_COMMENTED_KEY_RE = re.compile(r"^[ \t]*#+[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=")


def _commented_key(line: str) -> str | None:
    """``LOG_LEVEL`` of ``# LOG_LEVEL=INFO``: an optional key, commented out (Pipecat's way)."""
    match = _COMMENTED_KEY_RE.match(line)
    return match.group(1) if match else None


def template_problem_lines(text: str) -> list[int]:
    """Line numbers of a template that may hold a real value: a line that does not parse or
    has no ``=``, an invalid key, or a value (active or commented out) that is neither a
    placeholder nor a plain default of a setting that is no secret (``rules.is_template_value``).
    ``your_openai_api_key``, ``<domain>``, ``sk-...``, ``ENV=local`` pass. Every line the
    no-values hook refuses in a template (``value_shapes.lines_holding_values``: a value in any
    comment form) is one too: init and export never keep a template that check-files refuses."""
    from pcc_env.value_shapes import lines_holding_values

    bad: list[int] = []
    for b in parse_stream(io.StringIO(text)):
        line = b.original.line
        if b.error or (b.key is not None and b.value is None):
            bad.append(line)
        elif b.key is not None:
            if key_problems(b.key) or not is_template_value(b.key, b.value or ""):
                bad.append(line)
        elif _holds_assignment(b.original.string):
            body = b.original.string.strip().lstrip("#")
            inner = [x for x in parse_stream(io.StringIO(body)) if x.key is not None]
            if not all(
                x.value is not None and is_template_value(x.key or "", x.value) for x in inner
            ):
                bad.append(line)
    return sorted({*bad, *lines_holding_values(text, template=True)})


def template_keys(text: str) -> list[str]:
    """The keys a template sets (``KEY=`` and ``KEY=placeholder`` lines), in order; keys
    commented out are alternatives, not counted."""
    keys: list[str] = []
    for b in parse_stream(io.StringIO(text)):
        if b.key is not None and not b.error and b.key not in keys:
            keys.append(b.key)
    return keys


def read_template(path: Path) -> str:
    """An existing template's text; ``InputError`` (exit 2) for anything but a regular UTF-8
    file made only of comments, ``KEY=`` lines and placeholders (``template_problem_lines``),
    naming line numbers, never content."""
    text = decode_env_bytes(read_regular_file(path, "a template", MAX_ENV_FILE_BYTES), path)
    bad = template_problem_lines(text)
    if bad:
        raise InputError(
            f"holds values or content other than comments and KEY= lines ({_line_list(bad)}); "
            "export only writes templates and never overwrites such a file (not even with "
            "--force). Choose another file.",
            source=escape_text(str(path)),
        )
    return text


def update_template(text: str, entries: list[TemplateEntry], *, mark_gone: bool = True) -> str:
    """Update an existing template in place; running it twice changes nothing.

    Hand-written comments and the order of existing lines are kept. Keys that export wrote
    before (its record line) and are no longer wanted get a marker comment above them (removed
    again if they come back), unless ``mark_gone`` is False (``entries`` are not every key: the
    set's were not read); keys added by hand are never marked. New keys are appended with their
    comments under their group heading.
    """
    wanted = {e.key: e for e in entries}
    record = _read_record(text.splitlines())
    exported = set(record[1]) if record is not None else set()
    present: set[str] = set()
    out: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        chunk = binding.original.string.splitlines()
        # ``# KEY=default``: an optional key, written commented out; marked like any other.
        key = binding.key or (_commented_key(chunk[0]) if len(chunk) == 1 else None)
        if key is None:
            out.extend(chunk)
            continue
        present.add(key)
        marked = bool(out) and out[-1] == NO_LONGER_MARK
        if key in wanted and marked:
            out.pop()
        elif key not in wanted and not marked and mark_gone and key in exported:
            out.append(NO_LONGER_MARK)
        out.extend(chunk)
    missing = [e for e in entries if e.key not in present]
    if missing:
        while out and out[-1] == "":
            out.pop()
        groups: dict[str, list[TemplateEntry]] = {}
        for entry in missing:
            groups.setdefault(entry.group, []).append(entry)
        for group, members in sorted(groups.items(), key=lambda g: g[0] != ""):
            out.append("")
            heading = f"# --- {group} ---" if group else None
            if heading and heading not in out:
                out.append(heading)
            for entry in members:
                out.extend(f"# {c}" for c in entry.comments)
                out.append(entry.line)
    # The record: what is wanted now, and what export wrote before that is still in the file.
    kept = [k for k in (record[1] if record else []) if k not in wanted and k in present]
    line = _record_line([*wanted, *kept])
    found = _read_record(out)
    if found is not None:
        out[found[0]] = line
    else:
        out.insert(_record_position(out), line)
    return "\n".join(out) + "\n"


def template_drift(
    text: str, entries: list[TemplateEntry], *, mark_gone: bool = True
) -> tuple[list[str], list[str]]:
    """(keys to add, keys gone): what ``update_template`` would change in ``text``, by key name.

    To add: wanted keys with no ``KEY=`` line. Gone: keys export wrote before (its record line),
    still in the file without the no-longer mark, and no longer wanted (only with ``mark_gone``,
    as in ``update_template``). Both empty: the template is current.
    """
    wanted = {e.key for e in entries}
    record = _read_record(text.splitlines())
    exported = set(record[1]) if record is not None else set()
    present: list[str] = []
    gone: list[str] = []
    previous = ""
    for binding in parse_stream(io.StringIO(text)):
        lines = binding.original.string.splitlines()
        key = binding.key or (_commented_key(lines[0]) if len(lines) == 1 else None)
        if key is not None:
            present.append(key)
            marked = previous == NO_LONGER_MARK
            if key not in wanted and mark_gone and key in exported and not marked:
                gone.append(key)
        if lines:
            previous = lines[-1]
    return [e.key for e in entries if e.key not in present], gone
