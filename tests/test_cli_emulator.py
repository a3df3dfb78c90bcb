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
        # The token comes from the test, never from the environment the suite runs in.
        env={
            **{k: v for k, v in os.environ.items() if k != "PCC_ENV_EMULATOR_TOKEN"},
            **(env or {}),
        },
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
    proc, lines = start("--db", ":memory:", env=env)
    try:
        assert "Generated a token" in lines[1]
        token = _token(lines)
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


def _token(lines: list[str]) -> str:
    (token,) = [ln.split("=", 1)[1] for ln in lines if "export PIPECAT_API_KEY=" in ln]
    return token


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    return out, err


def test_a_generated_token_survives_a_restart_with_a_persistent_db(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PCC_ENV_EMULATOR_TOKEN"}
    db = tmp_path / "emu.sqlite3"
    proc, lines = start("--db", str(db), env=env)
    first = _token(lines)
    assert "kept in the database" in "\n".join(lines)
    _stop(proc)
    proc, lines = start("--db", str(db), env=env)
    try:
        assert _token(lines) == first
        host = re.search(r"listening on (http://\S+) ", "\n".join(lines))
        assert host
        r = httpx.get(f"{host.group(1)}/v1/secrets", headers={"Authorization": f"Bearer {first}"})
        assert r.status_code == 200
    finally:
        _stop(proc)
    assert (db.stat().st_mode & 0o777) == 0o600
    # An explicit token is used as given, and the kept one stays for later runs.
    proc, lines = start("--db", str(db), env={**env, "PCC_ENV_EMULATOR_TOKEN": "tok-explicit"})
    assert _token(lines) == "tok-explicit"
    _stop(proc)
    proc, lines = start("--db", str(db), env=env)
    assert _token(lines) == first
    _stop(proc)


def test_log_requests_prints_one_line_per_request_and_never_a_value(tmp_path: Path) -> None:
    canary = "canary-logreq-8c2e1f"
    proc, lines = start(
        "--db", ":memory:", "--log-requests", env={"PCC_ENV_EMULATOR_TOKEN": "tok-log"}
    )
    try:
        host = re.search(r"listening on (http://\S+) ", "\n".join(lines))
        assert host
        headers = {"Authorization": "Bearer tok-log"}
        body = {"secrets": [{"secretKey": "K", "secretValue": canary}]}
        assert httpx.put(f"{host.group(1)}/v1/secrets/log-set", json=body, headers=headers)
        httpx.get(f"{host.group(1)}/v1/secrets/log-set?x={canary}", headers=headers)
        httpx.get(f"{host.group(1)}/v1/secrets", headers={"Authorization": "Bearer wrong"})
    finally:
        out, err = _stop(proc)
    logged = [ln for ln in err.splitlines() if " ms" in ln]
    assert len(logged) == 3, err
    assert re.fullmatch(r"\d\d:\d\d:\d\d PUT /v1/secrets/log-set 202 \d+ ms", logged[0])
    assert re.fullmatch(r"\d\d:\d\d:\d\d GET /v1/secrets/log-set 200 \d+ ms", logged[1])
    assert logged[2].endswith(" ms") and " GET /v1/secrets 401 " in logged[2]
    assert canary not in out + err and "tok-log" not in err and "wrong" not in err


def test_the_banner_shows_the_options_that_shape_answers() -> None:
    proc, lines = start(
        "--db", ":memory:", "--latency-ms", "20", "--fault-rate", "0.1", "--fault-seed", "7",
        "--fail-set", "doomed-*", "--deploy-delay", "0", "--provision-delay", "0.2",
    )  # fmt: skip
    _stop(proc)
    (banner,) = [ln for ln in lines if ln.startswith("Behaviour: ")]
    for part in (
        "sets ready after 0.2 s",
        "provisioning fails for doomed-*",
        "deployments ready after 0 s",
        "latency 20 ms",
        "faults on 10% of writes, seed 7",
    ):
        assert part in banner, banner
    proc, lines = start("--db", ":memory:")
    _stop(proc)
    (banner,) = [ln for ln in lines if ln.startswith("Behaviour: ")]
    assert "no added latency" in banner and "no faults" in banner
