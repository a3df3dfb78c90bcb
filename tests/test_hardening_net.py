"""Issue 10, items 4-8, 19, 20: the API key goes only where it should, over a bounded time."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import keyring
import keyring.backends.fail
import keyring.backends.null
import pytest
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend

from pcc_env.client import NO_RETRIES, RetryPolicy, SecretsClient
from pcc_env.credentials import (
    check_keyring_storable,
    insecure_backend_reason,
    resolve_api_host,
    resolve_api_key,
    store_api_key,
)
from pcc_env.emulator.server import EmulatorServer
from pcc_env.errors import (
    ApiConnectionError,
    ApiTimeoutError,
    ConfigError,
    InvalidApiKeyError,
    KeyringError,
    ReadyTimeoutError,
    UnauthorizedError,
)
from pcc_env.testing import run_emulator
from tests.cli_helpers import LoopbackServer, Result, run_cli
from tests.keyring_backends import EncryptedKeyring, PlaintextKeyring
from tests.test_no_leaks import Canaries

# 4. Plain http only for literal loopback addresses -----------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8787",
        "http://127.3.4.5:1",
        "http://localhost:1",
        "http://LOCALHOST:1",
        "http://[::1]:8787",
        "https://api.example.com",
    ],
)
def test_plain_http_allowed_for_loopback(url: str) -> None:
    assert resolve_api_host(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.attacker.example",
        "http://127.0.0.1.nip.io:80",
        "http://localhost.attacker.example",
        "http://10.0.0.5",
        "http://[::2]:1",
        "http://128.0.0.1",
    ],
)
def test_plain_http_refused_for_names_that_look_like_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="plain HTTP"):
        resolve_api_host(url)


def test_cli_refuses_127_lookalike_host_before_any_request() -> None:
    r = run_cli(
        "secrets",
        "list",
        env={"PIPECAT_API_HOST": "http://127.attacker.example:9", "PIPECAT_API_KEY": "k" * 20},
    )
    assert r.code == 2 and "plain HTTP" in r.stderr


# 7. No user info in the API URL, and never printed -----------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://user:{c}@api.example.com",
        "https://{c}@api.example.com",
        "http://{c}:x@127.0.0.1:8787",
        "ftp://u:{c}@host",
    ],
)
def test_url_with_userinfo_refused_without_printing_it(url: str, canaries: Canaries) -> None:
    url = url.format(c=canaries.new())
    with pytest.raises(ConfigError) as info:
        resolve_api_host(url)
    assert "user name or password" in str(info.value)
    canaries.assert_absent(str(info.value) + repr(info.value), "the error")
    r = run_cli("secrets", "list", "--api-host", url, env={"PIPECAT_API_KEY": "k" * 20})
    assert r.code == 2
    canaries.assert_absent(r.output, "the CLI output")


# 6. API keys that cannot be a bearer token -------------------------------------------------------


@pytest.fixture
def canaries() -> Canaries:
    return Canaries()


@pytest.mark.parametrize("shape", ["{c}\r", "{c} x", "{c}\t", "{c}\x00", "{c}é", "{c}\u2028"])
def test_bad_api_key_refused_before_any_request_and_never_logged(
    shape: str,
    emulator: EmulatorServer,
    canaries: Canaries,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = shape.format(c=canaries.new())
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidApiKeyError) as info:
        with SecretsClient(api_key=key, api_host=emulator.api_host, retry=NO_RETRIES) as c:
            c.list_sets()
    canaries.assert_absent(str(info.value) + repr(info.value), "the error")
    assert "ASCII" in str(info.value)
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    canaries.assert_absent(logged, "the logs")
    assert not any("Authorization" in r.getMessage() for r in caplog.records)
    assert emulator.stats()["total"] == 0


def test_debug_logs_of_a_request_never_hold_the_key(
    emulator: EmulatorServer, canaries: Canaries, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = canaries.new()
    with SecretsClient(api_key=key, api_host=emulator.api_host, retry=NO_RETRIES) as c:
        with pytest.raises(UnauthorizedError):  # the canary is not the emulator's token
            c.list_sets()
    assert caplog.records  # httpx/httpcore did log at DEBUG
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    canaries.assert_absent(logged, "the logs")


def test_cli_crlf_api_key_exits_2_without_printing_it(
    emulator: EmulatorServer, canaries: Canaries
) -> None:
    key = canaries.new()
    env = {"PIPECAT_API_HOST": emulator.api_host, "PIPECAT_API_KEY": key + "\r"}
    r = run_cli("secrets", "list", env=env)
    assert r.code == 2, r.stderr
    assert "PIPECAT_API_KEY" in r.stderr and "Windows" in r.stderr
    canaries.assert_absent(r.output, "the CLI output")
    assert emulator.stats()["total"] == 0


def test_resolve_api_key_checks_every_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPECAT_API_KEY", "pk_ok_but_has space")
    with pytest.raises(InvalidApiKeyError, match="PIPECAT_API_KEY contains whitespace"):
        resolve_api_key("https://a.example")
    with pytest.raises(InvalidApiKeyError, match="the API key given"):
        resolve_api_key("https://a.example", "bad\x7fkey")
    monkeypatch.setenv("PIPECAT_API_KEY", "pk_live_0123456789")
    assert resolve_api_key("https://a.example").value == "pk_live_0123456789"


# 8. login refuses keyring backends that store in plain text or not at all ------------------------


@pytest.fixture
def restore_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PIPECAT_API_KEY", raising=False)
    previous = keyring.get_keyring()
    PlaintextKeyring.stored.clear()
    yield
    keyring.set_keyring(previous)
    PlaintextKeyring.stored.clear()


class SecureKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        pass

    def delete_password(self, service: str, username: str) -> None:
        pass


def chainer_of(*chain: KeyringBackend) -> ChainerBackend:
    """A ChainerBackend over ``chain`` (its own ``backends`` discovers the machine's)."""

    class Pinned(ChainerBackend):
        backends: ClassVar[list[KeyringBackend]] = list(chain)  # type: ignore[assignment,misc]

    return Pinned()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (PlaintextKeyring, "plain-text file"),
        (EncryptedKeyring, "cannot encrypt"),
        (keyring.backends.null.Keyring, "stores nothing"),
        (keyring.backends.fail.Keyring, "stores nothing"),
        (lambda: chainer_of(PlaintextKeyring(), keyring.backends.null.Keyring()), "plain-text"),
        (lambda: chainer_of(keyring.backends.null.Keyring()), "stores nothing"),
        (lambda: chainer_of(), "stores nothing"),
        (lambda: chainer_of(PlaintextKeyring(), SecureKeyring()), "plain-text"),
    ],
)
def test_insecure_backends_refused(
    make: object, reason: str, restore_keyring: None, canaries: Canaries
) -> None:
    backend = make()  # type: ignore[operator]
    assert reason in (insecure_backend_reason(backend) or "")
    keyring.set_keyring(backend)
    key = canaries.new()
    with pytest.raises(KeyringError) as info:
        store_api_key("https://a.example", key)
    message = str(info.value)
    assert "PIPECAT_API_KEY" in message and "pip install" not in message
    assert "install keyrings.alt" not in message and "'pip install keyrings.alt'" not in message
    canaries.assert_absent(message, "the error")
    assert key not in PlaintextKeyring.stored.values()
    with pytest.raises(KeyringError):
        check_keyring_storable()


