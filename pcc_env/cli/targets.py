"""``pcc-env targets``: what each target of the project resolves to."""

from __future__ import annotations

from pcc_env.cli.common import JsonFlag
from pcc_env.cli.output import handle_errors, info, print_json, table, warn
from pcc_env.rules import DEFAULT_REGION


@handle_errors
def targets(json: JsonFlag = False) -> None:
    """Show each target (tool.pcc-env.targets in pyproject.toml): sets, regions, env files.
    Flags a set that two targets write (push, watch and redeploy refuse those targets)."""
    from pcc_env.deploy_config import read_project_settings
    from pcc_env.targets import all_targets, shared_sets

    project = read_project_settings()
    resolved = all_targets(project, need_set=False)
    shared = shared_sets([t for t in resolved if t.name is not None])
    for s in shared:
        warn(
            f"{s.message}: push, watch and redeploy refuse these targets until each has its own set"
        )
    if json:
        print_json(
            {
                "targets": [t.to_json() for t in resolved],
                "sharedSets": [s.to_json() for s in shared],
            }
        )
        return
    rows = [
        [
            t.label,
            ", ".join(s.set_name for s in t.sets) or "-",
            ", ".join(s.region or DEFAULT_REGION for s in t.sets) or "-",
            ", ".join(map(str, t.env_files)),
            str(t.deploy_file) if t.deploy_file else "-",
            t.settings or "-",
        ]
        for t in resolved
    ]
    table(["target", "sets", "regions", "env files", "deploy file", "settings"], rows)
    if not project.targets:
        info("No [tool.pcc-env.targets] in pyproject.toml: commands use --set and the deploy file.")
