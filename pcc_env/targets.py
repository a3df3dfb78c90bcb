"""Targets: one project, several secret sets (environments and regions).

``resolve_target`` turns ``[tool.pcc-env.targets.NAME]`` (or, with no targets, the flags and the
deploy file, as before) into the concrete sets a command works on. ``plan_many`` plans a push to
several sets and refuses before anything is written: a refusal for one set sends nothing for any
set. ``apply_many`` then writes the sets concurrently, one outcome per set.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pcc_env.concurrency import map_in_background
from pcc_env.deploy_config import (
    DeployConfig,
    ProjectSettings,
    TargetConfig,
    default_deploy_file,
    read_deploy_config,
)
from pcc_env.errors import ConfigError, DotenvError, InputError, PccEnvError
from pcc_env.rules import (
    DEFAULT_REGION,
    check_set_name,
    display_name,
    only_org_api_key,
    org_api_keys,
    record_key_problems,
    reserved_key_problems,
)

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from pcc_env.client import SecretsClient
    from pcc_env.dotenv_file import EnvFile
    from pcc_env.sync import PushPlan, PushResult, PushState

TARGET_ENV = "PCC_ENV_TARGET"
DEFAULT_SET_TEMPLATE = "{secret_set}-{region}"


@dataclass(frozen=True)
class SetTarget:
    """One secret set a command writes or reads, with the region it must be in."""

    set_name: str
    region: str | None


@dataclass(frozen=True)
class Target:
    """What a target resolves to. ``name`` is None for a project without targets."""

    name: str | None
    sets: tuple[SetTarget, ...]
    env_files: tuple[Path, ...]
    deploy_file: Path | None
    deploy: DeployConfig | None
    settings: str | None

    @property
    def label(self) -> str:
        return self.name or "(default)"

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.name,
            "sets": [{"set": s.set_name, "region": s.region or DEFAULT_REGION} for s in self.sets],
            "envFiles": [str(p) for p in self.env_files],
            "deployFile": str(self.deploy_file) if self.deploy_file else None,
            "settings": self.settings,
        }


def _deploy_path(explicit: Path | None, config: TargetConfig | None) -> Path | None:
    """--deploy-file, else the target's, else $PIPECAT_DEPLOY_CONFIG_PATH or ./pcc-deploy.toml
    when present (a file named explicitly must exist)."""
    if explicit is not None:
        return explicit
    if config is not None and config.deploy_file:
        return Path(config.deploy_file)
    path = default_deploy_file()
    if path.is_file() or os.environ.get("PIPECAT_DEPLOY_CONFIG_PATH"):
        return path
    return None


def _sets(
    config: TargetConfig | None,
    deploy: DeployConfig | None,
    set_name: str | None,
    region: str | None,
    where: str,
) -> list[SetTarget]:
    deploy_region = deploy.region if deploy else None
    deploy_set = deploy.secret_set if deploy else None
    if set_name:
        own_region = config.region if config else None
        return [SetTarget(set_name, region or own_region or deploy_region)]
    if config is not None and config.regions:
        regions = list(config.regions)
        if region is not None:
            if region not in regions:
                raise ConfigError(
                    f"{where} has no region '{region}' (its regions: {', '.join(regions)})"
                )
            regions = [region]
        if config.set is not None:
            return [SetTarget(config.set.format(region=r), r) for r in regions]
        if not deploy_set:
            raise ConfigError(
                f"{where} lists regions but no 'set', and no deploy file names secret_set to "
                f"build '{DEFAULT_SET_TEMPLATE}' from"
            )
        return [
            SetTarget(DEFAULT_SET_TEMPLATE.format(secret_set=deploy_set, region=r), r)
            for r in regions
        ]
    chosen_region = region or (config.region if config else None) or deploy_region
    if config is not None and config.set is not None:
        if "{region}" in config.set and chosen_region is None:
            raise ConfigError(f"{where} set uses {{region}} but no region is given")
        return [SetTarget(config.set.format(region=chosen_region), chosen_region)]
    if deploy_set:
        return [SetTarget(deploy_set, chosen_region)]
    return []


def resolve_target(
    project: ProjectSettings,
    name: str | None = None,
    *,
    set_name: str | None = None,
    region: str | None = None,
    deploy_file: Path | None = None,
    env_file: Path | None = None,
    settings: str | None = None,
    need_set: bool = True,
) -> Target:
    """The sets, files and model of target ``name`` (default ``$PCC_ENV_TARGET``); flags win.

    With no target named, this is the project as before: ``--set``/``--region``, else the deploy
    file (``--deploy-file``, ``$PIPECAT_DEPLOY_CONFIG_PATH`` or ``./pcc-deploy.toml``).
    """
    name = name or os.environ.get(TARGET_ENV) or None
    config: TargetConfig | None = None
    if name is not None:
        config = project.targets.get(name)
        if config is None:
            known = ", ".join(sorted(project.targets)) or "none are configured"
            raise ConfigError(
                f"no target {display_name(name)} in [tool.pcc-env.targets] of pyproject.toml "
                f"(targets: {known})"
            )
    where = f"target '{name}'" if name else "the project"
    path = _deploy_path(deploy_file, config)
    deploy = read_deploy_config(path) if path is not None else None
    sets = _sets(config, deploy, set_name, region, where)
    if not sets and need_set:
        raise ConfigError(
            'no secret set named: pass --set NAME, add secret_set = "NAME" to pcc-deploy.toml, '
            "or choose a target (--target)"
        )
    problems = []
    for s in sets:
        try:
            check_set_name(s.set_name)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    if env_file is not None:
        env_files: tuple[Path, ...] = (env_file,)
    elif config is not None and config.env_files:
        env_files = tuple(Path(f) for f in config.env_files)
    else:
        env_files = (Path(project.env_file or ".env"),)
    model = settings or (config.settings if config else None) or project.settings
    return Target(name, tuple(sets), env_files, path, deploy, model)


def all_targets(project: ProjectSettings, **flags: Any) -> list[Target]:
    """Every configured target, or the project itself when none is configured."""
    if not project.targets:
        return [resolve_target(project, None, **flags)]
    return [resolve_target(project, name, **flags) for name in sorted(project.targets)]


# Two targets, one set ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedSet:
    """A secret set that several targets write. Each push of one plans from the same remote
    and writes its own values: the other's are overwritten, and with --prune its keys deleted."""

    set_name: str
    targets: tuple[str, ...]

    @property
    def message(self) -> str:
        names = [f"'{t}'" for t in self.targets]
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        verb = "both write" if len(names) == 2 else "all write"
        return f"targets {listed} {verb} secret set '{self.set_name}'"

    def to_json(self) -> dict[str, Any]:
        return {"set": self.set_name, "targets": list(self.targets)}


