"""Leak suite: every command and library entry point, succeeding and failing, with every value a
unique canary. No canary may appear in stdout, stderr, DEBUG logs (httpx, httpcore, stamina,
uvicorn included), exception text or chains, the emulator's database, any file written except
the .env itself, or the argv of a process."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from pcc_env.client import NO_RETRIES, RetryPolicy, SecretsClient
from pcc_env.emulator.server import EmulatorServer
from pcc_env.errors import PccEnvError
from pcc_env.runtime import SecretSettings, load_settings
from pcc_env.sync import PushState, apply_push, plan_push
from pcc_env.testing import run_emulator
from tests.cli_helpers import PCC_ENV, ROOT, Result, run_cli


class Canaries:
    def __init__(self) -> None:
        self.issued: list[str] = []

    def new(self) -> str:
        value = f"CANARY{secrets.token_hex(8)}"
        self.issued.append(value)
        return value

    def assert_absent(self, text: str, where: str) -> None:
        for canary in self.issued:
            assert canary not in text, f"canary found in {where}"


def all_text_exception(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        parts += [str(cur), repr(cur), repr(getattr(cur, "__dict__", {}))]
        cur = cur.__cause__ or cur.__context__
    return "\n".join(parts)


@pytest.fixture
def canaries() -> Canaries:
    return Canaries()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pcc-deploy.toml").write_text('secret_set = "leak-set"\nregion = "us-west"\n')
    return root


def test_cli_commands_leak_nothing(canaries: Canaries, project: Path, tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite3"
    results: list[Result] = []
    with run_emulator(db=str(db), provision_delay=0.05, fail_sets=["doomed-*"]) as emu:
        base = {
            "PIPECAT_API_HOST": emu.api_host,
            "PIPECAT_API_KEY": emu.token,
            "PCC_ENV_DATA_DIR": str(project / ".state"),
            "PCC_ENV_LOG_LEVEL": "DEBUG",
        }

        def cli(*args: str, stdin: str | None = None, **env: str) -> Result:
            r = run_cli(*args, env={**base, **env}, stdin=stdin, cwd=project)
            results.append(r)
            return r

        env_file = project / ".env"
        values = {f"KEY_{i}": canaries.new() for i in range(4)}
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        assert cli("push", "--dry-run").code == 0
        assert cli("push").code == 0
        assert cli("push", "--json").code == 0
        assert (
            cli("secrets", "set", "leak-set", "EXTRA", "--stdin", stdin=canaries.new() + "\n").code
            == 0
        )
        assert cli("secrets", "set", "leak-set", "--file", ".env").code == 0
        assert cli("secrets", "list").code == 0
        assert cli("secrets", "list", "leak-set", "--json").code == 0
        assert cli("export", "--output", ".env.example").code == 0
        assert cli("check", "--env-file", ".env").code in (0, 1)
        assert (
            cli(
                "secrets", "image-pull-secret", "pull-set", "ghcr.io", stdin=f"u:{canaries.new()}\n"
            ).code
            == 0
        )
        assert cli("whoami", "--json").code == 0
        # failure paths
        bad = project / "bad.env"
        bad.write_text(f"BAD.KEY={canaries.new()}\nbroken {canaries.new()}\nEMPTY=\n")
        assert cli("push", "bad.env").code == 2
        assert (
            cli(
                "secrets", "set", "leak-set", "BAD.KEY", "--stdin", stdin=canaries.new() + "\n"
            ).code
            == 2
        )
        assert (
            cli(
                "secrets",
                "set",
                "leak-set",
                "K",
                "--stdin",
                stdin="x" * 70000 + canaries.new() + "\n",
            ).code
            == 2
        )
        assert cli("push", "--region", "eu-central").code == 2
        assert cli("push", PIPECAT_API_KEY=canaries.new()).code == 1  # 401
        assert cli("push", "--set", "doomed-set").code == 1  # provisioning failed
        assert cli("login", "--stdin", stdin=canaries.new()).code == 1  # refused key
        assert cli("login", "--stdin", stdin=emu.token).code == 1  # no keyring backend
        assert cli("secrets", "unset", "leak-set", "KEY_0", "--yes").code == 0
        assert cli("secrets", "delete", "leak-set", "--yes").code == 0
        assert cli("logout").code == 0
    with run_emulator(provision_delay=30) as slow:
        env = {**base, "PIPECAT_API_HOST": slow.api_host, "PIPECAT_API_KEY": slow.token}
        assert cli("push", "--timeout", "0.2", **env).code == 1  # wait timed out
    with run_emulator(provision_delay=0, fault_rate=1.0, fault_seed=2) as broken:
        env = {**base, "PIPECAT_API_HOST": broken.api_host, "PIPECAT_API_KEY": broken.token}
        assert (
            cli(
                "secrets", "set", "leak-set", "K", "--stdin", stdin=canaries.new() + "\n", **env
            ).code
            == 1
        )
    hanging = {
        "PYTHON_KEYRING_BACKEND": "tests.keyring_backends.HangingKeyring",
        "PCC_ENV_KEYRING_TIMEOUT": "0.3",
    }
    r = run_cli(
        "secrets", "list", env={"PIPECAT_API_HOST": "http://127.0.0.1:9", **hanging}, cwd=project
    )
    results.append(r)
    assert r.code == 1

    for r in results:
        canaries.assert_absent(r.stdout, f"stdout of {r.argv[1:3]}")
        canaries.assert_absent(r.stderr, f"stderr of {r.argv[1:3]}")
        canaries.assert_absent(" ".join(r.argv), "argv")
    assert any("DEBUG" in r.stderr for r in results)  # logging really was on
    for path in [*project.rglob("*"), *tmp_path.glob("emulator.sqlite3*")]:
        if path.is_file() and path.name not in (".env", "bad.env"):
            canaries.assert_absent(path.read_bytes().decode("latin-1"), str(path))


def test_ctrl_c_during_a_command(canaries: Canaries, project: Path) -> None:
    with run_emulator(provision_delay=30) as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPECAT_")}
        env.update(emu.env())
        env.update(
            {
                "PCC_ENV_LOG_LEVEL": "DEBUG",
                "PYTHONPATH": str(ROOT),
                "PCC_ENV_DATA_DIR": str(project),
            }
        )
        proc = subprocess.Popen(
            [PCC_ENV, "secrets", "set", "leak-set", "K", "--stdin"],
            env=env,
            cwd=project,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(canaries.new() + "\n")
        proc.stdin.close()
        deadline = time.monotonic() + 20
        while emu.stats()["requests"].get("GET /v1/secrets/{setName}", 0) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 130 and "interrupted" in err
    canaries.assert_absent(out + err, "Ctrl-C output")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    for name in (
        "httpx",
        "httpcore",
        "stamina",
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "pcc_env",
    ):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog


def test_library_entry_points_leak_nothing(
    canaries: Canaries, debug_logs: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    errors: list[BaseException] = []
    fast = RetryPolicy(attempts=3, timeout=5, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0)
    db = tmp_path / "lib.sqlite3"
    with run_emulator(db=str(db), provision_delay=0, fail_sets=["doomed-*"]) as emu:
        with SecretsClient(api_key=emu.token, api_host=emu.api_host, retry=fast) as c:
            values = {f"K{i}": canaries.new() for i in range(3)}
            c.put_secrets("lib-set", values)
            c.put_image_pull_secret("lib-pull", "ghcr.io", f"u:{canaries.new()}")
            plan = plan_push("lib-set", {"K0": canaries.new()}, c.get_set("lib-set"), ("s", {}))
            apply_push(c, plan, state=PushState(tmp_path / "state.json"))
            assert canaries.issued[0] not in repr(plan) + str(plan.to_json()) + repr(c)
            for call in (
                lambda: c.put_secrets("lib-set", {"BAD.KEY": canaries.new()}),
                lambda: c.put_secrets("lib-set", {"K": canaries.new()}, region="eu-central"),
                lambda: (
                    c.put_secrets("doomed-set", {"K": canaries.new()})
                    and c.wait_ready("doomed-set")
                ),
                lambda: c.put_image_pull_secret("lib-set", "ghcr.io", f"u:{canaries.new()}"),
            ):
                try:
                    call()
                except PccEnvError as exc:
                    errors.append(exc)
        with SecretsClient(api_key=canaries.new(), api_host=emu.api_host, retry=NO_RETRIES) as bad:
            try:
                bad.put_secrets("lib-set", {"K": canaries.new()})
            except PccEnvError as exc:
                errors.append(exc)
    with (
        run_emulator(fault_rate=1.0, fault_seed=9) as faulty,
        SecretsClient(api_key=faulty.token, api_host=faulty.api_host, retry=fast) as c,
    ):
        try:
            c.put_secrets("fault-set", {"K": canaries.new()})
        except PccEnvError as exc:
            errors.append(exc)

    class Settings(SecretSettings):
        token: SecretStr
        port: int
        name: str

    try:
        load_settings(
            Settings, env_file=None, environ={"PORT": canaries.new(), "NAME": canaries.new()}
        )
    except PccEnvError as exc:
        errors.append(exc)
    settings = load_settings(
        Settings,
        env_file=None,
        environ={"TOKEN": canaries.new(), "PORT": "1", "NAME": canaries.new()},
    )
    canaries.assert_absent(repr(settings) + str(settings), "settings repr")

    assert len(errors) == 7
    for exc in errors:
        canaries.assert_absent(all_text_exception(exc), f"{type(exc).__name__}")
    assert debug_logs.records, "DEBUG logging captured nothing"
    for record in debug_logs.records:
        canaries.assert_absent(
            record.getMessage() + repr(record.args) + repr(record.__dict__), f"log {record.name}"
        )
    for path in tmp_path.iterdir():
        canaries.assert_absent(path.read_bytes().decode("latin-1"), str(path))


def test_httpx_request_objects_are_not_reachable_from_errors(canaries: Canaries) -> None:
    """A transport error must not carry httpx's request (its content holds the values)."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("boom", request=request)

    with SecretsClient(
        api_key="k",
        api_host="https://api.example.test",
        transport=httpx.MockTransport(handler),
        retry=NO_RETRIES,
    ) as c:
        with pytest.raises(PccEnvError) as info:
            c.put_secrets("x-set", {"K": canaries.new()})
    exc = info.value
    assert exc.__cause__ is None and exc.__suppress_context__
    canaries.assert_absent(all_text_exception(exc), "transport error")


