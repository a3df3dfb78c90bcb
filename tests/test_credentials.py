"""API key resolution and keyring handling (in-process, with keyring.set_keyring)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import keyring
import keyring.backends.fail
import pytest
from keyring.backend import KeyringBackend

from pcc_env.credentials import (
    DEFAULT_API_HOST,
    delete_api_key,
    mask,
    resolve_api_host,
    resolve_api_key,
    store_api_key,
)
from pcc_env.errors import ConfigError, KeyringError, NoApiKeyError
from tests.keyring_backends import HangingKeyring


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.data[(service, username)]


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    monkeypatch.delenv("PIPECAT_API_KEY", raising=False)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_env_wins_over_keyring(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_api_key("https://h.example", "from-keyring-key")
    monkeypatch.setenv("PIPECAT_API_KEY", "from-env-key")
    key = resolve_api_key("https://h.example")
    assert (key.value, key.source) == ("from-env-key", "env")


def test_keyring_is_per_api_host(memory_keyring: MemoryKeyring) -> None:
    store_api_key("https://a.example", "key-a-0000000000")
    assert memory_keyring.data == {("pcc-env", "https://a.example"): "key-a-0000000000"}
    assert resolve_api_key("https://a.example").source == "keyring"
    with pytest.raises(NoApiKeyError) as info:
        resolve_api_key("https://b.example")
    assert "pcc-env login" in str(info.value) and "PIPECAT_API_KEY" in str(info.value)


def test_delete(memory_keyring: MemoryKeyring) -> None:
    store_api_key("https://a.example", "k")
    assert delete_api_key("https://a.example") is True
    assert delete_api_key("https://a.example") is False


def test_fail_backend_refuses_to_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPECAT_API_KEY", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.raises(KeyringError) as info:
            store_api_key("https://a.example", "k")
        assert "PIPECAT_API_KEY" in str(info.value) and "keyrings.alt" not in str(info.value)
        with pytest.raises(NoApiKeyError):
            resolve_api_key("https://a.example")
        assert delete_api_key("https://a.example") is False
    finally:
        keyring.set_keyring(previous)


def test_hanging_keyring_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPECAT_API_KEY", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(HangingKeyring())
    try:
        started = time.monotonic()
        with pytest.raises(KeyringError) as info:
            resolve_api_key("https://a.example", timeout=0.3)
        assert time.monotonic() - started < 2
        assert "locked" in str(info.value) and "PIPECAT_API_KEY" in str(info.value)
    finally:
        keyring.set_keyring(previous)


def test_api_host_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPECAT_API_HOST", raising=False)
    assert resolve_api_host() == DEFAULT_API_HOST
    monkeypatch.setenv("PIPECAT_API_HOST", "https://env.example/")
    assert resolve_api_host() == "https://env.example"
    assert resolve_api_host("http://127.0.0.1:8787") == "http://127.0.0.1:8787"
    assert resolve_api_host("http://localhost:1") == "http://localhost:1"
    with pytest.raises(ConfigError):
        resolve_api_host("http://10.0.0.5")
    with pytest.raises(ConfigError):
        resolve_api_host("not a url")


def test_mask() -> None:
    assert mask("pk_live_0123456789abcd") == "****abcd"
    assert mask("short") == "****"


class EchoingKeyring(MemoryKeyring):
    """A badly written backend whose error message repeats the password it was given."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"could not store {password}")


def test_backend_errors_never_carry_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPECAT_API_KEY", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(EchoingKeyring())
    canary = "canary-keyring-4b7e"
    try:
        with pytest.raises(KeyringError) as info:
            store_api_key("https://a.example", canary)
    finally:
        keyring.set_keyring(previous)
    exc = info.value
    assert "RuntimeError" in str(exc)
    assert canary not in str(exc) + repr(exc)
    assert exc.__cause__ is None and exc.__suppress_context__
