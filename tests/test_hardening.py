"""Hostile and careless input against the real ``pcc-env`` entry point (issue 10): files that are
not files, values in every format, non-UTF-8 bytes, a server that sends terminal escapes, an
unwritable data directory, usage errors that must not repeat what was typed."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import PCC_ENV, ROOT, Result, run_cli

CANARY = "sk_live_CANARYhard0e1f2a3b"


@pytest.fixture(scope="module")
def live() -> Iterator[EmulatorServer]:
    with run_emulator(provision_delay=0) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text("A=1\nB=2\n")
    return tmp_path


def cli(
    live: EmulatorServer, cwd: Path, *args: str, stdin: str | None = None, **env: str
) -> Result:
    base = {**live.env(), "PCC_ENV_DATA_DIR": str(cwd / ".state"), **env}
    return run_cli(*args, env=base, cwd=cwd, stdin=stdin, timeout=30)


def writes(live: EmulatorServer) -> list[str]:
    return [w["method"] for w in live.stats()["writes"]]


# Item 2: usage errors never print an argument ------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["login", CANARY], "never from the command line"),
        (["secrets", "image-pull-secret", "pull-set", "ghcr.io", f"user:{CANARY}"], "--stdin"),
        (["push", "--timeout", CANARY], "'--timeout'"),
        ([CANARY], "no such command"),
        ([f"--{CANARY}"], "no such option"),
        (["push", f"--{CANARY}=1"], "no such option"),
        (["secrets", "list", f"--json={CANARY}"], "does not take a value"),
        (["secrets", "set", "ok-set", "TOKEN", CANARY], "has no '='"),
    ],
)
def test_usage_errors_never_echo_an_argument(
    live: EmulatorServer, project: Path, argv: list[str], hint: str
) -> None:
    live.reset_stats()
    r = cli(live, project, *argv)
    assert r.code == 2, r.output
    assert hint in r.output
    assert CANARY not in r.output and "CANARY" not in r.output
    assert "Traceback" not in r.output
    assert live.stats()["total"] == 0


# Items 1 and 3: one report of a bad line, by number, and no python-dotenv warnings -------------


PEM = (
    "A=1\n"
    "PRIVATE_KEY=-----BEGIN EC PRIVATE KEY-----\n"
    f"MHcCAQEEI{CANARY}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
    f"AwEHoUQDQgAE{CANARY}yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\n"
    "-----END EC PRIVATE KEY-----\n"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["push", "--set", "pem-set"],
        ["push", "--set", "pem-set", "--skip-empty"],
        ["secrets", "set", "pem-set", "--file", ".env"],
    ],
)
def test_unquoted_pem_is_refused_once_by_line_number(
    live: EmulatorServer, project: Path, argv: list[str]
) -> None:
    (project / ".env").write_text(PEM)
    live.reset_stats()
    r = cli(live, project, *argv)
    assert r.code == 2
    assert "lines 3, 4: no '='" in r.stderr and "double quotes" in r.stderr
    assert "could not parse" not in r.output  # python-dotenv's own warning
    assert r.stderr.count("lines 3, 4") == 1 and r.stderr.count("line 5:") == 1  # once each
    assert "CANARY" not in r.output and "MHcCAQ" not in r.output
    assert live.stats()["total"] == 0


def test_check_env_file_reports_a_bad_line_once(live: EmulatorServer, project: Path) -> None:
    (project / "settings_mod.py").write_text(
        "from pcc_env import SecretSettings\n\nclass Settings(SecretSettings):\n    a: str\n"
    )
    (project / ".env").write_text(PEM)
    live.reset_stats()
    cli(live, project, "secrets", "set", "chk-set", "A=1")
    r = cli(
        live,
        project,
        "check",
        "--set",
        "chk-set",
        "--settings",
        "settings_mod:Settings",
        "--env-file",
        ".env",
        PYTHONPATH=f"{project}:{ROOT}",
    )
    assert r.code == 1, r.output
    assert "no '='" in r.output and "could not parse" not in r.output
    assert "CANARY" not in r.output and "Traceback" not in r.output


# Items 12, 14, 18: files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "existing",
    [
        "A: sk-yaml-CANARY\n",
        '{"A": "sk-json-CANARY"}\n',
        "export A sk-shell-CANARY\n",
        "A=sk-dotenv-CANARY\n",
        "A=\nB=sk-dotenv-CANARY\n",
    ],
)
@pytest.mark.parametrize("force", [False, True])
def test_export_never_overwrites_values_in_any_format(
    live: EmulatorServer, project: Path, existing: str, force: bool
) -> None:
    cli(live, project, "secrets", "set", "exp-set", "A=1", "B=2")
    out = project / "secrets.yaml"
    out.write_text(existing)
    out.chmod(0o600)
    live.reset_stats()
    r = cli(
        live,
        project,
        "export",
        "--set",
        "exp-set",
        "--output",
        "secrets.yaml",
        *(["--force"] * force),
    )
    assert r.code == 2, r.output
    assert "holds values" in r.stderr and "CANARY" not in r.output
    assert out.read_text() == existing
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert live.stats()["total"] == 0  # refused before anything was fetched


def test_export_keeps_the_mode_of_an_existing_template(live: EmulatorServer, project: Path) -> None:
    cli(live, project, "secrets", "set", "mode-set", "A=1", "B=2")
    out = project / ".env.example"
    out.write_text("# mine\nA=\n")
    out.chmod(0o600)
    r = cli(live, project, "export", "--set", "mode-set", "--output", ".env.example")
    assert r.code == 0, r.output
    assert "B=" in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def _special(kind: str, tmp_path: Path) -> str:
    if kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
        return str(path)
    if kind == "directory":
        path = tmp_path / "a-directory"
        path.mkdir()
        return str(path)
    return "/dev/zero"


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
@pytest.mark.parametrize("where", ["env-file", "output", "deploy-file", "set-file", "pyproject"])
def test_non_regular_files_are_refused_at_once(
    live: EmulatorServer, tmp_path: Path, kind: str, where: str
) -> None:
    special = _special(kind, tmp_path)
    argv = {
        "env-file": ["push", special, "--set", "ok-set"],
        "output": ["export", "--set", "ok-set", "--output", special],
        "deploy-file": ["push", "--deploy-file", special],
        "set-file": ["secrets", "set", "ok-set", "--file", special],
        "pyproject": ["push", "--set", "ok-set"],
    }[where]
    if where == "pyproject":  # read for [tool.pcc-env] by every command that takes a set
        (tmp_path / "pyproject.toml").symlink_to(special)
    (tmp_path / ".env").write_text("A=1\n")
    live.reset_stats()
    started = time.monotonic()
    r = cli(live, tmp_path, *argv)
    assert time.monotonic() - started < 15
    assert r.code == 2, r.output
    assert "directory" in r.stderr if kind == "directory" else "not a regular file" in r.stderr
    assert "Traceback" not in r.output and "MemoryError" not in r.output
    assert live.stats()["total"] == 0


def test_export_onto_a_non_utf8_file(live: EmulatorServer, project: Path) -> None:
    out = project / "latin1.example"
    out.write_bytes(b"# caf\xe9\nA=\n")
    r = cli(live, project, "export", "--set", "ok-set", "--output", "latin1.example")
    assert r.code == 2 and "line 1: not valid UTF-8" in r.stderr
    assert "Traceback" not in r.output
    assert out.read_bytes() == b"# caf\xe9\nA=\n"


def _run_bytes(live: EmulatorServer, cwd: Path, argv: list[bytes], stdin: bytes) -> tuple[int, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))},
        **live.env(),
        "PCC_ENV_DATA_DIR": str(cwd / ".state"),
        "PYTHONPATH": str(ROOT),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    proc = subprocess.run(
        [PCC_ENV.encode(), *argv], env=env, cwd=cwd, input=stdin, capture_output=True, timeout=30
    )
    return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", "replace")


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_non_utf8_values_from_argv_and_stdin(
    live: EmulatorServer, project: Path, locale: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", locale)
    live.reset_stats()
    code, out = _run_bytes(live, project, [b"secrets", b"set", b"u8-set", b"K=v\xff"], b"")
    assert code == 2 and "not valid UTF-8" in out and "Traceback" not in out
    code, out = _run_bytes(
        live, project, [b"secrets", b"set", b"u8-set", b"K", b"--stdin"], b"v\xff\n"
    )
    assert code == 2 and "UTF-8" in out and "Traceback" not in out
    code, out = _run_bytes(live, project, [b"push", b"x\xff.env", b"--set", b"u8-set"], b"")
    assert code == 2 and "file not found" in out and "Traceback" not in out
    assert live.stats()["total"] == 0


@pytest.mark.serial  # Ctrl-C 60 ms after the spawn: a loaded machine is not at the entry point yet
def test_ctrl_c_during_start_up_exits_130_without_a_traceback(tmp_path: Path) -> None:
    # From the moment pcc-env's entry point runs (the interpreter itself takes ~20 ms to get
    # there) through imports, parsing and the command: one line, exit 130.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))}
    env.update({"PYTHONPATH": str(ROOT), "PIPECAT_API_KEY": "k"})
    for delay in (0.06, 0.09, 0.12, 0.15, 0.2, 0.3, 0.5):
        proc = subprocess.Popen(
            [PCC_ENV, "secrets", "list", "--api-host", "http://127.0.0.1:9"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        # Before the signal, retries of the refused connection may have been reported.
        lines = err.splitlines()
        assert proc.returncode == 130 and lines[-1:] == ["Error: interrupted"], (delay, err)
        assert all("retrying" in line for line in lines[:-1]), (delay, err)


# Items 13 and 15: the data directory ---------------------------------------------------------


def test_data_dirs_are_created_0700_whatever_the_umask(live: EmulatorServer, project: Path) -> None:
    state = project / "deep" / "state"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))},
        **live.env(),
        "PCC_ENV_DATA_DIR": str(state),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [PCC_ENV, "push", "--set", "umask-set", "--no-wait"],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=lambda: os.umask(0),
    )
    assert proc.returncode == 0, proc.stderr
    for directory in (project / "deep", state):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE((state / "push-state.json").stat().st_mode) == 0o600


def test_an_unwritable_data_dir_is_found_before_the_put(
    live: EmulatorServer, project: Path
) -> None:
    blocker = project / "a-file"
    blocker.write_text("")
    live.reset_stats()
    r = cli(live, project, "push", "--set", "nowrite-set", PCC_ENV_DATA_DIR=str(blocker / "x"))
    assert r.code == 2, r.output
    assert "PCC_ENV_DATA_DIR" in r.stderr and "Nothing was sent" in r.stderr
    assert "Traceback" not in r.output
    assert writes(live) == []


# Item 21: strings from the server are escaped ------------------------------------------------


class _HostileApi(BaseHTTPRequestHandler):
    """Answers like the secrets API, with terminal escapes and line breaks in every string."""

    def do_GET(self) -> None:
        if self.path == "/v1/secrets":
            body = {
                "sets": [
                    {
                        "name": "evil\x1b[2J\nFAKE-LINE",
                        "type": "secret",
                        "region": "us-west\x1b]0;title\x07",
                        "status": "failed",
                        "errorMessage": "boom\r\nInjected: all good\u202e",
                    }
                ]
            }
            self._send(200, body)
        else:
            self._send(404, {"error": "not found\x1b[31m\nInjected error line", "code": "x\x1b"})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(
    "argv", [["secrets", "list"], ["secrets", "list", "some-set"], ["check", "--set", "some-set"]]
)
def test_server_strings_are_printed_escaped(
    hostile_api: str, tmp_path: Path, argv: list[str]
) -> None:
    r = run_cli(*argv, env={"PIPECAT_API_HOST": hostile_api, "PIPECAT_API_KEY": "k"}, cwd=tmp_path)
    for char in ("\x1b", "\x07", "\r", "\u202e"):
        assert char not in r.output, (char, r.output)
    assert not any(line.startswith(("FAKE-LINE", "Injected")) for line in r.output.splitlines()), (
        r.output
    )
    assert "Traceback" not in r.output


def test_ctrl_c_inside_a_command_s_import_is_delivered_once_the_import_is_over(
    tmp_path: Path,
) -> None:
    """Commands import what they use as they go; a KeyboardInterrupt raised inside an import
    can be swallowed by importlib ("Exception ignored in ...") and the command goes on. After
    start-up, Ctrl-C inside an import arrives as soon as the import is over."""
    (tmp_path / "slow_module.py").write_text(
        "import signal\nsignal.raise_signal(signal.SIGINT)\ntotal = sum(range(2_000_000))\n"
    )
    code = (
        "import sys, time\n"
        "from pcc_env.cli import interrupts\n"
        "interrupts.defer()\n"
        "interrupts.release()\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "try:\n"
        "    import slow_module\n"
        "    print('imported', flush=True)\n"
        "    time.sleep(5)\n"
        "    print('never interrupted')\n"
        "except KeyboardInterrupt:\n"
        "    where = 'after' if 'slow_module' in sys.modules else 'inside'\n"
        "    print('interrupted', where, 'import')\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert r.stdout.splitlines()[-1:] == ["interrupted after import"], r.stdout + r.stderr
    assert "Exception ignored" not in r.stderr and "Traceback" not in r.stderr, r.stderr
