"""Hostile input against the features of session 4 (run, init, completion, check-files...):
each test failed before the fix it names, through the real entry point where it can."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import AliasChoices, Field, SecretStr

from pcc_env.run import MASK, child_environment, values_to_mask
from pcc_env.runtime import SecretSettings
from tests.cli_helpers import PCC_ENV, cli_env, run_cli
from tests.test_no_leaks import Canaries

MASK_TEXT = MASK.decode()

# init -------------------------------------------------------------------------------------------


def test_init_survives_a_default_too_large_to_write(tmp_path: Path) -> None:
    """``os.getenv("X", 0xfff...)``: Python refuses to turn an int of more than 4300 digits
    into text, and init crashed with a traceback writing the model. Such a default is no
    configuration value: the field is optional with its default computed in code."""
    (tmp_path / "bot.py").write_text(
        f'import os\nWORKERS = os.getenv("WORKERS", 0x{"f" * 5000})\nos.getenv("PORT_X", 8080)\n'
    )
    r = run_cli("init", "--yes", cwd=tmp_path, env={"PCC_ENV_DATA_DIR": str(tmp_path / ".s")})
    assert r.code == 0, r.output
    assert "Traceback" not in r.output
    assert "WORKERS\tstr\toptional\tbot.py:2" in r.stdout
    assert "PORT_X\tint\tdefault 8080\tbot.py:3" in r.stdout
    settings = (tmp_path / "settings.py").read_text()
    assert "its default is computed in code" in settings
    assert "fff" not in settings


def test_init_skips_a_conda_environment_and_pep_582_packages(tmp_path: Path) -> None:
    """``conda create -p ./env`` puts a whole Python in the project: no ``pyvenv.cfg``, and its
    standard library sits in ``lib/python3.X`` outside ``site-packages``; pdm's
    ``__pypackages__/3.X/lib`` holds packages with no ``site-packages`` either. Their
    ``os.getenv`` calls became fields of the bot's model."""
    (tmp_path / "bot.py").write_text('import os\nos.getenv("OPENAI_API_KEY")\n')
    conda = tmp_path / "env" / "lib" / "python3.12"
    conda.mkdir(parents=True)
    (tmp_path / "env" / "conda-meta").mkdir()
    (conda / "ssl_like.py").write_text('import os\nos.getenv("FROM_THE_STDLIB")\n')
    pep582 = tmp_path / "__pypackages__" / "3.12" / "lib" / "dep"
    pep582.mkdir(parents=True)
    (pep582 / "__init__.py").write_text('import os\nos.getenv("FROM_A_DEPENDENCY")\n')
    r = run_cli("init", "--dry-run", cwd=tmp_path, env={"PCC_ENV_DATA_DIR": str(tmp_path / ".s")})
    assert r.code == 0, r.output
    assert "Scanned 1 Python file(s)" in r.stdout
    assert "FROM_THE_STDLIB" not in r.output and "FROM_A_DEPENDENCY" not in r.output


# run: which values are masked -------------------------------------------------------------------


class AliasedBot(SecretSettings):
    openai_api_key: SecretStr = Field(validation_alias=AliasChoices("OPENAI_API_KEY", "OPENAI_KEY"))
    pin: SecretStr = Field(validation_alias=AliasChoices("PIN", "BOT_PIN"))
    voice_id: str = Field("v", validation_alias=AliasChoices("VOICE_ID", "TTS_VOICE"))


def test_values_to_mask_knows_every_name_of_a_secret_field() -> None:
    """A ``SecretStr`` field read under its second alias (``AliasChoices``) was not taken for a
    secret: a short value of it in .env, or any value of it in the shell, was shown."""
    values = {"BOT_PIN": "4242", "TTS_VOICE": "71a7ad14-091c"}
    environ = child_environment({"OPENAI_KEY": "sk-from-the-shell"}, values)
    assert values_to_mask(values, environ, AliasedBot) == ["sk-from-the-shell", "4242"]


