"""The Typer application: one module per command group, registered here."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from pcc_env.cli import auth, demo, deploy, emulator, hooks, secrets, targets, watch, workflow
from pcc_env.cli import init as init_cmd
from pcc_env.cli import run as run_cmd
from pcc_env.cli.usage import PccEnvGroup
from pcc_env.cli.version import version_text

app = typer.Typer(
    cls=PccEnvGroup,
    name="pcc-env",
    help="Typed, leak-safe secrets for Pipecat Cloud agents.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print local variables, which can hold secret values: never show them.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(version_text())
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            is_eager=True,
            callback=_version,
            help="Show the version of pcc-env and Python, and the API host in use, and exit.",
        ),
    ] = False,
) -> None:
    """Typed, leak-safe secrets for Pipecat Cloud agents."""


app.command("init")(init_cmd.init)
app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
app.command("push")(workflow.push)
app.command("export")(workflow.export)
app.command("check")(workflow.check)
app.command("check-files")(hooks.check_files)
app.command("watch")(watch.watch)
app.command("targets")(targets.targets)
app.command("status")(deploy.status)
app.command("redeploy")(deploy.redeploy)
app.command("run", context_settings={"allow_interspersed_args": False})(run_cmd.run)
app.add_typer(secrets.app)
app.command("emulator")(emulator.emulator)
app.command("demo")(demo.demo)


def run(args: Sequence[str] | None = None, prog_name: str | None = None) -> None:
    level = os.environ.get("PCC_ENV_LOG_LEVEL")
    if level:
        # Library loggers (pcc_env, httpx, httpcore, stamina) to stderr; none logs a value.
        logging.basicConfig(
            level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )
    app(args=None if args is None else list(args), prog_name=prog_name)
