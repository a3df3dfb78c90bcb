"""``pcc-env run``: the masker alone (every chunk boundary), then the real entry point running
real child processes: environment, masking, exit codes, signals, refusals, canaries."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from pcc_env.run import MASK, StreamMasker, child_environment, values_to_mask
from pcc_env.runtime import SecretSettings
from tests.cli_helpers import PCC_ENV, cli_env, run_cli
from tests.test_no_leaks import Canaries

PY = sys.executable
MASK_TEXT = MASK.decode()


# The masker ------------------------------------------------------------------------------------


def reference(values: list[bytes], stream: bytes) -> bytes:
    """What masking the whole stream at once gives: longest value first at each position."""
    ordered = sorted(set(values), key=lambda v: (-len(v), v))
    return re.sub(b"|".join(map(re.escape, ordered)), lambda _m: MASK, stream)


def masked_in_chunks(values: list[bytes], chunks: list[bytes]) -> bytes:
    masker = StreamMasker(values)
    return b"".join(masker.feed(c) for c in chunks) + masker.close()


STREAMS = [
    # (values, stream)
    ([b"sk-live-123456"], b"key=sk-live-123456\n"),
    ([b"sk-live-123456"], b"sk-live-123456"),  # the whole stream
    ([b"sk-live-123456"], b"sk-live-123456sk-live-123456 and sk-live-12345 (one short)"),
    ([b"abcdef", b"abcdefgh"], b"xx abcdefgh yy abcdefg zz abcdef"),  # nested: longest first
    ([b"abcdef", b"defghi"], b"abcdefghi / defghi / abcdef"),  # overlapping: leftmost first
    ([b"aaaaaa"], b"aaaaaaaaaaaaa"),  # self-overlapping
    (["pässwört-ü".encode()], "say pässwört-ü!".encode()),  # split inside a UTF-8 character
    ([b"secret1", b"secret2"], b"secret1secret2secret3 secret"),  # ends on a prefix of both
    ([b"line1\nline2"], b"pem: line1\nline2\nline1\n"),  # multi-line value
]


@pytest.mark.parametrize(("values", "stream"), STREAMS)
def test_masker_every_split_in_two(values: list[bytes], stream: bytes) -> None:
    want = reference(values, stream)
    assert want != stream
    for i in range(len(stream) + 1):
        assert masked_in_chunks(values, [stream[:i], stream[i:]]) == want, i


@pytest.mark.parametrize(("values", "stream"), STREAMS)
def test_masker_every_split_in_three(values: list[bytes], stream: bytes) -> None:
    want = reference(values, stream)
    for i, j in itertools.combinations(range(len(stream) + 1), 2):
        assert masked_in_chunks(values, [stream[:i], stream[i:j], stream[j:]]) == want, (i, j)


@pytest.mark.parametrize(("values", "stream"), STREAMS)
def test_masker_byte_by_byte(values: list[bytes], stream: bytes) -> None:
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    assert masked_in_chunks(values, chunks) == reference(values, stream)


def test_masker_random_streams_and_chunkings() -> None:
    rng = random.Random(1234)
    alphabet = b"abc-"
    for _ in range(300):
        values = [
            bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
            for _ in range(rng.randint(1, 4))
        ]
        stream = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        cuts = sorted(rng.sample(range(len(stream) + 1), min(len(stream) + 1, rng.randint(0, 6))))
        chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert masked_in_chunks(values, chunks) == reference(values, stream), (values, stream)


def test_masker_holds_back_only_what_could_become_a_value() -> None:
    masker = StreamMasker(["sk-live-123456"])
    assert masker.feed(b"Enter your name: ") == b"Enter your name: "  # no prefix: shown at once
    assert masker.feed(b"token sk-live") == b"token "  # "sk-live" may be the start of the value
    assert masker.feed(b"-12") == b""
    assert masker.feed(b"x") == b"sk-live-12x"  # it was not
    assert masker.feed(b"sk-live-123456") == MASK
    assert masker.feed(b" sk-") == b" "
    assert masker.close() == b"sk-"  # end of stream: a partial value is just text


def test_masker_without_values_passes_everything() -> None:
    masker = StreamMasker([])
    assert masker.feed(b"anything") == b"anything"
    assert masker.close() == b""


class Bot(SecretSettings):
    openai_api_key: SecretStr
    pin: SecretStr  # short, but declared secret
    voice_id: str  # long, but declared not secret
    log_level: str = "INFO"


def test_values_to_mask_without_a_model() -> None:
    values = {"LONG": "abcdef", "SHORT": "abcde", "TOKEN": "t0k3n-value"}
    assert values_to_mask(values, child_environment({}, values)) == ["t0k3n-value", "abcdef"]


def test_values_to_mask_with_a_model() -> None:
    values = {
        "openai_api_key": "sk-1234567",  # a key of any case, as pydantic-settings reads it
        "PIN": "4242",
        "VOICE_ID": "71a7ad14-091c-4e8e",
        "LOG_LEVEL": "WARNING",
        "UNDECLARED": "undeclared-long",
        "TINY": "abc",
    }
    # A SecretStr field set in the process environment (not the .env) is concealed too.
    environ = child_environment({"PIN_UNUSED": "x", "OPENAI_API_KEY": "sk-from-shell"}, values)
    got = values_to_mask(values, environ, Bot)
    assert set(got) == {"sk-1234567", "sk-from-shell", "4242", "undeclared-long"}
    assert got == sorted(got, key=len, reverse=True)


def test_child_environment_puts_the_file_over_the_process() -> None:
    env = child_environment({"A": "shell", "PATH": "/bin"}, {"A": "file"})
    assert env == {"A": "file", "PATH": "/bin"}


# The command -----------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "bot"
    root.mkdir()
    return root


def write_env(project: Path, text: str, name: str = ".env") -> Path:
    path = project / name
    path.write_text(textwrap.dedent(text))
    return path


def child(code: str) -> list[str]:
    """A Python child running ``code`` (dedented)."""
    return ["--", PY, "-c", textwrap.dedent(code)]


def test_child_sees_the_values_literally(project: Path) -> None:
    write_env(
        project,
        """\
        OPENAI_API_KEY=sk-test-123456
        QUOTED="a b # not a comment"
        SINGLE='p@ss$word'
        """,
    )
    out = project / "seen.txt"
    r = run_cli(
        "run",
        *child(
            f"""
            import json, os
            keys = ["OPENAI_API_KEY", "QUOTED", "SINGLE", "HOME"]
            open({str(out)!r}, "w").write(json.dumps({{k: os.environ.get(k) for k in keys}}))
            """
        ),
        cwd=project,
        env={"HOME": "/home/someone", "QUOTED": "from the shell"},
    )
    assert r.code == 0, r.output
    seen = __import__("json").loads(out.read_text())
    assert seen == {
        "OPENAI_API_KEY": "sk-test-123456",
        "QUOTED": "a b # not a comment",  # the file wins over the process environment
        "SINGLE": "p@ss$word",  # literal: no interpolation
        "HOME": "/home/someone",  # the rest of the environment is passed on
    }


def test_a_value_printed_whole_is_masked_on_stdout_and_stderr(project: Path) -> None:
    write_env(project, "OPENAI_API_KEY=sk-test-123456\nLOG_LEVEL=DEBUG\n")
    r = run_cli(
        "run",
        *child(
            """
            import os, sys
            print("key:", os.environ["OPENAI_API_KEY"], "level:", os.environ["LOG_LEVEL"])
            print("to stderr", os.environ["OPENAI_API_KEY"], file=sys.stderr)
            """
        ),
        cwd=project,
    )
    assert r.code == 0, r.output
    assert r.stdout == f"key: {MASK_TEXT} level: DEBUG\n"  # short values are not masked
    assert r.stderr == f"to stderr {MASK_TEXT}\n"


def test_a_value_split_across_two_writes_is_masked(project: Path) -> None:
    write_env(project, "OPENAI_API_KEY=sk-test-123456\n")
    r = run_cli(
        "run",
        *child(
            """
            import os, sys, time
            value = os.environ["OPENAI_API_KEY"]
            for stream in (sys.stdout, sys.stderr):
                stream.write("before " + value[:5])
                stream.flush()
                time.sleep(0.2)  # two reads on our side: the pump sees two chunks
                stream.write(value[5:] + " after\\n")
                stream.flush()
            """
        ),
        cwd=project,
    )
    assert r.code == 0, r.output
    assert r.stdout == f"before {MASK_TEXT} after\n"
    assert r.stderr == f"before {MASK_TEXT} after\n"


def test_no_masking_passes_output_through(project: Path) -> None:
    write_env(project, "OPENAI_API_KEY=sk-test-123456\n")
    r = run_cli(
        "run", "--no-masking", *child("import os; print(os.environ['OPENAI_API_KEY'])"), cwd=project
    )
    assert (r.code, r.stdout) == (0, "sk-test-123456\n")


BOT_PY = """\
from pydantic import SecretStr
from pcc_env import SecretSettings


