"""``pcc-env push``: a .env (or the environment) to one secret set or many.

A module of its own so that a push, the command run most often, imports neither export nor check.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from pcc_env import targets
from pcc_env.cli.common import (
    AllowReservedFlag,
    ApiHost,
    DeployFileOption,
    EnvFileArgument,
    JsonFlag,
    NoInterpolateFlag,
    NoWaitFlag,
    RegionOption,
    SetOption,
    SkipEmptyFlag,
    TargetOption,
    TimeoutOption,
    YesFlag,
    confirm_or_exit,
    make_client,
)
from pcc_env.cli.deploy import RedeployAfterTimeoutOption, RedeployFlag
from pcc_env.cli.output import (
    EXIT_FAILED,
    add_error_context,
    after_write,
    after_writes,
    echo,
    err,
    fail,
    handle_errors,
    info,
    print_json,
    retries_unannounced,
    spinner,
    stdin_is_tty,
    styled,
    success,
    table,
    warn,
)
from pcc_env.cli.project import OptionalKeys, SettingsOption, resolve_model, resolve_targets
from pcc_env.errors import ConfigError, InputError
from pcc_env.rules import DEFAULT_REGION, ORG_API_KEY_NOTE, escape_text

if TYPE_CHECKING:
    from concurrent.futures import Future

    from pcc_env.client import SecretsClient
    from pcc_env.redeploy import AgentView
    from pcc_env.sync import PushPlan, PushState

NOTHING_TO_PUSH = (
    "Nothing to push: '{name}' already has these values, as recorded by pcc-env at {at} (the "
    "set's own record, written from any machine; a change made since by another tool without "
    "changing a key name cannot be seen). Use --force to send them anyway."
)
MARK_STYLE = {"+": "green", "~": "yellow", "?": "yellow", "=": "dim", "-": "red"}


def show_plan(plan: PushPlan, notes: Sequence[str] = (), held: Collection[str] = ()) -> None:
    """The plan, key by key; ``held``: keys empty in the file that the set holds a value for
    (their note says so: they are not "not in the file")."""
    where = plan.remote_region or plan.region or "the default region"
    state = "exists" if plan.exists else "new set"
    echo(f"Plan for secret set '{plan.set_name}' ({where}, {state}):")
    for change in plan.changes:
        styled(f"  {change.action} {change.key}", MARK_STYLE[change.action])
    for note in notes:
        styled(f"  · {note}", "dim")
    unknown = plan.unknown_note()
    if unknown is not None:
        styled(f"  · {unknown}", "dim")
    held_names = {k.upper() for k in held}
    kept_keys = [k for k in plan.kept_remote if k.upper() not in held_names]
    if kept_keys:
        kept = ", ".join(kept_keys)
        echo(f"  kept on the remote (not in the file; --prune deletes them): {kept}")


@handle_errors
def push(
    env_file: EnvFileArgument = None,
    set_name: SetOption = None,
    region: RegionOption = None,
    target: TargetOption = None,
    all_targets: Annotated[
        bool,
        typer.Option("--all-targets", help="Push every target, every region, concurrently."),
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete remote keys that are not in the file.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; change nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Send the keys even when none changed since the last push from here."
        ),
    ] = False,
    yes: YesFlag = False,
    no_wait: NoWaitFlag = False,
    timeout: TimeoutOption = 60.0,
    skip_empty: SkipEmptyFlag = False,
    no_interpolate: NoInterpolateFlag = False,
    allow_reserved: AllowReservedFlag = False,
    deploy_file: DeployFileOption = None,
    json: JsonFlag = False,
    api_host: ApiHost = None,
    redeploy: RedeployFlag = False,
    redeploy_timeout: RedeployAfterTimeoutOption = 300.0,
    from_env: Annotated[
        bool,
        typer.Option(
            "--from-env",
            help="Take the values of the settings model's env vars from the environment (CI "
            "secrets) instead of a .env; no other variable is ever taken.",
        ),
    ] = False,
    settings: SettingsOption = None,
) -> None:
    """Push a local .env to a secret set: plan by key name, one PUT, wait until ready."""
    from pcc_env.sync import PushState

    if from_env and env_file is not None:
        raise InputError("pass ENV_FILE or --from-env, not both")
    resolved = resolve_targets(
        target,
        set_name=set_name,
        region=region,
        deploy_file=deploy_file,
        env_file=env_file,
        settings=settings,
        every=all_targets,
    )
    defaults: dict[str | None, EmptyKeys] = {}
    wanted = _values_per_set(
        resolved,
        no_interpolate,
        skip_empty,
        allow_reserved,
        prune,
        from_env=from_env,
        empty_defaults=defaults,
    )
    state = PushState()
    state.check_writable()  # before any request: a push must be able to record what it sent
    with make_client(api_host) as client:
        how = PushOptions(prune, dry_run, yes, no_wait, timeout, json, force)
        after = AfterPush(redeploy, redeploy_timeout, json)
        if len(wanted) == 1 and not all_targets:
            _push_one(
                client, state, wanted[0], how, after, defaults.get(wanted[0][0], NO_EMPTY_KEYS)
            )
        else:
            _push_many(client, state, wanted, how, after, defaults)


@dataclass(frozen=True)
class PushOptions:
    """The flags of ``push`` that shape the plan and the write, for one set or many."""

    prune: bool
    dry_run: bool
    yes: bool
    no_wait: bool
    timeout: float
    json: bool
    force: bool = False


Wanted = tuple[str | None, "targets.SetTarget", dict[str, str]]


def _values_per_set(
    resolved: list[targets.Target],
    no_interpolate: bool,
    skip_empty: bool,
    allow_reserved: bool,
    prune: bool,
    *,
    from_env: bool = False,
    empty_defaults: dict[str | None, EmptyKeys] | None = None,
) -> list[Wanted]:
    """(target, set, values) for every set, after every local guard of every target: one
    ``InputError`` naming them all, before any request. ``from_env``: the values of the
    target's settings model's env vars in the process environment instead of its .env files.
    ``empty_defaults`` gets, per target, the keys left empty that the model gives a default
    (and reads as unset when empty): neither sent nor refused."""
    wanted: list[Wanted] = []
    problems: list[str] = []
    for t in resolved:
        label = f"target '{t.name}': " if t.name and len(resolved) > 1 else ""
        optional = OptionalKeys(t.settings)
        try:
            if from_env:
                values, skipped = _environ_values(t, skip_empty, label)
            else:
                values, skipped = targets.read_env_files(
                    t.env_files,
                    interpolate=not no_interpolate,
                    skip_empty=skip_empty,
                    empty_ok=optional,
                )
            targets.check_reserved(values, allow=allow_reserved)
            withheld = targets.withhold_org_keys(
                values, allow=allow_reserved, agent_reads=optional.holds
            )
            if prune and not values:
                raise InputError("refusing --prune from an empty file: it would delete every key")
        except InputError as exc:
            if len(resolved) == 1:
                raise
            head = f"{exc.source}: " if exc.source else ""
            problems.extend(f"{label}{head}{p}" for p in exc.problems)
            continue
        defaults = [k for k in skipped if optional.has(k)] if not skip_empty else []
        outside = [k for k in skipped if optional.outside(k)] if not skip_empty else []
        skipped = [k for k in skipped if k not in defaults and k not in outside]
        if skipped:
            warn(f"{label}left out keys with empty values: {', '.join(skipped)}")
        if (defaults or outside or withheld) and empty_defaults is not None:
            failed = bool(withheld) and optional.failed
            empty_defaults[t.name] = EmptyKeys(defaults, outside, withheld, failed)
        wanted.extend((t.name, st, values) for st in t.sets)
    if problems:
        raise InputError(problems)
    return wanted


def empty_default_notes(
    keys: Sequence[str],
    outside: Sequence[str] = (),
    withheld: Sequence[str] = (),
    model_failed: bool = False,
    held: Collection[str] | None = (),
) -> list[str]:
    """The plan's lines for the keys left empty: defaults kept, or keys no field reads.
    ``held``: those the set holds a value for (agents get that value, not the default); None
    when the sets were not read yet (several targets: said for each set in its plan)."""
    notes = []
    held = {h.upper() for h in held} if held is not None else None
    for k in keys:
        if held is None:
            notes.append(
                f"{escape_text(k)} empty: not sent (the default, unless a set holds a value)"
            )
        elif k.upper() in held:
            notes.append(
                f"{escape_text(k)} empty here, but the set holds a value for it: agents get that "
                "value, not the default (--prune deletes it from the set)"
            )
        else:
            notes.append(f"{escape_text(k)} empty: default used, not sent")
    for k in outside:
        if held is not None and k.upper() in held:
            notes.append(
                f"{escape_text(k)} empty here and not in the settings model; the set holds a "
                "value for it (--prune deletes it from the set)"
            )
        else:
            notes.append(f"{escape_text(k)} empty: not in the settings model, not sent")
    for k in withheld:
        already = held is not None and k.upper() in held
        tail = "; the set already holds one: --prune deletes it from the set" if already else ""
        why = (
            "not sent: the settings model could not be loaded to tell whether the agent reads "
            "it (--allow-reserved sends it)"
            if model_failed
            else ORG_API_KEY_NOTE
        )
        notes.append(f"{escape_text(k)}: {why}{tail}")
    return notes


def held_in_set(plan: PushPlan, keys: Collection[str]) -> list[str]:
    """The set's keys (as the set spells them) that the file has but does not send: left empty
    or withheld. Compared case-insensitively, as the runtime reads env vars."""
    names = {k.upper() for k in keys}
    return [k for k in plan.kept_remote if k.upper() in names]


class EmptyKeys(NamedTuple):
    """Keys of a target not sent: left empty (fields keeping their default, keys the settings
    model does not hold), or withheld (``rules.ORG_API_KEY``)."""

    defaults: Sequence[str] = ()
    outside: Sequence[str] = ()
    withheld: Sequence[str] = ()  # the organization's private API key, filled in but not sent
    model_failed: bool = (
        False  # the settings model (to tell whether the agent reads it) did not load
    )


NO_EMPTY_KEYS = EmptyKeys()


def _plan_json(plan: PushPlan, empty: EmptyKeys) -> dict[str, Any]:
    out = plan.to_json()
    if empty.defaults:
        out["emptyDefaults"] = list(empty.defaults)
    if empty.outside:
        out["emptyNotInModel"] = list(empty.outside)
    if empty.withheld:
        out["withheld"] = list(empty.withheld)  # filled in, not sent: the org's private API key
    held = held_in_set(plan, [*empty.defaults, *empty.outside])
    if held:
        out["emptyButInSet"] = held  # empty here; the set holds a value agents get
    held = held_in_set(plan, empty.withheld)
    if held:
        out["withheldButInSet"] = held  # not sent from here; the set holds one already
    return out


def _environ_values(
    t: targets.Target, skip_empty: bool, label: str
) -> tuple[dict[str, str], list[str]]:
    """``push --from-env``: the model's env vars from the process environment."""
    import os

    model, ref = resolve_model(t.settings)
    if model is None:
        raise ConfigError(
            "--from-env takes the values of the settings model's env vars from the environment: "
            "name the model (--settings or [tool.pcc-env] settings)"
        )
    found = targets.values_from_environ(model, os.environ, skip_empty=skip_empty)
    unset = f"; not set (optional): {', '.join(found.unset)}" if found.unset else ""
    info(f"{label}{len(found.values)} value(s) from the environment for settings {ref}{unset}")
    return found.values, found.empty