def test_run_masks_a_secret_field_set_under_its_second_alias(tmp_path: Path) -> None:
    canaries = Canaries()
    from_shell, pin = canaries.new(), "4242"
    (tmp_path / "bot.py").write_text(
        "from pydantic import AliasChoices, Field, SecretStr\n"
        "from pcc_env import SecretSettings\n\n"
        "class Settings(SecretSettings):\n"
        "    openai_api_key: SecretStr = Field(\n"
        "        validation_alias=AliasChoices('OPENAI_API_KEY', 'OPENAI_KEY'))\n"
        "    pin: SecretStr = Field(validation_alias=AliasChoices('PIN', 'BOT_PIN'))\n"
    )
    (tmp_path / ".env").write_text(f"BOT_PIN={pin}\n")
    code = "import os; print(os.environ['OPENAI_KEY'], 'pin=' + os.environ['BOT_PIN'])"
    r = run_cli(
        "run", "--settings", "bot:Settings", "--", sys.executable, "-c", code,
        cwd=tmp_path, env={"OPENAI_KEY": from_shell},
    )  # fmt: skip
    assert r.code == 0, r.output
    canaries.assert_absent(r.output, "run's output")
    assert r.stdout == f"{MASK_TEXT} pin={MASK_TEXT}\n"


# check-files -------------------------------------------------------------------------------------


def test_check_files_refuses_a_key_commented_out_with_its_value(tmp_path: Path) -> None:
    """``# OPENAI_API_KEY=sk-...`` (a key put aside in .env.staging) passed the no-values hook:
    a comment, but the value is in the commit all the same."""
    canaries = Canaries()
    (tmp_path / "staging.env").write_text(
        f"A=\n# OPENAI_API_KEY={canaries.new()}\n"
        f"#export B='{canaries.new()}'\n##C = {canaries.new()}\n"
    )
    # A template's comments, and keys commented out without a value, still pass.
    template = "# comment: with = sign\n# D=\n# E=''\n# default: INFO\nF=\n"
    (tmp_path / ".env.example").write_text(template)
    r = run_cli("check-files", "staging.env", ".env.example", cwd=tmp_path)
    assert r.code == 1, r.output
    assert "staging.env: lines 2, 3, 4 hold values" in r.stderr
    assert ".env.example" not in r.stderr.split("Keep values")[0]
    canaries.assert_absent(r.output, "check-files output")


def _answer_prompt_after(argv: list[str], cwd: Path, meanwhile: Callable[[], None]) -> int:
    """Run ``argv`` on a terminal; when it asks to confirm, call ``meanwhile`` (another
    program editing the project), then answer yes. Returns the exit code."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=cli_env({"PCC_ENV_DATA_DIR": str(cwd / ".s")}),
        stdin=secondary, stdout=secondary, stderr=secondary, start_new_session=True,
    )  # fmt: skip
    os.close(secondary)
    shown, deadline = b"", time.monotonic() + 30
    try:
        while b"Write these files?" not in shown and time.monotonic() < deadline:
            if select.select([primary], [], [], 0.2)[0]:
                shown += os.read(primary, 65536)
        assert b"Write these files?" in shown, shown
        meanwhile()
        os.write(primary, b"y\n")
        while select.select([primary], [], [], 10)[0]:
            try:
                if not os.read(primary, 65536):
                    break
            except OSError:
                break
        return proc.wait(timeout=30)
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()


def test_init_never_writes_over_a_file_created_while_it_asked(tmp_path: Path) -> None:
    """The plan said "create settings.py"; while the question was on screen the user (or their
    editor) wrote one. Answering yes wrote init's model over it."""
    (tmp_path / "bot.py").write_text('import os\nos.getenv("OPENAI_API_KEY")\n')
    (tmp_path / ".gitignore").write_text("build/\n")
    mine = "# my own settings, written while init was asking\n"

    def meanwhile() -> None:
        (tmp_path / "settings.py").write_text(mine)

    code = _answer_prompt_after([PCC_ENV, "init"], tmp_path, meanwhile)
    assert code == 2
    assert (tmp_path / "settings.py").read_text() == mine
    assert not (tmp_path / ".env.example").exists()  # nothing written: every check came first
    assert (tmp_path / ".gitignore").read_text() == "build/\n"
    # Unchanged meanwhile: written as planned.
    (tmp_path / "settings.py").unlink()
    assert _answer_prompt_after([PCC_ENV, "init"], tmp_path, lambda: None) == 0
    assert "class Settings(SecretSettings)" in (tmp_path / "settings.py").read_text()