def test_hostile_input_paths_leak_nothing(canaries: Canaries, project: Path) -> None:
    """The paths issue 10 found leaking: unquoted PEM lines, values typed where keys or extra
    arguments go, values in a would-be template, slow or replaced files under watch."""
    results: list[Result] = []
    with run_emulator(provision_delay=0) as emu:
        base = {
            "PIPECAT_API_HOST": emu.api_host,
            "PIPECAT_API_KEY": emu.token,
            "PCC_ENV_DATA_DIR": str(project / ".state"),
            "PCC_ENV_LOG_LEVEL": "DEBUG",
        }

        def cli(*args: str, stdin: str | None = None) -> Result:
            r = run_cli(*args, env=base, stdin=stdin, cwd=project)
            results.append(r)
            return r

        pem = [canaries.new() + "abcdefghijklmnopqrstuvwxyz0123456789" for _ in range(3)]
        (project / ".env").write_text(
            "A=1\nKEY=-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(pem) + "\n-----END-----\n"
        )
        assert cli("push").code == 2
        assert cli("push", "--skip-empty").code == 2
        assert cli("secrets", "set", "leak-set", "--file", ".env").code == 2
        assert cli("login", canaries.new()).code == 2
        assert (
            cli("secrets", "image-pull-secret", "p-set", "ghcr.io", f"u:{canaries.new()}").code == 2
        )
        assert cli("secrets", "set", "leak-set", "TOKEN", canaries.new()).code == 2
        assert cli("push", "--timeout", canaries.new()).code == 2
        assert cli(canaries.new()).code == 2
        assert (
            cli("secrets", "set", "leak-set", f"K={canaries.new()}", f"k={canaries.new()}").code
            == 2
        )
        (project / "vals.yaml").write_text(f"A: {canaries.new()}\n")
        assert cli("export", "--set", "leak-set", "--output", "vals.yaml", "--force").code == 2
        assert canaries.issued[-1] in (project / "vals.yaml").read_text()  # untouched
        assert not [w for w in emu.stats()["writes"]]  # nothing above was sent
    for r in results:
        canaries.assert_absent(r.stdout, f"stdout of {r.argv[1:3]}")
        canaries.assert_absent(r.stderr, f"stderr of {r.argv[1:3]}")
    for path in project.rglob("*"):
        if path.is_file() and path.name not in (".env", "vals.yaml"):
            canaries.assert_absent(path.read_text(errors="replace"), str(path))


