"""Naming and argument rules of Pipecat Cloud secrets, shared by the client, CLI and emulator.

The rules come from the API's OpenAPI fragments and the Secrets guide (seed 004). Functions named
``*_problems`` return every problem at once; ``check_*`` raise one ``InputError`` listing them.
No message contains a value; an invalid key is shown only when it cannot be a pasted value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from pcc_env.errors import InputError

SET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SET_NAME_MIN_LENGTH = 3
SET_NAME_MAX_LENGTH = 63
# An agent (service) name is a DNS label. Names the server sends are checked against it before
# they build a URL: "." and ".." would make ``/agents/{name}`` the create endpoint or the root.
AGENT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
AGENT_NAME_MAX_LENGTH = 63
KEY_PATTERN = r"^[A-Za-z0-9_-]+$"
KEY_MAX_LENGTH = 64
DEFAULT_REGION = "us-west"
# Not documented by the API: secret sets are mounted into the agent's container, and a
# Kubernetes Secret holds at most 1 MiB, so pcc-env refuses more before sending anything.
MAX_VALUE_BYTES = 64 * 1024
MAX_SET_BYTES = 1024 * 1024

_SET_NAME_RE = re.compile(SET_NAME_PATTERN)
_KEY_RE = re.compile(KEY_PATTERN)
_AGENT_NAME_RE = re.compile(AGENT_NAME_PATTERN)
# Python keeps undecodable bytes of argv and stdin as lone surrogates (PEP 383).
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Shown in messages: what a mistyped key looks like. Not '+', '/', '=' (base64), quotes, spaces.
_SHOWABLE_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Characters that can move the cursor, recolour or reorder a terminal's text, or start a new line.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def escape_text(text: str) -> str:
    """``text`` with every control, format (bidi) and line-separator character escaped.

    For strings that did not come from pcc-env (the server's set names, keys and messages, file
    names): printed as they are, they could inject terminal escapes or whole lines.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == " " or unicodedata.category(ch) not in _UNPRINTABLE_CATEGORIES:
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def show_key(key: str, what: str = "key") -> str:
    """Quote a key for a message, or describe it when it might be a value pasted by mistake.
    ``what`` says what it is in that description ("name" for a set name: never "a key")."""
    if _SHOWABLE_RE.fullmatch(key):
        return repr(key)
    return f"<a {what} of {len(key)} characters, not shown>"


def show_set_name(name: str) -> str:
    return show_key(name, "name")


def set_name_problems(name: str) -> list[str]:
    """Everything wrong with a secret set name (empty list when it is valid)."""
    problems = []
    if not SET_NAME_MIN_LENGTH <= len(name) <= SET_NAME_MAX_LENGTH:
        problems.append(
            f"secret set name {show_set_name(name)} must be {SET_NAME_MIN_LENGTH} to "
            f"{SET_NAME_MAX_LENGTH} characters long (it has {len(name)})"
        )
    if not _SET_NAME_RE.fullmatch(name):
        problems.append(
            f"secret set name {show_set_name(name)} may use only lowercase letters, digits, "
            "'-' and '.', and each dot-separated part must start and end with a letter or digit"
        )
    return problems


def agent_name_problems(name: str) -> list[str]:
    """Everything wrong with an agent name (empty list when it is valid)."""
    if len(name) <= AGENT_NAME_MAX_LENGTH and _AGENT_NAME_RE.fullmatch(name):
        return []
    return [
        f"agent name {show_key(name, 'name')} must be 1 to {AGENT_NAME_MAX_LENGTH} lowercase "
        "letters, digits and '-', starting and ending with a letter or digit"
    ]


def key_problems(key: str) -> list[str]:
    """Everything wrong with a secret key (empty list when it is valid)."""
    if not key:
        return ["a secret key is empty"]
    problems = []
    if len(key) > KEY_MAX_LENGTH:
        problems.append(
            f"secret key {show_key(key)} is {len(key)} characters long (at most {KEY_MAX_LENGTH})"
        )
    if not _KEY_RE.fullmatch(key):
        problems.append(f"secret key {show_key(key)} may contain only letters, digits, '_' and '-'")
    return problems