# completion ------------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(body: bytes) -> Iterator[str]:
    """A hostile API host: every GET answers ``body`` (200, JSON) at once."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def complete(line: str, cache: Path, host: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    words = line.split(" ")
    env = {
        "_PCC_ENV_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
        "XDG_CACHE_HOME": str(cache),
        "PIPECAT_API_HOST": host,
        "PIPECAT_API_KEY": "k",
    }
    started = time.monotonic()
    r = subprocess.run([PCC_ENV], env=cli_env(env), capture_output=True, text=True, timeout=120)
    return time.monotonic() - started, r


@pytest.mark.serial  # a second of budget, measured against a start-up measured beside it
@pytest.mark.timeout(180)
def test_a_huge_set_list_keeps_a_tab_within_its_second(tmp_path: Path) -> None:
    """A server answering 300,000 set names (25 MB, at once, within the deadline): the
    completion read it in time, then spent seconds and hundreds of MB parsing it, past the
    one-second budget, and cached all of it (every later Tab parsed 8 MB)."""
    sets = [
        {"name": f"set-{i:07d}", "type": "secret", "region": "us-west", "status": "ready"}
        for i in range(300_000)
    ]
    sets.append({"name": "evil\x1b]0;pwn\x07", "type": "secret", "region": "x", "status": "ready"})
    with serving(json.dumps({"sets": sets}).encode()) as host:
        baseline = min(complete("pcc-env secr", tmp_path / "c", host)[0] for _ in range(2))
        elapsed, r = complete("pcc-env push --set evil", tmp_path / "c", host)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr == ""
    assert elapsed < baseline + 1.5, (elapsed, baseline)


# run: signals -----------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_ctrl_c_reaches_a_child_that_left_our_process_group(tmp_path: Path) -> None:
    """A command that puts itself in a process group of its own (``os.setpgrp()``, as process
    managers do) no longer gets the terminal's Ctrl-C: only pcc-env does. pcc-env took it for
    already delivered and did not forward it, so Ctrl-C did nothing at all."""
    (tmp_path / ".env").write_text("A=1\n")  # nothing to mask: the child writes to the terminal
    code = textwrap.dedent(
        """
        import os, signal, sys, time
        os.setpgrp()
        got = []
        signal.signal(signal.SIGINT, lambda *_: got.append(1))
        print("ready", flush=True)
        deadline = time.monotonic() + 20
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # a second delivery would arrive meanwhile
        print(f"count={len(got)}", flush=True)
        sys.exit(42)
        """
    )
    env = cli_env()
    pid, fd = pty.fork()  # pcc-env leads a new session whose terminal is this pty
    if pid == 0:  # pragma: no cover - the child process
        os.chdir(tmp_path)
        os.execve(PCC_ENV, [PCC_ENV, "run", "--", sys.executable, "-c", code], env)
    try:
        assert b"ready" in _read_until(fd, b"ready")
        os.write(fd, b"\x03")  # Ctrl-C, as typed
        assert b"count=1" in _read_until(fd, b"count=")
        _, status = os.waitpid(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 42


def _read_until(fd: int, needle: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not data:
                break
            seen += data
    return seen