class Settings(SecretSettings):
    openai_api_key: SecretStr
    pin: SecretStr
    voice_id: str
    log_level: str = "INFO"
"""


def test_declared_non_secret_fields_are_not_masked(project: Path) -> None:
    (project / "bot.py").write_text(BOT_PY)
    write_env(
        project,
        """\
        OPENAI_API_KEY=sk-test-123456
        PIN=4242
        VOICE_ID=71a7ad14-091c-4e8e
        OTHER_LONG=some-long-value
        """,
    )
    r = run_cli(
        "run",
        "--settings",
        "bot:Settings",
        *child(
            """
            import os
            for key in ("OPENAI_API_KEY", "PIN", "VOICE_ID", "OTHER_LONG"):
                print(key, os.environ[key])
            """
        ),
        cwd=project,
    )
    assert r.code == 0, r.output
    assert r.stdout.splitlines() == [
        f"OPENAI_API_KEY {MASK_TEXT}",
        f"PIN {MASK_TEXT}",  # SecretStr: masked whatever its length
        "VOICE_ID 71a7ad14-091c-4e8e",  # declared, not secret: shown
        f"OTHER_LONG {MASK_TEXT}",  # not in the model: 6+ characters are masked
    ]


def test_missing_required_key_refuses_before_starting(project: Path) -> None:
    (project / "bot.py").write_text(BOT_PY)
    (project / "pyproject.toml").write_text('[tool.pcc-env]\nsettings = "bot:Settings"\n')
    write_env(project, "OPENAI_API_KEY=sk-test-123456\n")
    marker = project / "started"
    r = run_cli("run", *child(f"open({str(marker)!r}, 'w')"), cwd=project)
    assert r.code == 2
    assert "PIN" in r.stderr and "VOICE_ID" in r.stderr and "not started" in r.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("GOOD=value\nbroken line sk-in-the-line\n", "line 2"),
        ("A=1\n-----BEGIN KEY-----\n", "line 2"),
        ("EMPTY=\n", "EMPTY"),
        ("URL=${HOST}/x\n", "URL"),
        ("PORT=8080\n", "PORT"),
        ("A=1\nA=2\n", "A"),
    ],
)
def test_bad_env_file_refuses_before_starting(project: Path, content: str, expected: str) -> None:
    write_env(project, content)
    marker = project / "started"
    r = run_cli("run", *child(f"open({str(marker)!r}, 'w')"), cwd=project)
    assert r.code == 2, r.output
    assert expected in r.stderr
    assert "sk-in-the-line" not in r.output and "BEGIN" not in r.output
    assert not marker.exists()


def test_the_flags_of_push_relax_the_same_guards(project: Path) -> None:
    write_env(project, "URL=${HOST}/x\nEMPTY=\nPORT=8080\n")
    r = run_cli(
        "run",
        "--no-interpolate",
        "--skip-empty",
        "--allow-reserved",
        "--no-masking",
        *child("import os; print(os.environ['URL'], os.environ['PORT'], 'EMPTY' in os.environ)"),
        cwd=project,
        env={"HOST": "example.org"},
    )
    assert r.code == 0, r.output
    assert r.stdout == "${HOST}/x 8080 False\n"


def test_exit_code_is_the_childs(project: Path) -> None:
    write_env(project, "A=1\n")
    assert run_cli("run", *child("raise SystemExit(7)"), cwd=project).code == 7
    # Killed by a signal: 128 + N, as shells report it.
    killed = run_cli("run", *child("import os; os.kill(os.getpid(), 9)"), cwd=project)
    assert killed.code == 128 + 9


def test_command_not_found_is_127_and_not_echoed(project: Path) -> None:
    write_env(project, "A=1\n")
    r = run_cli("run", "--", "no-such-command-xyz", cwd=project)
    assert r.code == 127
    assert "no-such-command-xyz" not in r.output
    assert run_cli("run", "--", str(project / ".env"), cwd=project).code == 126  # not executable


def test_without_dashes_the_commands_options_are_its_own(project: Path) -> None:
    write_env(project, "A=1\n")
    r = run_cli("run", PY, "-c", "import sys; print(sys.argv[1:])", "--target", "x", cwd=project)
    assert (r.code, r.stdout) == (0, "['--target', 'x']\n")


def test_target_picks_its_env_files(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.pcc-env.targets.prod]\nset = "bot-prod"\nenv_files = [".env", ".env.prod"]\n'
    )
    write_env(project, "A=base-value\nB=base-value\n")
    write_env(project, "B=prod-value\n", ".env.prod")
    code = "import os; print(os.environ['A'], os.environ['B'])"
    r = run_cli("run", "--target", "prod", "--no-masking", *child(code), cwd=project)
    assert (r.code, r.stdout) == (0, "base-value prod-value\n"), r.output
    r = run_cli("run", "--no-masking", *child(code), cwd=project)
    assert (r.code, r.stdout) == (0, "base-value base-value\n"), r.output


TRAP = """
import os, signal, sys, time
def on_signal(signum, frame):
    print("child got", signal.Signals(signum).name, flush=True)
    sys.exit(42)
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGHUP, on_signal)
print("ready", os.environ["OPENAI_API_KEY"], flush=True)
time.sleep(30)
sys.exit(3)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_are_forwarded_to_the_child(project: Path, sig: signal.Signals) -> None:
    write_env(project, "OPENAI_API_KEY=sk-test-123456\n")
    proc = subprocess.Popen(
        [PCC_ENV, "run", *child(TRAP)],
        cwd=project,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # no controlling terminal: the signal reaches pcc-env only
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "the child did not start"
        assert proc.stdout.readline() == f"ready {MASK_TEXT}\n"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 42, err
    assert out == f"child got {sig.name}\n"


def test_output_to_a_closed_pipe_ends_the_child_as_a_pipe_would(project: Path) -> None:
    write_env(project, "A=masked-value\n")
    proc = subprocess.Popen(
        [PCC_ENV, "run", "--", "yes", "masked-value"],
        cwd=project,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(len(MASK) + 1) == MASK + b"\n"
    proc.stdout.close()  # as `| head -1` does
    try:
        err = proc.stderr.read()
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGPIPE
    assert b"Traceback" not in err and b"masked-value" not in err


def test_on_a_terminal_the_child_gets_a_terminal_and_output_is_still_masked(
    project: Path,
) -> None:
    import pty

    write_env(project, "OPENAI_API_KEY=sk-test-123456\n")
    code = """
        import os, sys, time
        value = os.environ["OPENAI_API_KEY"]
        sys.stdout.write(f"tty={sys.stdout.isatty()} {value[:4]}")
        sys.stdout.flush()
        time.sleep(0.2)
        sys.stdout.write(value[4:] + "\\n")
    """
    main, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [PCC_ENV, "run", *child(code)],
            cwd=project,
            env=cli_env(),
            stdout=secondary,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        os.close(secondary)
        chunks = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1)
            if ready:
                try:
                    data = os.read(main, 4096)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        proc.wait(timeout=30)
    finally:
        os.close(main)
    shown = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert shown.replace("\r\n", "\n") == f"tty=True {MASK_TEXT}\n"


def test_run_leaks_nothing(project: Path) -> None:
    canaries = Canaries()
    secret, plain = canaries.new(), canaries.new()
    write_env(project, f"OPENAI_API_KEY={secret}\nOTHER={plain}\n")
    argv_file = project / "argv.txt"
    code = f"""
        import os, sys
        parent = open(f"/proc/{{os.getppid()}}/cmdline", "rb").read().decode()
        own = open("/proc/self/cmdline", "rb").read().decode()
        open({str(argv_file)!r}, "w").write(parent + "\\n" + own)
        print(os.environ["OPENAI_API_KEY"], os.environ["OTHER"])
        print(os.environ["OTHER"], file=sys.stderr)
        raise SystemExit(5)
    """
    r = run_cli("run", *child(code), cwd=project, env={"PCC_ENV_LOG_LEVEL": "DEBUG"})
    assert r.code == 5, r.output
    canaries.assert_absent(r.output, "pcc-env run output")
    canaries.assert_absent(" ".join(r.argv), "pcc-env argv")
    argvs = argv_file.read_text()
    assert "pcc-env" in argvs and "cmdline" in argvs  # it did read both command lines
    canaries.assert_absent(argvs, "argv of pcc-env and of the child")
    # Refusals name keys and lines, never values.
    write_env(project, f"OPENAI_API_KEY={secret}\nbroken {canaries.new()}\nEMPTY=\n")
    bad = run_cli("run", *child("print('never')"), cwd=project, env={"PCC_ENV_LOG_LEVEL": "DEBUG"})
    assert bad.code == 2
    canaries.assert_absent(bad.output, "pcc-env run refusal")


def read_until(fd: int, needle: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not data:
                break
            seen += data
    return seen


def test_ctrl_c_on_a_terminal_reaches_the_child_once(project: Path) -> None:
    """The terminal signals the whole foreground group, the child included: pcc-env must not
    forward it a second time (a Python child would get two KeyboardInterrupts)."""
    import pty

    write_env(project, "A=1\n")  # nothing to mask: the child writes to the terminal itself
    code = """
        import signal, sys, time
        count = 0
        def on_int(signum, frame):
            global count
            count += 1
        signal.signal(signal.SIGINT, on_int)
        print("ready", flush=True)
        while not count:
            time.sleep(0.01)
        print("got one", flush=True)
        time.sleep(1)  # a forwarded second SIGINT would arrive meanwhile
        print(f"count={count}", flush=True)
        sys.exit(42)
    """
    # Nothing to mask means no secret-looking name either (a GITHUB_TOKEN the machine exports).
    from pcc_env.rules import looks_secret

    env = {k: v for k, v in cli_env().items() if not looks_secret(k)}
    pid, fd = pty.fork()  # pcc-env leads a new session whose terminal is this pty
    if pid == 0:  # pragma: no cover - the child process
        os.chdir(project)
        os.execve(PCC_ENV, [PCC_ENV, "run", *child(code)], env)
    try:
        assert b"ready" in read_until(fd, b"ready")
        # Stopped, pcc-env handles its SIGINT only after the child has handled its own: two
        # deliveries cannot merge into one, so a forwarded Ctrl-C would be counted.
        os.kill(pid, signal.SIGSTOP)
        os.write(fd, b"\x03")  # Ctrl-C, as typed
        assert b"got one" in read_until(fd, b"got one")
        os.kill(pid, signal.SIGCONT)
        assert b"count=1" in read_until(fd, b"count=")
        _, status = os.waitpid(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 42
