"""Reading .env files with python-dotenv, the parser pydantic-settings uses at run time.

The file is parsed once into raw values (as written) and interpolated values (``${VAR}``
expanded, as the runtime sees them), so callers can refuse a value that interpolation changed.
Problems are reported by line number and key, never with the line's content.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from pcc_env.errors import DotenvError
from pcc_env.rules import key_problems, show_key

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
    if problems:
        raise DotenvError(problems, source=str(env.path))
    values = {k: v for k, v in env.raw.items() if v}
    return values, empty
