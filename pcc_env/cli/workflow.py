"""``pcc-env push / export / check``: the .env workflow around one secret set."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pcc_env.cli.common import (
    ApiHost,
    DeployFileOption,
    EnvFileArgument,
    JsonFlag,
    NoInterpolateFlag,
    NoWaitFlag,
    RegionOption,
    SetOption,
    SkipEmptyFlag,
    TimeoutOption,
    YesFlag,
    confirm_or_exit,
    make_client,
)
from pcc_env.cli.output import (
    echo,
    fail,
    handle_errors,
    info,
    print_json,
    spinner,
    styled,
    success,
    warn,
)
from pcc_env.errors import ConfigError, InputError

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from pcc_env.deploy_config import DeployConfig
    from pcc_env.sync import PushPlan

SettingsOption = Annotated[
    str | None,
    typer.Option(
        "--settings",
        help="Settings model: module:Class or path/to/file.py:Class. "
        "Default: [tool.pcc-env] settings in pyproject.toml.",
    ),
]
REDEPLOY = "Agents using '{name}' must be redeployed to see the new values."
MARK_STYLE = {"+": "green", "~": "yellow", "=": "dim", "-": "red"}


@dataclass(frozen=True)
class Target:
    set_name: str
    region: str | None
    deploy: DeployConfig | None


def resolve_target(
    set_name: str | None, region: str | None, deploy_file: Path | None, *, need_set: bool = True
) -> Target:
    """--set / --region, else pcc-deploy.toml (--deploy-file or ./), else a clear error."""
    from pcc_env.deploy_config import DEPLOY_FILE, read_deploy_config
    from pcc_env.rules import check_set_name

    deploy = None
    if deploy_file is not None:
        deploy = read_deploy_config(deploy_file)
    elif Path(DEPLOY_FILE).is_file():
        deploy = read_deploy_config(DEPLOY_FILE)
    name = set_name or (deploy.secret_set if deploy else None)
    if not name:
        if need_set:
            raise ConfigError(
                'no secret set named: pass --set NAME or add secret_set = "NAME" to pcc-deploy.toml'
            )
        name = ""
    if name:
        check_set_name(name)
    return Target(name, region or (deploy.region if deploy else None), deploy)


def default_env_file(env_file: Path | None) -> Path:
    from pcc_env.deploy_config import read_project_settings

    if env_file is not None:
        return env_file
    return Path(read_project_settings().env_file or ".env")


def resolve_model(ref: str | None) -> tuple[type[BaseSettings] | None, str | None]:
    """The settings model (and the reference it came from): --settings, else pyproject."""
    from pcc_env.deploy_config import load_settings_class, read_project_settings

    ref = ref or read_project_settings().settings
    return (load_settings_class(ref), ref) if ref else (None, None)


def show_plan(plan: PushPlan) -> None:
    where = plan.remote_region or plan.region or "the default region"
    state = "exists" if plan.exists else "new set"
    echo(f"Plan for secret set '{plan.set_name}' ({where}, {state}):")
    for change in plan.changes:
        styled(f"  {change.action} {change.key}", MARK_STYLE[change.action])
    if plan.kept_remote:
        kept = ", ".join(plan.kept_remote)
        echo(f"  kept on the remote (not in the file; --prune deletes them): {kept}")


@handle_errors
def push(
    env_file: EnvFileArgument = None,
    set_name: SetOption = None,
    region: RegionOption = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete remote keys that are not in the file.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; change nothing.")
    ] = False,
    yes: YesFlag = False,
    no_wait: NoWaitFlag = False,
    timeout: TimeoutOption = 60.0,
    skip_empty: SkipEmptyFlag = False,
    no_interpolate: NoInterpolateFlag = False,
    deploy_file: DeployFileOption = None,
    json: JsonFlag = False,
    api_host: ApiHost = None,
) -> None:
    """Push a local .env to a secret set: plan by key name, one PUT, wait until ready."""
    from pcc_env.dotenv_file import read_env_file, secrets_to_send
    from pcc_env.sync import PushState, apply_push, fetch_remote, plan_push

    target = resolve_target(set_name, region, deploy_file)
    path = default_env_file(env_file)
    values, skipped = secrets_to_send(
        read_env_file(path), interpolate=not no_interpolate, skip_empty=skip_empty
    )
    if skipped:
        warn(f"left out keys with empty values: {', '.join(skipped)}")
    if prune and not values:
        raise InputError("refusing --prune from an empty file: it would delete every key")
    with make_client(api_host) as client:
        state = PushState()
        remote = fetch_remote(client, target.set_name)
        plan = plan_push(
            target.set_name,
            values,
            remote,
            state.previous(client.api_host, target.set_name),
            region=target.region,
            prune=prune,
        )
        if not json:
            show_plan(plan)
        if dry_run:
            if json:
                print_json({"plan": plan.to_json(), "dryRun": True})
            else:
                info("Dry run: nothing was sent.")
            return
        if plan.to_delete:
            confirm_or_exit(f"Delete {', '.join(plan.to_delete)} from '{plan.set_name}'?", yes)
        try:
            with spinner(f"Pushing to '{plan.set_name}' and waiting until it is ready..."):
                result = apply_push(client, plan, wait=not no_wait, timeout=timeout, state=state)
        except Exception:
            if json:
                print_json({"plan": plan.to_json(), "result": {"ok": False}})
            raise
    outcome: dict[str, Any] = {
        "ok": True,
        "region": result.region,
        "status": result.status,
        "seconds": round(result.seconds, 3),
        "writeRequests": result.requests,
    }
    if json:
        print_json({"plan": plan.to_json(), "result": outcome})
    else:
        deleted = f"; deleted {len(plan.to_delete)}" if plan.to_delete else ""
        ready = f", {result.status}" if not no_wait else " (not waiting for ready)"
        success(
            f"Pushed {len(plan.values)} key(s) to '{plan.set_name}' in {result.region}{deleted}"
            f"{ready} in {result.seconds:.1f}s."
        )
    info(REDEPLOY.format(name=plan.set_name))


@handle_errors
def export(
    set_name: SetOption = None,
    settings: SettingsOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (updated in place).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Regenerate -o FILE instead of updating it in place.")
    ] = False,
    deploy_file: DeployFileOption = None,
    api_host: ApiHost = None,
) -> None:
    """Write an onboarding template (.env.example): every key, never a value."""
    from pcc_env.dotenv_file import (
        atomic_write_text,
        read_template,
        render_template,
        update_template,
    )
    from pcc_env.sync import fetch_remote, template_entries

    target = resolve_target(set_name, None, deploy_file, need_set=False)
    model, ref = resolve_model(settings)
    if not target.set_name and model is None:
        raise ConfigError(
            "nothing to export: name a secret set (--set or pcc-deploy.toml) and/or a settings "
            "model (--settings or [tool.pcc-env] settings)"
        )
    # An existing -o file is checked before anything is fetched: a file with values, a FIFO or
    # a directory is refused with no request sent.
    current = read_template(output) if output is not None and output.exists() else None
    remote_keys = None
    if target.set_name:
        with make_client(api_host) as client:
            remote = fetch_remote(client, target.set_name)
        if remote is None:
            raise fail(f"secret set '{target.set_name}' does not exist")
        remote_keys = remote.keys
    entries = template_entries(model, remote_keys, target.set_name or None)
    sources = []
    if target.set_name:
        sources.append(f"secret set '{target.set_name}'")
    if model is not None:
        sources.append(f"settings {ref}")
    header = [
        "Onboarding template written by 'pcc-env export'",
        "from " + " and ".join(sources) + ".",
        "Copy it to .env and fill in the values. Never commit a file with values.",
    ]
    if output is None:
        print(render_template(entries, header), end="")
        return
    if current is not None:
        text = render_template(entries, header) if force else update_template(current, entries)
        if text == current:
            info(f"{output} is up to date.")
            return
        mode = stat.S_IMODE(output.stat().st_mode)  # keep the mode the user chose
    else:
        text = render_template(entries, header)
        mode = 0o644  # a template holds no value and is meant to be committed
    atomic_write_text(output, text, mode=mode)
    success(f"Wrote {output} ({len(entries)} keys).")


@handle_errors
def check(
    set_name: SetOption = None,
    settings: SettingsOption = None,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="Also validate this .env against the model.")
    ] = None,
    deploy_file: DeployFileOption = None,
    region: RegionOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the set to be ready.")] = False,
    timeout: TimeoutOption = 60.0,
    json: JsonFlag = False,
    api_host: ApiHost = None,
) -> None:
    """Preflight for CI before 'pipecat cloud deploy': exit 0 when every check passes."""
    from pcc_env.sync import run_check

    target = resolve_target(set_name, region, deploy_file)
    model, _ = resolve_model(settings)
    with make_client(api_host) as client, spinner(f"Checking '{target.set_name}'..."):
        findings = run_check(
            client,
            target.set_name,
            model=model,
            deploy=target.deploy,
            region=target.region,
            env_file=env_file,
            wait=wait,
            timeout=timeout,
        )
    ok = all(f.ok for f in findings)
    if json:
        print_json({"ok": ok, "findings": [f.to_json() for f in findings]})
    else:
        for f in findings:
            mark = "ok  " if f.ok else "FAIL"
            styled(f"{mark} {f.message}", "green" if f.ok else "red")
        failed = sum(not f.ok for f in findings)
        echo(
            f"{len(findings) - failed} passed, {failed} failed" if failed else "All checks passed."
        )
    if not ok:
        raise typer.Exit(1)
