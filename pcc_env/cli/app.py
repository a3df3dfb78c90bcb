"""The Typer application: one module per command group, registered here."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from pcc_env.cli import auth, completion, demo, deploy, emulator, secrets, targets, watch, workflow
from pcc_env.cli import run as run_cmd
from pcc_env.cli.usage import PccEnvGroup
from pcc_env.cli.version import version_text

app = typer.Typer(
    cls=PccEnvGroup,
    name="pcc-env",
    help="Typed, leak-safe secrets for Pipecat Cloud agents.",
    no_args_is_help=True,
    add_completion=False,  # the root's own --install-completion/--show-completion take a shell
    # Plain Click help: whole option names at any width, and no markup ([tool.pcc-env] is text).
    rich_markup_mode=None,
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
    install_completion: Annotated[
        bool,
        typer.Option(
            "--install-completion",
            is_eager=True,
            callback=completion.install_completion,
            help="Install shell completion: bash, zsh or fish (default: this shell).",
        ),
    ] = False,
    show_completion: Annotated[
        bool,
        typer.Option(
            "--show-completion",
            is_eager=True,
            callback=completion.show_completion,
            help="Print the completion script for bash, zsh or fish (default: this shell).",
        ),
    ] = False,
) -> None:
    """Typed, leak-safe secrets for Pipecat Cloud agents."""


app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
app.command("push")(workflow.push)
app.command("export")(workflow.export)
app.command("check")(workflow.check)
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
