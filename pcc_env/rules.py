"""Naming and argument rules of Pipecat Cloud secrets, shared by the client, CLI and emulator.

The rules come from the API's OpenAPI fragments and the Secrets guide (seed 004). Functions named
``*_problems`` return every problem at once; ``check_*`` raise one ``InputError`` listing them.
No message contains a value; an invalid key is shown only when it cannot be a pasted value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pcc_env.errors import InputError

SET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SET_NAME_MIN_LENGTH = 3
SET_NAME_MAX_LENGTH = 63
KEY_PATTERN = r"^[A-Za-z0-9_-]+$"
KEY_MAX_LENGTH = 64
DEFAULT_REGION = "us-west"
# Not documented by the API: secret sets are mounted into the agent's container, and a
# Kubernetes Secret holds at most 1 MiB, so pcc-env refuses more before sending anything.
MAX_VALUE_BYTES = 64 * 1024
MAX_SET_BYTES = 1024 * 1024

_SET_NAME_RE = re.compile(SET_NAME_PATTERN)
_KEY_RE = re.compile(KEY_PATTERN)
_SHOWABLE_RE = re.compile(r"^[!-~]{1,64}$")  # printable ASCII, no spaces


def show_key(key: str) -> str:
    """Quote a key for a message, or describe it when it might be a value pasted by mistake."""
    if _SHOWABLE_RE.match(key):
        return repr(key)
    return f"<a key of {len(key)} characters, not shown>"


def set_name_problems(name: str) -> list[str]:
    """Everything wrong with a secret set name (empty list when it is valid)."""
    problems = []
    if not SET_NAME_MIN_LENGTH <= len(name) <= SET_NAME_MAX_LENGTH:
        problems.append(
            f"secret set name {show_key(name)} must be {SET_NAME_MIN_LENGTH} to "
            f"{SET_NAME_MAX_LENGTH} characters long (it has {len(name)})"
        )
    if not _SET_NAME_RE.match(name):
        problems.append(
            f"secret set name {show_key(name)} may use only lowercase letters, digits, '-' and "
            "'.', and each dot-separated part must start and end with a letter or digit"
        )
    return problems


def key_problems(key: str) -> list[str]:
    """Everything wrong with a secret key (empty list when it is valid)."""
    if not key:
        return ["a secret key is empty"]
    problems = []
    if len(key) > KEY_MAX_LENGTH:
        problems.append(
            f"secret key {show_key(key)} is {len(key)} characters long (at most {KEY_MAX_LENGTH})"
        )
    if not _KEY_RE.match(key):
        problems.append(f"secret key {show_key(key)} may contain only letters, digits, '_' and '-'")
    return problems


def value_problems(key: str, value: str) -> list[str]:
    """Everything wrong with one value (empty, NUL, too large), naming the key, never the value."""
    if value == "":
        return [f"the value of {show_key(key)} is empty"]
    problems = []
    if "\x00" in value:
        problems.append(f"the value of {show_key(key)} contains a NUL character")
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_VALUE_BYTES:
        problems.append(
            f"the value of {show_key(key)} is {size:,} bytes (at most {MAX_VALUE_BYTES:,})"
        )
    return problems


def total_size_problems(values: dict[str, str]) -> list[str]:
    total = sum(len(k) + len(v.encode("utf-8", "surrogatepass")) for k, v in values.items())
    if total > MAX_SET_BYTES:
        return [f"the secrets add up to {total:,} bytes (a set holds at most {MAX_SET_BYTES:,})"]
    return []


def check_set_name(name: str) -> str:
    """Return ``name`` or raise ``InputError`` naming every problem."""
    problems = set_name_problems(name)
    if problems:
        raise InputError(problems)
    return name


def check_keys(keys: Iterable[str]) -> None:
    """Raise ``InputError`` naming every invalid key."""
    problems = [p for key in keys for p in key_problems(key)]
    if problems:
        raise InputError(problems)


def parse_assignment(arg: str) -> tuple[str, str | None]:
    """Split one ``KEY=value`` argument as the Secrets guide promises.

    The argument is what the program receives after the shell removed its quotes. It splits at
    the first ``=``; one more ``=`` right after it is the documented ``KEY==value`` form and is
    dropped; then one pair of surrounding double quotes is removed (``'KEY="=v"'`` gives ``=v``).
    A bare ``KEY`` returns ``None`` as the value: the caller asks for it (prompt or stdin).
    """
    key, sep, value = arg.partition("=")
    if not sep:
        return arg, None
    if value.startswith("="):
        value = value[1:]
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    return key, value


def parse_assignments(args: Sequence[str]) -> list[tuple[str, str | None]]:
    """Parse ``KEY=value`` / ``KEY`` arguments, reporting every problem at once.

    Problems: invalid keys, empty or oversized values, a key given twice, too much in all.
    Values never appear in messages.
    """
    pairs: list[tuple[str, str | None]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for position, arg in enumerate(args, start=1):
        key, value = parse_assignment(arg)
        where = f"argument {position}"
        problems.extend(f"{where}: {p}" for p in key_problems(key))
        if value is not None:
            problems.extend(f"{where}: {p}" for p in value_problems(key, value))
        if key in seen:
            problems.append(f"{where}: {show_key(key)} is given more than once")
        seen.add(key)
        pairs.append((key, value))
    problems += total_size_problems({k: v for k, v in pairs if v is not None})
    if problems:
        raise InputError(problems)
    return pairs


def normalize_host(host: str) -> str:
    """Image pull secret hosts end with exactly one '/' (the API adds it when missing)."""
    return host if host.endswith("/") else host + "/"
