"""Reading ``pcc-deploy.toml``, the Pipecat Cloud deploy file (region, secret_set...)."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pcc_env.errors import ConfigError, InputError
from pcc_env.rules import region_problems

DEPLOY_FILE = "pcc-deploy.toml"
MAX_DEPLOY_FILE_BYTES = 1024 * 1024


def _toml() -> Any:
    """tomllib (tomli on Python 3.10), or None; imported when a TOML file is read, which most
    runs of a command never do."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:  # pragma: no cover - Python 3.10
        import tomli
    except ImportError:  # pragma: no cover
        return None
    return tomli  # pragma: no cover


@dataclass(frozen=True)
class DeployConfig:
    path: Path
    agent_name: str | None = None
    image: str | None = None
    region: str | None = None
    secret_set: str | None = None
    image_credentials: str | None = None


# The keys ``pipecat cloud deploy`` accepts (pipecatcloud's load_deploy_config_file): it refuses
# any other top-level key, and any other key in the tables it builds from (``scaling``,
# ``krisp_viva``, ``resources``, ``git``). ``docker`` and ``build`` it reads loosely, so do we.
DEPLOY_KEYS = (
    "agent_name",
    "image",
    "build_id",
    "image_credentials",
    "secret_set",
    "region",
    "scaling",
    "docker",
    "build",
    "agent_profile",
    "krisp_viva",
    "git",
    "websocket_auth",
    "max_session_duration",
    "resources",
    "architecture",
)
DEPLOY_TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "scaling": ("min_agents", "max_agents"),
    "krisp_viva": ("audio_filter",),
    "resources": ("cpu", "memory"),
    "git": ("repo", "branch", "dockerfile_path", "subdirectory"),
    "docker": (),
    "build": (),
}


def _deploy_file_problems(data: dict[str, Any]) -> list[str]:
    """Why ``pipecat cloud deploy`` would refuse this deploy file's keys (names only): pcc-env
    must not push to a set named by a file the deploy then rejects."""
    if "enable_krisp" in data:  # the CLI's own migration message
        return [
            "'enable_krisp' is no longer supported by pipecat cloud deploy: configure Krisp with "
            'a [krisp_viva] table (audio_filter = "tel" or "pro") and remove enable_krisp'
        ]
    problems = []
    unknown = sorted(k for k in data if k not in DEPLOY_KEYS)
    if unknown:
        problems.append(
            f"unknown key(s) {', '.join(map(show_name, unknown))}, which pipecat cloud deploy "
            f"refuses too (known: {', '.join(DEPLOY_KEYS)})"
        )
    for table, known in DEPLOY_TABLE_KEYS.items():
        if table not in data:
            continue
        value = data[table]
        if not isinstance(value, dict):
            problems.append(f"[{table}] must be a table")
            continue
        extra = sorted(k for k in value if k not in known) if known else []
        if extra:
            problems.append(
                f"[{table}] has unknown key(s) {', '.join(map(show_name, extra))} "
                f"(known: {', '.join(known)})"
            )
    return problems


