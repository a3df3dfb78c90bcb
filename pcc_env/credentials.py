"""Where the Pipecat Cloud API key comes from: ``PIPECAT_API_KEY``, then the OS keyring.

Keyring calls run in a worker thread with a timeout: a locked or hung keyring (a D-Bus secret
service waiting for an unlock prompt on a headless box) must not hang a command. A machine with
no usable keyring backend gets a clear error; the key is never written to a plaintext file.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from pcc_env.errors import ConfigError, InvalidApiKeyError, KeyringError, NoApiKeyError

KEYRING_SERVICE = "pcc-env"
API_KEY_ENV = "PIPECAT_API_KEY"
API_HOST_ENV = "PIPECAT_API_HOST"
DEFAULT_API_HOST = "https://api.pipecat.daily.co"
KEYRING_TIMEOUT_ENV = "PCC_ENV_KEYRING_TIMEOUT"
_LOOPBACK_NETS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))

T = TypeVar("T")


def is_loopback_host(hostname: str | None) -> bool:
    """``localhost`` or a literal loopback address (127.0.0.0/8, ::1), never a name like
    ``127.attacker.example`` that only looks like one."""
    if not hostname:
        return False
    if hostname.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return any(address in net for net in _LOOPBACK_NETS)


def is_loopback_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname)


def _api_host_source(api_host: str | None) -> tuple[str, str]:
    """The configured host and what to call it in a message (never its text)."""
    if api_host:
        return api_host, "--api-host"
    from_env = os.environ.get(API_HOST_ENV)
    if from_env:
        return from_env, API_HOST_ENV
    return DEFAULT_API_HOST, "the default API host"


def resolve_api_host(api_host: str | None = None) -> str:
    """The API host: argument, else ``PIPECAT_API_HOST``, else Pipecat Cloud. No trailing '/'.

    Plain ``http://`` is allowed only for loopback addresses (the emulator): anywhere else the
    API key would cross the network in clear text. User info, a query string or a fragment is
    refused: the API key is the only credential sent, and a token there would be printed with
    the host. A refused host is named by where it came from, never shown: it may be the key
    (PIPECAT_API_HOST and PIPECAT_API_KEY swapped).
    """
    raw, source = _api_host_source(api_host)
    host = raw.rstrip("/")
    if not host.isprintable() or any(c.isspace() for c in host):
        raise ConfigError(f"{source} holds spaces or control characters (not shown)")
    try:
        parts = urlsplit(host)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"{source} is not a valid URL (not shown)") from None
    if "@" in parts.netloc:
        raise ConfigError(
            f"{source} holds a user name or password (user:pw@host); remove it. "
            "pcc-env sends only the API key."
        )
    if parts.query or parts.fragment or "?" in host or "#" in host:
        raise ConfigError(
            f"{source} holds a query string or fragment (?... or #...), not shown; remove it: "
            "the API host is scheme://host[:port]. pcc-env sends only the API key."
        )
    if parts.scheme not in ("http", "https") or not hostname or not _host_shaped(parts.netloc):
        raise ConfigError(
            f"{source} is not an http(s) URL (not shown: is it the key? The key goes in "
            f"{API_KEY_ENV}, the URL in {API_HOST_ENV})"
        )
    if parts.scheme == "http" and not is_loopback_host(hostname):
        raise ConfigError(
            f"refusing to send the API key over plain HTTP ({source}); use https:// "
            "(plain http is only for localhost and 127.0.0.0/8 or ::1)"
        )
    return host


# A DNS name (labels of letters, digits, '-' and '_') or a bracketed IPv6 literal, then an
# optional port: nothing else (``%`` escapes, ``;``, ``\\``, an IPv6 zone or ``[v1.x]``) can be
# part of a host a key is sent to, and each could carry a pasted token into ``--version``.
_NETLOC_RE = re.compile(
    r"(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
)


def _host_shaped(netloc: str) -> bool:
    if not _NETLOC_RE.fullmatch(netloc):
        return False
    if netloc.startswith("["):
        try:
            ipaddress.IPv6Address(netloc[1 : netloc.index("]")])
        except ValueError:
            return False
    return True


def api_host_origin(host: str) -> str:
    """``scheme://host[:port]`` of a resolved API host, for messages: a path is left out (it
    is the one part of the URL that could still carry a token), and so is a label of the host
    that looks like a credential (``https://<key>``: the key pasted after the scheme)."""
    from pcc_env.rules import redact_name

    parts = urlsplit(host)
    name, colon, port = parts.netloc.rpartition(":") if parts.port else (parts.netloc, "", "")
    if not name.startswith("["):
        name = ".".join(redact_name(label) for label in name.split("."))
    netloc = name + colon + port
    origin = f"{parts.scheme.lower()}://{netloc}"
    return origin if parts.path in ("", "/") else f"{origin} (path not shown)"


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

    @property
    def cache_key(self) -> bytes:
        """A key for this machine's push cache, derived from the API key (one way): the cache's
        digests cannot be tested against guesses by whoever holds the cache file (a backup, a
        synced home) but not the API key."""
        return hashlib.sha256(b"pcc-env push-state key\0" + self.value.encode()).digest()


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
    if isinstance(exc, keyring.errors.KeyringLocked):
        # A locked Secret Service collection whose unlock prompt cannot be shown (no desktop
        # session: SSH, CI) fails at once rather than waiting.
        return KeyringError(
            f"the OS keyring is locked and could not be unlocked while trying to {what} "
            f"(no unlock prompt here?). Unlock it, or set {API_KEY_ENV} instead."
        )
    if isinstance(exc, Exception):
        # Third-party backends raise anything; their messages may echo what they were given
        # (the key), so only the exception's type is kept.
        return KeyringError(f"the OS keyring failed to {what}: {type(exc).__name__}")
    return exc  # KeyboardInterrupt, SystemExit: re-raised as they are


def no_backend_error() -> KeyringError:
    return KeyringError(
        "no usable OS keyring on this machine, so the key cannot be stored. "
        f"Set {API_KEY_ENV} in the environment instead (e.g. from your CI's or shell's "
        "secret store), or use an encrypted OS keyring: macOS Keychain, Windows Credential "
        "Locker, or a Secret Service such as gnome-keyring or KeePassXC."
    )


# Backends that keep nothing (keyring's own null/fail) and keyrings.alt's file backends that
# keep the key readable on disk. Matched by module and class name: keyrings.alt need not be
# installed for us to recognise it.
_STORES_NOTHING = {("keyring.backends.null", "Keyring"), ("keyring.backends.fail", "Keyring")}
_PLAINTEXT_MODULES = ("keyrings.alt.",)


def _class_id(backend: object) -> tuple[str, str]:
    cls = type(backend)
    return cls.__module__, cls.__name__


def _is_chainer(backend: object) -> bool:
    from keyring.backends.chainer import ChainerBackend

    return isinstance(backend, ChainerBackend)


def _chained(backend: object) -> list[object]:
    return list(getattr(backend, "backends", []))


def _stores_nothing(backend: object) -> bool:
    if _is_chainer(backend):
        return all(_stores_nothing(b) for b in _chained(backend))
    return _class_id(backend) in _STORES_NOTHING


def _plaintext_reason(backend: object) -> str | None:
    """Why ``backend`` would leave the key readable on disk, or None when it does not."""
    module, name = _class_id(backend)
    if not module.startswith(_PLAINTEXT_MODULES):
        return None
    if name == "PlaintextKeyring":
        return f"{module}.{name} writes the key to a plain-text file"
    if "Encrypted" in name and not getattr(type(backend), "viable", True):
        return f"{module}.{name} cannot encrypt here (its crypto library is missing)"
    return None


def insecure_backend_reason(backend: object) -> str | None:
    """Why ``pcc-env login`` must not store the key in ``backend``, or None when it may.

    A chainer stores in its first backend, so it is judged by that one (a chainer of refused
    backends is refused whatever their order).
    """
    if _stores_nothing(backend):
        return "stores nothing"
    if _is_chainer(backend):
        return insecure_backend_reason(_chained(backend)[0])
    return _plaintext_reason(backend)


def _current_backend() -> object:
    import keyring

    try:
        return keyring.get_keyring()
    except RuntimeError:  # a configured backend that cannot load (e.g. missing crypto)
        raise no_backend_error() from None


def _backend_usable() -> bool:
    return not _stores_nothing(_current_backend())


def _check_storable() -> None:
    backend = _current_backend()
    reason = insecure_backend_reason(backend)
    if reason == "stores nothing":
        raise no_backend_error()
    if reason:
        raise KeyringError(
            f"refusing to store the API key: the keyring backend {reason}. "
            f"Set {API_KEY_ENV} in the environment instead, or configure an encrypted OS "
            "keyring (macOS Keychain, Windows Credential Locker, a Secret Service such as "
            "gnome-keyring or KeePassXC)."
        )


def check_keyring_storable(timeout: float | None = None) -> None:
    """Raise ``KeyringError`` when the keyring would store nothing or store in plain text."""
    _with_timeout(_check_storable, "check the OS keyring", timeout)


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
        _check_storable()
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


_KEY_SOURCES = {
    "argument": "the API key given",
    "env": API_KEY_ENV,
    "keyring": "the stored API key",
}


def check_api_key(key: ApiKey) -> ApiKey:
    """Refuse a key that cannot be a bearer token: whitespace, control characters (the ``\\r``
    of a CRLF file) or non-ASCII. Checked before any request, so no HTTP library ever sees
    (or logs, rejecting the header) such a key. The message never shows the key."""
    if all(0x21 <= ord(c) <= 0x7E for c in key.value):
        return key
    problems = []
    if any(c.isspace() for c in key.value):
        problems.append("whitespace")
    if any(not c.isprintable() and not c.isspace() for c in key.value):
        problems.append("control characters")
    if not key.value.isascii():
        problems.append("non-ASCII characters")
    where = _KEY_SOURCES[key.source]
    hint = " (a line ending from a Windows file?)" if "\r" in key.value else ""
    raise InvalidApiKeyError(
        f"{where} contains {' and '.join(problems) or 'invalid characters'}{hint}; "
        "an API key is printable ASCII without spaces. Nothing was sent."
    )


def resolve_api_key(
    api_host: str, api_key: str | None = None, timeout: float | None = None
) -> ApiKey:
    """Argument, else ``PIPECAT_API_KEY``, else the keyring, else ``NoApiKeyError``.

    A key with whitespace, control or non-ASCII characters raises ``InvalidApiKeyError``.
    """
    if api_key:
        return check_api_key(ApiKey(api_key, "argument"))
    from_env = os.environ.get(API_KEY_ENV)
    if from_env:
        return check_api_key(ApiKey(from_env, "env"))
    stored = stored_api_key(api_host, timeout)
    if stored:
        return check_api_key(ApiKey(stored, "keyring"))
    raise NoApiKeyError(
        f"no API key for {api_host_origin(api_host)}. Run 'pcc-env login' to store one in the OS "
        f"keyring, or set {API_KEY_ENV}."
    )
