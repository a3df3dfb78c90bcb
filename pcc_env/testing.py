"""Test helpers for bot authors and for pcc-env's own tests.

``settings_from_env()`` builds a bot's settings from a dict, as Pipecat Cloud would from the
mounted secrets. ``run_emulator()`` serves a private emulator of the secrets API on a free
loopback port. This module is also a pytest plugin, registered through the ``pytest11`` entry
point (disable with ``-p no:pcc_env.testing``): the ``pcc_emulator`` fixture is there in every
test with no ``pytest_plugins`` line. Heavy imports happen only when a helper is used.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic_settings import BaseSettings

    from pcc_env.emulator.server import EmulatorServer

    S = TypeVar("S", bound=BaseSettings)

try:  # the fixture exists only when pytest is importable
    import pytest
except ImportError:  # pragma: no cover - pytest is absent outside tests
    pytest = None  # type: ignore[assignment]


def settings_from_env(settings_cls: type[S], env: Mapping[str, str]) -> S:
    """Build settings as the bot would on Pipecat Cloud, from ``env`` instead of ``os.environ``.

    No .env file is read, ``os.environ`` is neither read nor changed, and missing or invalid
    values raise the same ``MissingSecretsError`` / ``InvalidSecretsError`` as in production.
    """
    from pcc_env.runtime import load_settings

    return load_settings(settings_cls, env_file=None, environ=env)


@contextlib.contextmanager
def run_emulator(
    *, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> Iterator[EmulatorServer]:
    """Serve an emulator in a background thread for the duration of the ``with`` block.

    ``options`` are ``EmulatorConfig`` fields (``provision_delay``, ``fail_sets``,
    ``deploy_delay`` (default 1 s: pass 0 or a fraction in tests), ``fail_agents``,
    ``build_delay`` (Cloud Build, default 1 s),
    ``latency_ms``, ``fault_rate``, ``db``...). A random token is used unless one is given.
    The object yielded has ``.api_host``, ``.token``, ``.org``, ``.env()``, ``.stats()``,
    ``.reset_stats()``, ``.check_value(set, key, value)`` and ``.agent_generations(name)``.
    """
    from pcc_env.emulator.app import EmulatorConfig
    from pcc_env.emulator.server import EmulatorServer

    options.setdefault("token", "pcc-emu-" + secrets.token_urlsafe(18))
    for name in ("fail_sets", "fail_agents"):
        if name in options:
            options[name] = tuple(options[name])
    server = EmulatorServer(EmulatorConfig(**options), host=host, port=port)
    with server:
        yield server


if pytest is not None:

    @pytest.fixture
    def pcc_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
        """A fresh in-memory emulator (50 ms provisioning and deploys), with the environment
        (``PIPECAT_API_HOST``, ``PIPECAT_API_KEY``, ``PIPECAT_TOKEN``, ``PIPECAT_ORG``)
        pointing at it for the duration of the test."""
        with run_emulator(provision_delay=0.05, deploy_delay=0.05) as server:
            for name, value in server.env().items():
                monkeypatch.setenv(name, value)
            yield server
