"""schemathesis drives the emulator with requests generated from the seeds' OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.seeds import SEEDS, merged_openapi

if not SEEDS.is_dir():  # pragma: no cover - CI always has ../shared
    pytest.skip(f"the seeds are not at {SEEDS}", allow_module_level=True)

schema = schemathesis.openapi.from_dict(merged_openapi())


@pytest.fixture(scope="module")
def live() -> Iterator[EmulatorServer]:
    with run_emulator(provision_delay=0.0) as server:
        yield server


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_emulator_conforms_to_the_seeds(case: schemathesis.Case, live: EmulatorServer) -> None:
    case.call_and_validate(
        base_url=live.api_host + "/v1",
        headers={"Authorization": f"Bearer {live.token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
