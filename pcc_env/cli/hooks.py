"""``pcc-env check-files FILE...``: the ``pcc-env-no-values`` pre-commit hook.

pre-commit passes the staged files that match the hook's ``files`` pattern; an env file that
holds a value is refused (exit 1) by file and line numbers, never by content. Templates (comments,
blank lines, empty ``KEY=``) pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pcc_env.cli.output import EXIT_FAILED, EXIT_USAGE, err, handle_errors, info
from pcc_env.errors import DotenvError, InputError
from pcc_env.rules import escape_text


@handle_errors
def check_files(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Env files to check (pre-commit passes the staged ones).", metavar="FILE"
        ),
    ],
) -> None:
    """Refuse env files that hold values (a pre-commit hook): exit 1 naming file and lines."""
    from pcc_env.dotenv_file import _line_list, lines_with_values

    refused = unusable = 0
    for path in files:
        name = escape_text(str(path))
        try:
            bad = lines_with_values(path)
        except DotenvError as exc:  # not UTF-8 text: it may hold anything
            err(f"{name}: cannot be checked ({'; '.join(exc.problems)}); refused")
            refused += 1
            continue
        except InputError as exc:
            err(f"{name}: {'; '.join(exc.problems)}")
            unusable += 1
            continue
        if bad:
            err(
                f"{name}: {_line_list(bad)} {'hold values' if len(bad) > 1 else 'holds a value'} "
                "(or text that is not a comment or an empty KEY=); commit a template instead: "
                "comments and empty KEY= lines"
            )
            refused += 1
    if unusable:
        raise typer.Exit(EXIT_USAGE)
    if refused:
        info(
            "Keep values in .env (ignored by git) or your CI's secret store; "
            "'pcc-env export -o .env.example' writes a template."
        )
        raise typer.Exit(EXIT_FAILED)
    info(f"{len(files)} env file(s) hold no values.")
