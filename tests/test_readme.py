"""The documentation names every command and option, and its runnable blocks run.

The README's reference sections moved to docs/ (issue 24): the commands reference is
docs/commands.md, generated from the Typer app; runnable blocks live in README.md and the pages.

A block marked ``<!-- runnable ... -->`` right before a ```bash fence runs with bash -euo
pipefail against a fresh emulator, in an empty temporary directory; ``<!-- runnable: bot ... -->``
runs it in a copy of tests/data/docs_bot (a Pipecat-shaped bot with a .env of fake keys), with
the real pipecat CLI on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from pcc_env.cli.app import app
from pcc_env.testing import run_emulator
from tests.cli_helpers import pipecat_cli_path
from tests.docs_pages import ROOT, all_pages, page

COMMANDS = page("commands.md")
BOT = ROOT / "tests" / "data" / "docs_bot"
BOT_ENV = "DEEPGRAM_API_KEY=dg-test\nOPENAI_API_KEY=sk-test\nCARTESIA_API_KEY=ca-test\n"


def commands(group: Any, prefix: list[str]) -> list[tuple[str, Any]]:
    if hasattr(group, "commands"):
        return [c for name, sub in group.commands.items() for c in commands(sub, [*prefix, name])]
    return [(" ".join(prefix), group)]


def test_every_command_and_option_is_in_the_commands_reference() -> None:
    root = typer.main.get_command(app)
    missing = [
        f"pcc-env {opt}"
        for param in root.params
        for opt in param.opts
        if opt != "--help" and f"`pcc-env {opt}`" not in COMMANDS
    ]
    for name, command in commands(root, []):
        if f"## `pcc-env {name}`" not in COMMANDS:
            missing.append(f"pcc-env {name}")
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help" and opt not in COMMANDS:
                    missing.append(f"pcc-env {name} {opt}")
    assert not missing, missing


def test_the_two_newcomer_commands_are_there() -> None:
    readme = page("README.md")
    assert "make demo" in readme and "make test" in readme


def runnable_blocks() -> list[tuple[str, str, str]]:
    """(page, marker, block) for every block marked runnable, README first."""
    found = []
    for name, text in all_pages().items():
        for marker, block in re.findall(r"<!-- (runnable[^>]*)-->\n```bash\n(.*?)```", text, re.S):
            found.append((name, marker.strip(), block))
    return found


def test_the_readme_has_the_five_minute_path_runnable() -> None:
    blocks = [(n, m, b) for n, m, b in runnable_blocks() if n == "README.md"]
    assert any(m.startswith("runnable: bot") for _, m, _ in blocks)
    (path,) = [b for _, m, b in blocks if m.startswith("runnable: bot")]
    steps = [line.split()[:2] for line in path.splitlines() if line.strip()]
    for step in (["pcc-env", "init"], ["pcc-env", "push"], ["pipecat", "cloud"]):
        assert step in steps, step
    assert ["pcc-env", "status"] in steps and ["pcc-env", "redeploy"] in steps


@pytest.mark.parametrize(
    ("name", "marker", "block"),
    runnable_blocks(),
    ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(runnable_blocks())],
)
def test_runnable_blocks_run(tmp_path: Path, name: str, marker: str, block: str) -> None:
    bin_dirs = [str(Path(sys.executable).parent)]
    cwd = tmp_path / "work"
    if marker.startswith("runnable: bot"):
        shutil.copytree(BOT, cwd)
        (cwd / ".env").write_text(BOT_ENV)
        tools = tmp_path / "bin"  # the pipecat CLI alone, not the rest of its venv
        tools.mkdir()
        (tools / "pipecat").symlink_to(pipecat_cli_path())
        bin_dirs.append(str(tools))
    else:
        cwd.mkdir()
    # The pipecat CLI polls a deployment every 5 s: let its first poll find it ready.
    with run_emulator(provision_delay=0.05, deploy_delay=0.2) as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))}
        env.update(emu.env())
        env.update(
            {
                "PATH": os.pathsep.join([*bin_dirs, env["PATH"]]),
                "HOME": str(tmp_path),  # no pipecat CLI login of the user's
                "PCC_ENV_DATA_DIR": str(tmp_path / "state"),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
                "NO_COLOR": "1",
            }
        )
        r = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert r.returncode == 0, f"{name}: {r.stdout}{r.stderr}"
    if marker.startswith("runnable: bot"):
        # The path ends with the agent on the rotated key.
        assert "1 agent(s) current." in r.stdout, r.stdout
        assert r.stdout.rstrip().splitlines()[-1].endswith("current"), r.stdout
