"""The bad-input corpus (tests/data/bad_inputs): every case gets a clear message naming the
problem, exit code 2, no traceback, and sends no request."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pcc_env.cli.app import app
from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator

CORPUS = Path(__file__).parent / "data" / "bad_inputs"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text())


def test_corpus_is_large_enough() -> None:
    assert len(CASES) + 1 >= 100  # + the 50 MB file below


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    import keyring

    from tests.keyring_backends import FileKeyring

    # Commands run in this process: a usable keyring of our own, whatever ran before (login
    # checks the keyring before it reads the key; the machine's own is never touched).
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    os.environ["PCC_TEST_KEYRING_FILE"] = str(tmp_path_factory.mktemp("kr") / "keyring.json")
    try:
        with run_emulator(provision_delay=0) as server:
            yield server
    finally:
        keyring.set_keyring(previous)
        os.environ.pop("PCC_TEST_KEYRING_FILE", None)


def invoke(live: EmulatorServer, argv: list[str], stdin: str | None, cwd: Path) -> Any:
    runner = CliRunner()
    env = {
        "PIPECAT_API_HOST": live.api_host,
        "PIPECAT_API_KEY": live.token,
        "PCC_ENV_DATA_DIR": str(cwd / ".state"),
        "NO_COLOR": "1",
    }
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, argv, input=stdin or "", env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input(case: dict[str, Any], live: EmulatorServer) -> None:
    live.reset_stats()
    result = invoke(live, case["argv"], case.get("stdin"), CORPUS)
    output = result.output
    assert result.exit_code == 2, output
    assert case["needle"].lower() in output.lower(), output
    assert "Traceback" not in output
    assert live.stats()["total"] == 0, live.stats()["requests"]


def test_fifty_megabyte_file(live: EmulatorServer, tmp_path: Path) -> None:
    big = tmp_path / "big.env"
    with big.open("wb") as fh:
        line = b"K=" + b"v" * 1022 + b"\n"
        for _ in range(50 * 1024):
            fh.write(line)
    live.reset_stats()
    result = invoke(live, ["push", str(big), "--set", "ok-set"], None, tmp_path)
    assert result.exit_code == 2 and "bytes" in result.output
    assert live.stats()["total"] == 0
