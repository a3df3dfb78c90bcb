"""``pcc-env check-files FILE...``: the ``pcc-env-no-values`` pre-commit hook.

pre-commit passes the staged files that match the hook's ``files`` pattern; an env file that
holds a value, in an assignment or in a comment, is refused (exit 1) by file and line numbers,
never by content. Templates (comments, blank lines, empty ``KEY=``) pass; in a file named as one
(``env.example``, ``.env.example``, ``x.env.sample``...), placeholders (``your-key-here``,
``<...>``, ``sk-...``) and harmless values (``ENV=local``) too: see ``pcc_env.value_shapes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pcc_env.cli.common import JsonFlag
from pcc_env.cli.output import EXIT_FAILED, EXIT_USAGE, err, handle_errors, info, print_json
from pcc_env.errors import DotenvError, InputError
from pcc_env.rules import display_path, escape_text


@handle_errors
def check_files(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Env files to check (pre-commit passes the staged ones).", metavar="FILE"
        ),
    ],
    json: JsonFlag = False,
) -> None:
    """Refuse env files that hold values (a pre-commit hook): exit 1 naming file and lines."""
    from pcc_env.dotenv_file import _line_list, find_template, lines_with_values

    refused = unusable = 0
    results: list[dict[str, object]] = []
    for path in files:
        name = escape_text(display_path(str(path)))  # a key typed where a file belongs
        try:
            bad = lines_with_values(path)
        except DotenvError as exc:  # not UTF-8 text: it may hold anything
            message = f"cannot be checked ({'; '.join(exc.problems)}); refused"
            results.append({"file": name, "outcome": "refused", "message": message})
            if not json:
                err(f"{name}: {message}")
            refused += 1
            continue
        except InputError as exc:
            message = "; ".join(exc.problems)
            results.append({"file": name, "outcome": "unusable", "message": message})
            if not json:
                err(f"{name}: {message}")
            unusable += 1
            continue
        results.append({"file": name, "outcome": "values" if bad else "ok", "lines": bad})
        if bad and not json:
            err(
                f"{name}: {_line_list(bad)} {'hold values' if len(bad) > 1 else 'holds a value'} "
                "(in an assignment or a comment, or text that is not a comment or an empty KEY=); "
                "commit a template instead: comments, empty KEY= lines and placeholders, in a "
                "file named like env.example"
            )
        if bad:
            refused += 1
    if json:
        print_json({"ok": not refused and not unusable, "files": results})
        if unusable:
            raise typer.Exit(EXIT_USAGE)
        if refused:
            raise typer.Exit(EXIT_FAILED)
        return
    if unusable:
        raise typer.Exit(EXIT_USAGE)
    if refused:
        template = escape_text(find_template(Path.cwd()).name)
        info(
            "Keep values in .env (ignored by git) or your CI's secret store: move them out of "
            "the file(s) above (a template holding values: rename it to .env); a template holds "
            "placeholders only (empty, your-key-here, <...>) and defaults of settings that are "
            f"no secret; 'pcc-env export --output {template}' writes one (export never writes "
            "over a file holding values)."
        )
        raise typer.Exit(EXIT_FAILED)
    info(f"{len(files)} env file(s) hold no values.")