def _push_one(
    client: SecretsClient,
    state: PushState,
    wanted: Wanted,
    how: PushOptions,
    after: AfterPush,
    defaults: EmptyKeys = NO_EMPTY_KEYS,
) -> None:
    """One set: the plan (with the keys left empty that keep their default), then the write."""
    from pcc_env.sync import ConcurrentWriteError, RecordMovedError, apply_push, plan_for

    prune, dry_run, yes, no_wait, timeout, json, force = (
        how.prune, how.dry_run, how.yes, how.no_wait, how.timeout, how.json, how.force
    )  # fmt: skip

    _, st, values = wanted

    def make_plan() -> PushPlan:
        return plan_for(client, state, st.set_name, values, region=st.region, prune=prune)

    plan = make_plan()
    held = held_in_set(plan, [*defaults.defaults, *defaults.outside, *defaults.withheld])
    notes = empty_default_notes(*defaults, held=held)
    if not json:
        show_plan(plan, notes, held)
    if dry_run:
        if json:
            print_json({"plan": _plan_json(plan, defaults), "dryRun": True})
        else:
            info("Dry run: nothing was sent.")
        return
    if plan.nothing_to_send and not force:
        document: dict[str, Any] = {
            "plan": _plan_json(plan, defaults),
            "result": {"ok": True, "sent": False},
        }
        if not json:
            rev = plan.recorded
            at = rev.hhmm if rev is not None else "?"
            echo(NOTHING_TO_PUSH.format(name=plan.set_name, at=at))
        ok = after.run(client, [plan.set_name], document, sent=False)
        if json:
            print_json(document)
        if not ok:
            raise typer.Exit(1)
        return
    if plan.to_delete:
        confirm_or_exit(f"Delete {', '.join(plan.to_delete)} from '{plan.set_name}'?", yes)
    after.start(client)
    # Under --json, an error from here on is one document: the plan, the result, the error.
    add_error_context(plan=_plan_json(plan, defaults), result={"ok": False})
    for attempt in (1, 2):
        try:
            with spinner(f"Pushing to '{plan.set_name}' and waiting until it is ready..."):
                result = apply_push(
                    client,
                    plan,
                    wait=not no_wait,
                    timeout=timeout,
                    state=state,
                    waiting=lambda: after_write(st.set_name),
                    force=force,
                )
            break
        except ConcurrentWriteError:
            # Sent, and so was another write beside it: say so in the document, then the error.
            add_error_context(
                plan=_plan_json(plan, defaults),
                result={"ok": False, "sent": True, "concurrentWrite": True},
            )
            raise
        except RecordMovedError as exc:
            # Someone wrote the set since the plan: nothing was sent. The new plan is shown;
            # it is applied only when a person confirms it (never under --yes, never twice).
            fresh = make_plan()
            document = {"plan": _plan_json(fresh, defaults), "result": {"ok": False}}
            add_error_context(**document)
            if not json:
                err(str(exc))
                echo("What changed since the plan:")
                for line in plan_changes(plan, fresh):
                    echo(f"  {line}")
                show_plan(fresh, notes, held)
            if yes or attempt == 2 or json or not stdin_is_tty():
                raise fail(
                    f"'{plan.set_name}' changed since the plan; nothing was sent. Run the push "
                    "again.",
                    EXIT_FAILED,
                    kind="RecordMovedError",
                ) from None
            confirm_or_exit("Push the new plan?", False)
            plan = fresh
    outcome: dict[str, Any] = {
        "ok": True,
        "sent": True,
        "region": result.region,
        "status": result.status,
        "seconds": round(result.seconds, 3),
        "writeRequests": result.requests,
    }
    if not json:
        deleted = f"; deleted {len(plan.to_delete)}" if plan.to_delete else ""
        if result.revision is not None:
            kept = plan.recorded is not None and result.revision.name == plan.recorded.name
            info(
                f"Record of '{plan.set_name}': written at {result.revision.shown_time}"
                + (" (kept: the values did not change)" if kept else "")
            )
        ready = f", {result.status}" if not no_wait else " (not waiting for ready)"
        success(
            f"Pushed {len(plan.values)} key(s) to '{plan.set_name}' in {result.region}{deleted}"
            f"{ready} in {result.seconds:.1f}s."
        )
    if result.revision is not None:
        outcome["recordedAt"] = result.revision.written_at.isoformat()
    document = {"plan": _plan_json(plan, defaults), "result": outcome}
    written = {plan.set_name: result.revision.timestamp} if result.revision else None
    ok = after.run(client, [plan.set_name], document, records=written)
    if json:
        print_json(document)
    if not ok:
        raise typer.Exit(1)