def test_secure_backends_accepted(restore_keyring: None) -> None:
    assert insecure_backend_reason(SecureKeyring()) is None
    assert insecure_backend_reason(chainer_of(SecureKeyring(), PlaintextKeyring())) is None
    keyring.set_keyring(chainer_of(SecureKeyring(), PlaintextKeyring()))
    check_keyring_storable()


def test_plaintext_backend_still_read_and_cleared(restore_keyring: None) -> None:
    """A key stored before (by hand or an older version) is still found, and logout clears it."""
    from pcc_env.credentials import delete_api_key

    keyring.set_keyring(PlaintextKeyring())
    PlaintextKeyring.stored["pcc-env|https://a.example"] = "pk_old_0123456789"
    assert resolve_api_key("https://a.example").source == "keyring"
    assert delete_api_key("https://a.example") is True


@pytest.mark.parametrize(
    "backend", ["tests.keyring_backends.PlaintextKeyring", "keyring.backends.null.Keyring"]
)
def test_cli_login_refuses_insecure_backend_before_sending(
    backend: str, emulator: EmulatorServer
) -> None:
    r = run_cli(
        "login",
        "--stdin",
        env={"PIPECAT_API_HOST": emulator.api_host, "PYTHON_KEYRING_BACKEND": backend},
        stdin=emulator.token,
    )
    assert r.code == 1, r.stderr
    assert "PIPECAT_API_KEY" in r.stderr and "pip install" not in r.stderr
    assert emulator.token not in r.output
    assert emulator.stats()["total"] == 0


# 19. --timeout bounds the whole command, even against a server that trickles bytes --------------


class TrickleServer(LoopbackServer):
    """An HTTP server on 127.0.0.1 that answers every request one byte every ``interval`` s,
    for at most ``give_up`` s (so a client without a deadline fails the test instead of hanging).
    ``trickle="headers"`` trickles the status line and headers, ``"body"`` only the body."""

    def __init__(self, trickle: str, interval: float = 0.2, give_up: float = 20.0) -> None:
        super().__init__()
        self.trickle, self.interval, self.give_up = trickle, interval, give_up

    def _answer(self, conn: socket.socket) -> None:
        body = b'{"sets": []}' + b" " * 100_000
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        ends = time.monotonic() + self.give_up
        with conn:
            try:
                conn.recv(65536)  # the request (small: a GET)
                if self.trickle == "body":
                    conn.sendall(head)
                    data = body
                else:
                    data = head + body
                for i in range(len(data)):
                    if self._stop.is_set() or time.monotonic() > ends:
                        return
                    conn.sendall(data[i : i + 1])
                    time.sleep(self.interval)
            except OSError:  # the client gave up: what we want
                return


