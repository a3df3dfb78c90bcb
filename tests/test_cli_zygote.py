"""The warm pcc-env the tests run (tests/cli_zygote.py) answers as a fresh ``pcc-env`` does:
same exit codes and output, nothing carried from one call to the next."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pcc_env.testing import run_emulator
from tests.cli_helpers import PCC_ENV, Result, _warm_cli, cli_env, run_cli

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or os.environ.get("PCC_ENV_TEST_FRESH") == "1",
    reason="the warm pcc-env runs on Linux, unless PCC_ENV_TEST_FRESH=1",
)


def fresh(*args: str, env: dict[str, str], cwd: Path, stdin: str = "") -> Result:
    argv = [PCC_ENV, *args]
    proc = subprocess.run(
        argv, env=cli_env(env), input=stdin, capture_output=True, text=True, cwd=cwd, timeout=60
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, argv)


@pytest.fixture
def emu() -> Any:
    with run_emulator(provision_delay=0) as server:
        yield server


CALLS = [
    ("--version",),
    ("push", "--set", "x"),  # a usage error: exit 2, one message
    ("check", "--offline"),
    ("secrets", "list"),
    ("secrets", "set", "zygote-set", "K", "--stdin"),
    ("status", "--set", "zygote-set"),
    ("no-such-command",),
]


def test_each_call_answers_as_a_fresh_process(emu: Any, tmp_path: Path) -> None:
    for i, args in enumerate(CALLS):
        env = {**emu.env(), "PCC_ENV_DATA_DIR": str(tmp_path / f"d{i}")}
        (tmp_path / f"w{i}").mkdir()
        (tmp_path / f"f{i}").mkdir()
        warm = run_cli(*args, env=env, cwd=tmp_path / f"w{i}", stdin="v-zygote\n")
        cold = fresh(*args, env=env, cwd=tmp_path / f"f{i}", stdin="v-zygote\n")
        assert (warm.code, warm.stdout, warm.stderr) == (cold.code, cold.stdout, cold.stderr), args
    assert emu.check_value("zygote-set", "K", "v-zygote")


def test_nothing_carries_over_between_calls(emu: Any, tmp_path: Path) -> None:
    """An env var, a working directory and a module's state of one call are not the next's."""
    assert _warm_cli() is not None
    project = tmp_path / "project"
    project.mkdir()
    (project / "pcc-deploy.toml").write_text('secret_set = "from-the-deploy-file"\n')
    for folder in (project, tmp_path):
        (folder / ".env").write_text("K=v\n")
    with_host = run_cli("--version", env={"PIPECAT_API_HOST": emu.api_host}, cwd=project)
    assert emu.api_host.split("//")[1] in with_host.stdout
    without = run_cli("--version", cwd=tmp_path)
    assert emu.api_host.split("//")[1] not in without.stdout
    data = str(tmp_path / "d")
    here = run_cli("push", "--dry-run", env={**emu.env(), "PCC_ENV_DATA_DIR": data}, cwd=project)
    assert "from-the-deploy-file" in here.output
    elsewhere = run_cli(
        "push", "--dry-run", env={**emu.env(), "PCC_ENV_DATA_DIR": data}, cwd=tmp_path
    )
    assert "from-the-deploy-file" not in elsewhere.output and elsewhere.code == 2


def test_a_call_that_outlives_its_timeout_is_killed(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_cli("emulator", "--port", "0", "--db", ":memory:", cwd=tmp_path, timeout=3)
    assert time.monotonic() - started < 20
    assert run_cli("--version", cwd=tmp_path).code == 0  # the server goes on


def test_an_interpreter_setting_gets_a_fresh_process() -> None:
    warm = _warm_cli()
    assert warm is not None and warm.usable_for(cli_env())
    assert not warm.usable_for(cli_env({"PYTHONIOENCODING": "latin-1"}))
    assert not warm.usable_for(cli_env({"LC_ALL": "C"}))
    assert warm.usable_for(cli_env({"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}))
