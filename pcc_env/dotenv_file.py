"""Reading .env files with python-dotenv, the parser pydantic-settings uses at run time.

The file is parsed once into raw values (as written) and interpolated values (``${VAR}``
expanded, as the runtime sees them), so callers can refuse a value that interpolation changed.
Problems are reported by line number and key, never with the line's content.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from pcc_env.errors import DotenvError
from pcc_env.rules import key_problems, show_key, total_size_problems, value_problems

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


def read_env_file(path: str | os.PathLike[str]) -> EnvFile:
    """Parse ``path``; raises ``DotenvError`` when it cannot be read as UTF-8 text."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_ENV_FILE_BYTES:
            raise DotenvError(
                f"the file is {size:,} bytes; a .env file over {MAX_ENV_FILE_BYTES:,} bytes is "
                "refused",
                source=str(p),
            )
        data = p.read_bytes()
    except FileNotFoundError:
        raise DotenvError("file not found", source=str(p)) from None
    except IsADirectoryError:
        raise DotenvError("is a directory, not a .env file", source=str(p)) from None
    except PermissionError:
        raise DotenvError("permission denied", source=str(p)) from None
    return parse_env_bytes(data, p)


def parse_env_bytes(data: bytes, path: Path) -> EnvFile:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DotenvError("the file is UTF-16 encoded; save it as UTF-8", source=str(path))
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DotenvError(f"line {line}: contains a NUL byte", source=str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DotenvError(f"line {line}: not valid UTF-8", source=str(path)) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    bad_lines: list[int] = []
    seen: set[str] = set()
    duplicates: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            bad_lines.append(binding.original.line)
        elif binding.key is not None:
            if binding.key in seen and binding.key not in duplicates:
                duplicates.append(binding.key)
            seen.add(binding.key)
    raw = dotenv_values(stream=io.StringIO(text), interpolate=False)
    interpolated = dotenv_values(stream=io.StringIO(text), interpolate=True)
    return EnvFile(path, dict(raw), dict(interpolated), bad_lines, duplicates)


def secrets_to_send(
    env: EnvFile, *, interpolate: bool = True, skip_empty: bool = False
) -> tuple[dict[str, str], list[str]]:
    """The key/value pairs to push, and the keys skipped as empty.

    Refuses (one ``DotenvError`` listing every problem) unparsable lines, invalid keys, empty
    values (unless ``skip_empty``) and values that ``${...}`` interpolation changes (unless
    ``interpolate`` is False, which sends them as written).
    """
    problems = [f"line {n}: cannot be parsed" for n in env.bad_lines]
    for key in env.keys:
        problems.extend(key_problems(key))
    if env.duplicates:
        problems.append(
            "defined more than once (python-dotenv keeps the last): "
            + ", ".join(map(show_key, env.duplicates))
        )
    for key, value in env.raw.items():
        if value:
            problems.extend(value_problems(key, value))
    empty = env.empty_keys()
    if empty and not skip_empty:
        problems.append(
            "empty values for "
            + ", ".join(map(show_key, empty))
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
        raise DotenvError(problems, source=str(env.path))
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
    """One ``KEY=`` line of an onboarding template, with the comments that explain it."""

    key: str
    comments: tuple[str, ...] = ()
    group: str = ""  # "" for the main group, else a heading such as "In the set only"


NO_LONGER_MARK = "# pcc-env: no longer in the secret set or the settings model"


def render_template(entries: list[TemplateEntry], header: list[str]) -> str:
    """A fresh template: header, then each group (main group first), one ``KEY=`` per entry."""
    lines = [f"# {h}" if h else "#" for h in header]
    groups: dict[str, list[TemplateEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.group, []).append(entry)
    for group, members in sorted(groups.items(), key=lambda g: g[0] != ""):
        lines.append("")
        if group:
            lines.append(f"# --- {group} ---")
        for entry in members:
            lines.extend(f"# {c}" for c in entry.comments)
            lines.append(f"{entry.key}=")
    return "\n".join(lines) + "\n"


def template_keys_with_values(text: str) -> list[int]:
    """Line numbers of a would-be template that hold values (so it is not a template)."""
    return [
        b.original.line
        for b in parse_stream(io.StringIO(text))
        if b.key is not None and b.value not in (None, "")
    ]


def update_template(text: str, entries: list[TemplateEntry]) -> str:
    """Update an existing template in place; running it twice changes nothing.

    Hand-written comments and the order of existing lines are kept. Keys that are no longer
    wanted get a marker comment above them (removed again if they come back); new keys are
    appended with their comments under their group heading.
    """
    wanted = {e.key: e for e in entries}
    present: set[str] = set()
    out: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        chunk = binding.original.string.splitlines()
        key = binding.key
        if key is None:
            out.extend(chunk)
            continue
        present.add(key)
        marked = bool(out) and out[-1] == NO_LONGER_MARK
        if key in wanted and marked:
            out.pop()
        elif key not in wanted and not marked:
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
                out.append(f"{entry.key}=")
    return "\n".join(out) + "\n"