def shared_sets(chosen: Sequence[Target], others: Sequence[Target] = ()) -> list[SharedSet]:
    """The sets that more than one target writes, among ``chosen`` (what a command works on)
    and ``others`` (the project's other targets). Only sets a chosen target writes count: a
    clash between two targets the command does not touch is not its concern. Names are
    compared as resolved (``bot-{region}`` for us-west is ``bot-us-west``); a set name is one
    set whatever its region."""
    writers: dict[str, list[str]] = {}
    for t in [*chosen, *others]:
        for st in t.sets:
            labels = writers.setdefault(st.set_name, [])
            if t.label not in labels:
                labels.append(t.label)
    mine = {st.set_name for t in chosen for st in t.sets}
    return [
        SharedSet(name, tuple(sorted(labels)))
        for name, labels in writers.items()
        if name in mine and len(labels) > 1
    ]


def project_shared_sets(project: ProjectSettings, chosen: Sequence[Target]) -> list[SharedSet]:
    """``shared_sets`` of the named targets in ``chosen`` against every other configured target
    as pyproject.toml resolves it without flags (``push --target a`` writes what ``b`` also
    writes: the same clash, one run later). A target that does not resolve on its own writes no
    set known here and is left out. The project without targets (no name) clashes with none."""
    named = [t for t in chosen if t.name is not None]
    if not named:
        return []
    names = {t.name for t in named}
    others = []
    for name in sorted(project.targets):
        if name in names:
            continue
        try:
            others.append(resolve_target(project, name, need_set=False))
        except (ConfigError, InputError):
            continue
    return shared_sets(named, others)