def plan_changes(before: PushPlan, after: PushPlan) -> list[str]:
    """What another writer changed between two plans of one set, by key name."""
    lines = []
    old = {c.key: c.action for c in before.changes}
    new = {c.key: c.action for c in after.changes}
    for key in dict.fromkeys([*old, *new]):
        if old.get(key) != new.get(key):
            lines.append(f"{key}: {old.get(key, 'not planned')} -> {new.get(key, 'not planned')}")
    gone = [k for k in before.kept_remote if k not in after.kept_remote and k not in new]
    added = [k for k in after.kept_remote if k not in before.kept_remote]
    if added:
        lines.append(f"now in the set (not in the file): {', '.join(map(escape_text, added))}")
    if gone:
        lines.append(f"no longer in the set: {', '.join(map(escape_text, gone))}")
    b, a = before.recorded, after.recorded
    lines.append(f"record: {b.shown_time if b else 'none'} -> {a.shown_time if a else 'none'}")
    return lines


@dataclass
class AfterPush:
    """What follows a successful write: with ``--redeploy``, force-redeploy the agents that bind
    each written set and wait for them; without it, name the agents that are now stale."""

    redeploy: bool
    timeout: float
    json: bool
    _listing: Future[list[AgentView]] | None = None

    def start(self, client: SecretsClient) -> None:
        """Called as the write starts: without --redeploy the agents are only named, so they
        are listed while the PUT and the wait run, and naming them costs no round trip. The
        thread is a daemon: an error or Ctrl-C ends the command without waiting for a hint."""
        from pcc_env.concurrency import in_background

        if self.redeploy or self.json or self._listing is not None:
            return

        def list_agents() -> list[AgentView]:
            from pcc_env.redeploy import list_agent_views

            with retries_unannounced():
                return list_agent_views(client)

        self._listing = in_background(list_agents, name="pcc-env-agents")

    def run(
        self,
        client: SecretsClient,
        set_names: list[str],
        document: dict[str, Any],
        *,
        sent: bool = True,
        records: dict[str, float] | None = None,
    ) -> bool:
        """Adds ``redeploy`` to the JSON ``document``; False when an agent did not end current.
        After a push that sent nothing, only the agents already stale are redeployed."""
        from pcc_env.cli.deploy import report_redeploy, run_redeploy, stale_hint
        from pcc_env.redeploy import agent_statuses
        from pcc_env.sync import set_record

        if not self.redeploy:
            if sent and not self.json:
                listing = self._listing
                for name in set_names:
                    record = (records or {}).get(name)
                    info(stale_hint(client, name, listing.result if listing else None, record))
            return True
        results = []
        for name in set_names:
            agents = None
            if not sent:
                # Stale by the set's record, or unknown (no record): redeploying proves current.
                agents = [
                    s.view.name
                    for s in agent_statuses(client, name, set_record(client, name))
                    if s.state in ("stale", "unknown", "failed")
                ]
                if not agents:
                    continue
            results.append(
                run_redeploy(client, name, agents, wait=True, timeout=self.timeout, json=self.json)
            )
        if not results:
            return True
        if len(results) == 1:
            document["redeploy"] = results[0].to_json()
        else:
            document["redeploy"] = [r.to_json() for r in results]
        if not self.json:
            for r in results:
                report_redeploy(r, exit_on_failure=False)
        return all(r.ok for r in results)


