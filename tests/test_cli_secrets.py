"""``pcc-env secrets ...`` through the real entry point, against the emulator."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import Result, run_cli
from tests.seeds import ARGUMENT_TABLE


def cli(emulator: EmulatorServer, *args: str, stdin: str | None = None, **env: str) -> Result:
    return run_cli(
        *args,
        env={"PIPECAT_API_HOST": emulator.api_host, "PIPECAT_API_KEY": emulator.token, **env},
        stdin=stdin,
    )


# Each row of the API-NOTES argument table, through the real entry point.
@pytest.mark.parametrize(("argv", "value"), ARGUMENT_TABLE)
def test_set_argument_forms(emulator: EmulatorServer, argv: str, value: str) -> None:
    r = cli(emulator, "secrets", "set", "arg-set", argv, "--no-wait")
    assert r.code == 0, r.stderr
    assert emulator.check_value("arg-set", "KEY1", value)


def test_set_many_pairs_one_put_and_waits_ready(emulator: EmulatorServer) -> None:
    r = cli(emulator, "secrets", "set", "many-set", "A=1", "B=2", "C=3")
    assert r.code == 0, r.stderr
    assert "ready" in r.stdout and "redeployed" in r.stderr
    stats = emulator.stats()
    assert stats["requests"]["PUT /v1/secrets/{setName}"] == 1
    # One PUT: the values and the set's revision record (issue 22) in the same request.
    [write] = stats["writes"]
    assert write["method"] == "PUT" and write["keys"][:3] == ["A", "B", "C"]
    assert len(write["keys"]) == 4 and write["keys"][3].startswith("PCCENV_REV1_")


def test_set_bare_key_reads_value_from_stdin(emulator: EmulatorServer) -> None:
    r = cli(
        emulator,
        "secrets",
        "set",
        "stdin-set",
        "TOKEN",
        "OTHER=x",
        "--no-wait",
        "--stdin",
        stdin="from-stdin\n",
    )
    assert r.code == 0, r.stderr
    assert emulator.check_value("stdin-set", "TOKEN", "from-stdin")
    assert "from-stdin" not in r.output


def test_key_space_value_without_a_terminal_creates_nothing(emulator: EmulatorServer) -> None:
    # `secrets set NAME KEY VALUE`: VALUE must not become a key, nor be printed.
    value = "sk_live_0123canary4567"
    r = cli(emulator, "secrets", "set", "space-set", "TOKEN", value, stdin=value + "\n")
    assert r.code == 2
    assert "argument 1, 2 has no '='" in r.stderr and "--stdin" in r.stderr
    assert value not in r.output and "Traceback" not in r.output
    assert emulator.stats()["total"] == 0


def test_set_from_file(emulator: EmulatorServer, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text('# comment\nAPI_KEY=abc\nexport DB_URL="postgres://u:p@h/db"\nMULTI="a\nb"\n')
    r = cli(emulator, "secrets", "set", "file-set", "--file", str(env), "--no-wait")
    assert r.code == 0, r.stderr
    assert emulator.check_value("file-set", "DB_URL", "postgres://u:p@h/db")
    assert emulator.check_value("file-set", "MULTI", "a\nb")


@pytest.mark.parametrize(
    "args",
    [
        ["Bad_Name", "K=v"],
        ["ok-set", "BAD.KEY=v"],
        ["ok-set", "K="],
        ["ok-set", "K=1", "K=2"],
        ["ok-set"],
        ["ok-set", "K=v", "--file", "x.env"],
        ["ok-set", "--file", "/nonexistent/.env"],
    ],
)
def test_set_bad_input_exits_2_and_sends_nothing(emulator: EmulatorServer, args: list[str]) -> None:
    r = cli(emulator, "secrets", "set", *args)
    assert r.code == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.startswith("Error")
    assert emulator.stats()["total"] == 0


def test_set_bad_env_file_names_lines(emulator: EmulatorServer, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("GOOD=1\nthis is not a pair canary-88\nEMPTY=\n")
    r = cli(emulator, "secrets", "set", "bad-file-set", "--file", str(env))
    assert r.code == 2
    # an unparsable line is reported alone: nothing else from the file is shown
    assert "line 2" in r.stderr and "canary-88" not in r.output
    assert emulator.stats()["total"] == 0


def test_set_failed_provisioning_exits_1_with_message() -> None:
    with run_emulator(provision_delay=0.05, fail_sets=["doomed-*"]) as emu:
        r = cli(emu, "secrets", "set", "doomed-set", "K=v")
    assert r.code == 1
    assert "failed to provision" in r.stderr and "Provisioning failed" in r.stderr


def test_set_wait_timeout_exits_1() -> None:
    with run_emulator(provision_delay=30) as emu:
        r = cli(emu, "secrets", "set", "slow-set", "K=v", "--timeout", "0.3")
    assert r.code == 1 and "not ready after" in r.stderr and "pending" in r.stderr


def test_set_region_and_region_change_refused(emulator: EmulatorServer) -> None:
    assert (
        cli(
            emulator, "secrets", "set", "reg-set", "K=v", "--region", "eu-central", "--no-wait"
        ).code
        == 0
    )
    r = cli(emulator, "secrets", "set", "reg-set", "K=v", "--region", "us-east", "--no-wait")
    assert r.code == 1 and "Cannot change region" in r.stderr


def test_list_sets_plain_and_json(emulator: EmulatorServer) -> None:
    cli(emulator, "secrets", "set", "list-a", "K=v")
    cli(emulator, "secrets", "set", "list-b", "K=v", "--region", "us-east", "--no-wait")
    r = cli(emulator, "secrets", "list")
    assert r.code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == "name\ttype\tregion\tstatus"
    assert "list-a\tsecret set\tus-west\tready" in lines
    data = json.loads(cli(emulator, "secrets", "list", "--json").stdout)
    assert {s["name"] for s in data["sets"]} == {"list-a", "list-b"}


def test_list_one_set(emulator: EmulatorServer) -> None:
    cli(emulator, "secrets", "set", "keys-set", "ALPHA=1", "BETA=2")
    r = cli(emulator, "secrets", "list", "keys-set")
    assert r.code == 0
    # The revision record (issue 22) is a key of the set: shown, as the pipecat CLI shows it,
    # and said to be pcc-env's record, not a secret.
    lines = r.stdout.splitlines()
    assert lines[:4] == ["keys-set (us-west, ready)", "key", "ALPHA", "BETA"]
    assert len(lines) == 5 and lines[4].startswith("PCCENV_REV1_")
    assert "pcc-env's revision record of the set" in r.stderr
    data = json.loads(cli(emulator, "secrets", "list", "keys-set", "--json").stdout)
    assert data["secrets"][:2] == [{"fieldName": "ALPHA"}, {"fieldName": "BETA"}]
    missing = cli(emulator, "secrets", "list", "nope-set")
    assert missing.code == 1 and "Set not found" in missing.stderr


def test_list_shows_failure_message() -> None:
    with run_emulator(provision_delay=0, fail_sets=["broken-*"]) as emu:
        cli(emu, "secrets", "set", "broken-set", "K=v", "--no-wait")
        r = cli(emu, "secrets", "list")
    assert "failed (Provisioning failed" in r.stdout


def test_unset_requires_yes_without_tty(emulator: EmulatorServer) -> None:
    cli(emulator, "secrets", "set", "unset-set", "A=1", "B=2", "--no-wait")
    emulator.reset_stats()
    r = cli(emulator, "secrets", "unset", "unset-set", "A")
    assert r.code == 2 and "--yes" in r.stderr
    assert emulator.stats()["total"] == 0
    r = cli(emulator, "secrets", "unset", "unset-set", "A", "--yes")
    assert r.code == 0, r.stderr
    r = cli(emulator, "secrets", "unset", "unset-set", "A", "--yes")
    assert r.code == 1 and "Secret not found" in r.stderr


def test_delete_requires_yes_without_tty(emulator: EmulatorServer) -> None:
    cli(emulator, "secrets", "set", "del-set", "A=1", "--no-wait")
    assert cli(emulator, "secrets", "delete", "del-set").code == 2
    assert cli(emulator, "secrets", "delete", "del-set", "--yes").code == 0
    r = cli(emulator, "secrets", "delete", "del-set", "--yes")
    assert r.code == 1 and "Set not found" in r.stderr


def test_wait(emulator: EmulatorServer) -> None:
    cli(emulator, "secrets", "set", "wait-set", "A=1", "--no-wait")
    assert cli(emulator, "secrets", "wait", "wait-set").code == 0
    assert cli(emulator, "secrets", "wait", "missing-set").code == 1


def test_wait_failed_and_timeout() -> None:
    with run_emulator(provision_delay=0, fail_sets=["bad-*"]) as emu:
        cli(emu, "secrets", "set", "bad-set", "A=1", "--no-wait")
        assert cli(emu, "secrets", "wait", "bad-set").code == 1
    with run_emulator(provision_delay=60) as emu:
        cli(emu, "secrets", "set", "slow-set", "A=1", "--no-wait")
        assert cli(emu, "secrets", "wait", "slow-set", "--timeout", "0.2").code == 1


def test_image_pull_secret_from_stdin(emulator: EmulatorServer) -> None:
    r = cli(
        emulator,
        "secrets",
        "image-pull-secret",
        "pull-creds",
        "https://ghcr.io",
        "--stdin",
        stdin="me:tok\n",
    )
    assert r.code == 0, r.stderr
    assert emulator.check_value("pull-creds", None, base64.b64encode(b"me:tok").decode())
    r = cli(
        emulator,
        "secrets",
        "image-pull-secret",
        "raw-creds",
        "ghcr.io",
        "--no-encode",
        stdin="ZW5jb2RlZA==\n",
    )
    assert r.code == 0, r.stderr
    assert emulator.check_value("raw-creds", None, "ZW5jb2RlZA==")
    bad = cli(emulator, "secrets", "image-pull-secret", "bad-creds", "ghcr.io", stdin="no-colon\n")
    assert bad.code == 2


def test_no_api_key_is_a_clear_error(emulator: EmulatorServer) -> None:
    r = run_cli("secrets", "list", env={"PIPECAT_API_HOST": emulator.api_host})
    assert r.code == 2
    assert "pcc-env login" in r.stderr and "PIPECAT_API_KEY" in r.stderr


def test_wrong_key_exits_1_with_hint(emulator: EmulatorServer) -> None:
    r = cli(emulator, "secrets", "list", PIPECAT_API_KEY="wrong")
    assert r.code == 1 and "Unauthorized" in r.stderr and "pcc-env login" in r.stderr


def test_api_host_option(emulator: EmulatorServer) -> None:
    r = run_cli(
        "secrets", "list", "--api-host", emulator.api_host, env={"PIPECAT_API_KEY": emulator.token}
    )
    assert r.code == 0, r.stderr


def test_unreachable_host_exits_1_without_traceback() -> None:
    with run_emulator() as emu:
        host, token = emu.api_host, emu.token
    r = run_cli("secrets", "list", env={"PIPECAT_API_HOST": host, "PIPECAT_API_KEY": token})
    assert r.code == 1 and "cannot reach" in r.stderr and "Traceback" not in r.stderr


def test_cli_without_extra_prints_install_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "typer.py").write_text("raise ImportError\n")
    code = (
        "import importlib.util, sys; real = importlib.util.find_spec;"
        "importlib.util.find_spec = lambda n, *a: None if n == 'typer' else real(n, *a);"
        "from pcc_env.cli import main; main()"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 1
    assert "pip install 'pcc-env[cli]'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_retries_are_visible_when_piped() -> None:
    """One stderr line per retry, naming the reason and the attempt; never a value."""
    with run_emulator(fault_rate=1.0, fault_seed=3) as emu:
        r = cli(emu, "secrets", "set", "retry-set", "K=retry-canary-4d1f")
    assert r.code == 1
    lines = [line for line in r.stderr.splitlines() if "retrying" in line]
    assert [line.rsplit(" ", 1)[-1] for line in lines] == [f"{n}/6" for n in range(2, 7)]
    assert all(line.startswith("PUT /secrets/retry-set: ") for line in lines), lines
    assert "retry-canary-4d1f" not in r.output


@pytest.mark.parametrize(
    "argv",
    [["secrets", "set", "slow-set", "K=v"], ["push", ".env", "--set", "slow-set"]],
    ids=["secrets-set", "push"],
)
def test_ctrl_c_while_waiting_says_the_write_was_accepted(tmp_path: Path, argv: list[str]) -> None:
    import signal
    import time

    from tests.cli_helpers import start_cli

    (tmp_path / ".env").write_text("K=v\n")
    with run_emulator(provision_delay=60) as emu:
        env = {**emu.env(), "PCC_ENV_DATA_DIR": str(tmp_path / "state")}
        proc = start_cli(*argv, env=env, cwd=tmp_path)
        deadline = time.monotonic() + 30
        while not emu.stats()["writes"]:  # the PUT was applied: now it waits for ready
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "the write was accepted" in err
    assert "Follow it with: pcc-env secrets wait slow-set" in err
    assert "Traceback" not in err