# Values -----------------------------------------------------------------------------------------


def read_env_files(
    paths: Sequence[Path],
    *,
    interpolate: bool = True,
    skip_empty: bool = False,
    empty_ok: Callable[[], Collection[str]] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The values to push from several .env files merged in order (later files win), and the
    keys left out as empty. Every file gets the guards of ``push``; problems name the file.
    ``empty_ok``: keys an empty value of which is no error (``dotenv_file.secrets_to_send``)."""
    import functools

    from pcc_env.dotenv_file import read_env_file

    loaders = [(p, functools.partial(read_env_file, p)) for p in paths]
    return merge_env_files(
        loaders, interpolate=interpolate, skip_empty=skip_empty, empty_ok=empty_ok
    )


def merge_env_files(
    loaders: Sequence[tuple[Path, Callable[[], EnvFile]]],
    *,
    interpolate: bool = True,
    skip_empty: bool = False,
    empty_ok: Callable[[], Collection[str]] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """``read_env_files`` on files already read (``watch`` reads their bytes itself): each
    (path, parse) pair is parsed and guarded alone, then merged in order."""
    from pcc_env.dotenv_file import secrets_to_send

    if len(loaders) == 1:
        return secrets_to_send(
            loaders[0][1](), interpolate=interpolate, skip_empty=skip_empty, empty_ok=empty_ok
        )
    paths = [path for path, _ in loaders]
    merged: dict[str, str] = {}
    problems: list[str] = []
    for path, load in loaders:
        try:
            values, empty = secrets_to_send(load(), interpolate=interpolate, skip_empty=True)
        except DotenvError as exc:
            problems.extend(f"{exc.source or path}: {p}" for p in exc.problems)
            continue
        merged.update(values)
        for key in empty:
            merged[key] = ""
    empty_keys = [k for k, v in merged.items() if not v]
    unset_ok: Collection[str] = (
        empty_ok() if empty_keys and not skip_empty and empty_ok is not None else set()
    )
    refused = [k for k in empty_keys if k not in unset_ok and k.upper() not in unset_ok]
    if refused and not skip_empty:
        problems.append(
            "empty values (after merging "
            + ", ".join(map(str, paths))
            + ") for "
            + ", ".join(refused)
            + " (fill them in, or pass --skip-empty to leave them out)"
        )
    if problems:
        raise DotenvError(problems)
    return {k: v for k, v in merged.items() if v}, empty_keys


@dataclass(frozen=True)
class EnvironValues:
    """What ``push --from-env`` takes from the process environment. ``values`` never shows."""

    values: dict[str, str] = field(repr=False)
    empty: list[str]  # set but empty, left out (with skip_empty)
    unset: list[str]  # optional variables of the model not set


def values_from_environ(
    model: type[BaseSettings], environ: Mapping[str, str], *, skip_empty: bool = False
) -> EnvironValues:
    """The values of the model's env vars in ``environ`` (how CI holds secrets), and nothing
    else: a variable the model does not declare is never taken. Names are matched as the model
    reads them (case-insensitively unless it is case-sensitive). One ``InputError`` (names only)
    for every problem: a required variable not set, an empty value (unless ``skip_empty``; the
    empty value of a field with a default that the model reads as unset counts as not set), a
    name set twice in different cases, a value ``push`` would refuse, or one the model rejects.
    """
    from pcc_env.errors import SettingsError
    from pcc_env.rules import (
        case_duplicate_problems,
        key_problems,
        show_key,
        total_size_problems,
        value_problems,
    )
    from pcc_env.runtime import describe, load_settings, optional_env_names, required_env_names

    sensitive = bool(model.model_config.get("case_sensitive"))

    def fold(name: str) -> str:
        return name if sensitive else name.upper()

    index: dict[str, list[str]] = {}
    for key in environ:
        index.setdefault(fold(key), []).append(key)
    values: dict[str, str] = {}
    empty: list[str] = []
    unset: list[str] = []
    problems: list[str] = []
    unset_ok = optional_env_names(model)  # empty means unset for a field with a default
    for d in describe(model):
        found = sorted(index.get(fold(d.env_name), []))
        if len(found) > 1:
            problems.append(
                f"{' and '.join(map(show_key, found))} are all set in the environment and the "
                f"model reads them as one variable, {show_key(d.env_name)}: unset all but one"
            )
            continue
        if not found:
            unset.append(d.env_name)
            continue
        value = environ[found[0]]
        if value == "" and d.env_name in unset_ok:  # a CI variable left blank: the default
            unset.append(d.env_name)
            continue
        if value == "":
            empty.append(d.env_name)
            continue
        problems += key_problems(d.env_name) + value_problems(d.env_name, value)
        values[d.env_name] = value
    value = ""
    required = set(required_env_names(model))
    missing = [n for n in unset if n in required]
    if missing:
        problems.append(
            f"required by {model.__name__} but not set in the environment: {', '.join(missing)}"
        )
    if empty and not skip_empty:
        problems.append(
            "empty in the environment: "
            + ", ".join(map(show_key, empty))
            + " (set them, or pass --skip-empty to leave them out)"
        )
    elif empty and required & set(empty):
        problems.append(
            f"required by {model.__name__} but empty in the environment: "
            + ", ".join(n for n in empty if n in required)
        )
    problems += case_duplicate_problems(values) + total_size_problems(values)
    if not problems:
        try:
            load_settings(model, env_file=None, environ=values)
        except SettingsError as exc:
            problems.append(str(exc))
    if not problems and not values:
        problems.append(f"none of the variables of {model.__name__} is set in the environment")
    if problems:
        values.clear()  # no frame of the raised error's traceback holds a value
        raise InputError(problems, source="the environment")
    return EnvironValues(values, empty, [n for n in unset if n not in required])


def check_reserved(values: Mapping[str, str], *, allow: bool) -> None:
    """Refuse keys that Pipecat Cloud sets inside the agent, unless ``allow``; and always a key
    named like pcc-env's revision record."""
    problems = record_key_problems(values)
    if not allow:
        problems += reserved_key_problems(values)
    if problems:
        raise InputError(problems)


def withhold_org_keys(
    values: dict[str, str], *, allow: bool, agent_reads: Callable[[str], bool]
) -> list[str]:
    """Take the organization's private API key out of ``values`` (push and watch: it would
    reach every agent that binds the set) unless ``allow`` or the agent's settings model
    reads it (``agent_reads``); the keys taken. ``InputError`` when nothing else is left."""
    withheld = [] if allow else [k for k in org_api_keys(values) if not agent_reads(k)]
    for key in withheld:
        del values[key]
    if withheld and not values:
        raise InputError(only_org_api_key(withheld))
    return withheld


# Pushing several sets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SetPush:
    """One set of a multi-set push: where it goes, and its plan."""

    target: str | None
    plan: PushPlan


@dataclass(frozen=True)
class SetOutcome:
    """What happened to one set. ``error`` is a message safe to print (names only)."""

    target: str | None
    plan: PushPlan
    result: PushResult | None = None
    error: str | None = None
    error_type: str | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"target": self.target, "plan": self.plan.to_json(), "ok": self.ok}
        if self.result is not None:
            out["result"] = {
                "region": self.result.region,
                "status": self.result.status,
                "seconds": round(self.result.seconds, 3),
                "writeRequests": self.result.requests,
                "sent": self.result.sent,
            }
        if self.error is not None:
            out["error"] = {"type": self.error_type, "message": self.error}
            if self.error_type == "ConcurrentWriteError":  # sent, beside another write
                out["result"] = {"sent": True, "concurrentWrite": True}
        return out


