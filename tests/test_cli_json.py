"""``--json`` on every command, and errors under ``--json`` as JSON (issue 11 item 7).

Errors are ``{"error": {"type", "message", "exitCode"}}`` (plus ``hint`` when there is a next
step) on stdout, one line, with the same exit code as without --json; stderr then carries no
``Error:`` line. ``watch --json`` and ``emulator --json`` print NDJSON.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import (
    PCC_ENV,
    Result,
    cli_env,
    command_tree,
    interrupt_when,
    run_against,
    run_cli,
    start_cli,
)
from tests.test_cli_watch import SET, Watch
from tests.test_no_leaks import Canaries

EXEMPT = {"demo", "run"}  # demo runs other commands; run's stdout is the child's
FILE_KEYRING = "tests.keyring_backends.FileKeyring"


cli = run_against


def document(r: Result) -> Any:
    """stdout as one JSON document (and stderr free of error lines)."""
    assert "Error:" not in r.stderr, r.stderr
    return json.loads(r.stdout)


def error_of(r: Result, code: int, kind: str) -> dict[str, Any]:
    assert r.code == code, r.output
    assert len(r.stdout.strip().splitlines()) == 1, r.stdout
    error = document(r)["error"]
    assert error["type"] == kind and error["exitCode"] == code, error
    return dict(error)


def test_every_command_takes_json() -> None:
    missing = [
        path
        for path, command, params in command_tree()
        if not hasattr(command, "commands")
        and path not in EXEMPT
        and not any("--json" in p.opts for p in params)
    ]
    assert missing == []


def test_secrets_commands_print_json(emulator: EmulatorServer, tmp_path: Path) -> None:
    r = cli(emulator, tmp_path, "secrets", "set", "json-set", "A=1", "B=2", "--json")
    assert r.code == 0, r.output
    doc = document(r)
    assert doc.pop("recordedAt").endswith("+00:00")  # the set's revision record (issue 22)
    assert doc == {
        "name": "json-set",
        "region": "us-west",
        "keys": ["A", "B"],
        "accepted": True,
        "status": "ready",
    }
    r = cli(emulator, tmp_path, "secrets", "set", "json-set", "C=3", "--no-wait", "--json")
    assert document(r)["status"] == "pending"
    r = cli(emulator, tmp_path, "secrets", "wait", "json-set", "--json")
    assert document(r) == {"name": "json-set", "region": "us-west", "status": "ready"}
    r = cli(emulator, tmp_path, "secrets", "unset", "json-set", "B", "--yes", "--json")
    assert r.code == 0, r.output
    assert document(r) == {"name": "json-set", "removed": ["B"], "absent": []}
    # An error part way is one document too: what was done, then the error.
    r = cli(emulator, tmp_path, "secrets", "unset", "json-set", "C", "NOPE", "-y", "--json")
    error_of(r, 1, "NotFoundError")
    assert json.loads(r.stdout)["removed"] == ["C"]
    r = cli(
        emulator,
        tmp_path,
        "secrets",
        "image-pull-secret",
        "json-pull",
        "https://ghcr.io",
        "--json",
        stdin="user:token-value\n",
    )
    assert r.code == 0, r.output
    assert document(r) == {
        "name": "json-pull",
        "region": "us-west",
        "accepted": True,
        "status": "ready",
    }
    assert "token-value" not in r.output
    r = cli(emulator, tmp_path, "secrets", "delete", "json-set", "--yes", "--json")
    assert document(r) == {"name": "json-set", "deleted": True}
    r = cli(emulator, tmp_path, "secrets", "delete", "json-set", "--yes", "--json")
    error_of(r, 1, "NotFoundError")


def test_login_logout_print_json(emulator: EmulatorServer, tmp_path: Path) -> None:
    env = {
        "PYTHON_KEYRING_BACKEND": FILE_KEYRING,
        "PCC_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "PIPECAT_API_HOST": emulator.api_host,
    }
    r = run_cli("login", "--stdin", "--json", env=env, stdin=emulator.token + "\n")
    assert r.code == 0, r.output
    assert document(r) == {"apiHost": emulator.api_host, "stored": True, "envKeySet": False}
    assert emulator.token not in r.output
    r = run_cli("logout", "--json", env=env)
    assert document(r) == {"apiHost": emulator.api_host, "removed": True, "envKeySet": False}
    r = run_cli("logout", "--json", env=env)
    assert document(r)["removed"] is False
    r = run_cli("login", "--stdin", "--json", env=env, stdin="refused-key-canary\n")
    error = error_of(r, 1, "UnauthorizedError")
    assert "refused this API key" in error["message"] and "refused-key-canary" not in r.output


BOT = """
from pydantic import SecretStr
from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    openai_api_key: SecretStr
    log_level: str = "INFO"
