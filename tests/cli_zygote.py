"""A warm pcc-env for the tests: one server process per test process imports the CLI once, then
forks a child per ``run_cli`` call.

Each child is a real process of its own: its own pid, environment, working directory, fds 0-2
(files and a pipe the test reads), exit status and atexit handlers, running
``pcc_env.cli.main`` as the ``pcc-env`` console script does. What it skips is the interpreter's
start and the imports: ~0.35 s of CPU a call, against ~0.05 s forked, and the suite makes
thousands of calls on a machine of 2 cores.

Where a fork could differ from a fresh ``pcc-env``, ``run_cli`` starts a fresh one instead: an
environment that changes how the interpreter starts (``PYTHON*`` other than the keyring's
backend, the locale), and wherever ``PCC_ENV_TEST_FRESH=1`` is set (the whole suite can run that
way: ``PCC_ENV_TEST_FRESH=1 make unit``). Tests of start-up itself (imports, signals, argv,
completion) start ``pcc-env`` with ``subprocess`` directly and never come here.

Protocol, over a Unix socket: the client sends an 8-byte length with its three fds, then that
many bytes of JSON (argv, env, cwd); the server's helper answers ``{"pid": N}`` once the child
runs, then ``{"status": S}`` (``subprocess``'s returncode: negative for a signal).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

# What a command imports lazily, imported once here (never called: no keyring backend chosen, no
# client made, no env read).
WARM = [
    "pcc_env.cli.app",
    "pcc_env.cli.project",
    "pcc_env.cli.push",
    "pcc_env.cli.export",
    "pcc_env.cli.check",
    "pcc_env.cli.deploy",
    "pcc_env.cli.secrets",
    "pcc_env.cli.init",
    "pcc_env.cli.run",
    "pcc_env.cli.watch",
    "pcc_env.client",
    "pcc_env.sync",
    "pcc_env.targets",
    "pcc_env.redeploy",
    "pcc_env.watch",
    "pcc_env.project_init",
    "pcc_env.scan",
    "pcc_env.image",
    "pcc_env.reach",
    "pcc_env.discover",
    "pcc_env.build_context",
    "pcc_env.runtime",
    "keyring",
    "keyring.backends.fail",
    "httpx",
    "rich.console",
    "rich.table",
]

# Environment variables read when an interpreter starts: a call that sets them otherwise than
# the server's start gets a fresh process.
STARTUP_PREFIXES = ("PYTHON", "LC_")
STARTUP_NAMES = {"LANG", "LANGUAGE"}
RUNTIME_PYTHON_VARS = {"PYTHON_KEYRING_BACKEND"}  # read by keyring at its first call


def startup_env(env: dict[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in env.items()
        if (k.startswith(STARTUP_PREFIXES) or k in STARTUP_NAMES) and k not in RUNTIME_PYTHON_VARS
    }


# Server -------------------------------------------------------------------------------------------


def _recv_exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def _exit_code(code: object) -> int:
    """What the interpreter makes of ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(Exception):  # as the interpreter: an unprintable code still exits 1
        print(code, file=sys.stderr)
    return 1


def _run_child(fds: list[int], request: dict[str, Any]) -> None:
    """In the forked child: become ``pcc-env ARGS`` and never return."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = request["argv"]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            from pcc_env.cli import main

            code = _exit_code(main())  # the console script: sys.exit(main())
        except SystemExit as exc:
            code = _exit_code(exc.code)
        except KeyboardInterrupt:
            traceback.print_exc()
            sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)  # as the interpreter ends on one
        except BaseException:  # what the interpreter prints for an uncaught one
            sys.excepthook(*sys.exc_info())
            code = 1
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed pipe: the interpreter says so and exits 120
                code = code or 120
    finally:
        os._exit(code)


def _serve_one(conn: socket.socket) -> None:
    """In a helper forked per call: read the request, fork the child, report pid and status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    head, fds, _, _ = socket.recv_fds(conn, 8, 3)
    head += _recv_exactly(conn, 8 - len(head))
    (length,) = struct.unpack("!Q", head)
    request = json.loads(_recv_exactly(conn, length))
    pid = os.fork()
    if pid == 0:
        conn.close()
        _run_child(fds, request)
    for fd in fds:
        os.close(fd)
    _send(conn, {"pid": pid})
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    _send(conn, {"status": code})


