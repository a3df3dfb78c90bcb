"""``pcc-env init``: typed settings for an existing bot, from the variables its code reads.

First run: scan, show what was found and the plan (file, action, summary), then write once
confirmed. On a project whose ``[tool.pcc-env] settings`` names a model already: compare that
model with the code and report the drift (``--check``: exit 1 when there is any).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pcc_env.cli.common import JsonFlag, YesFlag, confirm_or_exit
from pcc_env.cli.output import (
    EXIT_FAILED,
    EXIT_USAGE,
    add_error_context,
    echo,
    fail,
    handle_errors,
    info,
    print_json,
    styled,
    success,
    table,
    warn,
)
from pcc_env.errors import ConfigError
from pcc_env.rules import show_key

if TYPE_CHECKING:
    from pcc_env.project_init import InitPlan
    from pcc_env.scan import ScanResult

ACTION_STYLE = {
    "create": "green",
    "overwrite": "yellow",
    "update": "yellow",
    "append": "yellow",
    "unchanged": "dim",
    "conflict": "red",
}


@handle_errors
def init(
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="The .env whose key names join the model (values are never read out). "
            "Default: env_file in pyproject.toml's pcc-env table, else .env.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what was found and the plan; write nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write settings.py over an existing one, even on a project init set up before "
            "(the template, env.example or .env.example, is still updated in place).",
        ),
    ] = False,
    yes: YesFlag = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="On a project set up before: exit 1 when the code and the model differ.",
        ),
    ] = False,
    json: JsonFlag = False,
) -> None:
    """Give an existing bot typed settings: scan its code, write settings.py and the template
    (an existing env.example or .env.example, updated in place)."""
    from pcc_env.cli.workflow import default_env_file
    from pcc_env.deploy_config import read_project_settings
    from pcc_env.dotenv_file import TEMPLATE_FILES
    from pcc_env.scan import scan_project

    root = Path.cwd()
    ref = read_project_settings().settings
    if ref and not force:
        _report_drift(ref, scan_project(root), check, json)
        return
    if check:
        raise ConfigError(
            "--check compares the settings model with the code, and there is no model yet "
            "([tool.pcc-env] settings in pyproject.toml): run 'pcc-env init' first"
        )
    scan = scan_project(root)
    env_path = default_env_file(env_file)
    env_keys = _env_keys(env_path, named=env_file is not None)
    if not json:
        _show_scan(scan, env_path, env_keys)
    from pcc_env.project_init import plan_init

    plan = plan_init(root, scan, env_keys, force=force)
    if not plan.fields:
        raise fail(
            "found no environment variables in the code and no keys in "
            f"{env_path}: nothing to write",
            EXIT_FAILED,
        )
    document = _plan_json(scan, env_path, env_keys, plan, root)
    add_error_context(**document)  # under --json, a refusal below still shows the plan
    if not json:
        _show_plan(plan, root)
    refusals = [c for c in plan.conflicts if c.refusal is not None]
    others = [c for c in plan.conflicts if c.refusal is None]
    if others:
        names = ", ".join(str(c.path.relative_to(root)) for c in others)
        raise fail(
            f"{names} exists: pass --force to overwrite it. Nothing was written.", EXIT_USAGE
        )
    first = refusals[0].refusal if refusals else None
    if first is not None and not dry_run:
        raise first  # an InputError naming line numbers: exit 2, nothing written
    if refusals and not json:
        for c in refusals:
            warn(f"A real run refuses {c.path.relative_to(root)}: {c.summary}")
    if not any(c.writes for c in plan.changes) or dry_run:
        if json:
            print_json({**document, "dryRun": dry_run, "written": []})
        elif dry_run:
            info("Dry run: nothing was written.")
        else:
            info("Nothing to write: every file is up to date.")
        return
    confirm_or_exit("Write these files?", yes)
    from pcc_env.project_init import apply_init

    written = apply_init(plan)
    if json:
        paths = [str(c.path.relative_to(root)) for c in written]
        print_json({**document, "dryRun": False, "written": paths})
        return
    success(f"Wrote {', '.join(str(c.path.relative_to(root)) for c in written)}.")
    if plan.shipping is not None and plan.shipping.relock:
        info(
            "Run 'uv lock' now: pyproject.toml has a new dependency (pcc-env) and uv.lock is stale."
        )
    template = next((c.path.name for c in plan.changes if c.path.name in TEMPLATE_FILES), None)
    info(
        "Next: load the settings in your bot (from settings import Settings; settings = "
        "load_settings(Settings)), fill in .env, and 'pcc-env push'. Commit settings.py and "
        f"{template or '.env.example'}, never .env."
    )


def _env_keys(path: Path, *, named: bool) -> list[str]:
    """The key names of the .env (none when the default one does not exist; one named with
    --env-file must). A file that cannot be parsed is refused by line number, as push refuses
    it; no value is ever shown."""
    from pcc_env.dotenv_file import read_env_file

    if not named and not path.exists() and not path.is_symlink():
        return []
    return read_env_file(path).keys


def _plan_json(
    scan: ScanResult, env_path: Path, env_keys: list[str], plan: InitPlan, root: Path
) -> dict[str, object]:
    """``init --json``: what was found and the plan, as the terminal shows them (no value)."""
    from pcc_env.project_init import SETTINGS_REF

    return {
        "scanned": {
            "files": len(scan.files),
            "reads": len(scan.reads),
            "variables": len(scan.by_name()),
            "envFile": str(env_path),
            "envKeys": len(env_keys),
            "notScanned": [str(getattr(p, "where", p)) for p in scan.unparsable],
            "dynamicNames": [str(getattr(p, "where", p)) for p in scan.dynamic],
        },
        "settings": SETTINGS_REF,
        "fields": [
            {
                "variable": f.env_name,
                "type": "SecretStr" if f.secret else f.type_name,
                "secret": f.secret,
                "required": f.required,
                "summary": f.summary,
                "readIn": list(f.places),
            }
            for f in plan.fields
        ],
        "leftOut": [
            {"variable": o.name, "reason": o.reason, "readIn": list(o.places)}
            for o in plan.left_out
        ],
        "changes": [
            {"path": str(c.path.relative_to(root)), "action": c.action, "summary": c.summary}
            for c in plan.changes
        ],
        **(plan.shipping.to_json() if plan.shipping is not None else {}),
    }


def _show_scan(scan: ScanResult, env_path: Path, env_keys: list[str]) -> None:
    variables = len(scan.by_name())
    env_part = (
        f"; {env_path} has {len(env_keys)} key(s)" if env_keys else f"; no keys in {env_path}"
    )
    echo(
        f"Scanned {len(scan.files)} Python file(s): {len(scan.reads)} environment read(s) of "
        f"{variables} variable(s){env_part}."
    )
    _show_unscanned(scan)


def _show_unscanned(scan: ScanResult) -> None:
    if scan.unparsable:
        info("Not scanned (not valid Python, or unreadable): " + _places(scan.unparsable))
    if scan.dynamic:
        info("A variable name computed at run time (not included): " + _places(scan.dynamic))


def _places(places: Sequence[object]) -> str:
    shown = [str(getattr(p, "where", p)) for p in places[:5]]
    more = f" and {len(places) - 5} more" if len(places) > 5 else ""
    return ", ".join(shown) + more


def _show_plan(plan: InitPlan, root: Path) -> None:
    from pcc_env.project_init import SETTINGS_REF

    for skipped in plan.left_out:
        info(f"Left out {show_key(skipped.name)} ({skipped.reason}; {', '.join(skipped.places)})")
    echo("")
    echo(f"Settings model {SETTINGS_REF}: {len(plan.fields)} field(s)")
    table(
        ["variable", "type", "required/default", "read in"],
        [
            [
                f.env_name,
                "SecretStr" if f.secret else f.type_name,
                f.summary,
                ", ".join(f.places[:3]) + (" ..." if len(f.places) > 3 else "")
                if f.places
                else "(.env only)",
            ]
            for f in plan.fields
        ],
    )
    echo("")
    echo("Plan:")
    for change in plan.changes:
        name = str(change.path.relative_to(root))
        styled(f"  {change.action:<10} {name:<16} {change.summary}", ACTION_STYLE[change.action])
    _show_shipping(plan)


def _show_shipping(plan: InitPlan) -> None:
    """Why the Dockerfile is edited (its line that drops the settings module), and what init
    leaves to the user."""
    ship = plan.shipping
    if ship is None:
        return
    if ship.shipping is not None and ship.edit is not None:
        info(f"{ship.shipping.reason}.")
    for note in ship.notes:
        info(note)


def _report_drift(ref: str, scan: ScanResult, check: bool, json: bool = False) -> None:
    from pcc_env.cli.workflow import resolve_model
    from pcc_env.project_init import drift

    model, _ = resolve_model(ref)
    assert model is not None
    found = drift(model, scan)
    if json:
        print_json(
            {
                "settings": ref,
                "filesScanned": len(scan.files),
                "ok": found.ok,
                "notInModel": [
                    {"variable": name, "readIn": list(places)}
                    for name, places in found.not_in_model
                ],
                "unread": found.unread,
            }
        )
        if check and not found.ok:
            raise typer.Exit(EXIT_FAILED)
        return
    echo(f"Comparing settings {ref} with the code ({len(scan.files)} Python file(s) scanned):")
    _show_unscanned(scan)
    for name, places in found.not_in_model:
        styled(f"  + {name}: read in {', '.join(places)}, not in the model", "yellow")
    for name in found.unread:
        styled(f"  - {name}: in the model, read nowhere in the code", "yellow")
    if found.ok:
        success(f"No drift: the model declares all {found.read} variable(s) the code reads.")
        return
    count = len(found.not_in_model) + len(found.unread)
    info(
        f"{count} difference(s). Add the new variables to the model and remove fields no "
        f"longer needed (or list a variable a library reads in {model.__name__}."
        "__pcc_read_elsewhere__); 'pcc-env init --force' writes the model again from the code."
    )
    if check:
        raise typer.Exit(EXIT_FAILED)
