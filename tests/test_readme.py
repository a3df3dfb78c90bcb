"""The README documents every command and option, and its runnable blocks run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from pcc_env.cli.app import app
from pcc_env.testing import run_emulator

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def commands(group: Any, prefix: list[str]) -> list[tuple[str, Any]]:
    if hasattr(group, "commands"):
        return [c for name, sub in group.commands.items() for c in commands(sub, [*prefix, name])]
    return [(" ".join(prefix), group)]


def test_every_command_and_option_is_in_the_readme() -> None:
    root = typer.main.get_command(app)
    missing = [
        f"pcc-env {opt}"
        for param in root.params
        for opt in param.opts
        if opt != "--help" and f"`pcc-env {opt}`" not in README
    ]
    for name, command in commands(root, []):
        if f"pcc-env {name}" not in README:
            missing.append(f"pcc-env {name}")
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help" and opt not in README:
                    missing.append(f"pcc-env {name} {opt}")
    assert not missing, missing


def test_the_two_newcomer_commands_are_there() -> None:
    assert "make demo" in README and "make test" in README


def runnable_blocks() -> list[str]:
    return re.findall(r"<!-- runnable[^>]*-->\n```bash\n(.*?)```", README, re.S)


def test_runnable_blocks_run(tmp_path: Path) -> None:
    blocks = runnable_blocks()
    assert blocks
    bin_dir = str(Path(sys.executable).parent)
    with run_emulator(provision_delay=0.05) as emu:
        for block in blocks:
            env = {
                k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))
            }
            env.update(emu.env())
            env.update(
                {
                    "PATH": bin_dir + os.pathsep + env["PATH"],
                    "PCC_ENV_DATA_DIR": str(tmp_path / "state"),
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                }
            )
            r = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert r.returncode == 0, r.stdout + r.stderr
