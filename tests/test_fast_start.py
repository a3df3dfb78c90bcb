"""Commands import only what they use (issue 11, item 19): measured in benchmarks/fast_start.py,
held here by what ``sys.modules`` holds after a command ran (piped, as CI runs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from tests.cli_helpers import ROOT

NEVER = ("fastapi", "uvicorn", "starlette", "watchfiles", "keyring")
NOT_PIPED = ("rich", "pygments", "click")  # rich only on a terminal; httpx's own CLI never
OTHER_COMMANDS = (
    "pcc_env.cli.watch",
    "pcc_env.cli.emulator",
    "pcc_env.cli.auth",
    "pcc_env.watch",
    "pcc_env.cli.export",
    "pcc_env.cli.check",
)


def modules_after(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[set[str], str]:
    code = (
        "import sys, atexit\n"
        "def seen():\n"
        "    sys.__stderr__.write('MODULES ' + ' '.join(sys.modules) + '\\n')\n"
        "atexit.register(seen)\n"
        f"sys.argv = ['pcc-env', *{argv!r}]\n"
        "from pcc_env.cli import main\n"
        "main()\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        timeout=60,
    )
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("MODULES ")]
    return set(line.split()[1:]), r.stdout + r.stderr


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["push", "--dry-run", "--set", "fast-set"], ["push", "--set", "fast-set"]],
    ids=["help", "push-dry-run", "push"],
)
def test_commands_import_only_what_they_use(
    argv: list[str], emulator: EmulatorServer, tmp_path: Path
) -> None:
    import os

    (tmp_path / ".env").write_text("A=1\nB=2\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))}
    env.update(emulator.env())
    env["PCC_ENV_DATA_DIR"] = str(tmp_path / "state")
    modules, output = modules_after(argv, env, tmp_path)
    assert not [m for m in modules if m.split(".")[0] in NEVER], output
    if argv != ["--help"]:  # help is drawn by rich: Typer's help panels
        assert not [m for m in modules if m.split(".")[0] in NOT_PIPED], output
        assert not [m for m in modules if m in OTHER_COMMANDS], output
        assert "tomllib" not in modules, output  # no deploy file, no pyproject.toml: none read


def test_run_children_get_the_users_environment_not_ours(tmp_path: Path) -> None:
    """pcc-env switches pydantic plugins off for itself; a child of `run` is left as it was."""
    from tests.cli_helpers import run_cli

    (tmp_path / ".env").write_text("SOME_KEY=some-value-1\n")
    code = "import os; print(os.environ.get('PYDANTIC_DISABLE_PLUGINS'))"
    r = run_cli("run", "--", sys.executable, "-c", code, cwd=tmp_path)
    assert (r.code, r.stdout) == (0, "None\n"), r.output
    r = run_cli(
        "run", "--", sys.executable, "-c", code, cwd=tmp_path,
        env={"PYDANTIC_DISABLE_PLUGINS": "logfire"},
    )  # fmt: skip
    assert (r.code, r.stdout) == (0, "logfire\n"), r.output
