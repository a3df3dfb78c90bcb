"""Run the real ``pcc-env`` entry point as a child process, as a user would."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
PCC_ENV = str(Path(sys.executable).parent / "pcc-env")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    argv: list[str]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


_Server = TypeVar("_Server", bound="LoopbackServer")


class LoopbackServer:
    """A TCP server on a free 127.0.0.1 port for what the emulator cannot be (a hostile or a
    trickling server): each connection goes to ``_answer`` in a thread of its own. Leaving the
    ``with`` block stops it at once (a connection of its own wakes the accept)."""

    def __init__(self) -> None:
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self: _Server) -> _Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            socket.create_connection(self._sock.getsockname()[:2], timeout=5).close()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if self._stop.is_set():
                conn.close()
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        raise NotImplementedError


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment ``run_cli`` gives the CLI (for tests that need ``subprocess.Popen``)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIPECAT_", "PCC_ENV_", "PYTHON_KEYRING"))
    }
    base.update({"NO_COLOR": "1", "PYTHONPATH": str(ROOT), "COLUMNS": "200"})
    # No keyring unless a test chooses one: the machine's own must never be touched.
    base["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    if env and "HOME" in env:  # the platform's dirs under that HOME (conftest moved the suite's)
        for name in ("XDG_DATA_HOME", "XDG_CACHE_HOME"):
            base.pop(name, None)
    base.update(env or {})
    return base


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    argv = [PCC_ENV, *args]
    full_env = cli_env(env)
    warm = _warm_cli()
    if warm is not None and warm.usable_for(full_env):
        code, out, err = warm.run(argv, full_env, stdin or "", str(cwd or os.getcwd()), timeout)
        return Result(code, out, err, argv)
    proc = subprocess.run(
        argv,
        env=full_env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, argv)


_WARM: list[Any] = []


def _warm_cli() -> Any:
    """This test process's warm pcc-env (tests/cli_zygote.py), or None where it cannot run:
    not Linux, or PCC_ENV_TEST_FRESH=1 (every call a fresh process)."""
    if os.environ.get("PCC_ENV_TEST_FRESH") == "1" or sys.platform != "linux":
        return None
    if not _WARM:
        from tests.cli_zygote import Zygote

        _WARM.append(Zygote(sys.executable, cli_env(), ROOT))
    return _WARM[0]


def start_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """The CLI as a running process (for tests that signal it), stdin closed, output piped."""
    return subprocess.Popen(
        [PCC_ENV, *args],
        env=cli_env(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    """Poll ``condition`` until it holds: the wait a test needs, not a guess at how long that is
    (the timeout only bounds a failure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what or condition}"
        time.sleep(0.01)


def interrupt_when(
    proc: subprocess.Popen[str],
    ready: Callable[[], bool],
    timeout: float = 30,
    settle: float = 0,
) -> tuple[str, str, float]:
    """Ctrl-C (SIGINT) to ``proc`` ``settle`` seconds after ``ready()``: (stdout, stderr,
    seconds it took to exit)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    time.sleep(settle)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return out, err, time.monotonic() - sent


def run_against(emu: Any, cwd: Path, *args: str, stdin: str | None = None, **env: str) -> Result:
    """``pcc-env ARGS`` in ``cwd``, pointed at emulator ``emu``, with a data dir of its own."""
    return run_cli(
        *args,
        cwd=cwd,
        stdin=stdin,
        env={
            "PIPECAT_API_HOST": emu.api_host,
            "PIPECAT_API_KEY": emu.token,
            "PCC_ENV_DATA_DIR": str(cwd / ".state"),
            **env,
        },
    )


def write_requests(emu: Any) -> int:
    """PUTs and DELETEs the emulator served (its own instruments left out)."""
    counts = emu.stats()["requests"]
    return sum(n for route, n in counts.items() if route.startswith(("PUT", "DELETE")))


def command_tree() -> list[tuple[str, Any, list[Any]]]:
    """Every command and group of ``pcc-env`` (root included, path "" for it): its path, the
    Click command, and its parameters as parsed (the help option included)."""
    import typer

    from pcc_env.cli.app import app

    found: list[tuple[str, Any, list[Any]]] = []

    def walk(command: Any, path: list[str], parent: Any) -> None:
        name = path[-1] if path else "pcc-env"
        ctx = typer.Context(command, parent=parent, info_name=name, **command.context_settings)
        found.append((" ".join(path), command, command.get_params(ctx)))
        for sub_name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, sub_name], ctx)

    walk(typer.main.get_command(app), [], None)
    return found


def run_in_terminal(
    *args: str,
    columns: int,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    """Run the real entry point on a pseudo-terminal ``columns`` wide (window size and
    ``COLUMNS``), stdin, stdout and stderr all on it; ``stdout`` is everything it showed, with
    colour codes and carriage returns removed."""
    import fcntl
    import pty
    import re
    import select
    import struct
    import termios
    import time

    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    argv = [PCC_ENV, *args]
    proc = subprocess.Popen(
        argv,
        env=cli_env({**(env or {}), "COLUMNS": str(columns), "TERM": "xterm"}),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        cwd=cwd,
        start_new_session=True,
    )
    os.close(secondary)
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            shown += data
        code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))
    return Result(code, text.replace("\r", ""), "", argv)


def pipecat_cli_path() -> str:
    """The real ``pipecat`` executable ($PCC_ENV_PIPECAT_CLI, else .venv-pipecat's): a skip
    saying how to get it, or a failure on CI, where ``make test`` installs it."""
    import pytest

    path = os.environ.get("PCC_ENV_PIPECAT_CLI") or str(ROOT / ".venv-pipecat" / "bin" / "pipecat")
    if not os.access(path, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"the pipecat CLI is not installed at {path} (make test installs it)")
        pytest.skip(f"the pipecat CLI is not installed at {path}; run 'make test'")
    return path


def run_on_machine(emu: Any, cwd: Path, *args: str) -> Result:
    """``pcc-env ARGS`` in one machine's checkout ``cwd``, with that machine's own data dir
    (``cwd/.state``), against the emulator ``emu``: laptop A, laptop B and CI in one test."""
    return run_cli(*args, cwd=cwd, env={**emu.env(), "PCC_ENV_DATA_DIR": str(cwd / ".state")})


def emulator_api(emu: Any, method: str, path: str, body: Any = None) -> Any:
    """One request to the emulator's REST API (or its ``/_emulator`` instruments), as another
    tool would send it; the JSON answer."""
    import httpx

    headers = {"Authorization": f"Bearer {emu.token}"}
    with httpx.Client(base_url=emu.api_host, headers=headers) as http:
        response = http.request(method, path, json=body)
    response.raise_for_status()
    return response.json()
