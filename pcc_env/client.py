"""``SecretsClient``: the Pipecat Cloud private REST API over httpx (the only httpx user).

The class is split along what changes together: ``ApiTransport`` (host, key, httpx, retries,
typed errors), the secrets calls (``SecretsClient``'s own methods, below) and the agents calls
(``pcc_env.agents_api.AgentsApi``, mixed in; it sends through ``ApiTransport._request``).

Writes are retried with stamina on 409, 429, 5xx and transport errors, honouring ``Retry-After``:
a PUT carries full values, so repeating it is safe; a DELETE answered 404 on a retry after a
dropped connection counts as done. Errors carry the server's ``error``/``code``, never a request
body, and are raised ``from None`` so no httpx object (which holds the body) is reachable.

Time is bounded in total, not per socket operation: httpx's timeouts restart on every byte, so a
server trickling one byte a second could hold a request forever. Every socket operation is capped
by the time left before a deadline (one request's ``timeout``, and the caller's ``deadline()``
such as ``wait_ready``'s), checked before each read and write.

A loopback API host (the emulator) is reached directly, never through ``HTTP(S)_PROXY`` or
``ALL_PROXY``: a proxy would receive the key and every value. Other hosts honour the environment's
proxy settings (``NO_PROXY`` included).
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import ssl
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpcore
import httpx
import stamina
import stamina.instrumentation
from pydantic import BaseModel, ValidationError

from pcc_env import __version__
from pcc_env.agents_api import AgentsApi
from pcc_env.credentials import (
    ApiKey,
    api_host_origin,
    is_loopback_url,
    resolve_api_host,
    resolve_api_key,
)
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
    check_region,
    check_set_name,
    display_path,
    escape_text,
    normalize_host,
    set_name_problems,
    total_size_problems,
    value_problems,
)

log = logging.getLogger("pcc_env.client")
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T", bound="ApiTransport")

_STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}
_RETRYABLE = (ConflictError, RateLimitedError, ServerError, TransportError)
# What ``_request`` returns for a DELETE answered 404 on a retry after a dropped connection.
_ALREADY_GONE = object()


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


# Deadline-bounded sockets ------------------------------------------------------------------------

# The monotonic time by which the request in flight (in this thread) must be over.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "pcc_env_request_deadline", default=None
)


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` capped by the time left before the deadline; ``expired`` once it passed."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.connect_tcp(host, port, left, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``NO_PROXY`` honoured), as httpx would."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.netloc):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _tls_context() -> ssl.SSLContext:
    """httpx's default context (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``) without its key
    log: ``ssl.create_default_context`` appends every TLS session key to ``$SSLKEYLOGFILE``,
    and with those keys any capture of the traffic shows the API key and every value."""
    context = httpx.create_ssl_context()
    context.keylog_filename = None  # type: ignore[assignment]  # None switches the log off
    return context


def _make_transport(api_host: str) -> httpx.HTTPTransport:
    """Direct for loopback hosts, else through the environment's proxy; deadline-bounded."""
    loopback = is_loopback_url(api_host)
    # Loading the CA bundle costs ~60 ms; a plain-http (loopback) host never uses it.
    tls = None if api_host.startswith("http://") else _tls_context()
    proxy: str | httpx.Proxy | None = None if loopback else _environment_proxy(api_host)
    if isinstance(proxy, str) and proxy.startswith("https://"):
        proxy = httpx.Proxy(proxy, ssl_context=tls or _tls_context())  # httpcore's would log keys
    transport = httpx.HTTPTransport(verify=tls if tls is not None else False, proxy=proxy)
    # httpx has no option for a network backend; its pool (ConnectionPool, HTTPProxy or
    # SOCKSProxy, all httpcore) keeps the one it creates connections with.
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        setattr(pool, "_network_backend", _DeadlineBackend(backend))  # noqa: B010
    else:  # pragma: no cover - an httpx/httpcore that moved it: per-operation timeouts only
        log.debug("cannot bound socket operations by a deadline with this httpx")
    return transport


# An answer of the API is a few KB; a listing of thousands of sets or agents stays far below
# this. A server sending more is not the API: it would cost seconds and hundreds of MB to parse.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# The encodings a server may use although we ask for none (``Accept-Encoding: identity``): a
# proxy or CDN may compress anyway. zlib's window bits for each; anything else is refused.
_DECOMPRESS_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}


