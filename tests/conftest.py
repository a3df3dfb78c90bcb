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


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """A raw HTTP client authenticated against the emulator (for wire-level tests)."""
    with httpx.Client(
        base_url=emulator.api_host,
        headers={"Authorization": f"Bearer {emulator.token}"},
        timeout=10,
    ) as client:
        yield client
