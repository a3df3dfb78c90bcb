"""What several commands share to find the project: its targets, env file and settings model.

It imports no command module, so deploy, run, watch and init use it without importing a command
that imports them back (push imports deploy).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from pcc_env import targets
from pcc_env.cli.output import info, warn
from pcc_env.errors import ConfigError, InputError
from pcc_env.rules import escape_text

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pydantic_settings import BaseSettings

    from pcc_env.discover import FoundModel

SharedSetPolicy = Literal["refuse", "warn", "ignore"]
SettingsOption = Annotated[
    str | None,
    typer.Option(
        "--settings",
        help="Settings model: module:Class or path/to/file.py:Class. "
        "Default: settings in the tool.pcc-env table of pyproject.toml.",
    ),
]


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
    from pcc_env.model_import import load_settings_class

    ref = settings_ref(ref)
    return (load_settings_class(ref), ref) if ref else (None, None)


class OptionalKeys:
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
        self.failed = False  # a settings model is named but could not be loaded

    def __call__(self) -> OptionalKeys:
        if self._names is None:
            self._names = set()
            try:
                model, _ = resolve_model(self.ref)
            except (ConfigError, InputError):
                model = None
                self.failed = self.ref is not None
            if model is not None:
                from pcc_env.runtime import describe, env_names_by_field, optional_env_names

                self._names = optional_env_names(model)
                self._modelled = {d.env_name.upper() for d in describe(model)}
                self._modelled |= {
                    n.upper() for names in env_names_by_field(model).values() for n in names
                }
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

    def holds(self, key: str) -> bool:
        """A field of the model (loaded only when asked)."""
        return key.upper() in self()._modelled

    def outside(self, key: str) -> bool:
        """A key the model (once loaded) does not hold."""
        return bool(self()._modelled) and key.upper() not in self._modelled