def read_deploy_config(path: str | os.PathLike[str] = DEPLOY_FILE) -> DeployConfig:
    """Parse a deploy file; raises ``ConfigError`` naming the file when it cannot be used, or
    when ``pipecat cloud deploy`` would refuse its keys (its tables, ``agent_profile``...,
    are accepted and otherwise left to that command)."""
    p = Path(path)
    data = read_toml_file(p, "a deploy file")
    problems = _deploy_file_problems(data)
    if problems:
        raise ConfigError(f"{show_path(str(p))}: " + "; ".join(problems))
    fields = {}
    for key in ("agent_name", "image", "region", "secret_set", "image_credentials"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{p}: '{key}' must be a string")
        fields[key] = value
    _check_region(p, None, fields["region"])
    return DeployConfig(path=p, **fields)


def read_toml_file(p: Path, what: str) -> dict[str, Any]:
    """A TOML file (deploy file, pyproject.toml) as data: a regular file of at most 1 MiB, UTF-8,
    valid TOML; ``ConfigError`` naming the file otherwise (a FIFO or a device never hangs)."""
    from pcc_env.dotenv_file import read_regular_file

    try:
        raw = read_regular_file(p, what, MAX_DEPLOY_FILE_BYTES)
        text = raw.decode("utf-8")
    except InputError as exc:
        raise ConfigError(f"{exc.source}: {'; '.join(exc.problems)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot be read ({type(exc).__name__})") from None
    return parse_toml(text, p)


def parse_toml(text: str, source: Path) -> dict[str, Any]:
    """TOML text as data; ``ConfigError`` naming ``source`` when it is not valid TOML."""
    tomllib = _toml()
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise ConfigError(f"{source}: reading TOML on Python 3.10 needs 'pip install tomli'")
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return data


def secret_set_from_deploy_file(path: str | os.PathLike[str] = DEPLOY_FILE) -> str | None:
    """``secret_set`` of the deploy file when it exists and names one; None otherwise."""
    if not Path(path).is_file():
        return None
    try:
        return read_deploy_config(path).secret_set
    except ConfigError:
        return None


DEPLOY_CONFIG_PATH_ENV = "PIPECAT_DEPLOY_CONFIG_PATH"


def default_deploy_file() -> Path:
    """The deploy file the ``pipecat`` CLI reads: ``$PIPECAT_DEPLOY_CONFIG_PATH``, else
    ``./pcc-deploy.toml``."""
    return Path(os.environ.get(DEPLOY_CONFIG_PATH_ENV) or DEPLOY_FILE)


@dataclass(frozen=True)
class TargetConfig:
    """``[tool.pcc-env.targets.NAME]``: where one environment's secrets go.

    ``set`` may hold ``{region}``; with ``regions`` (fan-out) it must, and defaults to
    ``"{secret_set}-{region}"`` with ``secret_set`` from the deploy file. Without ``set`` and
    ``regions``, set and region come from the deploy file, as ``pipecat cloud deploy`` reads them.
    """

    name: str
    set: str | None = None
    region: str | None = None
    regions: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    deploy_file: str | None = None
    settings: str | None = None


@dataclass(frozen=True)
class ProjectSettings:
    """``[tool.pcc-env]`` of pyproject.toml: ``settings = "module:Class"``, ``env_file`` and
    ``[tool.pcc-env.targets.NAME]`` tables."""

    settings: str | None = None
    env_file: str | None = None
    targets: dict[str, TargetConfig] = field(default_factory=dict)


_PROJECT_KEYS = ("settings", "env_file", "targets")
_TARGET_KEYS = ("set", "region", "regions", "env_files", "deploy_file", "settings")
_TARGET_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def show_name(text: str) -> str:
    """A name from the user's file or command line: quoted when printable and short; a prefix
    when a part of it looks like a credential (a key pasted as ``--settings``); else a length."""
    from pcc_env.rules import CREDENTIAL_NOT_SHOWN, looks_like_credential

    if any(looks_like_credential(part) for part in re.split(r"[:/\\\s]+", text)):
        return f"'{text[:4]}…' ({CREDENTIAL_NOT_SHOWN})"
    return repr(text) if text.isprintable() and len(text) <= 80 else f"<{len(text)} characters>"


def _check_region(p: Path, where: str | None, region: str | None) -> None:
    """A region from a file is sent to the API and printed in plans: a newline or an escape in
    it could forge output lines. Refused naming the file and the key, the value not shown."""
    problems = region_problems(region) if region is not None else []
    if problems:
        head = f"{p}: {where}:" if where else f"{p}:"
        raise ConfigError(f"{head} {'; '.join(problems)}")


def _string(p: Path, where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{p}: {where} {key} must be a non-empty string")
    return value


def _strings(p: Path, where: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{p}: {where} {key} must be a non-empty list of strings")
    items = tuple(_string(p, where, f"{key} item", v) for v in value)
    if len(set(items)) != len(items):
        raise ConfigError(f"{p}: {where} {key} lists the same entry twice")
    return items


def _refuse_unknown_keys(
    p: Path, where: str, table: dict[str, Any], known: tuple[str, ...]
) -> None:
    unknown = sorted(k for k in table if k not in known)
    if unknown:
        raise ConfigError(
            f"{p}: {where} has unknown key(s) {', '.join(map(show_name, unknown))} "
            f"(known: {', '.join(known)})"
        )


def _read_target(p: Path, name: str, table: Any) -> TargetConfig:
    where = f"[tool.pcc-env.targets.{name}]"
    if not _TARGET_NAME_RE.fullmatch(name):
        raise ConfigError(
            f"{p}: target name {show_name(name)} may use letters, digits, '_', '.' and '-' "
            "(at most 63 characters)"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{p}: {where} must be a table")
    _refuse_unknown_keys(p, where, table, _TARGET_KEYS)
    if "region" in table and "regions" in table:
        raise ConfigError(f"{p}: {where} sets both 'region' and 'regions'; keep one")
    fields: dict[str, Any] = {"name": name}
    for key in ("set", "region", "deploy_file", "settings"):
        if key in table:
            fields[key] = _string(p, where, key, table[key])
    for key in ("regions", "env_files"):
        if key in table:
            fields[key] = _strings(p, where, key, table[key])
    _check_region(p, where, fields.get("region"))
    for n, region in enumerate(fields.get("regions", ()), start=1):
        _check_region(p, f"{where} regions item {n}", region)
    template = fields.get("set")
    if template is not None:
        try:
            template.format(region="r")
        except (KeyError, IndexError, ValueError):
            raise ConfigError(f"{p}: {where} set may use only the placeholder {{region}}") from None
        if len(fields.get("regions", ())) > 1 and "{region}" not in template:
            raise ConfigError(
                f"{p}: {where} set must contain {{region}} when it lists several regions "
                "(one secret set per region)"
            )
    return TargetConfig(**fields)


def read_project_settings(path: str | os.PathLike[str] = "pyproject.toml") -> ProjectSettings:
    """``[tool.pcc-env]``; unknown keys and bad values raise ``ConfigError`` naming them."""
    p = Path(path)
    if not p.exists() or _toml() is None:
        return ProjectSettings()
    data = read_toml_file(p, "pyproject.toml")
    tool = data.get("tool", {})
    table = tool.get("pcc-env", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{p}: [tool.pcc-env] must be a table")
    _refuse_unknown_keys(p, "[tool.pcc-env]", table, _PROJECT_KEYS)
    out: dict[str, Any] = {}
    for key in ("settings", "env_file"):
        if key in table:
            out[key] = _string(p, "[tool.pcc-env]", key, table[key])
    targets = table.get("targets", {})
    if not isinstance(targets, dict):
        raise ConfigError(f"{p}: [tool.pcc-env.targets] must be a table of tables")
    out["targets"] = {name: _read_target(p, name, t) for name, t in targets.items()}
    return ProjectSettings(**out)


def show_path(text: str) -> str:
    return text if text.isprintable() and len(text) <= 300 else f"<{len(text)}-character path>"
