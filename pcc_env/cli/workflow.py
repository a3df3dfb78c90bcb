"""``pcc-env push / export / check``: the .env workflow around one secret set."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

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
from pcc_env.errors import ConfigError, InputError
from pcc_env.rules import DEFAULT_REGION, display_name, escape_text

if TYPE_CHECKING:
    from collections.abc import Iterable
    from concurrent.futures import Future

    from pydantic_settings import BaseSettings

    from pcc_env.build_context import BuildSettings
    from pcc_env.client import SecretsClient
    from pcc_env.discover import FoundModel
    from pcc_env.dotenv_file import TemplateEntry
    from pcc_env.redeploy import AgentView
    from pcc_env.sync import Finding, PushPlan, PushState

SharedSetPolicy = Literal["refuse", "warn", "ignore"]
SettingsOption = Annotated[
    str | None,
    typer.Option(
        "--settings",
        help="Settings model: module:Class or path/to/file.py:Class. "
        "Default: settings in the tool.pcc-env table of pyproject.toml.",
    ),
]
NOTHING_TO_PUSH = (
    "Nothing to push: '{name}' already has these values, as recorded by pcc-env at {at} (the "
    "set's own record, written from any machine; a change made since by another tool without "
    "changing a key name cannot be seen). Use --force to send them anyway."
)
MARK_STYLE = {"+": "green", "~": "yellow", "?": "yellow", "=": "dim", "-": "red"}


def resolve_targets(
    target: str | None,
    *,
    set_name: str | None = None,
    region: str | None = None,
    deploy_file: Path | None = None,
    env_file: Path | None = None,
    settings: str | None = None,
    need_set: bool = True,
    every: bool = False,
    on_shared: SharedSetPolicy = "refuse",
) -> list[targets.Target]:
    """--target (or $PCC_ENV_TARGET), or every target with ``every``; flags win over targets.

    A set that one of these targets writes and another target writes too: the commands that
    write (``on_shared="refuse"``, the default) stop with exit 2 before any request, naming the
    targets; those that only read (``"warn"``) say so and go on; ``"ignore"`` for commands that
    touch no set. --region is checked here, before anything is read or sent."""
    from pcc_env.deploy_config import read_project_settings
    from pcc_env.rules import check_region

    check_region(region, source="--region")
    if every and set_name:
        raise InputError(
            "--set names one secret set and --all-targets writes the sets of every target: "
            "they would all write that one set; pass --target with --set, or --all-targets alone"
        )
    project = read_project_settings()
    flags: dict[str, Any] = {
        "set_name": set_name,
        "region": region,
        "deploy_file": deploy_file,
        "env_file": env_file,
        "settings": settings,
        "need_set": need_set,
    }
    if every:
        if target:
            raise InputError("pass --target or --all-targets, not both")
        resolved = targets.all_targets(project, **flags)
    else:
        resolved = [targets.resolve_target(project, target, **flags)]
    if on_shared != "ignore":
        _shared_sets(targets.project_shared_sets(project, resolved), on_shared == "refuse")
    return resolved


def _shared_sets(shared: list[targets.SharedSet], refuse: bool) -> None:
    """Refuse (ConfigError, exit 2, nothing sent) or warn about sets that two targets write."""
    if not shared:
        return
    clashes = "; ".join(s.message for s in shared)
    if refuse:
        raise ConfigError(
            f"{clashes}: a write for one of them would overwrite what the others wrote (and "
            "--prune delete their keys). Give each target its own set in [tool.pcc-env.targets] of "
            "pyproject.toml ('set', or a deploy file with its own secret_set). Nothing was sent."
        )
    warn(f"{clashes}: push, watch and redeploy refuse these targets until each has its own set")


def default_env_file(env_file: Path | None) -> Path:
    from pcc_env.deploy_config import read_project_settings

    if env_file is not None:
        return env_file
    return Path(read_project_settings().env_file or ".env")


def settings_ref(ref: str | None) -> str | None:
    """The settings model's reference: --settings, else ``[tool.pcc-env] settings``, else the
    one settings class in the project's code (``pcc_env.discover``; several: exit 2 naming
    each). None when the project has no model."""
    from pcc_env.deploy_config import read_project_settings
    from pcc_env.discover import one_model

    ref = ref or read_project_settings().settings
    if ref:
        return ref
    # Parsed once however many targets ask, and again when a file changed (a test runs many
    # commands in one process).
    from pcc_env.scan import python_files

    root = Path.cwd()
    stamp = (str(root), *_stamps(python_files(root)))
    if stamp not in _found:
        _found.clear()
        _found[stamp] = found = one_model(root)
        if found is not None:
            info(
                f"Settings model {escape_text(found.ref)} (found in {escape_text(found.where)}; "
                "[tool.pcc-env] settings in pyproject.toml pins it)"
            )
    found = _found[stamp]
    return found.ref if found is not None else None


_found: dict[tuple[object, ...], FoundModel | None] = {}


def _stamps(paths: Iterable[Path]) -> list[tuple[str, int, int]]:
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return out


def resolve_model(ref: str | None) -> tuple[type[BaseSettings] | None, str | None]:
    """The settings model (and the reference it came from), as ``settings_ref`` finds it."""
    from pcc_env.deploy_config import load_settings_class

    ref = settings_ref(ref)
    return (load_settings_class(ref), ref) if ref else (None, None)


def show_plan(plan: PushPlan, notes: Sequence[str] = ()) -> None:
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
    if plan.kept_remote:
        kept = ", ".join(plan.kept_remote)
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
            for name, keys in defaults.items():
                label = f"target '{name}': " if name else ""
                for note in empty_default_notes(*keys):
                    info(f"{label}{note}")
            _push_many(client, state, wanted, how, after)


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
        optional = _OptionalKeys(t.settings)
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
        if (defaults or outside) and empty_defaults is not None:
            empty_defaults[t.name] = EmptyKeys(defaults, outside)
        wanted.extend((t.name, st, values) for st in t.sets)
    if problems:
        raise InputError(problems)
    return wanted


class _OptionalKeys:
    """The env names whose empty value is no value to send and none to refuse: the fields of
    the target's settings model that have a default and that it reads as unset when empty
    (``runtime.optional_env_names``), and the keys the model does not hold at all (a template's
    key that only another program reads, such as a server's ``PIPECAT_API_KEY``). Computed once
    and only when asked (a .env with an empty value): a push of a full .env never imports the
    bot's model. A model that cannot be loaded gives none, so the empty values are refused as
    they were."""

    def __init__(self, ref: str | None) -> None:
        self.ref = ref
        self._names: set[str] | None = None
        self._modelled: set[str] = set()

    def __call__(self) -> _OptionalKeys:
        if self._names is None:
            self._names = set()
            try:
                model, _ = resolve_model(self.ref)
            except (ConfigError, InputError):
                model = None
            if model is not None:
                from pcc_env.runtime import describe, optional_env_names

                self._names = optional_env_names(model)
                self._modelled = {d.env_name.upper() for d in describe(model)}
        return self

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (self.has(key) or self.outside(key))

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self()._names or ()))

    def __len__(self) -> int:
        return len(self()._names or ())

    def has(self, key: str) -> bool:
        """A field of the model with a default."""
        names = self()._names or set()
        return key in names or key.upper() in names

    def outside(self, key: str) -> bool:
        """A key the model (once loaded) does not hold."""
        return bool(self()._modelled) and key.upper() not in self._modelled


def empty_default_notes(keys: Sequence[str], outside: Sequence[str] = ()) -> list[str]:
    """The plan's lines for the keys left empty: defaults kept, or keys no field reads."""
    return [f"{escape_text(k)} empty: default used, not sent" for k in keys] + [
        f"{escape_text(k)} empty: not in the settings model, not sent" for k in outside
    ]


class EmptyKeys(NamedTuple):
    """Keys of a target left empty and not sent: fields keeping their default, and keys the
    settings model does not hold."""

    defaults: Sequence[str] = ()
    outside: Sequence[str] = ()


NO_EMPTY_KEYS = EmptyKeys()


def _plan_json(plan: PushPlan, empty: EmptyKeys) -> dict[str, Any]:
    out = plan.to_json()
    if empty.defaults:
        out["emptyDefaults"] = list(empty.defaults)
    if empty.outside:
        out["emptyNotInModel"] = list(empty.outside)
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
    from pcc_env.sync import RecordMovedError, apply_push, plan_for

    prune, dry_run, yes, no_wait, timeout, json, force = (
        how.prune, how.dry_run, how.yes, how.no_wait, how.timeout, how.json, how.force
    )  # fmt: skip

    _, st, values = wanted
    notes = empty_default_notes(*defaults)

    def make_plan() -> PushPlan:
        return plan_for(client, state, st.set_name, values, region=st.region, prune=prune)

    plan = make_plan()
    if not json:
        show_plan(plan, notes)
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
                show_plan(fresh, notes)
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
) -> None:
    """Several sets: every plan first (a refusal anywhere sends nothing anywhere), one
    confirmation for every deletion, then concurrent writes and one summary table."""
    prune, dry_run, yes, no_wait, timeout, json, force = (
        how.prune, how.dry_run, how.yes, how.no_wait, how.timeout, how.json, how.force
    )  # fmt: skip
    pushes = targets.plan_many(client, wanted, state, prune=prune)
    if not json:
        for push in pushes:
            if push.target:
                echo(f"[{push.target}]")
            show_plan(push.plan)
    if dry_run:
        if json:
            print_json({"sets": [{"target": p.target, "plan": p.plan.to_json()} for p in pushes]})
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


