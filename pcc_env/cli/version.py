"""``pcc-env --version``: what is running and which API it talks to, answered at once.

It imports only pure modules (no Typer, rich, httpx or keyring, and no network), so that
``pcc-env --version`` stays as fast as an interpreter start; ``main`` answers it before loading
the Typer application.
"""

from __future__ import annotations

import os
import sys

VERSION_FLAGS = ("--version", "-V")


def version_text() -> str:
    """pcc-env's version, Python's, and the API host commands would use: its scheme, host and
    port only, and an unusable one only by its variable's name (it may be a key)."""
    from pcc_env import __version__
    from pcc_env.credentials import API_HOST_ENV, api_host_origin, resolve_api_host
    from pcc_env.errors import ConfigError
    from pcc_env.rules import escape_text

    python = ".".join(map(str, sys.version_info[:3]))
    try:
        host = resolve_api_host()
        source = f"from {API_HOST_ENV}" if os.environ.get(API_HOST_ENV) else "default"
        api = f"API host: {api_host_origin(host)} ({source})"
    except ConfigError as exc:
        api = f"API host: {API_HOST_ENV} is not usable: {exc}"
    return "\n".join([f"pcc-env {__version__}", f"Python {python}", escape_text(api)])
