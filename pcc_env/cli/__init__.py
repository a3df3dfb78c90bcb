"""The ``pcc-env`` command. Nothing in the library imports this package.

``main`` checks for the ``cli`` extra before importing Typer, so a runtime-only install gets one
clear line instead of a traceback.
"""

from __future__ import annotations

import importlib.util
import sys

_CLI_MODULES = ("typer", "rich", "httpx", "keyring", "stamina", "watchfiles", "platformdirs")


def main() -> None:
    missing = [m for m in _CLI_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        print(
            "pcc-env commands need the CLI extra: pip install 'pcc-env[cli]'"
            f" (missing: {', '.join(missing)})",
            file=sys.stderr,
        )
        raise SystemExit(1)
    try:
        from pcc_env.cli.app import run

        run()
    except KeyboardInterrupt:  # Ctrl-C while the CLI is still starting up
        print("Error: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
