"""login / logout / whoami through the real entry point, with a file keyring for tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from tests.cli_helpers import run_cli

FILE_KEYRING = "tests.keyring_backends.FileKeyring"


@pytest.fixture
def keyring_env(tmp_path: Path, emulator: EmulatorServer) -> dict[str, str]:
    return {
        "PYTHON_KEYRING_BACKEND": FILE_KEYRING,
        "PCC_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "PIPECAT_API_HOST": emulator.api_host,
    }


def test_login_whoami_logout(
    keyring_env: dict[str, str], emulator: EmulatorServer, tmp_path: Path
) -> None:
    r = run_cli("login", "--stdin", env=keyring_env, stdin=emulator.token + "\n")
    assert r.code == 0, r.stderr
    stored = json.loads((tmp_path / "keyring.json").read_text())
    assert stored == {f"pcc-env|{emulator.api_host}": emulator.token}
    assert emulator.token not in r.output

    who = run_cli("whoami", "--json", env=keyring_env)
    assert who.code == 0, who.stderr
    data = json.loads(who.stdout)
    assert data == {
        "apiHost": emulator.api_host,
        "keySource": "keyring",
        "key": "****" + emulator.token[-4:],
        "accepted": True,
    }
    assert emulator.token not in who.output

    # the stored key works for other commands
    assert run_cli("secrets", "list", env=keyring_env).code == 0

    out = run_cli("logout", env=keyring_env)
    assert out.code == 0 and "Removed" in out.stdout
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}
    assert run_cli("secrets", "list", env=keyring_env).code == 2


def test_login_refused_key_is_not_stored(keyring_env: dict[str, str], tmp_path: Path) -> None:
    r = run_cli("login", "--stdin", env=keyring_env, stdin="wrong-key-canary-31\n")
    assert r.code == 1 and "refused" in r.stderr
    assert "wrong-key-canary-31" not in r.output
    assert not (tmp_path / "keyring.json").exists()


def test_login_empty_key(keyring_env: dict[str, str]) -> None:
    assert run_cli("login", "--stdin", env=keyring_env, stdin="\n").code == 2


def test_login_without_keyring_backend(emulator: EmulatorServer) -> None:
    r = run_cli(
        "login",
        "--stdin",
        env={
            "PIPECAT_API_HOST": emulator.api_host,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        },
        stdin=emulator.token,
    )
    assert r.code == 1
    assert "no usable OS keyring" in r.stderr and "PIPECAT_API_KEY" in r.stderr
    assert emulator.token not in r.output


def test_whoami_env_key_and_refused(emulator: EmulatorServer) -> None:
    env = {"PIPECAT_API_HOST": emulator.api_host, "PIPECAT_API_KEY": emulator.token}
    r = run_cli("whoami", env=env)
    assert r.code == 0 and "PIPECAT_API_KEY" in r.stdout and "yes" in r.stdout
    r = run_cli("whoami", "--json", env={**env, "PIPECAT_API_KEY": "bad-key-0000-zzzz"})
    assert r.code == 1 and json.loads(r.stdout)["accepted"] is False


def test_hanging_keyring_does_not_hang_commands(emulator: EmulatorServer) -> None:
    r = run_cli(
        "secrets",
        "list",
        env={
            "PIPECAT_API_HOST": emulator.api_host,
            "PYTHON_KEYRING_BACKEND": "tests.keyring_backends.HangingKeyring",
            "PCC_ENV_KEYRING_TIMEOUT": "0.5",
        },
        timeout=30,
    )
    assert r.code == 1 and "did not answer" in r.stderr


def test_login_checks_the_keyring_before_asking_for_the_key(emulator: EmulatorServer) -> None:
    """No key is read (stdin is empty here) when it could not be stored anyway."""
    r = run_cli(
        "login",
        env={
            "PIPECAT_API_HOST": emulator.api_host,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        },
        stdin="",
    )
    assert r.code == 1 and "no usable OS keyring" in r.stderr
    assert "no API key given" not in r.stderr


def test_login_warns_that_the_env_key_takes_precedence(
    keyring_env: dict[str, str], emulator: EmulatorServer
) -> None:
    env = {**keyring_env, "PIPECAT_API_KEY": emulator.token}
    r = run_cli("login", "--stdin", env=env, stdin=emulator.token + "\n")
    assert r.code == 0, r.stderr
    assert "PIPECAT_API_KEY is set" in r.stderr and "before the key stored" in r.stderr
    assert emulator.token not in r.output