def _read_capped(response: httpx.Response, method: str, path: str) -> bytes:
    """The body of a streamed response, refused past ``MAX_RESPONSE_BYTES`` (before reading it
    when its length is announced), then decoded by ``_decode_body`` (bounded the same way)."""
    too_big = UnexpectedResponseError(
        f"the response is larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB",
        status_code=response.status_code,
        method=method,
        path=path,
    )
    announced = response.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > MAX_RESPONSE_BYTES:
        raise too_big
    if response.is_stream_consumed:  # a body given whole (httpx.MockTransport), decoded by httpx
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise too_big
        return response.content
    chunks: list[bytes] = []
    size = 0
    # Raw bytes: httpx's own decoders inflate a whole chunk before any size check (a 40 KB gzip
    # becomes 40 MB in memory) and raise httpx.DecodingError, which is no TransportError.
    for chunk in response.iter_raw():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise too_big
        chunks.append(chunk)
    return _decode_body(b"".join(chunks), response, too_big, method, path)


def _decode_body(
    data: bytes, response: httpx.Response, too_big: ApiError, method: str, path: str
) -> bytes:
    """``data`` without its Content-Encoding (gzip or deflate, innermost last), at most
    ``MAX_RESPONSE_BYTES`` once inflated; ``UnexpectedResponseError`` for anything else."""

    def bad(why: str) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            why, status_code=response.status_code, method=method, path=path
        )

    header = ",".join(response.headers.get_list("content-encoding"))
    codings = [
        c for c in (c.strip().lower() for c in header.split(",")) if c not in ("", "identity")
    ]
    if len(codings) > 2:  # each layer may inflate to the cap: a long chain costs seconds
        raise bad("the response is compressed more times than pcc-env accepts")
    for coding in reversed(codings):
        if coding == "deflate":  # zlib-wrapped as the RFC says, or raw as some servers send
            options = [zlib.MAX_WBITS, -zlib.MAX_WBITS]
        elif coding in _DECOMPRESS_WBITS:
            options = [_DECOMPRESS_WBITS[coding]]
        else:  # the server's own word: not shown
            raise bad("the response uses a content encoding pcc-env does not accept")
        for n, wbits in enumerate(options, start=1):
            inflater = zlib.decompressobj(wbits)
            try:
                out = inflater.decompress(data, MAX_RESPONSE_BYTES + 1)
            except zlib.error:
                if n < len(options):
                    continue
                raise bad(f"the response is not valid {coding} data") from None
            break
        if len(out) > MAX_RESPONSE_BYTES:
            raise too_big
        if not inflater.eof or inflater.unused_data:
            raise bad(f"the response is not valid {coding} data (truncated or trailing bytes)")
        data = out
    return data


def _json(content: bytes) -> Any:
    """The decoded JSON; ``ValueError`` for anything else, a nesting too deep for the parser
    (``RecursionError``) included."""
    try:
        return json.loads(content)
    except RecursionError:
        raise ValueError("nested too deeply") from None


@dataclass(frozen=True)
class RetryNotice:
    """A request failed and will be sent again: what ``on_retry`` receives (no body, no value)."""

    method: str
    path: str
    reason: str  # "409 conflict", "503 server error", "connection failed", "timed out"
    attempt: int  # the attempt about to start, 2..attempts
    attempts: int


def _retry_reason(exc: Exception) -> str:
    if isinstance(exc, ApiTimeoutError):
        return "timed out"
    if isinstance(exc, TransportError):
        return "connection failed"
    status = getattr(exc, "status_code", None)
    kind = {409: "conflict", 429: "rate limited"}.get(status or 0, "server error")
    return f"{status} {kind}" if status else kind


