"""``pcc-env check``: the preflight before ``pipecat cloud deploy`` (the set, its agents, the
image and the build context).

Apart from push and export so that each command imports only its own code at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pcc_env import targets
from pcc_env.cli.common import (
    ApiHost,
    DeployFileOption,
    JsonFlag,
    SetOption,
    TargetOption,
    TimeoutOption,
    make_client,
)
from pcc_env.cli.output import echo, handle_errors, info, print_json, spinner, styled
from pcc_env.cli.project import SettingsOption, resolve_model, resolve_targets, settings_ref
from pcc_env.errors import ConfigError, InputError

if TYPE_CHECKING:
    from pcc_env.build_context import BuildSettings
    from pcc_env.client import SecretsClient
    from pcc_env.sync import Finding


@handle_errors
def check(
    set_name: SetOption = None,
    settings: SettingsOption = None,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="Also validate this .env against the model.")
    ] = None,
    deploy_file: DeployFileOption = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            "-r",
            help="Region the agent deploys to: the check fails when the set (or the image pull "
            "secret) is in another. Default: region in the deploy file, else us-west.",
        ),
    ] = None,
    target: TargetOption = None,
    all_targets: Annotated[
        bool,
        typer.Option(
            "--all-targets",
            help="Check every target and region, and that a target's sets hold the same keys.",
        ),
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the set to be ready.")] = False,
    timeout: TimeoutOption = 60.0,
    json: JsonFlag = False,
    api_host: ApiHost = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail when an agent runs values older than the set.")
    ] = False,
    code: Annotated[
        bool,
        typer.Option(
            "--code",
            help="Also fail for each env var the project's Python code reads that is in "
            "neither the settings model nor the set (with file and line).",
        ),
    ] = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Only the checks that need no API: the image and the build context ship "
            "the settings module, and upload no env file with values.",
        ),
    ] = False,
) -> None:
    """Preflight for CI before 'pipecat cloud deploy': exit 0 when every check passes."""
    from pcc_env.reach import split_scan
    from pcc_env.redeploy import check_agents
    from pcc_env.scan import scan_project
    from pcc_env.sync import check_code, run_check

    image_rows = image_findings(Path.cwd(), settings, deploy_file)
    if offline:
        _offline_report(image_rows, json)
        return
    # What the agent reads (bot.py and what it imports): a server.py beside it is not checked.
    scan = split_scan(Path.cwd(), scan_project(Path.cwd())).agent if code else None

    resolved = resolve_targets(
        target,
        set_name=set_name,
        region=region,
        deploy_file=deploy_file,
        settings=settings,
        every=all_targets,
        on_shared="warn",
    )
    several = all_targets or sum(len(t.sets) for t in resolved) > 1
    rows: list[tuple[str | None, Finding]] = [(None, f) for f in image_rows]
    with (
        make_client(api_host) as client,
        # With --wait, --timeout bounds the whole command, not only the wait for ready.
        client.deadline(timeout if wait else None),
        spinner("Checking..."),
    ):
        for t in resolved:
            model, _ = resolve_model(t.settings)
            for st in t.sets:
                where = f"{t.name + '/' if t.name else ''}{st.set_name}" if several else None
                findings = run_check(
                    client,
                    st.set_name,
                    model=model,
                    deploy=t.deploy,
                    region=st.region,
                    env_file=env_file,
                    wait=wait,
                    timeout=timeout,
                )
                findings += check_agents(client, st.set_name, strict=strict)
                if scan is not None:
                    findings += check_code(client, st.set_name, scan, model)
                rows.extend((where, f) for f in findings)
            if len(t.sets) > 1:
                rows.append((t.name, _same_keys_finding(client, t)))
    ok = all(f.ok for _, f in rows)
    # No settings model: the set exists, but no key of it was checked against anything.
    keys_checked = any(f.check == "required-keys" for _, f in rows)
    if json:
        findings_json = [{**f.to_json(), **({"where": w} if w else {})} for w, f in rows]
        print_json({"ok": ok, "keysChecked": keys_checked, "findings": findings_json})
    else:
        for where, f in rows:
            mark = "FAIL" if not f.ok else ("WARN" if f.warning else "ok  ")
            color = "red" if not f.ok else ("yellow" if f.warning else "green")
            styled(f"{mark} {f'[{where}] ' if where else ''}{f.message}", color)
        failed = sum(not f.ok for _, f in rows)
        warned = sum(f.ok and f.warning for _, f in rows)
        passed = len(rows) - failed - warned
        if failed:
            echo(f"{passed} passed, {failed} failed" + (f", {warned} warning(s)" if warned else ""))
        elif warned:
            echo(f"{passed} passed, {warned} warning(s) (--strict fails on them)")
        elif keys_checked:
            echo("All checks passed.")
        else:
            echo(
                f"{len(rows)} passed, but no key was checked: no settings model says which "
                "keys the bot needs. Name it in pyproject.toml ([tool.pcc-env] settings = "
                "\"module:Class\") or run 'pcc-env init'"
            )
    if not ok:
        raise typer.Exit(1)


def image_findings(root: Path, ref: str | None, deploy_file: Path | None = None) -> list[Finding]:
    """The settings module in the image (``pcc_env.image.check_image``), read from the
    Dockerfile with no API: none when there is no Dockerfile or no settings model in the
    project. With no ``image`` in ``pcc-deploy.toml`` the pipecat CLI uploads a build context
    to Pipecat Cloud Build: then what it uploads is checked too (``pcc_env.build_context``)."""
    from pcc_env.build_context import build_settings
    from pcc_env.deploy_config import default_deploy_file, read_toml_file
    from pcc_env.image import DOCKERFILE, DOCKERIGNORE, check_image, settings_module_file
    from pcc_env.project_init import read_existing
    from pcc_env.scan import python_files
    from pcc_env.sync import Finding

    deploy_path = root / (deploy_file or default_deploy_file())  # the one the pipecat CLI reads
    deploy = read_toml_file(deploy_path, "a deploy file") if deploy_path.is_file() else None
    build = build_settings(deploy)
    if build.uses_cloud_build:
        return _cloud_build_findings(root, ref, build)
    ref = settings_ref(ref)
    dockerfile = read_existing(root / DOCKERFILE)
    if not ref or dockerfile is None:
        return []
    files = [p.relative_to(root).as_posix() for p in python_files(root)]
    module = settings_module_file(ref, files)
    if module is None:
        return []

    def read(path: str) -> str | None:
        try:
            return read_existing(root / path)
        except (InputError, ConfigError):
            return None

    found = check_image(dockerfile, read_existing(root / DOCKERIGNORE), module, files, read)
    return [Finding(c.ok, "image", c.message) for c in found]


def _listing(ctx: Path) -> Callable[[str], tuple[list[str], list[tuple[str, int]]]]:
    """What ``os.walk`` shows the pipecat CLI in a folder of the context: folders (a symlinked
    one is listed but never walked, so it is left out here) and (file, size) pairs."""

    def listdir(rel: str) -> tuple[list[str], list[tuple[str, int]]]:
        dirs: list[str] = []
        files: list[tuple[str, int]] = []
        try:
            entries = list(os.scandir(ctx / rel if rel else ctx))
        except OSError:
            return dirs, files
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=True):
                    if not entry.is_symlink():
                        dirs.append(entry.name)
                    continue
                size = entry.stat(follow_symlinks=True).st_size
            except OSError:
                size = 0
            files.append((entry.name, size))
        return dirs, files

    return listdir


def _cloud_build_findings(root: Path, ref: str | None, build: BuildSettings) -> list[Finding]:
    """``build_context.check_build`` on the folder ``pipecat cloud deploy`` would upload."""
    from pcc_env.build_context import Context, check_build, context_files, exclusions
    from pcc_env.dotenv_file import lines_with_values
    from pcc_env.errors import DotenvError
    from pcc_env.image import DOCKERIGNORE, settings_module_file
    from pcc_env.project_init import read_existing
    from pcc_env.scan import python_files
    from pcc_env.sync import Finding

    ctx = (root / build.context_dir).resolve()
    dockerfile = read_existing(ctx / build.dockerfile) if ctx.is_dir() else None
    if dockerfile is None:
        return []
    dockerignore = read_existing(ctx / DOCKERIGNORE)
    ref = settings_ref(ref)
    module: str | None = None
    if ref:
        in_root = [p.relative_to(root).as_posix() for p in python_files(root)]
        found = settings_module_file(ref, in_root)
        if found is not None:
            module = os.path.relpath(root / found, ctx).replace(os.sep, "/")
    files = [p.relative_to(ctx).as_posix() for p in python_files(ctx)]
    rules = exclusions(dockerignore, build.exclude)
    context: Context = context_files(_listing(ctx), rules)

    def read(path: str) -> str | None:
        try:
            return read_existing(ctx / path)
        except (InputError, ConfigError):
            return None

    def value_lines(path: str) -> list[int] | None:
        try:
            return lines_with_values(ctx / path)
        except (DotenvError, InputError):
            return None

    found_all = check_build(
        dockerfile_text=dockerfile,
        dockerignore_text=dockerignore,
        settings=build,
        context=context,
        module=module,
        python_files=files,
        read=read,
        value_lines=value_lines,
    )
    return [Finding(f.ok, f.check, f.message) for f in found_all]


def _offline_report(findings: list[Finding], json: bool) -> None:
    """``check --offline``: the image findings alone (no secret set was checked: never "All
    checks passed")."""
    ok = all(f.ok for f in findings)
    if json:
        print_json({"ok": ok, "offline": True, "findings": [f.to_json() for f in findings]})
    else:
        for f in findings:
            styled(f"{'ok  ' if f.ok else 'FAIL'} {f.message}", "green" if f.ok else "red")
        failed = sum(not f.ok for f in findings)
        if not findings:
            info("--offline: nothing to check (no Dockerfile or no settings model in the project).")
        else:
            echo(
                f"{len(findings) - failed} passed, {failed} failed (offline: the secret set was "
                "not checked)."
            )
    if not ok:
        raise typer.Exit(1)


def _same_keys_finding(client: SecretsClient, t: targets.Target) -> Finding:
    """The sets of one target (one per region) should hold the same keys."""
    from pcc_env.revision import user_keys
    from pcc_env.sync import Finding, fetch_remote

    keys: dict[str, list[str]] = {}
    for st in t.sets:
        remote = fetch_remote(client, st.set_name)
        keys[st.set_name] = user_keys(remote.keys) if remote is not None else []
    gaps = targets.key_gaps(keys)
    if not gaps:
        return Finding(
            True, "same-keys", f"the {len(t.sets)} sets of '{t.label}' hold the same keys"
        )
    detail = "; ".join(f"'{name}' lacks {', '.join(missing)}" for name, missing in gaps.items())
    return Finding(False, "same-keys", f"the sets of '{t.label}' differ: {detail}")
