"""pcc-env: typed, leak-safe secrets for Pipecat Cloud agents.

The runtime API a bot needs is importable from here; attributes load on first use (PEP 562), so
``import pcc_env`` costs nothing and never imports the CLI's or client's dependencies.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "InvalidSecretsError",
    "MissingSecretsError",
    "SecretSettings",
    "SettingsError",
    "describe",
    "load_settings",
    "loaded_revision",
    "required_env_names",
]

_LAZY = {
    "InvalidSecretsError": "pcc_env.errors",
    "MissingSecretsError": "pcc_env.errors",
    "SettingsError": "pcc_env.errors",
    "SecretSettings": "pcc_env.runtime",
    "describe": "pcc_env.runtime",
    "load_settings": "pcc_env.runtime",
    "loaded_revision": "pcc_env.runtime",
    "required_env_names": "pcc_env.runtime",
}

if TYPE_CHECKING:
    from pcc_env.errors import InvalidSecretsError, MissingSecretsError, SettingsError
    from pcc_env.runtime import (
        SecretSettings,
        describe,
        load_settings,
        loaded_revision,
        required_env_names,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pcc_env' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
