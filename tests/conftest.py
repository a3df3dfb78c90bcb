from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import httpx
import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator

_XDG_BASE = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Data and cache dirs of this test process's own (each xdist worker is a process):
    commands run without ``PCC_ENV_DATA_DIR`` keep push state in the platform's data dir, so
    parallel workers must not share one file, and the suite must not write the developer's."""
    base = tempfile.mkdtemp(prefix="pcc-env-tests-")
    config.stash[_XDG_BASE] = base
    os.environ["XDG_DATA_HOME"] = os.path.join(base, "data")
    os.environ["XDG_CACHE_HOME"] = os.path.join(base, "cache")


def pytest_unconfigure(config: pytest.Config) -> None:
    base = config.stash.get(_XDG_BASE, None)
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with run_emulator(provision_delay=0.05) as server:
        yield server


def raw_client(emulator: EmulatorServer) -> httpx.Client:
    return httpx.Client(
        base_url=emulator.api_host,
        headers={"Authorization": f"Bearer {emulator.token}"},
        timeout=10,
    )


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """A raw HTTP client authenticated against the emulator (for wire-level tests)."""
    with raw_client(emulator) as client:
        yield client


@pytest.fixture
def slow_api() -> Iterator[httpx.Client]:
    """Like ``api``, but sets stay pending for 1 s: long enough to assert ``pending`` on a
    loaded machine (the default 50 ms is not)."""
    with run_emulator(provision_delay=1.0) as server, raw_client(server) as client:
        yield client