def serve(path: str) -> None:
    for name in WARM:
        __import__(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # helpers are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(64)
    os.rename(path + ".tmp", path)  # exists only once it accepts
    parent = os.getppid()
    listener.settimeout(1.0)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test process is gone (killed): so is its server
                os._exit(0)
            continue
        conn.setblocking(True)
        if os.fork() == 0:
            listener.close()
            try:
                _serve_one(conn)
            finally:
                os._exit(0)
        conn.close()


# Client -------------------------------------------------------------------------------------------


class Zygote:
    """The server of this test process, started on first use, stopped at exit."""

    def __init__(self, python: str, env: dict[str, str], cwd: Path) -> None:
        self._dir = tempfile.mkdtemp(prefix="pcc-env-zygote-")
        self.path = os.path.join(self._dir, "s")
        self.env = env
        self.startup = startup_env(env)
        self.proc = subprocess.Popen(
            [python, "-c", f"from tests.cli_zygote import serve; serve({self.path!r})"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a test's Ctrl-C to its own process group never reaches it
        )
        atexit.register(self.stop)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def usable_for(self, env: dict[str, str]) -> bool:
        return self.proc.poll() is None and startup_env(env) == self.startup

    def _connect(self, deadline: float) -> socket.socket:
        while True:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(self.path)
                return sock
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the warm pcc-env server did not start") from None
                time.sleep(0.01)

    def run(
        self, argv: list[str], env: dict[str, str], stdin: str, cwd: str, timeout: float
    ) -> tuple[int, str, str]:
        """Run one ``pcc-env`` call; (returncode, stdout, stderr) as ``subprocess.run(...,
        text=True)`` gives them. ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            code = self._call(argv, env, stdin, cwd, timeout, deadline, out.fileno(), err.fileno())
            return code, _text(out), _text(err)

    def _call(
        self,
        argv: list[str],
        env: dict[str, str],
        stdin: str,
        cwd: str,
        timeout: float,
        deadline: float,
        out: int,
        err: int,
    ) -> int:
        read_fd, write_fd = os.pipe()
        feeder = threading.Thread(target=_feed, args=(write_fd, stdin.encode()), daemon=True)
        feeder.start()
        pid = None
        try:
            with self._connect(deadline) as sock:
                payload = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
                socket.send_fds(sock, [struct.pack("!Q", len(payload))], [read_fd, out, err])
                os.close(read_fd)
                read_fd = -1
                sock.sendall(payload)
                sock.settimeout(max(0.0, deadline - time.monotonic()))
                with sock.makefile("rb") as reader:
                    try:
                        pid = json.loads(reader.readline())["pid"]
                        line = reader.readline()
                    except TimeoutError:
                        line = b""
                if not line:
                    if pid is not None:
                        os.kill(pid, signal.SIGKILL)
                    raise subprocess.TimeoutExpired(argv, timeout)
                code: int = json.loads(line)["status"]
        finally:
            if read_fd >= 0:
                os.close(read_fd)
        feeder.join(1)
        return code


def _feed(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(data)
    except BrokenPipeError:  # the child did not read its stdin: as subprocess.run ignores it
        pass


def _text(file: Any) -> str:
    """Decoded as ``subprocess.run(text=True)`` does: the locale's encoding, universal newlines."""
    import io
    import locale

    file.seek(0)
    data = file.read()
    return io.TextIOWrapper(
        io.BytesIO(data), encoding=locale.getpreferredencoding(False), newline=None
    ).read()