@pytest.mark.parametrize("trickle", ["headers", "body"])
def test_wait_ready_deadline_holds_against_a_trickling_server(trickle: str) -> None:
    with TrickleServer(trickle) as server:
        with SecretsClient(api_key="k" * 20, api_host=server.url) as client:
            started = time.monotonic()
            with pytest.raises(ReadyTimeoutError) as info:
                client.wait_ready("slow-set", timeout=1.5)
            took = time.monotonic() - started
    assert took < 1.5 + 1.0, f"wait_ready ran {took:.1f}s"
    assert "not ready after 1.5s" in str(info.value)


def test_one_request_is_bounded_in_total_by_the_client_timeout() -> None:
    with TrickleServer("body") as server:
        with SecretsClient(
            api_key="k" * 20, api_host=server.url, timeout=1.0, retry=NO_RETRIES
        ) as client:
            started = time.monotonic()
            with pytest.raises(ApiTimeoutError):
                client.list_sets()
            took = time.monotonic() - started
    assert took < 1.0 + 1.0, f"the request ran {took:.1f}s"


def test_deadline_stops_retries_and_backoff() -> None:
    with TrickleServer("headers") as server:
        slow_retries = RetryPolicy(attempts=10, timeout=60, wait_initial=5, wait_max=5)
        with SecretsClient(
            api_key="k" * 20, api_host=server.url, timeout=0.5, retry=slow_retries
        ) as client:
            started = time.monotonic()
            with pytest.raises(ApiTimeoutError), client.deadline(1.5):
                client.put_secrets("slow-set", {"K": "v"})
            took = time.monotonic() - started
    assert took < 1.5 + 1.0, f"the retries ran {took:.1f}s"


@pytest.mark.serial  # 2 s of deadline against the wall clock, start-up included
@pytest.mark.parametrize(
    "argv",
    [
        ("secrets", "wait", "slow-set", "--timeout", "2"),
        ("check", "--set", "slow-set", "--wait", "--timeout", "2"),
    ],
)
def test_cli_timeout_is_a_whole_command_deadline(argv: tuple[str, ...], tmp_path: Path) -> None:
    """The server would trickle for a minute; the command ends 2 s after it started its work.
    Its start-up (imports, which a loaded machine slows many times over) is measured apart, as
    the same command refusing a bad set name before any request; twice that is allowed for."""
    env = {"PIPECAT_API_HOST": "http://127.0.0.1:1", "PIPECAT_API_KEY": "k" * 20}
    bad_name = [("bad name!" if a == "slow-set" else a) for a in argv]

    def timed(args: list[str] | tuple[str, ...], env: dict[str, str]) -> tuple[float, Result]:
        started = time.monotonic()
        r = run_cli(*args, env=env, cwd=tmp_path, timeout=90)
        return time.monotonic() - started, r

    startups = [timed(bad_name, env) for _ in range(2)]
    assert all(r.code == 2 for _, r in startups), [r.output for _, r in startups]
    startup = min(t for t, _ in startups)
    with TrickleServer("body", give_up=60) as server:
        took, r = timed(argv, {**env, "PIPECAT_API_HOST": server.url})
    assert r.code == 1, r.output
    assert "not ready after 2s" in r.output
    assert took < 2 * startup + 2 + 2.0, (
        f"{' '.join(argv)} ran {took:.1f}s ({startup:.1f}s start-up)"
    )


# 5. Loopback requests never go through a proxy; other hosts still do ------------------------------


class ProxyRecorder(TrickleServer):
    """A 'proxy' that records what reaches it and answers 502 at once."""

    def __init__(self) -> None:
        super().__init__("none")
        self.received: list[bytes] = []

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(2)
                self.received.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                return


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "HTTPS_PROXY"])
def test_loopback_requests_never_use_a_proxy(
    variable: str, emulator: EmulatorServer, canaries: Canaries, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = canaries.new()
    with ProxyRecorder() as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.lower(), raising=False)
        monkeypatch.setenv(variable, proxy.url)
        for host in (emulator.api_host, emulator.api_host.replace("127.0.0.1", "localhost")):
            with SecretsClient(api_key=emulator.token, api_host=host, retry=NO_RETRIES) as c:
                c.put_secrets("proxy-set", {"K": value})
                assert [s.name for s in c.list_sets()] == ["proxy-set"]
        r = run_cli(
            "secrets",
            "set",
            "proxy-set",
            "K",
            "--stdin",
            "--no-wait",
            env={
                "PIPECAT_API_HOST": emulator.api_host,
                "PIPECAT_API_KEY": emulator.token,
                variable: proxy.url,
            },
            stdin=value + "\n",
        )
        assert r.code == 0, r.stderr
    assert proxy.connections == 0 and proxy.received == []


