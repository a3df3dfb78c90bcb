"""``SecretsClient``: the Pipecat Cloud secrets REST API over httpx (the only httpx user).

Writes are retried with stamina on 409, 429, 5xx and transport errors, honouring ``Retry-After``:
a PUT carries full values, so repeating it is safe; a DELETE answered 404 on a retry after a
dropped connection counts as done. Errors carry the server's ``error``/``code``, never a request
body, and are raised ``from None`` so no httpx object (which holds the body) is reachable.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
import stamina
import stamina.instrumentation
from pydantic import BaseModel, ValidationError

from pcc_env import __version__
from pcc_env.credentials import ApiKey, resolve_api_host, resolve_api_key
from pcc_env.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    BadRequestError,
    ConflictError,
    InputError,
    NotFoundError,
    ProvisioningFailedError,
    RateLimitedError,
    ReadyTimeoutError,
    ServerError,
    TransportError,
    UnauthorizedError,
    UnexpectedResponseError,
)
from pcc_env.models import (
    ImagePullSecretRequest,
    PutResponse,
    RegularSecretsRequest,
    SecretPair,
    SecretSetDetail,
    SecretSetList,
    SecretSetSummary,
)
from pcc_env.rules import (
    check_keys,
    check_set_name,
    escape_text,
    normalize_host,
    total_size_problems,
    value_problems,
)

log = logging.getLogger("pcc_env.client")
M = TypeVar("M", bound=BaseModel)

_STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}
_RETRYABLE = (ConflictError, RateLimitedError, ServerError, TransportError)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter (stamina's parameters)."""

    attempts: int = 6
    timeout: float = 30.0
    wait_initial: float = 0.1
    wait_max: float = 4.0
    wait_jitter: float = 0.3
    max_retry_after: float = 30.0


NO_RETRIES = RetryPolicy(attempts=1)


def _log_retry(details: stamina.instrumentation.RetryDetails) -> None:
    """Our stamina hook: the error's class and message only, never the call's arguments."""
    log.debug(
        "retry %d in %.2fs after %s: %s",
        details.retry_num,
        details.wait_for,
        type(details.caused_by).__name__,
        details.caused_by,
    )


