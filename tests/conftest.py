from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator


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