def case_duplicate_problems(keys: Iterable[str]) -> list[str]:
    """Keys that differ only in case: the runtime reads env vars case-insensitively, so an agent
    given both would see one of them, whichever the platform mounted last."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        members = groups.setdefault(key.upper(), [])
        if key not in members:
            members.append(key)
    return [
        f"{' and '.join(map(show_key, members))} differ only in case; the agent reads env vars "
        "case-insensitively and would see just one of them: keep one"
        for members in groups.values()
        if len(members) > 1
    ]


def value_problems(key: str, value: str) -> list[str]:
    """Everything wrong with one value (empty, NUL, too large), naming the key, never the value."""
    if value == "":
        return [f"the value of {show_key(key)} is empty"]
    problems = []
    if "\x00" in value:
        problems.append(f"the value of {show_key(key)} contains a NUL character")
    if _SURROGATE_RE.search(value):
        problems.append(
            f"the value of {show_key(key)} is not valid UTF-8 text (a non-UTF-8 argument, file "
            "or standard input?)"
        )
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_VALUE_BYTES:
        problems.append(
            f"the value of {show_key(key)} is {size:,} bytes (at most {MAX_VALUE_BYTES:,})"
        )
    return problems


# Set by Pipecat Cloud inside the agent's container (docs: fundamentals_agent-images). A secret
# with one of these names would shadow the platform's value, or be shadowed by it.
RESERVED_KEYS = (
    "PORT",
    "SHUTDOWN_TIMEOUT",
    "PIPECAT_LOG_LEVEL",
    "PCC_LOG_FEATURES_SUMMARY",
    "IMAGE_VERSION",
    "ICE_CONFIG_URL",
)
RESERVED_PREFIXES = ("ESP32_",)


def reserved_keys(keys: Iterable[str]) -> list[str]:
    """The keys the platform sets itself. Compared case-insensitively, as the runtime reads."""
    return [
        k for k in keys if k.upper() in RESERVED_KEYS or k.upper().startswith(RESERVED_PREFIXES)
    ]


def reserved_key_problems(keys: Iterable[str]) -> list[str]:
    found = reserved_keys(keys)
    if not found:
        return []
    return [
        f"{', '.join(map(show_key, found))}: set by Pipecat Cloud inside the agent; a secret "
        "of that name would clash with the platform's value (pass --allow-reserved to send it "
        "anyway)"
    ]


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


def check_agent_name(name: str) -> str:
    """Return ``name`` or raise ``InputError``."""
    problems = agent_name_problems(name)
    if problems:
        raise InputError(problems)
    return name


def check_keys(keys: Iterable[str]) -> None:
    """Raise ``InputError`` naming every invalid key."""
    keys = list(keys)
    problems = [p for key in keys for p in key_problems(key)]
    problems += case_duplicate_problems(keys)
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

    Problems: invalid keys, empty or oversized values, a key given twice (or in two cases), too
    much in all. An argument is named by its position only: one that is not a valid key may be a
    value typed where a key belongs (``KEY VALUE`` instead of ``KEY=VALUE``).
    """
    pairs: list[tuple[str, str | None]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for position, arg in enumerate(args, start=1):
        key, value = parse_assignment(arg)
        where = f"argument {position}"
        if key_problems(key):
            problems.append(
                f"{where}: not a valid secret key (a key is 1 to {KEY_MAX_LENGTH} letters, "
                "digits, '_' and '-'; the argument is not shown)"
            )
            continue
        if value is not None:
            problems.extend(f"{where}: {p}" for p in value_problems(key, value))
        if key in seen:
            problems.append(f"{where}: {show_key(key)} is given more than once")
        seen.add(key)
        pairs.append((key, value))
    problems += case_duplicate_problems(k for k, _ in pairs)
    problems += total_size_problems({k: v for k, v in pairs if v is not None})
    if problems:
        raise InputError(problems)
    return pairs


def normalize_host(host: str) -> str:
    """Image pull secret hosts end with exactly one '/' (the API adds it when missing)."""
    return host if host.endswith("/") else host + "/"
