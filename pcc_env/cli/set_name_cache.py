"""The set-name cache of shell completion: read without Typer, rich or httpx.

``cli/completion.py`` (the Typer app's completers) writes it after a fetch, and
``cli/fast_completion.py`` (which answers a Tab before the app is imported) reads it: both
through these functions, so that a file the one would refuse the other refuses too. Names and
types only, per API host, for ``CACHE_TTL`` seconds; a file not ours, or writable by others,
or holding a name a shell could not take as it is, reads as empty.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

CACHE_TTL = 60.0
CACHE_VERSION = 1
SET_TYPES = ("secret", "imagePullSecret")


def cache_file() -> str:
    """Where the cache lives. On Linux by the XDG rule (platformdirs' answer there), without
    importing platformdirs (its import costs a Tab more than the rest of the answer)."""
    if sys.platform.startswith("linux"):
        base = os.environ.get("XDG_CACHE_HOME", "")
        if not base.strip():
            base = os.path.expanduser("~/.cache")
        return os.path.join(base, "pcc-env", "set-names.json")
    import platformdirs

    return os.path.join(platformdirs.user_cache_dir("pcc-env"), "set-names.json")


# An API host that resolve_api_host takes as it is (a subset of what it accepts): https with a
# DNS name, or plain http to localhost or 127.0.0.1 (the emulator); at most one trailing '/'.
_SIMPLE_HOST = re.compile(
    r"(?:https://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|http://(?:localhost|127\.0\.0\.1))"
    r"(?::([0-9]{1,5}))?/?"
)


def simple_host(raw: str) -> str | None:
    """``raw`` without its trailing '/', when it is in that subset; else None (ask
    resolve_api_host, which imports more)."""
    match = _SIMPLE_HOST.fullmatch(raw)
    if match is None or (match[1] is not None and int(match[1]) > 65535):
        return None
    return raw.rstrip("/")


def read_cache(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The cache's entries per host; nothing from a file that another user could have written
    (not ours, or writable by group or others)."""
    try:
        if os.name == "posix":
            st = os.stat(path)
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                return {}
        with open(path, encoding="utf-8") as f:
            data = json.loads(f.read())
    except (OSError, ValueError, RecursionError):  # a hostile file: no cache
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    hosts = data.get("hosts")
    return hosts if isinstance(hosts, dict) else {}


def fresh(entry: Any, now: float) -> list[tuple[str, str]] | None:
    """A host's (name, type) pairs, if its entry is younger than ``CACHE_TTL`` and valid."""
    if not isinstance(entry, dict):
        return None
    at, sets = entry.get("at"), entry.get("sets")
    if not isinstance(at, (int, float)) or not 0 <= now - at < CACHE_TTL:
        return None
    if not isinstance(sets, list):
        return None
    names = [(s[0], s[1]) for s in sets if isinstance(s, list) and len(s) == 2]
    # Checked as on fetch: a file written by anything else must not feed a shell escapes,
    # newlines or $(...). One bad entry discards the host's entry (fetched again).
    if len(names) != len(sets) or not all(_valid(n, t) for n, t in names):
        return None
    return names


def _valid(name: Any, kind: Any) -> bool:
    from pcc_env.rules import set_name_problems

    return (
        isinstance(name, str)
        and isinstance(kind, str)
        and kind in SET_TYPES
        and not set_name_problems(name)
    )
