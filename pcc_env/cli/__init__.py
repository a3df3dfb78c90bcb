"""The ``pcc-env`` command. Nothing in the library imports this package.

``main`` answers a shell completion it can from a table (``fast_completion``), and
``--version``, before anything else, then checks for the ``cli`` extra before
importing Typer, so a runtime-only install gets one clear line instead of a traceback.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence

# What ``main`` changed in os.environ for pcc-env's own process: name -> the user's value.
_USER_VALUES: dict[str, str | None] = {}
_CLI_MODULES = ("typer", "rich", "httpx", "keyring", "stamina", "watchfiles", "platformdirs")


def main(args: Sequence[str] | None = None, prog_name: str | None = None) -> None:
    """``pcc-env``; ``pipecat env`` (cli/plugin.py) calls it with its arguments and name."""
    if args is None and prog_name is None and os.environ.get("_PCC_ENV_COMPLETE"):
        _complete_fast()  # a Tab: answered from a table when it can be, before Typer loads
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
    # pcc-env's own models use no pydantic plugin, and finding plugins scans the metadata of
    # every installed package (~15 ms here, more in a bot's large environment). Typer switches
    # them off the same way while it builds its parsers. All of them, whatever the user's
    # value: a plugin sees every input pcc-env validates, the values of a bot's settings model
    # included (logfire's records them). ``user_environ`` gives the child the user's value.
    _USER_VALUES.setdefault("PYDANTIC_DISABLE_PLUGINS", os.environ.get("PYDANTIC_DISABLE_PLUGINS"))
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    missing = [m for m in _CLI_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        from pcc_env.cli.jsonerror import error_json, json_requested

        message = (
            "pcc-env commands need the CLI extra: pip install 'pcc-env[cli]'"
            f" (missing: {', '.join(missing)})"
        )
        if json_requested(argv):
            print(error_json("MissingExtraError", message, 1))
        else:
            print(message, file=sys.stderr)
        raise SystemExit(1)
    if interrupts.pending():
        _interrupted(argv)
    try:
        from pcc_env.cli.app import run

        if interrupts.pending():
            _interrupted(argv)
        run(args, prog_name)
    except KeyboardInterrupt:
        _interrupted(argv)
    finally:
        # Help, --version and usage errors run no command: a Ctrl-C noted meanwhile is moot.
        interrupts.release_quietly()


def _complete_fast() -> None:
    """Exit with the completion's answer, or return for the app to answer it. Only as
    ``pcc-env``: Click names the variable after the program (``_{PROG}_COMPLETE``)."""
    name = os.path.basename(sys.argv[0] or "pcc-env")
    if f"_{name}_COMPLETE".replace("-", "_").replace(" ", "_").upper() != "_PCC_ENV_COMPLETE":
        return
    from pcc_env.cli.fast_completion import answer

    answered = answer(os.environ)
    if answered is not None:
        text, code = answered
        sys.stdout.write(text)
        sys.stdout.flush()
        raise SystemExit(code)


def user_environ() -> dict[str, str]:
    """The environment pcc-env was started with, without what ``main`` changed in it: for the
    processes it starts (``pcc-env run``)."""
    env = {k: v for k, v in os.environ.items() if k not in _USER_VALUES}
    env.update({k: v for k, v in _USER_VALUES.items() if v is not None})
    return env


def _interrupted(argv: list[str]) -> None:
    from pcc_env.cli.jsonerror import error_json, json_requested

    if json_requested(argv):
        print(error_json("Interrupted", "interrupted", 130))
    else:
        print("Error: interrupted", file=sys.stderr)
    raise SystemExit(130)