class ApiTransport:
    """One API host with one key: requests with retries and typed errors. Use as a context
    manager, or call ``close()``. The API calls live in ``SecretsClient`` and its mixins.

    ``timeout`` bounds each request in total (connecting, sending, every byte of the answer).
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_host: str | None = None,
        *,
        timeout: float = 15.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> None:
        self.api_host = resolve_api_host(api_host)
        self.on_retry = on_retry
        self._attempt = threading.local()  # the attempt in flight, per thread
        self.api_key: ApiKey = resolve_api_key(self.api_host, api_key)
        self.retry = retry
        self.timeout = timeout
        # Per thread: watch --redeploy waits for the set and for agents in several threads.
        self._deadlines = threading.local()
        _install_safe_retry_hooks()
        self._http = httpx.Client(
            base_url=self.api_host + "/v1",
            headers={
                "Authorization": f"Bearer {self.api_key.value}",
                "User-Agent": f"pcc-env/{__version__}",
                # Compressed answers would save little on a few KB, and add a decoder that a
                # hostile server can feed; one that compresses anyway is decoded, bounded.
                "Accept-Encoding": "identity",
            },
            timeout=timeout,
            transport=transport or _make_transport(self.api_host),
            trust_env=False,  # proxies are chosen by _make_transport, never for loopback
        )

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(api_host={self.api_host!r}, api_key={self.api_key.masked!r})"

    def __enter__(self: T) -> T:
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

    @property
    def _deadline(self) -> float | None:
        return getattr(self._deadlines, "ends", None)

    @_deadline.setter
    def _deadline(self, ends: float | None) -> None:
        self._deadlines.ends = ends

    @contextmanager
    def deadline(self, seconds: float | None) -> Iterator[None]:
        """Every request made inside, retries and waits included, ends within ``seconds``
        (``ApiTimeoutError`` past it). Nested deadlines keep the earliest; None adds none. A
        deadline holds for the thread that set it."""
        previous = self._deadline
        if seconds is not None:
            ends = time.monotonic() + seconds
            self._deadline = ends if previous is None else min(previous, ends)
        try:
            yield
        finally:
            self._deadline = previous

    def _time_left(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    # Transport ----------------------------------------------------------------------------------

    def _retry_hook(self, exc: Exception) -> bool | float:
        if not isinstance(exc, _RETRYABLE):
            return False
        left = self._time_left()
        if left is not None and left <= 0:
            return False
        if exc.retry_after is not None:
            wait = min(exc.retry_after, self.retry.max_retry_after)
            if left is not None and wait >= left:
                return False  # the server asks us to come back after the deadline
            self._notify_retry(exc)
            return wait
        self._notify_retry(exc)
        return True

    def _notify_retry(self, exc: Exception) -> None:
        current = getattr(self._attempt, "value", None)
        if self.on_retry is None or current is None:
            return
        method, path, num = current
        if num >= self.retry.attempts:
            return  # stamina gives up after this one: no retry is coming
        self.on_retry(RetryNotice(method, path, _retry_reason(exc), num + 1, self.retry.attempts))

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """One attempt: the response (read, closed) and its body, of at most
        ``MAX_RESPONSE_BYTES``; an ``ApiError`` for a status that is not a success."""
        request_path, path = path, display_path(path)  # errors name the path as displayed
        ends = time.monotonic() + self.timeout
        if self._deadline is not None:
            if self._deadline <= time.monotonic():
                raise ApiTimeoutError("out of time (the deadline passed)", method=method, path=path)
            ends = min(ends, self._deadline)
        token = _DEADLINE.set(ends)
        try:
            request = self._http.build_request(method, request_path, json=body, params=params)
            response = self._http.send(request, stream=True)
            try:
                content = _read_capped(response, method, path)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise ApiTimeoutError("the request timed out", method=method, path=path) from None
        except httpx.TransportError as exc:
            raise ApiConnectionError(
                f"cannot reach {api_host_origin(self.api_host)} ({type(exc).__name__})",
                method=method,
                path=path,
            ) from None
        except httpx.HTTPError as exc:  # any other failure to read it: not the API's answer
            raise UnexpectedResponseError(
                f"the response cannot be read ({type(exc).__name__})", method=method, path=path
            ) from None
        finally:
            _DEADLINE.reset(token)
        if response.is_success:
            return response, content
        raise self._error(response, content, method, path)

    def _error(self, response: httpx.Response, content: bytes, method: str, path: str) -> ApiError:
        status = response.status_code
        message, code = response.reason_phrase or "error", None
        try:
            body = _json(content)
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

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """Send with retries; returns the decoded JSON body (None when empty). Errors and retry
        notices name the path with any segment that looks like a credential cut short."""
        request_path, path = path, display_path(path)
        dropped = False
        timeout, wait_max = self.retry.timeout, self.retry.wait_max
        left = self._time_left()
        if left is not None:
            if left <= 0:
                raise ApiTimeoutError("out of time (the deadline passed)", method=method, path=path)
            # No retry starts, and no backoff sleeps, past the deadline.
            timeout, wait_max = min(timeout, left), min(wait_max, left)
        for attempt in stamina.retry_context(
            on=self._retry_hook,
            attempts=self.retry.attempts,
            timeout=timeout,
            wait_initial=self.retry.wait_initial,
            wait_max=wait_max,
            wait_jitter=self.retry.wait_jitter,
        ):
            self._attempt.value = (method, path, attempt.num)
            with attempt:
                try:
                    response, content = self._send(method, request_path, body, params)
                except NotFoundError:
                    if method == "DELETE" and dropped:
                        return _ALREADY_GONE  # the dropped attempt may have deleted it
                    raise
                except TransportError:
                    dropped = True
                    raise
                if not content:
                    return None
                try:
                    return _json(content)
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
        except (ValidationError, RecursionError):
            raise UnexpectedResponseError(
                f"the response does not match {model.__name__}",
                method=method,
                path=display_path(path),
            ) from None


def _set_path(name: str) -> str:
    """``/secrets/{name}``, only for a valid set name (``InputError`` otherwise, nothing sent);
    quoted all the same."""
    return "/secrets/" + quote(check_set_name(name), safe="")


class SecretsClient(ApiTransport, AgentsApi):
    """The API client: the secrets calls below, the agents calls from ``AgentsApi``."""

    # Secrets API --------------------------------------------------------------------------------

    def list_sets(self) -> list[SecretSetSummary]:
        """Every set of the organization (name, type, region, status), never values. Refused
        whole (``UnexpectedResponseError``) when a name breaks the naming rules: the API never
        sends one, and each name builds a URL (``GET /secrets/{name}``)."""
        data = self._request("GET", "/secrets")
        sets = self._parse(SecretSetList, data, "GET", "/secrets").sets
        for entry in sets:
            problems = set_name_problems(entry.name)
            if problems:
                raise UnexpectedResponseError(
                    f"the response names an invalid secret set: {problems[0]}",
                    method="GET",
                    path="/secrets",
                )
        return sets

    def get_set(self, name: str) -> SecretSetDetail:
        """Keys, region and status of a regular set; ``NotFoundError`` when absent."""
        path = _set_path(name)
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
        check_region(region)  # a region goes into the body: never one with a newline or escape
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
        path = _set_path(name)
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
        check_region(region)
        if not credentials:
            raise InputError("the registry credentials are empty")
        value = base64.b64encode(credentials.encode()).decode() if encode else credentials
        request = ImagePullSecretRequest(
            host=normalize_host(host),
            secret_value=value,
            region=region,
        )
        path = _set_path(name)
        return self._parse(PutResponse, self._request("PUT", path, request.to_wire()), "PUT", path)

    def delete_key(self, name: str, key: str) -> bool:
        """Remove one key. True when the server confirmed it; False when a retry after a dropped
        connection found it absent (gone either way, but we cannot say that we removed it).
        ``NotFoundError`` when the first answer is 404."""
        check_set_name(name)
        check_keys([key])
        path = f"{_set_path(name)}/{quote(key, safe='')}"
        return self._request("DELETE", path) is not _ALREADY_GONE

    def delete_set(self, name: str) -> bool:
        """Delete a whole set; True/False/``NotFoundError`` as ``delete_key``."""
        return self._request("DELETE", _set_path(name)) is not _ALREADY_GONE

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
            keys=tuple(detail.keys),
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

        ``timeout`` bounds the whole wait, the requests included: a server that answers slowly
        (or trickles its answer) cannot stretch it. Raises ``ProvisioningFailedError`` (with the
        server's message) or ``ReadyTimeoutError``.
        """
        deadline = clock() + timeout
        interval = 0.1
        last: str | None = None
        with self.deadline(timeout):
            while True:
                try:
                    status = self.set_status(name)
                except ApiTimeoutError:
                    left = self._time_left()
                    if left is not None and left <= 0:
                        raise ReadyTimeoutError(name, last, timeout) from None
                    raise
                last = status.status
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
