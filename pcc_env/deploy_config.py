"""Reading ``pcc-deploy.toml``, the Pipecat Cloud deploy file (region, secret_set...)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcc_env.errors import ConfigError

DEPLOY_FILE = "pcc-deploy.toml"

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
    try:
        data: dict[str, Any] = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
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
