"""Where the Pipecat Cloud API key comes from: ``PIPECAT_API_KEY``, then the OS keyring.

Keyring calls run in a worker thread with a timeout: a locked or hung keyring (a D-Bus secret
service waiting for an unlock prompt on a headless box) must not hang a command. A machine with
no usable keyring backend gets a clear error; the key is never written to a plaintext file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from pcc_env.errors import ConfigError, KeyringError, NoApiKeyError

KEYRING_SERVICE = "pcc-env"
API_KEY_ENV = "PIPECAT_API_KEY"
API_HOST_ENV = "PIPECAT_API_HOST"
DEFAULT_API_HOST = "https://api.pipecat.daily.co"
KEYRING_TIMEOUT_ENV = "PCC_ENV_KEYRING_TIMEOUT"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}

T = TypeVar("T")


def resolve_api_host(api_host: str | None = None) -> str:
    """The API host: argument, else ``PIPECAT_API_HOST``, else Pipecat Cloud. No trailing '/'.

    Plain ``http://`` is allowed only for loopback addresses (the emulator): anywhere else the
    API key would cross the network in clear text.
    """
    host = (api_host or os.environ.get(API_HOST_ENV) or DEFAULT_API_HOST).rstrip("/")
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"API host {host!r} is not an http(s) URL ({API_HOST_ENV} or --api-host)")
    loopback = parts.hostname in _LOOPBACK or parts.hostname.startswith("127.")
    if parts.scheme == "http" and not loopback:
        raise ConfigError(
            f"refusing to send the API key over plain HTTP to {parts.hostname}; use https://"
        )
    return host


def keyring_timeout() -> float:
    """Seconds to wait for the keyring: ``PCC_ENV_KEYRING_TIMEOUT``, default 5."""
    try:
        return max(0.1, float(os.environ.get(KEYRING_TIMEOUT_ENV, "5")))
    except ValueError:
        raise ConfigError(f"{KEYRING_TIMEOUT_ENV} must be a number of seconds") from None


def mask(key: str) -> str:
    """``****abcd``: enough to tell keys apart, never enough to use one."""
    return "****" + key[-4:] if len(key) >= 12 else "****"


@dataclass(frozen=True)
class ApiKey:
    """A resolved key and where it came from. Its repr never shows the key."""

    value: str = field(repr=False)
    source: Literal["argument", "env", "keyring"]

    @property
    def masked(self) -> str:
        return mask(self.value)


def _with_timeout(call: Callable[[], T], what: str, timeout: float | None) -> T:
    """Run a keyring call in a daemon thread; give up after ``timeout`` seconds."""
    if timeout is None:
        timeout = keyring_timeout()
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # re-raised below, in the caller's thread
            error.append(exc)

    worker = threading.Thread(target=run, name="pcc-env-keyring", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise KeyringError(
            f"the OS keyring did not answer within {timeout:g}s while trying to {what} "
            f"(is it locked?). Unlock it, or set {API_KEY_ENV} instead."
        )
    if error:
        raise _keyring_error(error[0], what) from None
    return result[0]


def _keyring_error(exc: BaseException, what: str) -> BaseException:
    import keyring.errors

    if isinstance(exc, KeyringError):
        return exc
    if isinstance(exc, keyring.errors.NoKeyringError):
        return no_backend_error()
    if isinstance(exc, Exception):
        # Third-party backends raise anything; their messages may echo what they were given
        # (the key), so only the exception's type is kept.
        return KeyringError(f"the OS keyring failed to {what}: {type(exc).__name__}")
    return exc  # KeyboardInterrupt, SystemExit: re-raised as they are


def no_backend_error() -> KeyringError:
    return KeyringError(
        "no usable OS keyring on this machine, so the key cannot be stored. "
        f"Set {API_KEY_ENV} in the environment instead, or install a backend "
        "(e.g. 'pip install keyrings.alt' or a Secret Service such as gnome-keyring)."
    )


def _backend_usable() -> bool:
    import keyring
    import keyring.backends.fail
    import keyring.backends.null

    backend = keyring.get_keyring()
    return not isinstance(backend, (keyring.backends.fail.Keyring, keyring.backends.null.Keyring))


def stored_api_key(api_host: str, timeout: float | None = None) -> str | None:
    """The key stored by ``pcc-env login`` for this API host, or None."""
    import keyring

    def get() -> str | None:
        if not _backend_usable():
            return None
        return keyring.get_password(KEYRING_SERVICE, api_host)

    return _with_timeout(get, "read the API key", timeout)


def store_api_key(api_host: str, key: str, timeout: float | None = None) -> None:
    """Save the key in the OS keyring (service ``pcc-env``, user = the API host)."""
    import keyring

    def put() -> None:
        if not _backend_usable():
            raise no_backend_error()
        keyring.set_password(KEYRING_SERVICE, api_host, key)

    _with_timeout(put, "store the API key", timeout)


def delete_api_key(api_host: str, timeout: float | None = None) -> bool:
    """Remove the stored key; False when there was none."""
    import keyring
    import keyring.errors

    def delete() -> bool:
        if not _backend_usable():
            return False
        if keyring.get_password(KEYRING_SERVICE, api_host) is None:
            return False
        try:
            keyring.delete_password(KEYRING_SERVICE, api_host)
        except keyring.errors.PasswordDeleteError:
            return False
        return True

    return _with_timeout(delete, "delete the API key", timeout)


def resolve_api_key(
    api_host: str, api_key: str | None = None, timeout: float | None = None
) -> ApiKey:
    """Argument, else ``PIPECAT_API_KEY``, else the keyring, else ``NoApiKeyError``."""
    if api_key:
        return ApiKey(api_key, "argument")
    from_env = os.environ.get(API_KEY_ENV)
    if from_env:
        return ApiKey(from_env, "env")
    stored = stored_api_key(api_host, timeout)
    if stored:
        return ApiKey(stored, "keyring")
    raise NoApiKeyError(
        f"no API key for {api_host}. Run 'pcc-env login' to store one in the OS keyring, "
        f"or set {API_KEY_ENV}."
    )