def test_check_env_file_with_invalid_values_leaks_nothing(
    canaries: Canaries, project: Path, emulator: EmulatorServer
) -> None:
    """A list field whose value is not JSON, a validator echoing a value, a model validator
    comparing fields: `check --env-file` reports each by name, without a traceback or a value."""
    (project / "bot.py").write_text(
        "from pydantic import SecretStr, field_validator, model_validator\n"
        "from pcc_env import SecretSettings\n"
        "class Hosts(SecretSettings):\n"
        "    hosts: list[str]\n"
        "class Echo(SecretSettings):\n"
        "    token: str\n"
        "    @field_validator('token')\n"
        "    @classmethod\n"
        "    def check(cls, v):\n"
        "        raise ValueError(f'bad token {v[:8]}')\n"
        "class Same(SecretSettings):\n"
        "    password: SecretStr\n"
        "    confirm: SecretStr\n"
        "    @model_validator(mode='after')\n"
        "    def same(self):\n"
        "        raise ValueError(f'{self.password.get_secret_value()} != {self.confirm}')\n"
    )
    (project / ".env").write_text(
        f"HOSTS={canaries.new()}\nTOKEN={canaries.new()}\n"
        f"PASSWORD={canaries.new()}\nCONFIRM={canaries.new()}\n"
    )
    env = {
        "PIPECAT_API_HOST": emulator.api_host,
        "PIPECAT_API_KEY": emulator.token,
        "PCC_ENV_DATA_DIR": str(project / ".state"),
    }
    expected = {
        "Hosts": "HOSTS: not valid JSON",
        "Echo": "TOKEN: rejected by a validator",
        "Same": "model validation failed (value_error)",
    }
    for model, message in expected.items():
        for extra in ((), ("--json",)):
            r = run_cli(
                "check", "--settings", f"bot.py:{model}", "--env-file", ".env", *extra,
                env=env, cwd=project,
            )  # fmt: skip
            assert r.code == 1, r.stdout + r.stderr
            assert "Traceback" not in r.stderr and message in r.stdout
            for canary in canaries.issued:  # not even a 6-character piece of a value
                pieces = [canary[i : i + 6] for i in range(6, len(canary) - 5)]
                assert not [p for p in pieces if p in r.stdout + r.stderr], model
