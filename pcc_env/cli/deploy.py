"""``pcc-env status`` and ``pcc-env redeploy``: from the secret set to the running agents.

Also the redeploy step of ``push --redeploy`` and ``watch --redeploy``, and the hint that names
the stale agents after a push without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pcc_env.cli.common import (
    ApiHost,
    DeployFileOption,
    JsonFlag,
    NoWaitFlag,
    SetOption,
    TargetOption,
    make_client,
)
from pcc_env.cli.completion import complete_secret_set
from pcc_env.cli.output import (
    EXIT_FAILED,
    echo,
    err,
    handle_errors,
    info,
    is_tty,
    print_json,
    spinner,
    stdout,
    table,
)
from pcc_env.errors import ApiError, InputError
from pcc_env.rules import display_name

if TYPE_CHECKING:
    from pcc_env.client import SecretsClient
    from pcc_env.models import SecretSetDetail
    from pcc_env.redeploy import AgentStatus, AgentView, Progress, RedeployResult

AgentOption = Annotated[
    list[str] | None,
    typer.Option(
        "--agent",
        "-a",
        help="Redeploy only this agent (repeatable); it must bind the set.",
        show_default=False,
    ),
]
RedeployTimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout", min=0, help="Seconds to wait for the set, then for every agent to be ready."
    ),
]
RedeployFlag = Annotated[
    bool,
    typer.Option(
        "--redeploy",
        help="Then force-redeploy the agents that bind the set and wait until they are ready.",
    ),
]
RedeployAfterTimeoutOption = Annotated[
    float,
    typer.Option("--redeploy-timeout", min=0, help="Seconds to wait for the redeployed agents."),
]
REDEPLOY_HINT = "Update them: pcc-env redeploy --set {name}"


def local_time(value: datetime | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        value = value.timestamp()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def agent_rows(statuses: list[AgentStatus]) -> list[list[str]]:
    from pcc_env.rules import escape_text

    rows = []
    for s in statuses:
        v = s.view
        ready = "-" if v.ready is None else ("yes" if v.ready else "no")
        state = s.state + (f" ({escape_text(v.message)})" if v.message else "")
        rows.append(
            [
                escape_text(v.name),
                escape_text(v.region),
                escape_text(v.deployment_id or "-"),
                local_time(v.deployment_created_at),
                ready,
                state,
            ]
        )
    return rows


# Used by push and watch ------------------------------------------------------------------------


def stale_hint(
    client: SecretsClient,
    set_name: str,
    listed: Callable[[], list[AgentView]] | None = None,
    written_at: float | None = None,
) -> str:
    """After a write: the agents that bind the set and were deployed before its record
    (``written_at``; None: every one of them) are now stale; say which, and the command that
    updates them. A write that kept the record (no value changed) makes none stale. Falls back
    to a reminder naming no agent when the agents cannot be listed. ``listed`` gives agents
    listed while the write ran (push lists them concurrently)."""
    from pcc_env.redeploy import list_agent_views
    from pcc_env.rules import escape_text

    try:
        agents = listed() if listed is not None else list_agent_views(client)
        bound = [a for a in agents if a.binds(set_name)]
    except ApiError:
        return (
            f"The agents that bind '{set_name}' could not be listed; any deployed before this "
            f"write must be redeployed to see the new values (pcc-env status --set {set_name})."
        )
    if not bound:
        return f"No deployed agent binds '{set_name}': none needs to be redeployed."
    stale = [
        a.name
        for a in bound
        if written_at is None
        or a.deployment_created_at is None
        or a.deployment_created_at.timestamp() < written_at
    ]
    if not stale:
        return f"No agent that binds '{set_name}' was deployed before its record: none is stale."
    names = ", ".join(escape_text(n) for n in stale)
    return f"Now stale (deployed before this write): {names}. " + REDEPLOY_HINT.format(
        name=set_name
    )


def progress_line(p: Progress) -> str | None:
    """One line per agent when it is done (and when the redeploy is accepted, without --wait)."""
    from pcc_env.rules import escape_text

    name = escape_text(p.agent)
    deployment = (
        f"deployment {escape_text(p.deployment_id)}" if p.deployment_id else "no deployment"
    )
    if p.phase == "current":
        return f"{name}: current ({deployment}, ready in {p.seconds:.1f}s)"
    if p.phase == "deploying":
        return None
    if p.phase in ("failed", "timeout"):
        detail = f": {escape_text(p.message)}" if p.message else ""
        return f"{name}: {p.phase} ({deployment}){detail}"
    if p.phase == "interrupted":
        return f"{name}: interrupted ({deployment} not ready yet)"
    return None


def print_progress(p: Progress) -> None:
    line = progress_line(p)
    if line is None:
        return
    line = "  " + line
    if is_tty():
        style = {"current": "green", "interrupted": "yellow"}.get(p.phase, "red")
        stdout().print(line, style=style, markup=False)
    else:
        echo(line, flush=True)


def run_redeploy(
    client: SecretsClient,
    set_name: str,
    agents: list[str] | None,
    *,
    wait: bool,
    timeout: float,
    json: bool,
) -> RedeployResult:
    """Plan (exit 2 before any request when a named agent does not bind the set), redeploy,
    print one line per agent. The caller reports the result."""
    from pcc_env.redeploy import apply_redeploy, list_agent_views, plan_redeploy
    from pcc_env.rules import escape_text

    plan = plan_redeploy(set_name, list_agent_views(client), agents or ())
    if not plan.agents:
        if not json:
            info(f"No agent binds {display_name(set_name)}: nothing to redeploy.")
        return apply_redeploy(client, plan, wait=wait, timeout=timeout)
    names = ", ".join(escape_text(a) for a in plan.agents)
    if not json:
        echo(f"Redeploying {len(plan.agents)} agent(s) that bind '{set_name}': {names}", flush=True)
    what = "until they are ready" if wait else "to accept the new deployments"
    with spinner(f"Waiting for '{set_name}', then {what}..."):
        result = apply_redeploy(
            client,
            plan,
            wait=wait,
            timeout=timeout,
            on_progress=(lambda p: None) if json else print_progress,
        )
    if not json and not wait:
        for o in result.outcomes:
            if o.outcome == "deploying":
                echo(f"  {escape_text(o.agent)}: accepted (deployment {o.deployment_id})")
    return result


def report_redeploy(result: RedeployResult, *, exit_on_failure: bool = True) -> None:
    """The closing line, and one error naming each agent that did not end current (then
    Exit(1), unless the caller decides)."""
    from pcc_env.rules import escape_text

    if not result.outcomes:
        return
    if result.ok:
        done = "current" if result.wait else "redeploying (not waiting for ready)"
        echo(f"{len(result.outcomes)} agent(s) {done}.")
        return
    for o in result.failures:
        detail = f": {escape_text(o.message)}" if o.message else ""
        err(f"redeploy of agent '{escape_text(o.agent)}' {o.outcome}{detail}")
    if exit_on_failure:
        raise typer.Exit(EXIT_FAILED)


# Commands ---------------------------------------------------------------------------------------


@handle_errors
def redeploy(
    set_name: SetOption = None,
    agent: AgentOption = None,
    no_wait: NoWaitFlag = False,
    timeout: RedeployTimeoutOption = 300.0,
    target: TargetOption = None,
    deploy_file: DeployFileOption = None,
    json: JsonFlag = False,
    api_host: ApiHost = None,
) -> None:
    """Force-redeploy the agents that bind a set so they run its current values."""
    from pcc_env.cli.project import resolve_targets

    (chosen,) = resolve_targets(target, set_name=set_name, deploy_file=deploy_file)
    names = [st.set_name for st in chosen.sets]
    if agent and len(names) > 1:
        raise InputError(
            f"target '{chosen.name}' has {len(names)} sets: name one with --set to use --agent"
        )
    with make_client(api_host) as client:
        results = [
            run_redeploy(client, name, agent, wait=not no_wait, timeout=timeout, json=json)
            for name in names
        ]
    ok = all(r.ok for r in results)
    if json:
        print_json(results[0].to_json() if len(results) == 1 else [r.to_json() for r in results])
    else:
        for r in results:
            report_redeploy(r, exit_on_failure=False)
    if not ok:
        raise typer.Exit(EXIT_FAILED)


def _set_block(
    name: str, detail: SecretSetDetail | None, statuses: list[AgentStatus]
) -> dict[str, Any]:
    from pcc_env.revision import read_record

    if detail is None:
        return {
            "name": name,
            "region": None,
            "status": "absent",
            "keyCount": None,
            "lastWrite": None,
            "record": None,
            "agents": [s.to_json() for s in statuses],
        }
    record = read_record(detail.keys)
    rev = record.latest
    return {
        "name": name,
        "region": detail.region,
        "status": detail.status,
        "keyCount": len(record.keys),
        # The set's record: pcc-env's last write from any machine, on the writer's clock.
        "lastWrite": rev.written_at.isoformat() if rev is not None else None,
        "record": {
            "writtenAt": rev.written_at.isoformat() if rev is not None else None,
            "trusted": record.trusted is not None,
            "note": record.why_unknown() or None,
        },
        "agents": [s.to_json() for s in statuses],
    }


@handle_errors
def status(
    set_name: Annotated[
        str | None,
        typer.Option(
            "--set",
            help="Only this secret set. Default: the project's sets (pcc-deploy.toml, targets), "
            "as push and check; every set of the organization with --all or outside a project.",
            autocompletion=complete_secret_set,
        ),
    ] = None,
    target: TargetOption = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every secret set of the organization.")
    ] = False,
    json: JsonFlag = False,
    api_host: ApiHost = None,
) -> None:
    """Show secret sets and the agents that bind them: current, stale, unknown, deploying or
    failed (from each set's pcc-env record, whichever machine wrote it)."""
    from pcc_env.redeploy import agent_statuses, list_agent_views
    from pcc_env.revision import read_record

    chosen = _status_sets(set_name, target, every)
    blocks: list[tuple[dict[str, Any], list[AgentStatus]]] = []
    with make_client(api_host) as client, spinner("Reading secret sets and agents..."):
        if chosen is not None:
            names = chosen
        else:
            names = [s.name for s in client.list_sets() if s.type == "secret"]
        agents = list_agent_views(client)
        for name in names:
            detail = client.find_set(name)
            record = read_record(detail.keys) if detail is not None else None
            statuses = agent_statuses(client, name, record, agents)
            blocks.append((_set_block(name, detail, statuses), statuses))
    missing = [b["name"] for b, _ in blocks if b["status"] == "absent"]
    if json:
        # A set the API does not know is a name only the user typed: maybe a pasted key.
        print_json({"sets": [_shown_block(b) for b, _ in blocks]})
    else:
        _print_status(blocks)
    if missing:
        raise typer.Exit(EXIT_FAILED)


def _shown_block(block: dict[str, Any]) -> dict[str, Any]:
    """``block`` with the name of an absent set cut to a prefix when it looks like a key."""
    from pcc_env.rules import redact_name

    return {**block, "name": redact_name(block["name"])} if block["status"] == "absent" else block


def _status_sets(set_name: str | None, target: str | None, every: bool) -> list[str] | None:
    """The sets ``status`` shows: --set, --target, or the project's (the same default as push
    and check); None for every set of the organization (--all, or no project set)."""
    from pcc_env.cli.project import resolve_targets
    from pcc_env.errors import ConfigError
    from pcc_env.rules import check_set_name

    if every:
        if set_name or target:
            raise InputError("pass --all alone, or --set / --target")
        return None
    if target is None and set_name is not None:
        check_set_name(set_name)
        return [set_name]
    try:
        resolved = resolve_targets(target, set_name=set_name, need_set=False, on_shared="warn")
    except ConfigError:
        if target is not None:
            raise
        resolved = []
    names = [st.set_name for t in resolved for st in t.sets if st.set_name]
    if names or target is not None:
        return list(dict.fromkeys(names))
    info("No project set here (pcc-deploy.toml, [tool.pcc-env] targets): every secret set.")
    return None


def _print_status(blocks: list[tuple[dict[str, Any], list[AgentStatus]]]) -> None:
    if not blocks:
        info("No secret sets.")
        return
    for i, (block, statuses) in enumerate(blocks):
        if i:
            echo()
        name = block["name"]
        if block["status"] == "absent":
            echo(f"Secret set {display_name(name)} does not exist")
        else:
            record = block["record"]
            at = record["writtenAt"]
            written = (
                f"; pcc-env record {at[:19].replace('T', ' ')} UTC (writer's clock)"
                if at is not None
                else "; no pcc-env record"
            )
            if record["note"]:
                written += f" ({record['note']})"
            echo(
                f"Secret set '{name}' ({block['region']}, {block['status']}, "
                f"{block['keyCount']} key(s)){written}"
            )
        if not statuses:
            echo("  no agent binds it")
            continue
        table(["agent", "region", "deployment", "created", "ready", "state"], agent_rows(statuses))
        stale = [s for s in statuses if s.state == "stale"]
        unknown = [s for s in statuses if s.state == "unknown"]
        if stale:
            echo(f"  {len(stale)} stale. " + REDEPLOY_HINT.format(name=name))
        if unknown:
            echo(
                f"  {len(unknown)} unknown: the set's record cannot tell what they run. "
                + REDEPLOY_HINT.format(name=name)
            )
