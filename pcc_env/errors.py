"""The one exception tree of pcc-env.

Every error the library raises is a ``PccEnvError``. Messages name keys, set names, files and
line numbers, never a secret value: they are safe to print and to log.

::

    PccEnvError
    ├── InputError                  bad local input; nothing was sent (CLI exit 2)
    │   └── DotenvError             a .env file that cannot be used (line numbers, no content)
    ├── ConfigError                 pcc-deploy.toml / pyproject / settings reference problems
    ├── SettingsError               the bot's settings cannot be built
    │   ├── MissingSecretsError     required env vars are absent (``.missing``)
    │   └── InvalidSecretsError     values present but invalid (``.invalid``: name -> reason)
    ├── CredentialsError            no usable API key
    │   ├── NoApiKeyError           neither PIPECAT_API_KEY nor a stored key
    │   ├── InvalidApiKeyError      a key with whitespace, control or non-ASCII characters
    │   └── KeyringError            the OS keyring failed, is absent, or timed out
    ├── ApiError                    the secrets API answered with an error, or not at all
    │   ├── BadRequestError         400
    │   ├── UnauthorizedError       401
    │   ├── NotFoundError           404
    │   ├── ConflictError           409
    │   ├── RateLimitedError        429
    │   ├── ServerError             5xx
    │   ├── UnexpectedResponseError a response that is not what the API documents
    │   └── TransportError          no usable response
    │       ├── ApiConnectionError  connecting failed or the connection dropped
    │       └── ApiTimeoutError     the request timed out
    └── ProvisioningError           a write was accepted but the set did not become ready
        ├── ProvisioningFailedError status ``failed`` (``.error_message`` from the server)
        └── ReadyTimeoutError       still not ready when the wait ran out (``.last_status``)

This module imports nothing, so every layer (runtime included) can use it.
"""

from __future__ import annotations


class PccEnvError(Exception):
    """Base class of every pcc-env error."""


class InputError(PccEnvError, ValueError):
    """Local input is invalid. ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[str] | str, *, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            message = head + self.problems[0]
        else:
            message = (
                head
                + f"{len(self.problems)} problems:\n"
                + "\n".join(f"  - {p}" for p in self.problems)
            )
        super().__init__(message)


class DotenvError(InputError):
    """A .env file cannot be used as it is."""


class ConfigError(PccEnvError):
    """Project configuration (pcc-deploy.toml, pyproject.toml, a settings reference) is wrong."""


class SettingsError(PccEnvError):
    """The bot's settings cannot be built from the environment."""


class MissingSecretsError(SettingsError):
    """Required environment variables are missing; ``missing`` holds their names."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


class InvalidSecretsError(SettingsError):
    """Some values are present but invalid; ``invalid`` maps env var name -> reason."""

    def __init__(self, message: str, invalid: dict[str, str]) -> None:
        super().__init__(message)
        self.invalid = invalid


class CredentialsError(PccEnvError):
    """No usable Pipecat Cloud API key."""


class NoApiKeyError(CredentialsError):
    """Neither ``PIPECAT_API_KEY`` nor a key stored with ``pcc-env login``."""


class InvalidApiKeyError(CredentialsError):
    """The API key cannot be a bearer token (whitespace, control or non-ASCII characters)."""


class KeyringError(CredentialsError):
    """The OS keyring is unusable (no backend, locked, timed out)."""


class ApiError(PccEnvError):
    """The API answered with an error: the server's ``error``/``code``, never a body sent."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.retry_after = retry_after
        self.status_code = status_code
        self.code = code
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method and path else ""
        status = f" (HTTP {status_code}{', ' + code if code else ''})" if status_code else ""
        super().__init__(f"{where}{message}{status}")


class BadRequestError(ApiError):
    """400: the request was refused as invalid."""


class UnauthorizedError(ApiError):
    """401: the API key is missing or wrong."""


class NotFoundError(ApiError):
    """404: the set or key does not exist."""


class ConflictError(ApiError):
    """409: another request is modifying the same set."""


class RateLimitedError(ApiError):
    """429: too many requests."""


class ServerError(ApiError):
    """5xx: the service failed."""


class UnexpectedResponseError(ApiError):
    """A response that does not match the documented shape."""


class TransportError(ApiError):
    """No usable response arrived."""


class ApiConnectionError(TransportError):
    """Connecting failed, or the connection dropped before a full response."""


class ApiTimeoutError(TransportError):
    """The request timed out."""


class ProvisioningError(PccEnvError):
    """A write was accepted but the set did not become ``ready``."""

    def __init__(self, message: str, *, set_name: str) -> None:
        super().__init__(message)
        self.set_name = set_name


class ProvisioningFailedError(ProvisioningError):
    """The set's status is ``failed``; ``error_message`` is the server's customer-facing text."""

    def __init__(self, set_name: str, error_message: str | None) -> None:
        self.error_message = error_message
        detail = error_message or "no message from the service"
        super().__init__(
            f"Secret set '{set_name}' failed to provision: {detail}", set_name=set_name
        )


class ReadyTimeoutError(ProvisioningError):
    """The set was still not ``ready`` when the wait ran out."""

    def __init__(self, set_name: str, last_status: str | None, timeout: float) -> None:
        self.last_status = last_status
        self.timeout = timeout
        super().__init__(
            f"Secret set '{set_name}' was not ready after {timeout:g}s "
            f"(last status: {last_status or 'unknown'})",
            set_name=set_name,
        )
