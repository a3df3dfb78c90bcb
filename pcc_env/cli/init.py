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
from pcc_env.rules import escape_text, show_key

if TYPE_CHECKING:
    from pcc_env.project_init import InitPlan
    from pcc_env.reach import AgentScan
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
    from pcc_env.cli.project import default_env_file
    from pcc_env.deploy_config import read_project_settings
    from pcc_env.discover import one_model
    from pcc_env.dotenv_file import TEMPLATE_FILES
    from pcc_env.project_init import SETTINGS_REF
    from pcc_env.scan import scan_project

    root = Path.cwd()
    ref = read_project_settings().settings
    from pcc_env.reach import split_scan

    if ref and not force:
        _report_drift(ref, split_scan(root, scan_project(root)).agent, check, json)
        return
    # A model the project has already (several: exit 2 naming each) is adopted, never doubled;
    # --force rewrites only the model init itself wrote.
    found = None if ref else one_model(root)
    if found is not None and found.ref == SETTINGS_REF and force:
        found = None
    if found is not None and check:
        _report_drift(found.ref, split_scan(root, scan_project(root)).agent, check, json)
        return
    if check:
        raise ConfigError(
            "--check compares the settings model with the code, and there is no model yet "
            "([tool.pcc-env] settings in pyproject.toml): run 'pcc-env init' first"
        )
    scan = scan_project(root)
    split = split_scan(root, scan)
    env_path = default_env_file(env_file)
    env_keys = _env_keys(env_path, named=env_file is not None)
    if not json:
        _show_scan(scan, env_path, env_keys)
        _show_agent(split)
    from pcc_env.project_init import plan_adopt, plan_init

    outside: dict[str, list[str]] = {}
    for part in split.outside:
        for r in part.reads:
            outside.setdefault(r.name.upper(), []).append(r.where)
    if found is not None:
        plan = plan_adopt(root, split.agent, env_keys, found, all_files=scan.files, outside=outside)
    else:
        plan = plan_init(
            root, split.agent, env_keys, force=force, all_files=scan.files, outside=outside
        )
    document = {**_plan_json(scan, env_path, env_keys, plan, root), **_agent_json(split)}
    if not plan.fields and plan.adopted is None:
        where = "in the code" if split.entry is not None else "for an agent (no entry point found)"
        nothing = f"found no environment variables {where} and no keys in {env_path}"
        if not dry_run:
            raise fail(f"{nothing}: nothing to write", EXIT_FAILED)
        # a dry run shows what init would do, and here that is nothing: every file unchanged
        from pcc_env.dotenv_file import find_template

        template_path = find_template(root)
        kept = (
            [{"path": template_path.name, "action": "unchanged", "summary": "init writes nothing"}]
            if template_path.exists()
            else []
        )
        document = {**document, "changes": kept, "image": None, "nothingToWrite": nothing}
        if json:
            print_json({**document, "dryRun": True, "written": []})
        else:
            info(f"Dry run: {nothing}; a real run writes nothing (exit {EXIT_FAILED}).")
        return
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
    if plan.adopted is not None:
        _next_after_adopt(plan)
        return
    if plan.shipping is not None and plan.shipping.relock:
        info(
            "Run 'uv lock' now: pyproject.toml has a new dependency (pcc-env) and uv.lock is stale."
        )
    template = next((c.path.name for c in plan.changes if c.path.name in TEMPLATE_FILES), None)
    info(
        "Next: load the settings in your bot (from settings import Settings; settings = "
        f"load_settings(Settings)), fill in .env, and {_push_hint()}. Commit settings.py and "
        f"{template or '.env.example'}, never .env."
    )


def _push_hint() -> str:
    """The push command that works here: plain ``push`` needs a secret set from the deploy
    file; without one it would refuse, so the hint names the flag that gives it."""
    from pcc_env.deploy_config import default_deploy_file, secret_set_from_deploy_file

    if secret_set_from_deploy_file(default_deploy_file()):
        return "'pcc-env push'"
    return "'pcc-env push --set NAME' (or add secret_set = \"NAME\" to pcc-deploy.toml)"


