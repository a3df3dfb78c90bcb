"""Usage errors that never repeat what was typed.

Click's messages quote the offending argument ("Got unexpected extra argument (pk_live_...)",
"Invalid value for '--timeout': 'x' is not a valid float."), and the argument is often a secret
typed in the wrong place: ``pcc-env login KEY``, or the pipecat CLI's ``image-pull-secret NAME
HOST user:token``. ``PccEnvGroup`` catches every usage error of every command and prints one made
only of our own option and command names.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from pcc_env.cli.jsonerror import json_requested
from pcc_env.cli.output import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    info,
    json_errors,
    json_errors_on,
    report_error,
)

# Typer 0.2x carries its own copy of Click; older releases use the click package. Either way the
# exception classes live next to typer.BadParameter.
click: Any = importlib.import_module(typer.BadParameter.__module__)

# What a mistyped option or command looks like; anything else is described, not shown.
_SHOWABLE_OPTION = re.compile(r"--?[A-Za-z][A-Za-z-]{0,30}")
_SHOWABLE_COMMAND = re.compile(r"[a-z][a-z-]{0,30}")
# Short flags that pcc-env no longer has where they used to be (they now mean what the pipecat
# CLI means by them): the usage error names the long option to use instead.
MOVED_SHORT = {
    ("-s", "--set"): "the secret set is --set (no short form); -s is --skip in 'pcc-env secrets'.",
    ("-o", "--output"): "write the file with --output; -o is --organization in 'pcc-env secrets'.",
}
NEVER_ON_ARGV = {
    "login": "The API key is read from a hidden prompt or --stdin, never from the command line.",
    "image-pull-secret": (
        "Credentials are read from the prompt or --stdin (username:token), never from the "
        "command line."
    ),
}


def _param_hint(exc: Any) -> str:
    """The option (``'--timeout'``) or argument (``'NAME'``) the error is about."""
    param = exc.param
    if param is None:
        return "a parameter"
    opts = [o for o in getattr(param, "opts", []) if o.startswith("-")]
    if opts:
        return repr(max(opts, key=len))
    return repr(str(getattr(param, "name", "?")).upper())


def _expected(param: Any) -> str:
    kind = getattr(param, "type", None)
    choices = getattr(kind, "choices", None)
    if choices:
        return f": expected one of {', '.join(map(str, choices))}"
    name = getattr(kind, "name", None)
    return f": expected {name}" if isinstance(name, str) and name else ""


def safe_message(exc: Any) -> str:
    """The message of a usage error with no text taken from the command line."""
    if isinstance(exc, click.NoSuchOption):
        name = str(exc.option_name)
        shown = repr(name) if _SHOWABLE_OPTION.fullmatch(name) else "(not shown)"
        message = f"no such option {shown}"
        if exc.possibilities:
            message += f"; did you mean {', '.join(sorted(exc.possibilities))}?"
        return message
    if isinstance(exc, click.BadOptionUsage):
        known = exc.ctx is not None and any(
            exc.option_name in [*p.opts, *p.secondary_opts] for p in exc.ctx.command.params
        )
        name = str(exc.option_name or "")
        # Click raises this only for an option it matched: the name is one of ours.
        if known or _SHOWABLE_OPTION.fullmatch(name):
            return str(exc.format_message())
        return "an option is used wrongly (not shown)"
    if isinstance(exc, click.MissingParameter):
        return str(exc.format_message())  # names the parameter, which has no value yet
    if isinstance(exc, click.BadParameter):
        hint = _param_hint(exc)
        return f"invalid value for {hint} (the value is not shown){_expected(exc.param)}"
    text = str(exc.message)
    if text.startswith("Got unexpected extra argument"):
        return "unexpected extra argument(s) (not shown)"
    if text.startswith("No such command"):
        match = re.fullmatch(r"No such command '(.*)'\.", text, flags=re.DOTALL)
        name = match.group(1) if match else ""
        if _SHOWABLE_COMMAND.fullmatch(name):
            return f"no such command {name!r}"
        return "no such command (not shown)"
    if text == "Missing command.":
        return text
    return "invalid usage (details not shown: they would repeat an argument)"


def moved_short_hint(exc: Any) -> str | None:
    """For ``push -s NAME`` and ``export -o FILE``: the long option that replaced the flag."""
    if not isinstance(exc, click.NoSuchOption) or exc.ctx is None:
        return None
    longs = {o for p in exc.ctx.command.params for o in getattr(p, "opts", [])}
    for (short, long), hint in MOVED_SHORT.items():
        if exc.option_name == short and long in longs:
            return hint
    return None


def report_usage_error(exc: Any) -> NoReturn:
    ctx = exc.ctx
    if type(exc).__name__ == "NoArgsIsHelpError":
        # A group run without a command: its help, as --help prints it (rich help, were it on,
        # would have printed itself and left the message empty).
        text = str(exc.format_message())
        if text.strip():
            print(text.rstrip())
        sys.exit(0)
    message = safe_message(exc)
    hints = []
    if ctx is not None:
        hint = NEVER_ON_ARGV.get(ctx.command.name or "")
        if hint and message.startswith("unexpected extra argument"):
            hints.append(hint)
        moved = moved_short_hint(exc)
        if moved:
            hints.append(moved)
        hints.append(f"Try '{ctx.command_path} --help' for help.")
    if json_errors_on():
        report_error("UsageError", message, EXIT_USAGE, " ".join(hints) or None)
        sys.exit(EXIT_USAGE)
    if ctx is not None:
        info(ctx.get_usage())
    report_error("UsageError", message, EXIT_USAGE)
    for hint in hints:
        info(hint)
    sys.exit(EXIT_USAGE)


def _complete_var(prog_name: str | None, complete_var: str | None) -> str:
    """The variable a completion script sets (Click's rule): ``_PCC_ENV_COMPLETE``."""
    if complete_var:
        return complete_var
    name = prog_name or os.path.basename(sys.argv[0] or "pcc-env")
    return f"_{name}_COMPLETE".replace("-", "_").replace(" ", "_").upper()


class PccEnvGroup(TyperGroup):
    """The top-level group: usage errors of any command go through ``safe_message``."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        standalone = standalone_mode
        self.raw_args = list(sys.argv[1:] if args is None else args)  # --show-completion SHELL
        # Usage errors come before any command runs: --json among the arguments asks for JSON.
        json_errors(json_requested(self.raw_args))
        if os.environ.get(_complete_var(prog_name, complete_var)):
            # Typer's bash/zsh/fish completion classes (Typer registers them only when it adds
            # its own completion options, which the root replaces to take a shell name).
            from typer._completion_classes import completion_init

            completion_init()
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            if not standalone:
                raise click.UsageError(safe_message(exc), exc.ctx) from None
            report_usage_error(exc)
        except typer.Abort as exc:
            if not standalone:
                raise
            if isinstance(exc.__cause__, KeyboardInterrupt):
                report_error("Interrupted", "interrupted", EXIT_INTERRUPTED)
                sys.exit(EXIT_INTERRUPTED)
            report_error("Cancelled", "cancelled (no input); nothing was changed", 1)
            sys.exit(1)
        except click.ClickException as exc:
            if not standalone:
                raise
            report_error("Error", exc.format_message(), exc.exit_code)
            sys.exit(exc.exit_code)
        if not standalone:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)