"""


def test_export_prints_keys_and_path_never_values(emulator: EmulatorServer, tmp_path: Path) -> None:
    canary = Canaries().new()
    (tmp_path / "bot.py").write_text(BOT)
    r = cli(emulator, tmp_path, "secrets", "set", "exp-set", f"OPENAI_API_KEY={canary}", "X=1")
    assert r.code == 0, r.output
    args = ("export", "--set", "exp-set", "--settings", "bot.py:Settings", "--json")
    r = cli(emulator, tmp_path, *args)
    assert r.code == 0, r.output
    data = document(r)
    assert data["keys"] == ["OPENAI_API_KEY", "LOG_LEVEL", "X"]
    assert data["output"] is None and "OPENAI_API_KEY=\n" in data["template"]
    assert data["sets"] == ["exp-set"] and data["setKeysIncluded"] is True
    r = cli(emulator, tmp_path, *args, "--output", "t.env")
    data = document(r)
    assert data["output"] == "t.env" and data["written"] is True and "template" not in data
    # LOG_LEVEL has a default: optional, commented out with it (issue 21 item 7)
    assert (tmp_path / "t.env").read_text().count("=\n") == 2
    assert "\n# LOG_LEVEL=INFO\n" in (tmp_path / "t.env").read_text()
    r = cli(emulator, tmp_path, *args, "--output", "t.env")
    assert document(r)["written"] is False  # up to date
    for text in (r.output, (tmp_path / "t.env").read_text()):
        assert canary not in text
    r = cli(emulator, tmp_path, "export", "--set", "no-such-set", "--json")
    assert "does not exist" in error_of(r, 1, "NotFoundError")["message"]


def test_errors_are_json_with_the_same_exit_code(emulator: EmulatorServer, tmp_path: Path) -> None:
    canaries = Canaries()
    # API errors, with the next step as a hint.
    r = cli(emulator, tmp_path, "secrets", "list", "no-such-set", "--json")
    error = error_of(r, 1, "NotFoundError")
    assert error["hint"] == "'pcc-env secrets list' shows the secret sets of this organization."
    assert r.stderr == ""
    # Bad input: exit 2, and the message never repeats the argument.
    value = canaries.new()
    r = cli(emulator, tmp_path, "secrets", "set", "err-set", "KEY", value, "--json")
    assert "has no '='" in error_of(r, 2, "InputError")["message"]
    # No terminal, no --yes: the confirmation is required.
    r = cli(emulator, tmp_path, "secrets", "delete", "err-set", "--json")
    assert "pass --yes" in error_of(r, 2, "ConfirmationRequired")["message"]
    # No key at all.
    r = run_cli("secrets", "list", "--json", cwd=tmp_path)
    error_of(r, 2, "NoApiKeyError")
    # The same command without --json: the same exit code, the message on stderr.
    plain = cli(emulator, tmp_path, "secrets", "list", "no-such-set")
    assert (
        plain.code == 1 and plain.stdout == "" and "Error: GET /secrets/no-such-set" in plain.stderr
    )
    for result in (r, plain):
        canaries.assert_absent(result.output, "output")


def test_usage_errors_are_json_when_json_is_among_the_arguments(tmp_path: Path) -> None:
    canaries = Canaries()
    value = canaries.new()
    for args, message in (
        (("push", "--json", "--bogus"), "no such option '--bogus'"),
        (("push", "--json", "--timeout", value), "invalid value for '--timeout'"),
        (("secrets", "wait", "--json"), "Missing argument 'name'."),
        (("login", value, "--json"), "unexpected extra argument(s) (not shown)"),
        (("demo", "--json"), "no such option '--json'"),
        (("push", "--json", "-s", "my-set"), "no such option '-s'"),
    ):
        r = run_cli(*args, cwd=tmp_path)
        error = error_of(r, 2, "UsageError")
        assert error["message"].startswith(message), error
        assert r.stderr == ""
        canaries.assert_absent(r.output, f"output of {args[0]}")
    r = run_cli("login", "x", "--json", cwd=tmp_path)
    assert "never from the command line" in json.loads(r.stdout)["error"]["hint"]
    r = run_cli("push", "-s", "x", "--json", cwd=tmp_path)
    assert "the secret set is --set" in json.loads(r.stdout)["error"]["hint"]
    # After `--`, --json belongs to the command that `run` starts: pcc-env's errors stay text.
    r = run_cli("run", "--bogus", "--", "true", "--json", cwd=tmp_path)
    assert r.code == 2 and r.stdout == "" and "Error: no such option '--bogus'" in r.stderr


def test_push_error_is_one_document_with_the_plan(tmp_path: Path) -> None:
    with run_emulator(provision_delay=0.05, fail_sets=["doomed-*"]) as emu:
        (tmp_path / ".env").write_text("A=1\n")
        r = cli(emu, tmp_path, "push", "--set", "doomed-set", "--json")
    data = document(r)
    assert r.code == 1, r.output
    assert data["plan"]["set"] == "doomed-set" and data["result"] == {"ok": False}
    assert data["error"]["type"] == "ProvisioningFailedError" and data["error"]["exitCode"] == 1


def interrupt(
    args: list[str], emu: EmulatorServer, env: dict[str, str], cwd: Path, *, writes: bool = False
) -> Result:
    """Ctrl-C once the command is waiting for 'ready' (provisioning takes 30 s): it has asked
    for the set's status at least once (after its PUT, for a command that ``writes``: it reads
    the set's record before writing too). Waiting on that, not on a fixed sleep, holds on a
    loaded machine, where start-up alone can take longer than any sleep chosen here."""
    emu.reset_stats()
    proc = start_cli(*args, env=env, cwd=cwd)

    def polled() -> bool:
        requests = emu.stats()["requests"]
        if writes and not requests.get("PUT /v1/secrets/{setName}", 0):
            return False
        return requests.get("GET /v1/secrets/{setName}", 0) >= (2 if writes else 1)

    out, err, _ = interrupt_when(proc, polled)
    return Result(proc.returncode, out, err, args)


def test_interrupts_are_json_exit_130(tmp_path: Path) -> None:
    with run_emulator(provision_delay=30) as emu:
        env = {**emu.env(), "PCC_ENV_DATA_DIR": str(tmp_path / ".state")}
        r = interrupt(
            ["secrets", "set", "slow-set", "A=1", "--json"], emu, env, tmp_path, writes=True
        )
        error = error_of(r, 130, "Interrupted")
        assert error["message"].startswith("interrupted while waiting; the write was accepted")
        assert error["hint"] == "Follow it with: pcc-env secrets wait slow-set"
        data = json.loads(r.stdout)
        assert data["name"] == "slow-set" and data["accepted"] is True
        r = interrupt(["secrets", "wait", "slow-set", "--json"], emu, env, tmp_path)
        assert error_of(r, 130, "Interrupted")["message"] == "interrupted"


def test_watch_json_prints_one_object_per_event(emulator: EmulatorServer, tmp_path: Path) -> None:
    canary = Canaries().new()
    env_file = tmp_path / ".env"
    env_file.write_text(f"A={canary}\n")
    w = Watch(emulator, tmp_path, "--debounce-ms", "60", "--json")
    w.ready('"event": "synced"')
    env_file.write_text(f"A={canary}\nB=2\n")
    w.expect('"added": \\["B"\\]')
    code, tail, err = w.stop()
    assert code == 0, err
    events = [json.loads(line) for line in [*w.seen, *tail.splitlines()] if line]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "watching" and kinds[-1] == "stopped", kinds
    assert events[0]["set"] == SET and events[0]["path"] == str(env_file.resolve())
    initial, change = (e for e in events if e["event"] == "synced")
    assert initial["initial"] is True and initial["added"] == ["A"]
    assert change["initial"] is False and change["added"] == ["B"]
    assert change["latencyMs"] > 0
    assert events[-1]["synced"] == 2 and events[-1]["failed"] == 0
    assert canary not in "\n".join(w.seen) + tail + err


def test_watch_json_fatal_error_is_a_json_line(emulator: EmulatorServer, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\n")
    r = cli(emulator, tmp_path, "watch", "--set", SET, "--prune", "--json")
    assert "pass --yes" in error_of(r, 2, "ConfirmationRequired")["message"]


@pytest.mark.timeout(60)
def test_emulator_json_prints_one_line_when_listening(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [PCC_ENV, "emulator", "--port", "0", "--db", ":memory:", "--json"],
        env=cli_env({"PCC_ENV_DATA_DIR": str(tmp_path)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        assert started["event"] == "listening" and started["tokenGenerated"] is True
        assert started["apiHost"] == f"http://127.0.0.1:{started['port']}"
        env = started["env"]
        assert env["PIPECAT_API_HOST"] == started["apiHost"]
        assert env["PIPECAT_API_KEY"] == env["PIPECAT_TOKEN"]
        # The env it printed works as is.
        r = run_cli("secrets", "list", "--json", env=env, cwd=tmp_path)
        assert r.code == 0 and json.loads(r.stdout) == {"sets": []}
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and out == ""
    # A port in use is a JSON error too.
    with run_emulator() as busy:
        port = str(busy.api_host.rsplit(":", 1)[1])
        r = run_cli("emulator", "--port", port, "--db", ":memory:", "--json", cwd=tmp_path)
    error = error_of(r, 1, "ListenError")
    assert "--port 0" in error["hint"]


def test_check_files_json(tmp_path: Path) -> None:
    canaries = Canaries()
    (tmp_path / ".env.example").write_text("# comment\nA=\n")
    (tmp_path / "prod.env").write_text(f"A=\nB={canaries.new()}\n")
    r = run_cli("check-files", ".env.example", "prod.env", "--json", cwd=tmp_path)
    assert r.code == 1, r.output
    assert document(r) == {
        "ok": False,
        "files": [
            {"file": ".env.example", "outcome": "ok", "lines": []},
            {"file": "prod.env", "outcome": "values", "lines": [2]},
        ],
    }
    canaries.assert_absent(r.output, "check-files --json")
    r = run_cli("check-files", "missing.env", "--json", cwd=tmp_path)
    assert r.code == 2 and document(r)["files"][0]["outcome"] == "unusable"


def test_export_check_json(tmp_path: Path) -> None:
    (tmp_path / "bot.py").write_text(BOT)
    args = ("export", "--settings", "bot.py:Settings", "--offline")
    r = run_cli(*args, "--check", "--json", cwd=tmp_path)
    data = document(r)
    assert r.code == 1 and data["exists"] is False and data["upToDate"] is False
    assert data["toAdd"] == ["OPENAI_API_KEY", "LOG_LEVEL"] and data["gone"] == []
    assert run_cli(*args, "--output", ".env.example", cwd=tmp_path).code == 0
    r = run_cli(*args, "--check", "--json", cwd=tmp_path)
    assert r.code == 0 and document(r)["upToDate"] is True


def test_init_json(tmp_path: Path) -> None:
    from tests.test_cli_init import ENV, make_bot

    bot = make_bot(tmp_path / "bot", ENV)
    env = {"PCC_ENV_DATA_DIR": str(bot / ".state")}
    r = run_cli("init", "--dry-run", "--json", cwd=bot, env=env)
    assert r.code == 0, r.output
    data = document(r)
    assert data["dryRun"] is True and data["written"] == []
    fields = {f["variable"]: f for f in data["fields"]}
    assert fields["OPENAI_API_KEY"]["type"] == "SecretStr" and fields["OPENAI_API_KEY"]["readIn"]
    assert {c["path"] for c in data["changes"]} >= {"settings.py", ".env.example"}
    assert "legacy.py" in " ".join(data["scanned"]["notScanned"])
    r = run_cli("init", "--json", cwd=bot, env=env)  # no terminal, no --yes
    error = error_of(r, 2, "ConfirmationRequired")
    assert json.loads(r.stdout)["fields"] and "pass --yes" in error["message"]
    r = run_cli("init", "--yes", "--json", cwd=bot, env=env)
    assert r.code == 0, r.output
    assert "settings.py" in document(r)["written"]
    r = run_cli("init", "--check", "--json", cwd=bot, env=env)
    assert r.code == 0, r.output
    data = document(r)
    assert data["ok"] is True and data["notInModel"] == [] and data["unread"] == []
    for value in ENV.values():
        assert value not in r.output