def _next_after_adopt(plan: InitPlan) -> None:
    if plan.shipping is not None and plan.shipping.relock:
        info("Run 'uv lock' now: pyproject.toml has a new dependency and uv.lock is stale.")
    assert plan.adopted is not None
    added = f"add the {len(plan.fields)} proposed field(s) to it, then " if plan.fields else ""
    info(
        f"Next: {escape_text(plan.adopted.ref)} is the settings model; {added}fill in .env and "
        f"{_push_hint()}."
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
    from pcc_env.project_init import SETTINGS_REF, field_line

    adopted = plan.adopted
    adopt_json: dict[str, object] = {}
    if adopted is not None:
        adopt_json = {
            "adopted": {
                "settings": adopted.ref,
                "definedIn": adopted.where,
                "declares": list(adopted.env_names),
                "additions": [field_line(f) for f in plan.fields],
            }
        }
    return {
        "scanned": {
            "files": len(scan.files),
            "reads": len(scan.reads),
            "variables": len(scan.by_name()),
            "envFile": str(env_path),
            "envKeys": len(env_keys),
            "notScanned": [str(getattr(p, "where", p)) for p in scan.unparsable],
            "notRead": list(scan.outside),  # symlinks out of the project, or broken
            "dynamicNames": [str(getattr(p, "where", p)) for p in scan.dynamic],
        },
        "settings": adopted.ref if adopted is not None else SETTINGS_REF,
        **adopt_json,
        "fields": [
            {
                "variable": f.env_name,
                "type": "SecretStr" if f.secret else f.type_name,
                "secret": f.secret,
                "required": f.required,
                "need": f.need,
                "why": f.why,
                "summary": f.summary,
                "readIn": list(f.places),
                **({"addition": True} if adopted is not None else {}),
            }
            for f in plan.fields
        ],
        "undecided": [
            {"variable": f.env_name, "why": f.why}
            for f in plan.fields
            if f.need == "unknown" and not f.required
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


def _agent_json(split: AgentScan) -> dict[str, object]:
    """The agent's entry point and files, and the reads of other programs (not in the model)."""
    return {
        "agent": {
            "entryPoint": split.entry,
            "entryPoints": list(split.entries),
            "why": split.reason,
            "files": split.modules,
        },
        "outsideAgent": [
            {
                "path": o.path,
                "variables": o.variables,
                "readIn": [r.where for r in o.reads],
                "partly": o.partly,
            }
            for o in split.outside
        ],
    }


def _show_agent(split: AgentScan) -> None:
    """Which code the model is for, and what other programs read (reported, not modelled)."""
    from pcc_env.scan import left_out

    if split.entry is None:
        info(f"Agent: {split.reason}.")
    else:
        entries = split.entries or [split.entry]
        others = len(split.modules) - len(entries)
        importer = "it imports" if len(entries) == 1 else "they import"
        more = f", with the {others} project module(s) {importer}" if others else ""
        they = "they read" if others or len(entries) > 1 else "it reads"
        named = ", ".join(escape_text(e) for e in entries)
        info(f"Agent: {named} ({split.reason}){more}: the model holds what {they}.")
    for o in split.outside:
        what = "code of a module it imports, never used" if o.partly else "not imported"
        if split.entry is None:
            what = "no entry point"
        names = ", ".join(show_key(n) for n in o.variables if left_out(n) is None)
        if not names:
            continue
        info(f"Outside the agent ({what}; not modelled): {escape_text(o.path)} reads {names}")


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
    if scan.outside:
        info(
            "Not read (a symlink out of the project, or a broken one; pcc-env never reads "
            "outside the project): " + _places(scan.outside)
        )
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
    if plan.adopted is not None:
        _show_adopted(plan)
    else:
        echo(f"Settings model {SETTINGS_REF}: {len(plan.fields)} field(s)")
    if plan.fields:
        _fields_table(plan)
    undecided = [f for f in plan.fields if f.need == "unknown" and not f.required]
    if undecided:
        info(
            "Undecided (optional for now: the scan cannot tell whether the code needs them; "
            "make a field required in settings.py if the bot cannot run without it): "
            + "; ".join(f"{show_key(f.env_name)} ({f.why})" for f in undecided)
        )
    echo("")
    echo("Plan:")
    for change in plan.changes:
        name = str(change.path.relative_to(root))
        styled(f"  {change.action:<10} {name:<16} {change.summary}", ACTION_STYLE[change.action])
    _show_shipping(plan)


def _show_adopted(plan: InitPlan) -> None:
    """The model the project has: adopted; what it lacks, proposed as Python lines to paste."""
    from pcc_env.project_init import field_line

    found = plan.adopted
    assert found is not None
    ref = escape_text(found.ref)
    echo(
        f"Settings model {ref} (in {escape_text(found.where)}, {len(found.env_names)} field(s)): "
        "adopted; init writes no model beside it and never edits it."
    )
    if not plan.fields:
        echo("It declares every variable the code reads.")
        return
    echo(f"Proposed additions to {ref}: {len(plan.fields)} field(s) it lacks")
    for f in plan.fields:
        echo(f"  {escape_text(field_line(f))}")


def _fields_table(plan: InitPlan) -> None:
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


def _show_shipping(plan: InitPlan) -> None:
    """Why the Dockerfile is edited (its line that drops the settings module), and what init
    leaves to the user."""
    ship = plan.shipping
    if ship is None:
        return
    if ship.shipping is not None and ship.edit is not None:
        # Said as the edit's reason: after a real run the image does get the module.
        info(f"Why the edit: as it stands, {ship.shipping.reason}.")
    for note in ship.notes:
        info(note)


def _report_drift(ref: str, scan: ScanResult, check: bool, json: bool = False) -> None:
    from pcc_env.cli.project import resolve_model
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
        f"__pcc_read_elsewhere__); {_regenerate_hint(ref)}"
    )
    if check:
        raise typer.Exit(EXIT_FAILED)


def _regenerate_hint(ref: str) -> str:
    """How to write the model again from the code, in a form that works when followed:
    ``init --force`` rewrites only the model init writes itself (``settings:Settings``); a
    model of the user's is adopted, never rewritten, so for one of those the hint says what to
    change in it."""
    from pcc_env.project_init import SETTINGS_REF

    if ref == SETTINGS_REF:
        return "'pcc-env init --force' writes the model again from the code."
    return (
        f"{escape_text(ref)} is your own model: add the fields marked + to it and remove those "
        "marked - (init never rewrites a model it did not write, and adopts the one the code "
        "has: removing the settings line would not replace it)."
    )
