"""Issue 20, items 2 and 11: whatever a hostile server answers, every command ends in one typed
error line (JSON under ``--json``), never a traceback; and names it sends never build a URL.

The server is a raw socket on 127.0.0.1 (``HostileServer``): it can send what no HTTP framework
would (broken encodings, a body shorter than its Content-Length, a 1xx with nothing after it).
The matrix runs every command that reads the API against every answer in ``CASES``, in process
(``CliRunner`` over the real application; stamina's test mode turns retries off so the matrix
stays fast), and the two answers of the issue against the real ``pcc-env`` entry point too.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import signal
import socket
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import stamina
from click.testing import CliRunner

from tests.cli_helpers import LoopbackServer, run_cli

SET = "hostile-set"
AGENT = "agent-a"
TOKEN = "pcc-hostile-CANARY-token-7f3a"
CANARY_VALUE = "sk-CANARY-hostile-value-91c2"

# The hostile server ------------------------------------------------------------------------------

Responder = Callable[[str, str], bytes]


def http(
    status: str,
    body: bytes = b"",
    *,
    headers: tuple[str, ...] = ("Content-Type: application/json",),
    length: int | None = None,
) -> bytes:
    """A raw HTTP/1.1 answer; ``length`` announces a Content-Length other than the body's."""
    head = [f"HTTP/1.1 {status}", *headers, "Connection: close"]
    if length is not None or not any(h.lower().startswith("transfer-encoding") for h in headers):
        head.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class HostileServer(LoopbackServer):
    """Answers each request with ``respond(method, path)``, then closes the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.respond: Responder = lambda method, path: http("200 OK", b"{}")
        self.requests: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in lines
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                while len(rest) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
                path = target.split("?", 1)[0]
                self.requests.append((method, path))
                self.headers.append(
                    {
                        k.strip().lower(): v.strip()
                        for k, _, v in (h.partition(":") for h in lines[1:])
                    }
                )
                conn.sendall(self.respond(method, path))
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1)  # let the client close first: no reset before it read the answer
            except OSError:
                return


# What the API would answer (the client parses these shapes) -------------------------------------

CREATED = "2025-04-19T01:25:47.225Z"


def valid_body(method: str, path: str) -> Any:
    """The documented answer to each request the commands send."""
    if path == "/v1/secrets":
        return {"sets": [{"name": SET, "type": "secret", "region": "us-west", "status": "ready"}]}
    if path.startswith("/v1/secrets/"):
        if method == "PUT":
            return {"status": "OK", "region": "us-west"}
        if method == "DELETE":
            return {"status": "OK"}
        return {"region": "us-west", "status": "ready", "secrets": [{"fieldName": "K"}]}
    agent = {
        "name": AGENT,
        "region": "us-west",
        "desiredDeploymentId": "d1",
        "reconciledDeploymentId": "d1",
        "deployment": {
            "id": "d1",
            "manifest": {"spec": {"envFromSecretNames": [SET]}},
            "createdAt": CREATED,
        },
    }
    if path == "/v1/agents":
        return {"services": [agent]}
    return {
        **agent,
        "ready": True,
        "autoScaling": {"minReplicas": 1},
        "currentRevision": {"deploymentID": "d1", "phase": "Active", "health": {"ready": True}},
    }


def at_depth(value: Any, depth: int, change: Callable[[Any], Any]) -> Any:
    """``value`` with every member ``depth`` levels down (1: the top object's) replaced."""
    if depth == 0:
        return change(value)
    if isinstance(value, dict):
        return {k: at_depth(v, depth - 1, change) for k, v in value.items()}
    if isinstance(value, list):
        return [at_depth(v, depth - 1, change) for v in value]
    return value


def deepest(value: Any) -> int:
    if isinstance(value, dict) and value:
        return 1 + max(deepest(v) for v in value.values())
    if isinstance(value, list) and value:
        return 1 + max(deepest(v) for v in value)
    return 0


def wrong_type(value: Any) -> Any:
    return "seven" if isinstance(value, (int, float)) and not isinstance(value, bool) else 7


def shaped(change: Callable[[Any], Any]) -> Responder:
    """A 200 whose JSON is the documented answer passed through ``change``."""

    def respond(method: str, path: str) -> bytes:
        body = json.dumps(change(valid_body(method, path)), allow_nan=True).encode()
        return http("200 OK", body)

    return respond


def raw(answer: bytes) -> Responder:
    return lambda method, path: answer


def deep(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


@dataclass(frozen=True)
class Case:
    """One malformed answer. ``parsed``: a success whose JSON is only wrong for a command that
    parses it (a DELETE's answer is not read); ``depth``: it only breaks answers at least that
    deep (a wrong value at level 4 is inside an agent: commands that read no agent succeed)."""

    respond: Responder
    depth: int = 0
    parsed: bool = False


CASES: dict[str, Case] = {
    # JSON the parser cannot take
    "deeply-nested-json": Case(raw(http("200 OK", deep()))),
    "deeply-nested-in-a-field": Case(raw(http("200 OK", b'{"sets": ' + deep() + b"}"))),
    "deeply-nested-error-body": Case(raw(http("422 Unprocessable Entity", deep()))),
    "not-json": Case(raw(http("200 OK", b"this is not json"))),
    "html-page": Case(
        raw(
            http(
                "200 OK", b"<html><body>Gateway</body></html>", headers=("Content-Type: text/html",)
            )
        )
    ),
    "invalid-utf8": Case(raw(http("200 OK", b'{"sets": "\xff\xfe\xfa"}'))),
    "huge-integer": Case(raw(http("200 OK", b"1" * 50_000))),
    "nan": Case(raw(http("200 OK", b"NaN")), parsed=True),
    "infinity-in-fields": Case(shaped(lambda body: at_depth(body, 1, lambda v: float("inf"))), 1),
    "json-null": Case(raw(http("200 OK", b"null")), parsed=True),
    "json-list": Case(raw(http("200 OK", b"[]")), parsed=True),
    "json-string": Case(raw(http("200 OK", b'"ok"')), parsed=True),
    "json-number": Case(raw(http("200 OK", b"1e999")), parsed=True),
    "empty-object": Case(raw(http("200 OK", b"{}")), parsed=True),
    "text-plain-content-type": Case(
        raw(http("200 OK", b'{"unexpected": true}', headers=("Content-Type: text/plain",))),
        parsed=True,
    ),
    # Encodings
    "gzip-that-is-not-gzip": Case(
        raw(http("200 OK", b'{"sets": []}', headers=("Content-Encoding: gzip",)))
    ),
    "deflate-that-is-not-deflate": Case(
        raw(http("200 OK", b"\x00\x01garbage", headers=("Content-Encoding: deflate",)))
    ),
    "gzip-truncated": Case(
        raw(
            http(
                "200 OK",
                gzip.compress(b'{"sets": []}' * 100)[:30],
                headers=("Content-Encoding: gzip",),
            )
        )
    ),
    "gzip-three-times": Case(
        raw(
            http(
                "200 OK",
                gzip.compress(gzip.compress(gzip.compress(b"{}"))),
                headers=("Content-Encoding: gzip, gzip, gzip",),
            )
        )
    ),
    "gzip-bomb": Case(
        raw(
            http(
                "200 OK",
                gzip.compress(b" " * (40 * 1024 * 1024)),
                headers=("Content-Encoding: gzip",),
            )
        )
    ),
    "unknown-encoding": Case(
        raw(http("200 OK", zlib.compress(b"{}"), headers=("Content-Encoding: x-hostile",)))
    ),
    "chunked-broken": Case(
        raw(http("200 OK", b"zz\r\n{}\r\n0\r\n\r\n", headers=("Transfer-Encoding: chunked",)))
    ),
    # Framing
    "body-shorter-than-content-length": Case(raw(http("200 OK", b'{"sets": [', length=10_000))),
    "content-length-past-the-cap": Case(raw(http("200 OK", b"{}", length=10**12))),
    "no-answer": Case(raw(b"")),
    "garbage-status-line": Case(raw(b"SPDY/9 what\r\n\r\n")),
    # Statuses
    "100-then-nothing": Case(raw(b"HTTP/1.1 100 Continue\r\n\r\n")),
    "101-switching-protocols": Case(
        raw(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
    ),
    "301-redirect": Case(
        raw(
            http("301 Moved Permanently", b"", headers=("Location: http://127.0.0.1:9/v1/secrets",))
        )
    ),
    "307-redirect-elsewhere": Case(
        raw(http("307 Temporary Redirect", b"{}", headers=("Location: https://attacker.invalid/",)))
    ),
    "304-not-modified": Case(raw(http("304 Not Modified"))),
    "418-teapot": Case(raw(http("418 I'm a teapot", b'{"error": {"nested": [1]}, "code": []}'))),
    "204-with-no-body": Case(raw(http("204 No Content")), parsed=True),
    "429-retry-after-infinite": Case(
        raw(
            http(
                "429 Too Many Requests",
                b'{"error": "slow down", "code": "RATE_LIMITED"}',
                headers=("Content-Type: application/json", "Retry-After: 1e999"),
            )
        )
    ),
    "503-retry-after-year-1": Case(
        raw(http("503 Busy", headers=("Retry-After: Mon, 01 Jan 0001 00:00:00 -1400",)))
    ),
    "999-status": Case(raw(http("999 Whatever", b"{}"))),
    "500-error-with-escapes-and-lines": Case(
        raw(
            http(
                "500 Internal Server Error",
                json.dumps({"error": "one\ntwo\x1b[2J\u202e", "code": "X\r\nY"}).encode(),
            )
        )
    ),
    # Wrong types, nulls, absent fields at every level of what the client expects
    **{
        f"wrong-type-at-level-{d}": Case(shaped(lambda b, d=d: at_depth(b, d, wrong_type)), d)
        for d in range(1, 8)
    },
    **{
        f"null-at-level-{d}": Case(shaped(lambda b, d=d: at_depth(b, d, lambda v: None)), d)
        for d in (1, 2, 3, 5)
    },
    "huge-numbers-everywhere": Case(
        shaped(lambda b: at_depth(b, 3, lambda v: 10**4000 if isinstance(v, int) else 1e308)), 3
    ),
}


# The commands that read the API -------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    reads: int  # how deep the answers it parses go (0: none, a DELETE)
    json: bool = True  # has --json
    stdin: str | None = None


COMMANDS: dict[str, Command] = {
    "push": Command(("push", "--set", SET, "--yes"), 3),
    "push-prune": Command(("push", "--set", SET, "--prune", "--yes"), 3),
    "status": Command(("status",), 7),
    "status-set": Command(("status", "--set", SET), 7),
    "redeploy": Command(("redeploy", "--set", SET, "--timeout", "5"), 7),
    "check": Command(("check", "--set", SET), 7),
    "export": Command(("export", "--set", SET), 3),
    "secrets-list": Command(("secrets", "list"), 3),
    "secrets-list-set": Command(("secrets", "list", SET), 3),
    "secrets-set": Command(("secrets", "set", SET, f"K={CANARY_VALUE}"), 3),
    "secrets-unset": Command(("secrets", "unset", SET, "K", "--yes"), 3),  # the record: a GET
    "secrets-delete": Command(("secrets", "delete", SET, "--yes"), 0),
    "secrets-wait": Command(("secrets", "wait", SET, "--timeout", "5"), 3),
    "secrets-image-pull-secret": Command(
        ("secrets", "image-pull-secret", "pull-set", "ghcr.io", "--stdin"), 3, stdin="u:tok\n"
    ),
    "whoami": Command(("whoami",), 3),
}


def expected_code(case: Case, command: Command) -> int:
    """1, unless the malformed part lies deeper than anything the command reads."""
    if case.depth or case.parsed:
        return 1 if command.reads >= max(case.depth, 1) else 0
    return 1


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


@pytest.fixture
def no_retries() -> Iterator[None]:
    """stamina's test mode: one attempt, no backoff (the CLI's retries are tested elsewhere)."""
    stamina.set_testing(True, attempts=1)
    try:
        yield
    finally:
        stamina.set_testing(False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: HostileServer) -> Path:
    (tmp_path / ".env").write_text(f"K={CANARY_VALUE}\n")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("PIPECAT_", "PCC_ENV_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIPECAT_API_HOST", server.url)
    monkeypatch.setenv("PIPECAT_API_KEY", TOKEN)
    monkeypatch.setenv("PCC_ENV_DATA_DIR", str(tmp_path / ".state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


@functools.cache
def application() -> click.Command:
    """The whole Click application, built once (Typer builds it anew on each invoke: 0.3 s)."""
    import typer

    from pcc_env.cli.app import build_app

    return typer.main.get_command(build_app())


def invoke(argv: tuple[str, ...], stdin: str | None = None) -> Ran:
    """The application in process; an exception that escapes it fails the test (it would be a
    traceback in a real run)."""
    result = CliRunner().invoke(
        application(), list(argv), input=stdin or "", catch_exceptions=False, prog_name="pcc-env"
    )
    return Ran(result.exit_code, result.stdout, result.stderr)


def assert_clean_failure(ran: Ran, code: int, *, json_mode: bool, what: str) -> None:
    """Exit ``code``, no traceback, no value; a failure is one ``Error:`` line (a JSON document
    on stdout under --json)."""
    output = ran.stdout + ran.stderr
    assert ran.code == code, (what, ran)
    assert "Traceback" not in output, (what, ran)
    assert CANARY_VALUE not in output and TOKEN not in output, (what, ran)
    if json_mode:
        documents = json_documents(ran.stdout)
        assert documents, (what, ran)
        if code:
            last = documents[-1]
            assert "error" in last or last.get("ok") is False, (what, ran)
            if "error" in last:
                assert last["error"]["exitCode"] == code, (what, ran)
                assert "\n" not in last["error"]["message"], (what, ran)
    elif code:
        errors = [line for line in ran.stderr.splitlines() if line.startswith("Error:")]
        failed_lines = [line for line in ran.stdout.splitlines() if line.startswith("FAIL")]
        assert len(errors) == 1 or (not errors and failed_lines), (what, ran)


def json_documents(stdout: str) -> list[dict[str, Any]]:
    """stdout as one JSON document, else as one document per line (NDJSON)."""
    text = stdout.strip()
    if not text:
        return []
    try:
        return [json.loads(text)]
    except ValueError:
        return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_every_command_fails_cleanly_whatever_the_server_answers(
    case: str, command: str, server: HostileServer, project: Path, no_retries: None
) -> None:
    cmd, answer = COMMANDS[command], CASES[case]
    server.respond = answer.respond
    code = expected_code(answer, cmd)
    ran = invoke(cmd.argv, cmd.stdin)
    assert_clean_failure(ran, code, json_mode=False, what=(case, command))
    if cmd.json:
        ran = invoke((*cmd.argv, "--json"), cmd.stdin)
        assert_clean_failure(ran, code, json_mode=True, what=(case, command, "--json"))


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", raw_deflate),
        ("identity, gzip", gzip.compress),
        ("gzip, deflate", lambda b: zlib.compress(gzip.compress(b))),
    ],
)
def test_a_server_that_compresses_anyway_is_still_read(
    encoding: str,
    encode: Callable[[bytes], bytes],
    server: HostileServer,
    project: Path,
    no_retries: None,
) -> None:
    """pcc-env asks for no compression; a proxy that compresses anyway is decoded (bounded)."""
    body = json.dumps(valid_body("GET", "/v1/secrets")).encode()
    answer = http("200 OK", encode(body), headers=(f"Content-Encoding: {encoding}",))
    server.respond = raw(answer)
    ran = invoke(("secrets", "list", "--json"))
    assert ran.code == 0, ran
    assert [s["name"] for s in json.loads(ran.stdout)["sets"]] == [SET]
    assert server.headers[-1].get("accept-encoding") == "identity"


@pytest.fixture
def watch_one_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    """``watch`` stops (as on Ctrl-C) once its first sync has reported what happened."""
    from pcc_env.watch import EnvWatcher

    emit = EnvWatcher._emit

    def emit_then_stop(self: EnvWatcher, event: Any) -> None:
        emit(self, event)
        signal.raise_signal(signal.SIGINT)  # watch's own handler: stop after this sync

    monkeypatch.setattr(EnvWatcher, "_emit", emit_then_stop)


@pytest.mark.parametrize("case", CASES)
def test_watch_survives_whatever_the_server_answers(
    case: str, server: HostileServer, project: Path, no_retries: None, watch_one_cycle: None
) -> None:
    """One cycle of watch: the first sync fails in one line (exit 1: every sync failed), or
    succeeds when the malformed part is deeper than what a push reads."""
    answer = CASES[case]
    server.respond = answer.respond
    code = expected_code(answer, Command(("watch",), 3))
    for json_mode in (False, True):
        argv = ("watch", "--set", SET, "--debounce-ms", "10", *(("--json",) if json_mode else ()))
        ran = invoke(argv)
        output = ran.stdout + ran.stderr
        assert ran.code == code, (case, ran)
        assert "Traceback" not in output and CANARY_VALUE not in output, (case, ran)
        if json_mode:
            events = [json.loads(line) for line in ran.stdout.splitlines()]
            assert events[-1]["event"] == "stopped", (case, ran)
            failed = [e for e in events if e.get("kind") == "failed" or e["event"] == "failed"]
            assert len(failed) == code, (case, ran)
        else:
            failed = [line for line in ran.stdout.splitlines() if " sync failed: " in line]
            assert len(failed) == code and "Stopped." in ran.stdout, (case, ran)


@pytest.mark.parametrize("case", CASES)
def test_completion_survives_whatever_the_server_answers(
    case: str,
    server: HostileServer,
    project: Path,
    no_retries: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Tab asks the API for set names: it completes nothing and prints nothing else."""
    server.respond = CASES[case].respond
    monkeypatch.setenv("_PCC_ENV_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "pcc-env secrets list ")
    monkeypatch.setenv("COMP_CWORD", "3")
    before = len(server.requests)
    ran = invoke(())
    # A listing malformed only deeper than a set's fields still names the set.
    names = SET if expected_code(CASES[case], Command((), 3)) == 0 else ""
    assert (ran.code, ran.stdout.strip(), ran.stderr) == (0, names, ""), (case, ran)
    assert len(server.requests) > before  # it did ask


@pytest.mark.parametrize("case", ["deeply-nested-json", "gzip-that-is-not-gzip"])
@pytest.mark.parametrize("command", ["push", "status", "redeploy", "secrets-list", "whoami"])
def test_real_entry_point_ends_in_one_error_line(
    case: str, command: str, server: HostileServer, tmp_path: Path
) -> None:
    """The issue's two answers against the installed ``pcc-env`` (a real process, real retries
    bounded by a short deadline): one error line, or one JSON document under --json."""
    server.respond = CASES[case].respond
    (tmp_path / ".env").write_text(f"K={CANARY_VALUE}\n")
    env = {
        "PIPECAT_API_HOST": server.url,
        "PIPECAT_API_KEY": TOKEN,
        "PCC_ENV_DATA_DIR": str(tmp_path / ".state"),
        "XDG_CACHE_HOME": str(tmp_path / ".cache"),
    }
    for json_mode in (False, True):
        argv = (*COMMANDS[command].argv, *(("--json",) if json_mode else ()))
        r = run_cli(*argv, env=env, cwd=tmp_path)
        assert_clean_failure(
            Ran(r.code, r.stdout, r.stderr), 1, json_mode=json_mode, what=(case, command)
        )
        assert "UnexpectedResponseError" in r.stdout or "Error: " in r.stderr


# 11. Names from the server never build a URL unchecked ------------------------------------------

BAD_NAMES = [".", "..", "a/..", "a/b", "%2e%2e", "a?x=1", "a#b", "", "Agent-A", "-a", "a" * 64]


def naming(*, agents: list[str], sets: list[str]) -> Responder:
    """The documented answers, naming these agents (each binding ``SET``) and sets; any other
    request (``POST /agents``: create; ``POST /``) is answered as a success, as a careless
    server would, so that reaching it is not an error the test could miss."""

    def respond(method: str, path: str) -> bytes:
        body = valid_body(method, path)
        if path == "/v1/secrets":
            body = {"sets": [{**body["sets"][0], "name": n} for n in sets]}
        elif path == "/v1/agents":
            body = {"services": [{**body["services"][0], "name": n} for n in agents]}
        elif path.startswith("/v1/agents/"):
            body = {**body, "name": path.removeprefix("/v1/agents/")}
        elif not path.startswith("/v1/secrets/"):
            body = valid_body("GET", "/v1/agents/x")
        return http("200 OK", json.dumps(body).encode())

    return respond


AGENT_COMMANDS = {
    "redeploy": ("redeploy", "--set", SET, "--timeout", "5"),
    "redeploy-agent": ("redeploy", "--set", SET, "--agent", AGENT, "--timeout", "5"),
    "status": ("status",),
    "status-set": ("status", "--set", SET),
    "check": ("check", "--set", SET),
    "push-redeploy": ("push", "--set", SET, "--redeploy", "--yes"),
}


def assert_no_request_left_the_names(server: HostileServer, good_agents: set[str]) -> None:
    allowed = {"/v1/secrets", f"/v1/secrets/{SET}", "/v1/agents"}
    allowed |= {f"/v1/agents/{a}" for a in good_agents}
    stray = [r for r in server.requests if r[1] not in allowed]
    assert not stray, stray
    assert not [r for r in server.requests if r == ("POST", "/v1/agents")]


@pytest.mark.parametrize("command", AGENT_COMMANDS)
@pytest.mark.parametrize("bad", BAD_NAMES)
def test_agent_names_from_the_server_are_checked_before_any_url(
    bad: str, command: str, server: HostileServer, project: Path, no_retries: None
) -> None:
    """A listing that names an invalid agent is refused whole, before any request about an
    agent: ``.`` and ``..`` made redeploy POST to ``/v1/agents`` (create) and ``/v1``."""
    server.respond = naming(agents=[AGENT, bad], sets=[SET])
    for json_mode in (False, True):
        server.requests.clear()
        argv = (*AGENT_COMMANDS[command], *(("--json",) if json_mode else ()))
        ran = invoke(argv)
        assert_clean_failure(ran, 1, json_mode=json_mode, what=(bad, command))
        assert "invalid agent" in ran.stdout + ran.stderr, (bad, command, ran)
        assert_no_request_left_the_names(server, good_agents=set())
        assert ("GET", "/v1/agents") in server.requests


@pytest.mark.parametrize("bad", [b for b in BAD_NAMES if b] + ["UPPER-set", "ab"])
def test_set_names_from_the_server_are_checked_before_any_url(
    bad: str, server: HostileServer, project: Path, no_retries: None
) -> None:
    """``status`` reads each listed set by name: an invalid one is the server's fault (exit 1,
    UnexpectedResponseError), not the user's (it was exit 2, "bad input"), and builds no URL."""
    server.respond = naming(agents=[AGENT], sets=[SET, bad])
    for argv in (("status", "--json"), ("secrets", "list", "--json"), ("status",)):
        server.requests.clear()
        ran = invoke(argv)
        assert_clean_failure(ran, 1, json_mode="--json" in argv, what=(bad, argv))
        assert "invalid secret set" in ran.stdout + ran.stderr, (bad, argv, ran)
        if "--json" in argv:
            assert json.loads(ran.stdout)["error"]["type"] == "UnexpectedResponseError"
        assert server.requests == [("GET", "/v1/secrets")], server.requests


def test_valid_names_from_the_server_still_work(
    server: HostileServer, project: Path, no_retries: None
) -> None:
    server.respond = naming(agents=[AGENT, "b0t-2"], sets=[SET, "other.set-1"])
    ran = invoke(("redeploy", "--set", SET, "--timeout", "5", "--json"))
    assert ran.code == 0, ran
    assert {a["name"] for a in json.loads(ran.stdout)["agents"]} == {AGENT, "b0t-2"}
    assert ("POST", f"/v1/agents/{AGENT}") in server.requests
    assert ("POST", "/v1/agents/b0t-2") in server.requests
    assert_no_request_left_the_names(server, good_agents={AGENT, "b0t-2"})
    ran = invoke(("status", "--json"))
    assert ran.code == 0, ran
    assert [s["name"] for s in json.loads(ran.stdout)["sets"]] == [SET, "other.set-1"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_the_client_builds_no_agent_url_from_an_invalid_name(
    bad: str, server: HostileServer
) -> None:
    from pcc_env.agents_api import agent_path
    from pcc_env.client import NO_RETRIES, SecretsClient
    from pcc_env.errors import InputError

    server.requests.clear()
    with pytest.raises(InputError, match="agent name"):
        agent_path(bad)
    with SecretsClient(api_key=TOKEN, api_host=server.url, retry=NO_RETRIES) as client:
        for call in (client.get_agent, client.find_agent, client.redeploy_agent):
            with pytest.raises(InputError):
                call(bad)
    assert server.requests == []
    assert agent_path(AGENT) == f"/agents/{AGENT}"
