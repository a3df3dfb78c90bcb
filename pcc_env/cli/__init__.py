"""The ``pcc-env`` command. Nothing in the library imports this package.

``main`` answers ``--version`` before anything else, then checks for the ``cli`` extra before
importing Typer, so a runtime-only install gets one clear line instead of a traceback.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

_CLI_MODULES = ("typer", "rich", "httpx", "keyring", "stamina", "watchfiles", "platformdirs")


def main(args: Sequence[str] | None = None, prog_name: str | None = None) -> None:
    """``pcc-env``; ``pipecat env`` (cli/plugin.py) calls it with its arguments and name."""
    from pcc_env.cli.version import VERSION_FLAGS, version_text

    argv = list(sys.argv[1:] if args is None else args)
    if len(argv) == 1 and argv[0] in VERSION_FLAGS:
        print(version_text())  # before Typer and the CLI extra: fast, and works without them
        return
    from pcc_env.cli import interrupts

    interrupts.defer()
    # httpx imports its own command-line client (click, pygments, rich: ~25 ms) whenever those
    # are installed, and falls back to a stub when the import fails. pcc-env never runs it: a
    # None entry makes that import fail at once (Python's documented way to block a module).
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    missing = [m for m in _CLI_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        print(
            "pcc-env commands need the CLI extra: pip install 'pcc-env[cli]'"
            f" (missing: {', '.join(missing)})",
            file=sys.stderr,
        )
        raise SystemExit(1)
    if interrupts.pending():
        _interrupted()
    try:
        from pcc_env.cli.app import run

        if interrupts.pending():
            _interrupted()
        run(args, prog_name)
    except KeyboardInterrupt:
        _interrupted()
    finally:
        # Help, --version and usage errors run no command: a Ctrl-C noted meanwhile is moot.
        interrupts.release_quietly()


def _interrupted() -> None:
    print("Error: interrupted", file=sys.stderr)
    raise SystemExit(130)
