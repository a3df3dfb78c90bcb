"""Options and helpers shared by the command groups."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pcc_env.cli.completion import complete_secret_set
from pcc_env.cli.output import EXIT_USAGE, cancelled, fail, info, stdin_is_tty
from pcc_env.errors import InputError

if TYPE_CHECKING:
    from pcc_env.client import SecretsClient

ApiHost = Annotated[
    str | None,
    typer.Option(
        "--api-host",
        help="API base URL. Default: $PIPECAT_API_HOST, else https://api.pipecat.daily.co.",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
YesFlag = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
# The pipecat CLI's `secrets` commands spell --yes as --skip/-s: the same flag, both spellings.
_YES_OR_SKIP = ("--yes", "-y", "--skip", "-s")
SkipFlag = Annotated[
    bool,
    typer.Option(*_YES_OR_SKIP, help="Do not ask for confirmation (--skip: the pipecat CLI's)."),
]
NeverAsksFlag = Annotated[
    bool,
    typer.Option(
        *_YES_OR_SKIP, help="Accepted for the pipecat CLI's --skip; this command never asks."
    ),
]
OrganizationOption = Annotated[
    str | None,
    typer.Option(
        "--organization",
        "-o",
        help="Accepted for the pipecat CLI; ignored: the private API key selects the organization.",
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option("--region", "-r", help="Region of a new set (default: the service's, us-west)."),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0, help="Seconds to wait for the set to be ready.")
]
NoWaitFlag = Annotated[bool, typer.Option("--no-wait", help="Do not wait for the set to be ready.")]
EnvFileArgument = Annotated[
    Path | None, typer.Argument(help="The .env file. Default: .env.", show_default=False)
]
SkipEmptyFlag = Annotated[
    bool, typer.Option("--skip-empty", help="Leave out keys with empty values.")
]
NoInterpolateFlag = Annotated[
    bool, typer.Option("--no-interpolate", help="Send ${...} in values as written.")
]
SetOption = Annotated[
    str | None,
    # No short form: -s is --skip (--yes) in `pcc-env secrets`, as in the pipecat CLI.
    typer.Option(
        "--set",
        help="Secret set name. Default: secret_set in pcc-deploy.toml.",
        autocompletion=complete_secret_set,
    ),
]
TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-t",
        envvar="PCC_ENV_TARGET",
        help="Target in tool.pcc-env.targets of pyproject.toml (its sets, regions, env files).",
        show_default=False,
    ),
]
AllowReservedFlag = Annotated[
    bool,
    typer.Option(
        "--allow-reserved",
        help="Send reserved keys anyway: PORT, ESP32_*, ... (set in the agent), PIPECAT_API_KEY.",
    ),
]
DeployFileOption = Annotated[
    Path | None,
    typer.Option(
        "--deploy-file",
        help="Deploy file to read. Default: $PIPECAT_DEPLOY_CONFIG_PATH, else "
        "./pcc-deploy.toml if present.",
    ),
]


def note_organization(organization: str | None) -> None:
    """The pipecat CLI's --organization is accepted so its commands work here unchanged; the
    key already belongs to one organization, so say that the option changes nothing."""
    if organization is not None:
        info(
            "Note: --organization is ignored: the private API key already selects the organization."
        )


def make_client(api_host: str | None) -> SecretsClient:
    from pcc_env.cli.output import retry_notice
    from pcc_env.client import SecretsClient

    return SecretsClient(api_host=api_host, on_retry=retry_notice)


CANCELLED = "Cancelled; nothing was changed."


def confirm_or_exit(question: str, yes: bool) -> None:
    """Ask on a terminal; without one, ``--yes`` is required (exit 2 otherwise). Declining
    exits 1, saying nothing was changed."""
    if yes:
        return
    if not stdin_is_tty():
        raise fail(
            f"{question} Refusing without confirmation: pass --yes.",
            EXIT_USAGE,
            kind="ConfirmationRequired",
        )
    # The question goes to stderr: stdout stays clean for pipes and --json.
    if not typer.confirm(question, default=False, err=True):
        raise cancelled(CANCELLED)


def read_hidden(prompt: str, *, from_stdin: bool = False) -> str:
    """A value from a hidden prompt on a terminal, else one line of stdin (no echo either way)."""
    if stdin_is_tty() and not from_stdin:
        return getpass.getpass(f"{prompt}: ")
    try:
        line = sys.stdin.readline()
    except UnicodeDecodeError:
        raise InputError(f"{prompt}: standard input is not valid UTF-8 text") from None
    if not line:
        raise InputError(f"{prompt}: nothing on standard input")
    return line.rstrip("\r\n")