@handle_errors
def export(
    set_name: SetOption = None,
    settings: SettingsOption = None,
    output: Annotated[
        Path | None,
        # No -o: that is --organization in `pcc-env secrets`, as in the pipecat CLI.
        typer.Option("--output", help="Write to this file (updated in place)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Regenerate the --output file instead of updating it in place."
        ),
    ] = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Write the template from the settings model alone; do not ask the API for "
            "the set's keys (also what happens when there is no API key).",
        ),
    ] = False,
    target: TargetOption = None,
    deploy_file: DeployFileOption = None,
    json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON: the keys, and the output file or the template (never a value).",
        ),
    ] = False,
    api_host: ApiHost = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing: exit 1 when the --output file (default: the project's "
            "env.example or .env.example) lacks keys of the model or the set, or lists keys no "
            "longer in them (pre-commit, CI).",
        ),
    ] = False,
) -> None:
    """Write an onboarding template (env.example / .env.example): every key, never a value."""
    from pcc_env.dotenv_file import (
        TEMPLATE_ADVICE,
        atomic_write_text,
        find_template,
        read_template,
        render_template,
        update_template,
    )
    from pcc_env.sync import fetch_remote, template_entries

    (chosen,) = resolve_targets(
        target,
        set_name=set_name,
        deploy_file=deploy_file,
        settings=settings,
        need_set=False,
        on_shared="warn",
    )
    model, ref = resolve_model(chosen.settings)
    # A target with several regions: the template holds the keys of all its sets.
    set_names = [s.set_name for s in chosen.sets]
    set_label = ", ".join(set_names)
    if not set_names and model is None:
        raise ConfigError(
            "nothing to export: name a secret set (--set or pcc-deploy.toml) and/or a settings "
            "model (--settings or [tool.pcc-env] settings)"
        )
    # An existing --output file is checked before anything is fetched: a file with values, a FIFO or
    # a directory is refused with no request sent.
    if offline and model is None:
        raise ConfigError(
            "--offline writes the template from the settings model alone: name one "
            "(--settings or [tool.pcc-env] settings)"
        )
    if check and output is None:
        output = find_template(Path.cwd()).relative_to(Path.cwd())
    current = read_template(output) if output is not None and output.exists() else None
    client = None
    if set_names and not offline:
        client = _client_or_none(api_host) if model is not None else make_client(api_host)
    remote_keys: list[str] | None = None
    if client is not None:
        remote_keys = []
        with client:
            for name in set_names:
                remote = fetch_remote(client, name)
                if remote is None:
                    # --offline needs a model: suggested only when there is one to follow it.
                    offline_hint = (
                        "; --offline writes the settings model's template alone"
                        if model is not None
                        else ""
                    )
                    raise fail(
                        f"secret set {display_name(name)} does not exist. 'pcc-env secrets list' "
                        "shows the "
                        f"sets{offline_hint}.",
                        kind="NotFoundError",
                    )
                remote_keys += [k for k in remote.keys if k not in remote_keys]
    elif set_names:
        why = "--offline" if offline else "no API key"
        info(
            f"{why}: the keys of secret set '{set_label}' were not included; the template "
            f"comes from settings {ref} alone."
            + ("" if offline else " Run 'pcc-env login' (or set PIPECAT_API_KEY) to include them.")
        )
    entries = template_entries(model, remote_keys, set_label or None)
    sources = []
    if remote_keys is not None:
        sources.append(f"secret set '{set_label}'")
    if model is not None:
        sources.append(f"settings {ref}")
    header = [
        "Onboarding template written by 'pcc-env export'",
        "from " + " and ".join(sources) + ".",
        TEMPLATE_ADVICE,
    ]
    document: dict[str, Any] = {
        "sets": set_names,
        "setKeysIncluded": remote_keys is not None,
        "settings": ref,
        "keys": [e.key for e in entries],
        "output": str(output) if output is not None else None,
    }
    if check and output is not None:
        mark_gone = remote_keys is not None or not set_names
        _check_template(
            output, current, entries, mark_gone, " and ".join(sources), document if json else None
        )
        return
    if output is None:
        if json:
            print_json({**document, "template": render_template(entries, header)})
        else:
            print(render_template(entries, header), end="")
        return
    if current is not None:
        text = (
            render_template(entries, header)
            if force
            # Without the set's keys, a key missing from the entries may still be in the set.
            else update_template(
                current, entries, mark_gone=remote_keys is not None or not set_names
            )
        )
        if text == current:
            if json:
                print_json({**document, "written": False})
            else:
                info(f"{output} is up to date.")
            return
        mode = stat.S_IMODE(output.stat().st_mode)  # keep the mode the user chose
    else:
        text = render_template(entries, header)
        mode = 0o644  # a template holds no value and is meant to be committed
    atomic_write_text(output, text, mode=mode)
    if json:
        print_json({**document, "written": True})
    else:
        success(f"Wrote {output} ({len(entries)} keys).")


