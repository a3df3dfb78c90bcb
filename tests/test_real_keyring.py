"""The real OS keyring on Linux: the Secret Service (gnome-keyring) in a private D-Bus session.

Every other keyring test uses a fake backend. Here ``keyring.backends.SecretService`` talks to a
real ``gnome-keyring-daemon``, started per test in its own ``dbus-run-session`` with a throwaway
HOME (the machine's own keyring is never touched): login -> whoami -> push -> logout, and a
locked collection, which must end in a clear error within the timeout, never a hang. Skipped,
saying how to get them, when ``dbus-run-session`` or ``gnome-keyring-daemon`` is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from tests.cli_helpers import Result, run_cli

PROGRAMS = ("dbus-run-session", "gnome-keyring-daemon")
HOW_TO_GET = (
    "install them to run the real-keyring tests: apt-get install gnome-keyring dbus "
    "(Debian/Ubuntu), dnf install gnome-keyring dbus-daemon (Fedora)"
)
BACKEND = "keyring.backends.SecretService.Keyring"
COLLECTION_UNLOCK_PASSWORD = "pcc-env-test-login"  # the throwaway login collection's


@dataclass
class SecretService:
    env: dict[str, str]  # what a child process needs to reach this session's keyring
    home: Path

    def python(self, code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stored(self, api_host: str) -> str | None:
        out = self.python(
            f"import keyring, sys\nprint(keyring.get_password('pcc-env', {api_host!r}) is not None)"
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def lock(self) -> None:
        out = self.python(
            "import secretstorage\nc = secretstorage.dbus_init()\n"
            "col = secretstorage.get_default_collection(c)\ncol.lock()\nprint(col.is_locked())"
        )
        assert out.stdout.strip() == "True", out.stderr


@pytest.fixture
def secret_service(tmp_path: Path) -> Iterator[SecretService]:
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:
        pytest.skip(f"no {' or '.join(missing)} on this machine: {HOW_TO_GET}")
    pytest.importorskip("secretstorage", reason="keyring's Secret Service backend needs it")
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    addr = tmp_path / "bus-address"
    xdg = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_RUNTIME_DIR": str(runtime),
    }
    script = (
        'printf %s "$PCC_TEST_UNLOCK" | gnome-keyring-daemon --unlock --components=secrets '
        '>/dev/null && printf %s "$DBUS_SESSION_BUS_ADDRESS" > "$PCC_TEST_ADDR.tmp" && '
        'mv "$PCC_TEST_ADDR.tmp" "$PCC_TEST_ADDR" && exec sleep 600'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "DISPLAY"))}
    env.update(xdg, PCC_TEST_UNLOCK=COLLECTION_UNLOCK_PASSWORD, PCC_TEST_ADDR=str(addr))
    session = subprocess.Popen(
        ["dbus-run-session", "--", "sh", "-c", script],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not addr.exists():
            if session.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gnome-keyring did not start in its private D-Bus session")
            time.sleep(0.05)
        yield SecretService(
            {
                **xdg,
                "DBUS_SESSION_BUS_ADDRESS": addr.read_text(),
                "PYTHON_KEYRING_BACKEND": BACKEND,
            },
            home,
        )
    finally:
        # The session's own process group (this test started it): the bus goes, and
        # gnome-keyring-daemon, which lives on that bus, exits with it.
        os.killpg(session.pid, signal.SIGTERM)
        session.wait(timeout=10)


def cli(ss: SecretService, emulator: EmulatorServer, *args: str, **kw: object) -> Result:
    env = {
        **ss.env,
        "PIPECAT_API_HOST": emulator.api_host,
        "PCC_ENV_DATA_DIR": str(ss.home / "pcc-env-data"),
        "PCC_ENV_KEYRING_TIMEOUT": str(kw.pop("keyring_timeout", 15)),
    }
    r = run_cli(*args, env=env, **kw)  # type: ignore[arg-type]
    assert emulator.token not in r.output
    return r


def test_login_whoami_push_logout_through_the_secret_service(
    secret_service: SecretService, emulator: EmulatorServer, tmp_path: Path
) -> None:
    ss = secret_service
    r = cli(ss, emulator, "login", "--stdin", stdin=emulator.token + "\n")
    assert r.code == 0, r.output
    assert ss.stored(emulator.api_host) == "True"
    # gnome-keyring encrypts the collection on disk: the key is in no file of the session
    for path in ss.home.rglob("*"):
        if path.is_file():
            assert emulator.token.encode() not in path.read_bytes(), path

    who = cli(ss, emulator, "whoami", "--json")
    assert who.code == 0, who.output
    data = json.loads(who.stdout)
    assert data["keySource"] == "keyring" and data["accepted"] is True, data

    project = tmp_path / "bot"
    project.mkdir()
    (project / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "kr-set"\n')
    (project / ".env").write_text("OPENAI_API_KEY=sk-CANARY-keyring-7c2e\n")
    r = cli(ss, emulator, "push", "--yes", cwd=project)
    assert r.code == 0, r.output
    assert "sk-CANARY-keyring-7c2e" not in r.output
    listed = cli(ss, emulator, "secrets", "list", "--json")
    assert listed.code == 0 and "kr-set" in listed.stdout, listed.output

    r = cli(ss, emulator, "logout")
    assert r.code == 0, r.output
    assert ss.stored(emulator.api_host) == "False"
    assert cli(ss, emulator, "secrets", "list").code == 2  # no key any more


def test_a_locked_collection_fails_clearly_and_never_hangs(
    secret_service: SecretService, emulator: EmulatorServer
) -> None:
    ss = secret_service
    assert cli(ss, emulator, "login", "--stdin", stdin=emulator.token + "\n").code == 0
    ss.lock()

    # No unlock prompt can be shown here (no display): keyring says "locked" at once.
    start = time.monotonic()
    r = cli(ss, emulator, "whoami", keyring_timeout=10, timeout=60)
    assert r.code == 1, r.output
    assert "the OS keyring is locked" in r.stderr and "PIPECAT_API_KEY" in r.stderr, r.stderr
    assert time.monotonic() - start < 10

    # An unlock prompt that nobody answers (a desktop prompt on a screen nobody looks at):
    # a stand-in prompter takes the prompter's bus name and never replies.
    prompter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from jeepney.io.blocking import open_dbus_connection\n"
            "from jeepney.bus_messages import message_bus\n"
            "conn = open_dbus_connection(bus='SESSION')\n"
            "conn.send_and_get_reply(message_bus.RequestName("
            "'org.gnome.keyring.SystemPrompter', 4))\nprint('ready', flush=True)\n"
            "while True:\n    try:\n        conn.receive(timeout=60)\n"
            "    except TimeoutError:\n        pass\n",
        ],
        env={**os.environ, **ss.env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert prompter.stdout is not None and prompter.stdout.readline().strip() == "ready"
        start = time.monotonic()
        r = cli(ss, emulator, "secrets", "list", keyring_timeout=2, timeout=60)
        took = time.monotonic() - start
        assert r.code == 1, r.output
        assert "did not answer within 2s" in r.stderr and "locked" in r.stderr, r.stderr
        assert took < 15, took  # gnome-keyring itself would wait 25 s for the prompt
    finally:
        prompter.kill()
        prompter.wait(timeout=10)
