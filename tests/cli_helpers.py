"""Run the real ``pcc-env`` entry point as a child process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PCC_ENV = str(Path(sys.executable).parent / "pcc-env")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    argv: list[str]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment ``run_cli`` gives the CLI (for tests that need ``subprocess.Popen``)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIPECAT_", "PCC_ENV_", "PYTHON_KEYRING"))
    }
    base.update({"NO_COLOR": "1", "PYTHONPATH": str(ROOT), "COLUMNS": "200"})
    # No keyring unless a test chooses one: the machine's own must never be touched.
    base["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    base.update(env or {})
    return base


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    argv = [PCC_ENV, *args]
    proc = subprocess.run(
        argv,
        env=cli_env(env),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, argv)


def run_against(emu: Any, cwd: Path, *args: str, stdin: str | None = None, **env: str) -> Result:
    """``pcc-env ARGS`` in ``cwd``, pointed at emulator ``emu``, with a data dir of its own."""
    return run_cli(
        *args,
        cwd=cwd,
        stdin=stdin,
        env={
            "PIPECAT_API_HOST": emu.api_host,
            "PIPECAT_API_KEY": emu.token,
            "PCC_ENV_DATA_DIR": str(cwd / ".state"),
            **env,
        },
    )


def write_requests(emu: Any) -> int:
    """PUTs and DELETEs the emulator served (its own instruments left out)."""
    counts = emu.stats()["requests"]
    return sum(n for route, n in counts.items() if route.startswith(("PUT", "DELETE")))