def plan_many(
    client: SecretsClient,
    wanted: Sequence[tuple[str | None, SetTarget, Mapping[str, str]]],
    state: PushState,
    *,
    prune: bool = False,
) -> list[SetPush]:
    """Plan every (target, set, values): reads only. Raises one ``InputError`` listing every
    refusal of every set, so that nothing is written when any set would be refused. A set
    given twice is refused before any request: two plans from one snapshot undo each other."""
    from pcc_env.sync import plan_for

    writers: dict[str, list[str]] = {}
    for target, st, _ in wanted:
        writers.setdefault(st.set_name, []).append(f"'{target or '(default)'}'")
    twice = [
        f"secret set '{name}' is written by {' and '.join(labels)}: the writes would race and "
        "each one's --prune would delete the other's keys"
        for name, labels in writers.items()
        if len(labels) > 1
    ]
    if twice:  # before any request: one set, one plan
        raise InputError(twice)

    def one(item: tuple[str | None, SetTarget, Mapping[str, str]]) -> SetPush:
        target, st, values = item
        plan = plan_for(client, state, st.set_name, values, region=st.region, prune=prune)
        return SetPush(target, plan)

    pushes: list[SetPush] = []
    problems: list[str] = []
    futures = map_in_background(one, wanted, max_workers=8, name="pcc-env-plan")
    for (target, st, _), future in zip(wanted, futures, strict=True):
        try:
            pushes.append(future.result())
        except InputError as exc:
            label = f"target '{target}', " if target else ""
            problems.extend(f"{label}set '{st.set_name}': {p}" for p in exc.problems)
    if problems:
        raise InputError(problems)
    return pushes