def _push_many(
    client: SecretsClient,
    state: PushState,
    wanted: list[Wanted],
    how: PushOptions,
    after: AfterPush,
    empties: dict[str | None, EmptyKeys] | None = None,
) -> None:
    """Several sets: every plan first (a refusal anywhere sends nothing anywhere), one
    confirmation for every deletion, then concurrent writes and one summary table.
    ``empties``: per target, the keys of its files not sent (said in each set's plan)."""
    empties = empties or {}
    prune, dry_run, yes, no_wait, timeout, json, force = (
        how.prune, how.dry_run, how.yes, how.no_wait, how.timeout, how.json, how.force
    )  # fmt: skip
    pushes = targets.plan_many(client, wanted, state, prune=prune)
    if not json:
        for push in pushes:
            if push.target:
                echo(f"[{push.target}]")
            keys = empties.get(push.target, NO_EMPTY_KEYS)
            held = held_in_set(push.plan, [*keys.defaults, *keys.outside, *keys.withheld])
            show_plan(push.plan, empty_default_notes(*keys, held=held), held)
    if dry_run:
        if json:
            plans = [
                {
                    "target": p.target,
                    "plan": _plan_json(p.plan, empties.get(p.target, NO_EMPTY_KEYS)),
                }
                for p in pushes
            ]
            print_json({"sets": plans})
        else:
            info("Dry run: nothing was sent.")
        return
    deleting = [f"{', '.join(p.plan.to_delete)} from '{p.plan.set_name}'" for p in pushes]
    deleting = [d for d, p in zip(deleting, pushes, strict=True) if p.plan.to_delete]
    if deleting:
        confirm_or_exit(f"Delete {'; '.join(deleting)}?", yes)
    after.start(client)
    accepted: list[str] = []
    with (
        after_writes(accepted),
        spinner(f"Pushing to {len(pushes)} secret sets and waiting until they are ready..."),
    ):
        outcomes = targets.apply_many(
            client,
            pushes,
            state,
            wait=not no_wait,
            timeout=timeout,
            force=force,
            on_accepted=accepted.append,
        )
    ok = all(o.ok for o in outcomes)
    if not json:
        table(
            ["target", "set", "region", "+", "~", "?", "=", "-", "outcome"],
            [_outcome_row(o, no_wait) for o in outcomes],
        )
        for o in outcomes:
            if not o.ok:
                err(f"'{o.plan.set_name}': {o.error}")
    document: dict[str, Any] = {"ok": ok, "sets": [o.to_json() for o in outcomes]}
    done = [o.plan.set_name for o in outcomes if o.ok and o.result and o.result.sent]
    unsent = [o.plan.set_name for o in outcomes if o.ok and not (o.result and o.result.sent)]
    written = {
        o.plan.set_name: o.result.revision.timestamp
        for o in outcomes
        if o.result is not None and o.result.revision is not None
    }
    if done and not after.run(client, done, document, records=written):
        ok = document["ok"] = False
    if unsent and after.redeploy and not after.run(client, unsent, document, sent=False):
        ok = document["ok"] = False
    if json:
        print_json(document)
    if not ok:
        raise typer.Exit(1)


def _outcome_row(o: targets.SetOutcome, no_wait: bool) -> list[str]:
    counts = [str(len(o.plan.keys(a))) for a in ("+", "~", "?", "=", "-")]
    if o.ok and o.result is not None and not o.result.sent:
        outcome = "nothing to push"
    elif o.ok and o.result is not None:
        outcome = o.result.status if not no_wait else "accepted"
        outcome += f" in {o.result.seconds:.1f}s"
    else:
        outcome = f"failed ({o.error_type})"
    region = (o.result.region if o.result else None) or o.plan.remote_region or o.plan.region
    return [o.target or "-", o.plan.set_name, region or DEFAULT_REGION, *counts, outcome]