def _install_safe_retry_hooks() -> None:
    # stamina's default hooks log the retried callable's args; ours never do.
    if stamina.instrumentation.get_on_retry_hooks() != (_log_retry,):
        stamina.instrumentation.set_on_retry_hooks([_log_retry])


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class SecretsClient:
    """A client of one API host with one key. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        api_key: str | None = None,
        api_host: str | None = None,
        *,
        timeout: float = 15.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_host = resolve_api_host(api_host)
        self.api_key: ApiKey = resolve_api_key(self.api_host, api_key)
        self.retry = retry
        _install_safe_retry_hooks()
        self._http = httpx.Client(
            base_url=self.api_host + "/v1",
            headers={
                "Authorization": f"Bearer {self.api_key.value}",
                "User-Agent": f"pcc-env/{__version__}",
            },
            timeout=timeout,
            transport=transport,
            # Loading the CA bundle costs ~60 ms; a plain-http (loopback) host never uses it.
            verify=not self.api_host.startswith("http://"),
        )

    def __repr__(self) -> str:
        return f"SecretsClient(api_host={self.api_host!r}, api_key={self.api_key.masked!r})"

    def __enter__(self) -> SecretsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # Transport ----------------------------------------------------------------------------------

    def _retry_hook(self, exc: Exception) -> bool | float:
        if not isinstance(exc, _RETRYABLE):
            return False
        if exc.retry_after is not None:
            return min(exc.retry_after, self.retry.max_retry_after)
        return True

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TimeoutException:
            raise ApiTimeoutError("the request timed out", method=method, path=path) from None
        except httpx.TransportError as exc:
            raise ApiConnectionError(
                f"cannot reach {self.api_host} ({type(exc).__name__})", method=method, path=path
            ) from None
        if response.is_success:
            return response
        raise self._error(response, method, path)

    def _error(self, response: httpx.Response, method: str, path: str) -> ApiError:
        status = response.status_code
        message, code = response.reason_phrase or "error", None
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                message, code = body["error"], body.get("code")
        except ValueError:
            pass
        # The server's words are printed: no terminal escapes or extra lines may get through.
        message = escape_text(message)[:500]
        code = escape_text(code)[:100] if isinstance(code, str) else None
        cls = _STATUS_ERRORS.get(status) or (ServerError if status >= 500 else ApiError)
        return cls(
            message,
            status_code=status,
            code=code,
            method=method,
            path=path,
            retry_after=_retry_after(response),
        )

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send with retries; returns the decoded JSON body (None when empty)."""
        dropped = False
        for attempt in stamina.retry_context(
            on=self._retry_hook,
            attempts=self.retry.attempts,
            timeout=self.retry.timeout,
            wait_initial=self.retry.wait_initial,
            wait_max=self.retry.wait_max,
            wait_jitter=self.retry.wait_jitter,
        ):
            with attempt:
                try:
                    response = self._send(method, path, body)
                except NotFoundError:
                    if method == "DELETE" and dropped:
                        return None  # the dropped attempt did delete it
                    raise
                except TransportError:
                    dropped = True
                    raise
                if not response.content:
                    return None
                try:
                    return response.json()
                except ValueError:
                    raise UnexpectedResponseError(
                        "the response is not JSON",
                        status_code=response.status_code,
                        method=method,
                        path=path,
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _parse(model: type[M], data: Any, method: str, path: str) -> M:
        try:
            return model.model_validate(data)
        except ValidationError:
            raise UnexpectedResponseError(
                f"the response does not match {model.__name__}", method=method, path=path
            ) from None

    # API ----------------------------------------------------------------------------------------

    def list_sets(self) -> list[SecretSetSummary]:
        """Every set of the organization (name, type, region, status), never values."""
        return self._parse(SecretSetList, self._request("GET", "/secrets"), "GET", "/secrets").sets

    def get_set(self, name: str) -> SecretSetDetail:
        """Keys, region and status of a regular set; ``NotFoundError`` when absent."""
        path = f"/secrets/{check_set_name(name)}"
        return self._parse(SecretSetDetail, self._request("GET", path), "GET", path)

    def find_set(self, name: str) -> SecretSetDetail | None:
        """Like ``get_set`` but None when the set does not exist."""
        try:
            return self.get_set(name)
        except NotFoundError:
            return None

    def put_secrets(
        self, name: str, secrets: Mapping[str, str], region: str | None = None
    ) -> PutResponse:
        """Create or merge ``secrets`` into set ``name`` with one PUT (keys not sent are kept)."""
        check_set_name(name)
        if not secrets:
            raise InputError("no secrets to send")
        check_keys(secrets)
        problems = [p for k, v in secrets.items() for p in value_problems(k, v)]
        problems += total_size_problems(dict(secrets))
        if problems:
            raise InputError(problems)
        request = RegularSecretsRequest(
            secrets=[SecretPair(secret_key=k, secret_value=v) for k, v in secrets.items()],
            region=region,
        )
        path = f"/secrets/{name}"
        return self._parse(PutResponse, self._request("PUT", path, request.to_wire()), "PUT", path)

    def put_image_pull_secret(
        self,
        name: str,
        host: str,
        credentials: str,
        region: str | None = None,
        encode: bool = True,
    ) -> PutResponse:
        """Create or update an image pull secret; ``username:token`` is base64-encoded."""
        check_set_name(name)
        if not credentials:
            raise InputError("the registry credentials are empty")
        value = base64.b64encode(credentials.encode()).decode() if encode else credentials
        request = ImagePullSecretRequest(
            host=normalize_host(host),
            secret_value=value,
            region=region,
        )
        path = f"/secrets/{name}"
        return self._parse(PutResponse, self._request("PUT", path, request.to_wire()), "PUT", path)

    def delete_key(self, name: str, key: str) -> None:
        check_set_name(name)
        check_keys([key])
        self._request("DELETE", f"/secrets/{name}/{key}")

    def delete_set(self, name: str) -> None:
        self._request("DELETE", f"/secrets/{check_set_name(name)}")

    def set_status(self, name: str) -> SecretSetSummary:
        """Status of any set, image pull secrets included (they cannot be read by name)."""
        try:
            detail = self.get_set(name)
        except BadRequestError:
            for entry in self.list_sets():
                if entry.name == name:
                    return entry
            raise NotFoundError("Set not found", status_code=404, code="NOT_FOUND") from None
        return SecretSetSummary(
            name=name,
            type="secret",
            region=detail.region,
            status=detail.status,
            error_message=detail.error_message,
        )

    def wait_ready(
        self,
        name: str,
        timeout: float = 60.0,
        *,
        on_poll: Callable[[SecretSetSummary], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> SecretSetSummary:
        """Poll until the set is ``ready``: 0.1 s at first, growing to 2 s between polls.

        Raises ``ProvisioningFailedError`` (with the server's message) or ``ReadyTimeoutError``.
        """
        deadline = clock() + timeout
        interval = 0.1
        while True:
            status = self.set_status(name)
            if on_poll is not None:
                on_poll(status)
            if status.status == "ready":
                return status
            if status.status == "failed":
                raise ProvisioningFailedError(name, status.error_message)
            remaining = deadline - clock()
            if remaining <= 0:
                raise ReadyTimeoutError(name, status.status, timeout)
            sleep(min(interval, remaining))
            interval = min(interval * 2, 2.0)
