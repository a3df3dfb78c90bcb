"""``pipecat env ...``: pcc-env's commands inside the ``pipecat`` CLI.

The pipecat CLI imports every ``pipecat_cli.extensions`` entry point on each start and mounts it
with ``app.add_typer(extension, name=...)``; ``pyproject.toml`` registers ``app`` below as
``env``. Mounting pcc-env's own group there would not be enough: a nested group's usage errors
reach the pipecat CLI's top-level handler, which prints Click's message, and Click's messages
quote the argument (often a secret typed in the wrong place). So this group parses nothing: it
hands its arguments, untouched, to ``pcc_env.cli.main``, the function behind ``pcc-env``, which
then behaves exactly as ``pcc-env`` (safe usage errors, exit codes, Ctrl-C, tracebacks without
locals). Importing this module loads only Typer, which the pipecat CLI has loaded already, so
``pipecat cloud ...`` pays nothing for pcc-env being installed.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

HELP = "pcc-env: typed, leak-safe secrets: push/watch a .env to a secret set, check, run, ..."


class PassThroughGroup(TyperGroup):
    """A group that keeps its arguments as typed and runs ``pcc-env`` with them."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # No parsing here: '--help', '--' and unknown options all belong to pcc-env.
        ctx.args = list(args)
        return []

    def invoke(self, ctx: Any) -> NoReturn:
        from pcc_env.cli import main

        try:
            main(list(ctx.args), prog_name=ctx.command_path)
        except Exception:
            # pcc-env disables Typer's pretty tracebacks (they print local variables, which can
            # hold values); the pipecat CLI's app would re-enable them for an exception that
            # escaped from here. Print it as pcc-env would: a plain traceback.
            traceback.print_exc()
            sys.exit(1)
        sys.exit(0)  # pragma: no cover - main always exits


app = typer.Typer(
    cls=PassThroughGroup,
    name="env",
    help=HELP,
    add_completion=False,
    add_help_option=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
