"""Reading ``pcc-deploy.toml``, the Pipecat Cloud deploy file (region, secret_set...)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcc_env.errors import ConfigError, InputError

DEPLOY_FILE = "pcc-deploy.toml"
MAX_DEPLOY_FILE_BYTES = 1024 * 1024

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None


@dataclass(frozen=True)
class DeployConfig:
    path: Path
    agent_name: str | None = None
    image: str | None = None
    region: str | None = None
    secret_set: str | None = None
    image_credentials: str | None = None


def read_deploy_config(path: str | os.PathLike[str] = DEPLOY_FILE) -> DeployConfig:
    """Parse a deploy file; raises ``ConfigError`` naming the file when it cannot be used."""
    p = Path(path)
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise ConfigError(f"{p}: reading TOML on Python 3.10 needs 'pip install tomli'")
    from pcc_env.dotenv_file import read_regular_file

    try:
        raw = read_regular_file(p, "a deploy file", MAX_DEPLOY_FILE_BYTES)
        data: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    except InputError as exc:
        raise ConfigError(f"{exc.source}: {'; '.join(exc.problems)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot be read ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    fields = {}
    for key in ("agent_name", "image", "region", "secret_set", "image_credentials"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{p}: '{key}' must be a string")
        fields[key] = value
    return DeployConfig(path=p, **fields)


def secret_set_from_deploy_file(path: str | os.PathLike[str] = DEPLOY_FILE) -> str | None:
    """``secret_set`` of the deploy file when it exists and names one; None otherwise."""
    if not Path(path).is_file():
        return None
    try:
        return read_deploy_config(path).secret_set
    except ConfigError:
        return None


@dataclass(frozen=True)
class ProjectSettings:
    """``[tool.pcc-env]`` of pyproject.toml: ``settings = "module:Class"`` and ``env_file``."""

    settings: str | None = None
    env_file: str | None = None


def read_project_settings(path: str | os.PathLike[str] = "pyproject.toml") -> ProjectSettings:
    p = Path(path)
    if not p.is_file() or tomllib is None:
        return ProjectSettings()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: cannot be read ({type(exc).__name__})") from None
    table = data.get("tool", {}).get("pcc-env", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{p}: [tool.pcc-env] must be a table")
    out = {}
    for key in ("settings", "env_file"):
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{p}: [tool.pcc-env] {key} must be a string")
        out[key] = value
    return ProjectSettings(**out)


def load_settings_class(ref: str) -> type[Any]:
    """Import ``module:Class`` or ``path/to/file.py:Class`` (the module's code runs).

    The current directory is put on ``sys.path`` first, as ``python -m`` would.
    """
    import importlib
    import importlib.util

    target, sep, attr = ref.rpartition(":")
    if not sep or not target or not attr:
        raise ConfigError(f"settings reference {ref!r} must be 'module:Class' or 'file.py:Class'")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        if target.endswith(".py") or os.sep in target:
            path = Path(target)
            if not path.is_file():
                raise ConfigError(f"settings reference {ref!r}: {path} not found")
            spec = importlib.util.spec_from_file_location(f"_pcc_env_settings_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise ConfigError(f"settings reference {ref!r}: cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ConfigError:
        raise
    except ImportError as exc:
        raise ConfigError(f"settings reference {ref!r}: {exc}") from None
    except Exception as exc:  # the user's module raised while importing; its text may hold data
        raise ConfigError(
            f"settings reference {ref!r}: importing it failed ({type(exc).__name__})"
        ) from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ConfigError(f"settings reference {ref!r}: no class {attr!r} in {target}")
    from pydantic_settings import BaseSettings

    if not issubclass(cls, BaseSettings):
        raise ConfigError(f"settings reference {ref!r}: {attr} is not a pydantic-settings model")
    return cls
