"""``pipecat env ...``: pcc-env inside the real ``pipecat`` CLI (pipecat-ai-cli + pipecatcloud).

``make test`` installs the pipecat CLI and pcc-env (editable, every extra) into one venv,
``.venv-pipecat-plugin``, in a single resolve: that it installs at all, and that ``pip check``
is happy there, is the proof that our version ranges fit theirs. ``PCC_ENV_PIPECAT_PLUGIN_CLI``
names its ``pipecat`` executable. (.venv-pipecat, which other tests use, stays untouched.)
``make test`` runs this file again against the current CLI (``pipecat-ai[cli]`` 1.14.0, in
``.venv-pipecat-current``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from pcc_env.cli.app import app
from pcc_env.emulator.server import EmulatorServer
from pcc_env.revision import user_keys  # the set's record (issue 22) left out
from pcc_env.testing import run_emulator
from tests.test_no_leaks import Canaries

ROOT = Path(__file__).resolve().parent.parent


def _plugin_bin() -> Path:
    path = os.environ.get("PCC_ENV_PIPECAT_PLUGIN_CLI") or str(
        ROOT / ".venv-pipecat-plugin" / "bin" / "pipecat"
    )
    if not os.access(path, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"the pipecat CLI with pcc-env is not installed at {path} (make test)")
        pytest.skip(f"the pipecat CLI with pcc-env is not installed at {path}; run 'make test'")
    return Path(path).parent


@dataclass
class Out:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Venv:
    """Runs the ``pipecat`` and ``pcc-env`` executables of the plugin venv."""

    def __init__(self, bin_dir: Path, cwd: Path, emulator: EmulatorServer) -> None:
        self.bin = bin_dir
        self.cwd = cwd
        self.emulator = emulator
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(cwd),
            "NO_COLOR": "1",
            "COLUMNS": "200",
            "PCC_ENV_DATA_DIR": str(cwd / ".state"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            **emulator.env(),
        }

    def __call__(self, exe: str, *args: str, **env: str) -> Out:
        proc = subprocess.run(
            [str(self.bin / exe), *args],
            cwd=self.cwd,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        return Out(proc.returncode, proc.stdout, proc.stderr)

    def pipecat(self, *args: str, **env: str) -> Out:
        return self("pipecat", *args, **env)


@pytest.fixture
def venv(tmp_path: Path) -> Iterator[Venv]:
    bin_dir = _plugin_bin()
    with run_emulator(provision_delay=0.05) as emu:
        project = tmp_path / "bot"
        project.mkdir()
        yield Venv(bin_dir, project, emu)


def test_one_environment_holds_both(venv: Venv) -> None:
    check = venv("python", "-m", "pip", "check")
    assert check.code == 0, check.output
    listed = venv("python", "-m", "pip", "list", "--format=freeze").stdout
    for name in ("pipecatcloud==1.4.0", "pcc-env=="):
        assert name in listed, listed
    # the frozen CLI (pipecat-ai-cli) or the current one, inside pipecat-ai (make compat)
    assert "pipecat-ai-cli==1.3.0" in listed or "pipecat-ai==1.14.0" in listed, listed


def test_pipecat_lists_env_and_env_lists_every_command(venv: Venv) -> None:
    top = venv.pipecat("--help")
    assert top.code == 0, top.output
    assert " env " in top.stdout and " cloud " in top.stdout
    r = venv.pipecat("env", "--help")
    assert r.code == 0, r.output
    assert "Usage: pipecat env [OPTIONS] COMMAND [ARGS]..." in r.stdout
    for name in typer.main.get_command(app).commands:  # type: ignore[attr-defined]
        assert f" {name} " in r.stdout, name
    sub = venv.pipecat("env", "push", "-h")
    assert sub.code == 0 and "Usage: pipecat env push [OPTIONS]" in sub.stdout


def test_pipecat_env_push_writes_the_set(venv: Venv) -> None:
    emu = venv.emulator
    (venv.cwd / "pcc-deploy.toml").write_text('secret_set = "bot-secrets"\n')
    (venv.cwd / ".env").write_text("OPENAI_API_KEY=sk-test-123\nDAILY_API_KEY=d-test\n")
    r = venv.pipecat("env", "push")
    assert r.code == 0, r.output
    assert "Pushed 2 key(s) to 'bot-secrets'" in r.stdout
    assert emu.check_value("bot-secrets", "OPENAI_API_KEY", "sk-test-123")
    assert emu.check_value("bot-secrets", "DAILY_API_KEY", "d-test")
    assert [user_keys(w["keys"]) for w in emu.stats()["writes"]] == [
        ["OPENAI_API_KEY", "DAILY_API_KEY"]
    ]
    # Another command through the plugin, and pipecat's own commands still work next to it.
    listed = venv.pipecat("env", "secrets", "list", "bot-secrets")
    assert listed.code == 0 and "DAILY_API_KEY" in listed.stdout, listed.output
    cloud = venv.pipecat("cloud", "secrets", "list")
    assert cloud.code == 0 and "bot-secrets" in cloud.output, cloud.output


@pytest.mark.parametrize(
    "args",
    [
        ["push", "--timeout", "{canary}"],  # invalid value: never echoed
        ["login", "{canary}"],  # a key typed on the command line
        ["push", "--no-such-option"],
        ["no-such-command"],
        ["secrets", "set"],  # missing argument
        ["push", "--set", "bad name!"],  # bad input: exit 2, nothing sent
        ["check", "--set", "missing-set"],  # a failed check: exit 1
        [],  # the group's help
    ],
)
def test_same_messages_and_exit_codes_as_pcc_env(venv: Venv, args: list[str]) -> None:
    canaries = Canaries()
    argv = [a.format(canary=canaries.new()) for a in args]
    plugin = venv.pipecat("env", *argv)
    direct = venv("pcc-env", *argv)
    assert plugin.code == direct.code, (plugin.output, direct.output)
    assert plugin.code != 0 or not args
    # The same text, but for the program's name (and the help panel's padding around it);
    # hints that name a command to run ("pcc-env secrets list") say pcc-env either way.
    for ours, theirs in ((plugin.stdout, direct.stdout), (plugin.stderr, direct.stderr)):
        assert ours.replace("pipecat env", "pcc-env").split() == theirs.split()
    canaries.assert_absent(plugin.output, "pipecat env output")


def test_pipecat_env_run_passes_dashes_and_masks(venv: Venv) -> None:
    (venv.cwd / ".env").write_text("OPENAI_API_KEY=sk-test-123456\n")
    code = "import os, sys; print(sys.argv[1:], os.environ['OPENAI_API_KEY'])"
    r = venv.pipecat("env", "run", "--", sys.executable, "-c", code, "--help", "-x")
    assert r.code == 0, r.output
    assert r.stdout == "['--help', '-x'] <concealed by pcc-env>\n"


def test_the_entry_point_loads_nothing_of_pcc_env_until_used(venv: Venv) -> None:
    # The pipecat CLI imports every extension on each start, `pipecat cloud ...` included.
    code = (
        "import sys, importlib.metadata as m;"
        "ep = [e for e in m.entry_points(group='pipecat_cli.extensions') if e.name == 'env'][0];"
        "ep.load();"
        "print(sorted(n for n in sys.modules if n.startswith(('pcc_env', 'httpx', 'pydantic'))))"
    )
    r = venv("python", "-c", code)
    assert r.code == 0, r.output
    assert r.stdout.strip() == "['pcc_env', 'pcc_env.cli', 'pcc_env.cli.plugin']"
