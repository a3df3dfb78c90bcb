"""The Typer application: one module per command group, registered here."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from pcc_env.cli import completion
from pcc_env.cli.usage import PccEnvGroup
from pcc_env.cli.version import version_text

# Every command: name -> (module in pcc_env.cli, attribute). ``build_app(only=...)`` imports the
# one being run and nothing else: each command module costs start-up time (its imports, and
# Typer's reading of its signature), and a push should not pay for watch, the emulator or login.
_COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "init"),
    "login": ("auth", "login"),
    "logout": ("auth", "logout"),
    "whoami": ("auth", "whoami"),
    "push": ("push", "push"),
    "export": ("export", "export"),
    "check": ("check", "check"),
    "check-files": ("hooks", "check_files"),
    "watch": ("watch", "watch"),
    "targets": ("targets", "targets"),
    "status": ("deploy", "status"),
    "redeploy": ("deploy", "redeploy"),
    "run": ("run", "run"),
    "secrets": ("secrets", "app"),  # a group
    "emulator": ("emulator", "emulator"),
    "demo": ("demo", "demo"),
}
# ``run`` passes everything after COMMAND to the child, options included.
_CONTEXT: dict[str, dict[str, Any]] = {"run": {"allow_interspersed_args": False}}


def _version(value: bool) -> None:
    if value:
        print(version_text())
        raise typer.Exit()


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


def build_app(only: str | None = None) -> typer.Typer:
    """The Typer application with every command, or with the one named ``only``."""
    app = typer.Typer(
        cls=PccEnvGroup,
        name="pcc-env",
        help="Typed, leak-safe secrets for Pipecat Cloud agents.",
        no_args_is_help=True,
        add_completion=False,  # the root's own --install-completion/--show-completion take a shell
        # Plain Click help: whole option names at any width, and no markup to eat [brackets].
        rich_markup_mode=None,
        # Rich tracebacks print local variables, which can hold secret values: never show them.
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for name in [only] if only in _COMMANDS else list(_COMMANDS):
        module, attribute = _COMMANDS[name]
        target = getattr(importlib.import_module(f"pcc_env.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target)
        else:
            app.command(name, context_settings=_CONTEXT.get(name))(target)
    return app


def __getattr__(name: str) -> Any:
    """``app``: the whole application (tests and the demo use it), built on first use."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


def _command_name(args: Sequence[str]) -> str | None:
    """The command the arguments run: the first one, unless it is an option (-h, -V...)."""
    return args[0] if args and not args[0].startswith("-") else None


def run(args: Sequence[str] | None = None, prog_name: str | None = None) -> None:
    # $PYDANTIC_SETTINGS_DEBUG makes pydantic-settings log every value it reads at DEBUG, and a
    # bot module that check/export imports may build its settings itself with logging on: in
    # pcc-env's own process that logger never goes below INFO (load_settings quiets it too).
    logging.getLogger("pydantic_settings").setLevel(logging.INFO)
    level = os.environ.get("PCC_ENV_LOG_LEVEL")
    if level:
        # Library loggers (pcc_env, httpx, httpcore, stamina) to stderr; none logs a value.
        logging.basicConfig(
            level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )
    argv = list(sys.argv[1:] if args is None else args)
    build_app(only=_command_name(argv))(args=argv, prog_name=prog_name)
