"""A 60-column terminal cuts nothing a user needs (issue 11 item 15).

Every test runs the real entry point on a pseudo-terminal 60 columns wide (window size and
COLUMNS): tables too wide to show every value on one line become ``header: value`` lines, and
help keeps whole option names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pcc_env.client import SecretsClient
from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import command_tree, run_in_terminal

NARROW = 60
LONG_SET = "a-set-name-of-sixty-three-characters-" + "x" * 26  # the longest a name may be


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with run_emulator(provision_delay=0.05, deploy_delay=0.05) as server:
        with SecretsClient(server.token, server.api_host) as client:
            client.put_secrets(LONG_SET, {"OPENAI_API_KEY": "sk-narrow"})
            client.wait_ready(LONG_SET, timeout=10)
            client.create_agent("narrow-bot", "example/bot:1", secret_set=LONG_SET)
        yield server


def terminal(emu: EmulatorServer, tmp_path: Path, *args: str, columns: int = NARROW) -> str:
    env = {**emu.env(), "PCC_ENV_DATA_DIR": str(tmp_path / ".state")}
    r = run_in_terminal(*args, columns=columns, env=env, cwd=tmp_path)
    assert r.code == 0, r.stdout
    return r.stdout


def test_whoami_shows_the_whole_host_and_port(emu: EmulatorServer, tmp_path: Path) -> None:
    shown = terminal(emu, tmp_path, "whoami")
    assert f"API host: {emu.api_host}\n" in shown
    assert "accepted: yes" in shown and "…" not in shown
    # A terminal wide enough keeps the table, every value whole.
    wide = terminal(emu, tmp_path, "whoami", columns=120)
    assert "┃" in wide and f"│ {emu.api_host} │" in wide


def test_set_names_and_deployment_ids_are_whole(emu: EmulatorServer, tmp_path: Path) -> None:
    shown = terminal(emu, tmp_path, "secrets", "list")
    assert f"name: {LONG_SET}\n" in shown and "…" not in shown
    shown = terminal(emu, tmp_path, "status", "--set", LONG_SET)
    with SecretsClient(emu.token, emu.api_host) as client:
        deployment = client.get_agent("narrow-bot").desired_deployment_id
    assert deployment and f"deployment: {deployment}\n" in shown, shown
    assert "agent: narrow-bot\n" in shown and LONG_SET in shown and "…" not in shown


def test_help_keeps_whole_option_names(emu: EmulatorServer, tmp_path: Path) -> None:
    commands = [(path, params) for path, command, params in command_tree()]
    assert len(commands) > 15
    for path, params in commands:
        shown = terminal(emu, tmp_path, *path.split(), "--help")
        assert "…" not in shown, shown
        for param in params:
            if getattr(param, "hidden", False):
                continue
            for name in [*param.opts, *param.secondary_opts]:
                whole = rf"(?<![\w-]){re.escape(name)}(?![\w-])"  # not cut, not wrapped
                if name.startswith("-"):
                    assert re.search(whole, shown), (path, name, shown)
    # The top-level help names every command, whole.
    shown = terminal(emu, tmp_path, "--help")
    for path, _ in commands:
        if path and " " not in path:
            assert f"  {path} " in shown, path
    assert all(len(line) <= NARROW for line in shown.splitlines()), shown