def apply_many(
    client: SecretsClient,
    pushes: Sequence[SetPush],
    state: PushState,
    *,
    wait: bool = True,
    timeout: float = 60.0,
    apply: Callable[..., PushResult] | None = None,
    force: bool = False,
    on_accepted: Callable[[str], None] | None = None,
) -> list[SetOutcome]:
    """Write every planned set concurrently; one outcome per set, in the order given. A set
    with nothing to send is left alone unless ``force``. ``on_accepted(set_name)`` is called
    once a set's write is accepted, as its wait for ``ready`` starts (so that Ctrl-C can say
    which writes went through)."""
    from pcc_env.sync import apply_push

    run: Callable[..., PushResult] = apply or apply_push
    extra: dict[str, Any] = {"force": True} if force else {}

    def one(push: SetPush) -> SetOutcome:
        @contextlib.contextmanager
        def waiting() -> Iterator[None]:
            if on_accepted is not None:
                on_accepted(push.plan.set_name)
            yield

        try:
            result = run(
                client, push.plan, wait=wait, timeout=timeout, state=state, waiting=waiting, **extra
            )
        except PccEnvError as exc:
            return SetOutcome(push.target, push.plan, error=str(exc), error_type=type(exc).__name__)
        return SetOutcome(push.target, push.plan, result=result)

    futures = map_in_background(one, pushes, max_workers=8, name="pcc-env-push")
    return [f.result() for f in futures]


def key_gaps(keys_by_set: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """For sets that should hold the same keys (one target's regions): set -> keys the other
    sets have and it lacks. Empty when they agree."""
    union = sorted({k for keys in keys_by_set.values() for k in keys})
    gaps = {}
    for name, keys in keys_by_set.items():
        missing = [k for k in union if k not in set(keys)]
        if missing:
            gaps[name] = missing
    return gaps