def test_https_hosts_still_use_the_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with ProxyRecorder() as proxy:
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        with SecretsClient(
            api_key="k" * 20, api_host="https://api.invalid", retry=NO_RETRIES, timeout=5
        ) as c:
            with pytest.raises(ApiConnectionError):
                c.list_sets()
        assert proxy.received and proxy.received[0].startswith(b"CONNECT api.invalid:443")
        # NO_PROXY is honoured too.
        monkeypatch.setenv("NO_PROXY", "api.invalid")
        before = proxy.connections
        with SecretsClient(
            api_key="k" * 20, api_host="https://api.invalid", retry=NO_RETRIES, timeout=5
        ) as c:
            with pytest.raises(ApiConnectionError):
                c.list_sets()
        assert proxy.connections == before


# 20. A 404 on a retry after a dropped connection is "already gone", not "Removed" ----------------


def dropping_proxy_to(emulator: EmulatorServer) -> httpx.MockTransport:
    """Forwards to the emulator; the first DELETE is applied there, then its connection drops."""
    upstream = httpx.Client(base_url=emulator.api_host)
    dropped: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forwarded = upstream.request(
            request.method, request.url.path, headers=request.headers, content=request.content
        )
        if request.method == "DELETE" and not dropped:
            dropped.append(request.url.path)
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(
            forwarded.status_code, headers=forwarded.headers, content=forwarded.content
        )

    return httpx.MockTransport(handler)


@pytest.fixture
def cli_over_dropping_proxy(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    import pcc_env.cli.secrets

    def make_client(api_host: str | None) -> SecretsClient:
        return SecretsClient(
            api_key=emulator.token,
            api_host=emulator.api_host,
            transport=dropping_proxy_to(emulator),
            retry=RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.02, wait_jitter=0),
        )

    monkeypatch.setattr(pcc_env.cli.secrets, "make_client", make_client)
    yield


def invoke_in_process(*argv: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from pcc_env.cli.app import app

    result = CliRunner().invoke(app, list(argv), env={"NO_COLOR": "1"}, catch_exceptions=False)
    return result.exit_code, result.output


def test_unset_404_on_retry_after_drop_says_already_gone(
    emulator: EmulatorServer, cli_over_dropping_proxy: None
) -> None:
    with SecretsClient(api_key=emulator.token, api_host=emulator.api_host) as c:
        c.put_secrets("drop-set", {"A": "1", "B": "2"})
        with SecretsClient(
            api_key=emulator.token,
            api_host=emulator.api_host,
            transport=dropping_proxy_to(emulator),
        ) as flaky:
            assert flaky.delete_key("drop-set", "A") is False  # applied, then dropped, then 404
            assert flaky.delete_key("drop-set", "B") is True
    with SecretsClient(api_key=emulator.token, api_host=emulator.api_host) as c:
        c.put_secrets("drop-set", {"C": "3", "D": "4"})
    code, output = invoke_in_process("secrets", "unset", "drop-set", "C", "D", "--yes")
    assert code == 0, output
    assert "Removed C" not in output
    assert "C is not in 'drop-set' (already gone" in output
    assert "Removed D from 'drop-set'." in output


def test_delete_404_on_retry_after_drop_says_already_gone(
    emulator: EmulatorServer, cli_over_dropping_proxy: None
) -> None:
    with SecretsClient(api_key=emulator.token, api_host=emulator.api_host) as c:
        c.put_secrets("drop-set", {"A": "1"})
    code, output = invoke_in_process("secrets", "delete", "drop-set", "--yes")
    assert code == 0, output
    assert "Deleted" not in output
    assert "'drop-set' does not exist (already gone" in output
    with SecretsClient(api_key=emulator.token, api_host=emulator.api_host) as c:
        assert c.find_set("drop-set") is None


def test_watch_where_every_sync_failed_exits_1_with_summary(tmp_path: Path) -> None:
    from tests.test_cli_watch import Watch

    (tmp_path / ".env").write_text("A=1\n")
    gone = run_emulator(provision_delay=0)
    emu = gone.__enter__()
    gone.__exit__(None, None, None)  # nothing listens on its port any more
    w = Watch(emu, tmp_path)
    w.expect("sync failed: .*cannot reach", timeout=60)
    code, out, err = w.stop()
    assert code == 1, err
    assert "Stopped. 0 sync(s)" in out and "1 failure(s)" in out
    assert "Traceback" not in err