def _check_template(
    output: Path,
    current: str | None,
    entries: list[TemplateEntry],
    mark_gone: bool,
    sources: str,
    document: dict[str, Any] | None = None,
) -> None:
    """``export --check``: the diff by key name, exit 1 when the template is stale. With a
    ``document`` (--json), that document with the diff instead of lines."""
    from pcc_env.dotenv_file import template_drift

    if current is None:
        add, gone = [e.key for e in entries], list[str]()
    else:
        add, gone = template_drift(current, entries, mark_gone=mark_gone)
    if document is not None:
        stale = {"exists": current is not None, "upToDate": not add and not gone}
        print_json({**document, **stale, "toAdd": add, "gone": gone})
        if add or gone:
            raise typer.Exit(1)
        return
    if current is None:
        echo(f"{output} does not exist; it would list {len(add)} key(s) from {sources}:")
    else:
        if not add and not gone:
            info(f"{output} is up to date with {sources}.")
            return
        echo(f"{output} is stale against {sources}:")
    for key in add:
        styled(f"  + {key} (to add)", "green")
    for key in gone:
        styled(f"  - {key} (no longer in the set or the model)", "red")
    info(f"Update it: pcc-env export --output {output}")
    raise typer.Exit(1)


def _client_or_none(api_host: str | None) -> SecretsClient | None:
    """A client, or None when there is no API key to make one with (``export`` then writes
    the model's template alone). A key that is present but unusable is still an error."""
    from pcc_env.errors import KeyringError, NoApiKeyError

    try:
        return make_client(api_host)
    except (NoApiKeyError, KeyringError):
        return None


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
