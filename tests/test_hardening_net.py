"""Issue 10, items 4-8, 19, 20: the API key goes only where it should, over a bounded time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import ClassVar

import keyring
import keyring.backends.fail
import keyring.backends.null
import pytest
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend

from pcc_env.client import NO_RETRIES, SecretsClient
from pcc_env.credentials import (
    check_keyring_storable,
    insecure_backend_reason,
    resolve_api_host,
    resolve_api_key,
    store_api_key,
)
from pcc_env.emulator.server import EmulatorServer
from pcc_env.errors import ConfigError, InvalidApiKeyError, KeyringError, UnauthorizedError
from tests.cli_helpers import run_cli
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
