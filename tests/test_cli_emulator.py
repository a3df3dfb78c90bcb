"""``pcc-env emulator`` as a user runs it: a real process, a free port, Ctrl-C to stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

PCC_ENV = str(Path(sys.executable).parent / "pcc-env")


def start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [PCC_ENV, "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            break
    return proc, lines


def test_emulator_command_prints_env_lines_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    db = tmp_path / "emu.sqlite3"
    proc, lines = start(
        "--db", str(db), "--provision-delay", "0", env={"PCC_ENV_EMULATOR_TOKEN": "tok-123"}
    )
    try:
        text = "\n".join(lines)
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
        assert url, text
        host = url.group(1)
        for expected in (
            f"PIPECAT_API_HOST={host}",
            "PIPECAT_API_KEY=tok-123",
            "PIPECAT_TOKEN=tok-123",
            "PIPECAT_ORG=local",
        ):
            assert expected in text
        assert "Generated a token" not in text
        r = httpx.put(
            f"{host}/v1/secrets/cli-set",
            json={"secrets": [{"secretKey": "K", "secretValue": "v"}]},
            headers={"Authorization": "Bearer tok-123"},
        )
        assert r.status_code == 202
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert db.exists() and (db.stat().st_mode & 0o777) == 0o600


def test_emulator_generates_a_token_when_none_given() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PCC_ENV_EMULATOR_TOKEN"}
    proc = subprocess.Popen(
        [PCC_ENV, "emulator", "--port", "0", "--db", ":memory:"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]
        assert "Generated a token" in lines[1]
        token = lines[4].strip().removeprefix("export PIPECAT_API_KEY=")
        assert token.startswith("pcc-emu-") and len(token) > 20
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    assert proc.returncode == 0


def test_bad_options_exit_2() -> None:
    for args in (["--fault-rate", "1.5"], ["--provision-delay", "-1"], ["--port", "70000"]):
        r = subprocess.run([PCC_ENV, "emulator", *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (args, r.stderr)


def test_port_in_use_is_a_clear_error() -> None:
    proc, lines = start("--db", ":memory:")
    try:
        port = re.search(r":(\d+) ", lines[0]).group(1)  # type: ignore[union-attr]
        r = subprocess.run(
            [PCC_ENV, "emulator", "--port", port, "--db", ":memory:"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 1
        assert "Cannot listen on" in r.stderr and "Traceback" not in r.stderr
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
