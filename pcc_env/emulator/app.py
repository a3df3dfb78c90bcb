"""FastAPI app that behaves like the Pipecat Cloud API (secrets and agents), on both surfaces.

``/v1/secrets...`` and ``/v1/agents...`` are the REST API of the docs;
``/v1/organizations/{org}/secrets...`` and ``.../services...`` are what the ``pipecat cloud``
CLI calls. Both share one store. Test instruments live under ``/_emulator``: request counts, a
value check against stored digests, the set generations an agent runs, and a reset. Each surface
is a router of its own (``routes/``); this module mounts them, with the middleware that counts
requests, limits bodies and cuts connections, and the handlers that shape errors.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import sys
import time
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from pcc_env.emulator.build_store import BuildStore
from pcc_env.emulator.routes import builds as build_routes
from pcc_env.emulator.routes import instruments, organization, schema
from pcc_env.emulator.routes.agents import agents_router
from pcc_env.emulator.routes.common import AUTHENTICATED, INVALID_FORMAT, ORGANIZATION
from pcc_env.emulator.routes.logs import logs_router
from pcc_env.emulator.routes.secrets import secrets_router
from pcc_env.emulator.state import (
    FAULTS,
    REGIONS,
    DropConnection,
    Emulator,
    EmulatorConfig,
    Fault,
    conflict,
)
from pcc_env.emulator.store import Store, StoreError
from pcc_env.rules import escape_text

__all__ = [
    "FAULTS",
    "INVALID_FORMAT",
    "REGIONS",
    "DropConnection",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "conflict",
    "create_app",
]

# FastAPI's native telemetry (``fastapi.telemetry``, recent versions) records every request for
# any OpenTelemetry provider in the process (a bot's test session may configure one): bodies and
# validation errors with their input (secret values) for log processors, paths in spans. The
# emulator records nothing.
_NO_TELEMETRY: dict[str, Any] = (
    {
        "telemetry": {
            "tracing": False,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
        }
    }
    if importlib.util.find_spec("fastapi.telemetry") is not None
    else {}
)

MAX_BODY_BYTES = 1 << 20  # 413 past 1 MiB, with or without a Content-Length
TOO_LARGE = "Content Too Large"


def _error(status: int, error: str, code: str) -> JSONResponse:
    return JSONResponse({"error": error, "code": code}, status_code=status)


class _Instrument:
    """Counts requests by route and turns ``DropConnection`` into a cut-off response."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counted = False
        started = time.perf_counter()

        def note(status: int | None) -> None:
            nonlocal counted
            if not counted:
                counted = True
                self.emulator.count(scope["method"], _route_template(scope), status)
                if self.emulator.config.log_requests:
                    _log_request(scope, status, time.perf_counter() - started)

        async def send_and_note(message: Any) -> None:
            # Counted before the response leaves: a client that reads the stats right after
            # its response must see its own request.
            if message["type"] == "http.response.start":
                note(message["status"])
            await send(message)

        if _declared_length(scope) > _body_limit(scope):
            await _error(413, TOO_LARGE, "PAYLOAD_TOO_LARGE")(scope, receive, send_and_note)
            return
        try:
            await self.app(scope, receive, send_and_note)
        except DropConnection:
            note(None)
            # Headers promise a body that never comes: the server closes the connection.
            await send(
                {
                    "type": "http.response.start",
                    "status": 202,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
        finally:
            note(None)


def _body_limit(scope: Scope) -> int:
    """1 MiB for the API; a build context's upload may be larger."""
    upload = scope.get("path") == build_routes.UPLOAD_PATH
    return build_routes.MAX_UPLOAD_BYTES if upload else MAX_BODY_BYTES


class _BodyLimits:
    """Starlette's body limit (which counts chunked bodies too), at ``_body_limit``."""

    def __init__(self, app: ASGIApp) -> None:
        self.api = RequestBodyLimitMiddleware(app, max_body_size=MAX_BODY_BYTES)
        self.upload = RequestBodyLimitMiddleware(app, max_body_size=build_routes.MAX_UPLOAD_BYTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limited = self.api if _body_limit(scope) == MAX_BODY_BYTES else self.upload
        await limited(scope, receive, send)


def _log_request(scope: Scope, status: int | None, seconds: float) -> None:
    """``--log-requests``: method, path (escaped, no query string), status, ms. Never a body,
    a header or a query: values travel in bodies, the token in a header."""
    shown = "dropped" if status is None else str(status)
    path = escape_text(str(scope.get("path", "")))[:300]
    line = f"{time.strftime('%H:%M:%S')} {scope['method']} {path} {shown} {seconds * 1000:.0f} ms"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _declared_length(scope: Scope) -> int:
    try:
        return int(Headers(scope=scope).get("content-length", "0"))
    except ValueError:
        return 0


def _route_template(scope: Scope) -> str:
    """``/v1/secrets/my-set`` -> ``/v1/secrets/{setName}``: counts group by route, not by set."""
    if scope.get("route") is None:
        return "<unmatched>"
    names = {str(v): k for k, v in scope.get("path_params", {}).items()}
    parts = scope["path"].split("/")
    return "/".join("{" + names[p] + "}" if p in names else p for p in parts)


def create_app(config: EmulatorConfig) -> FastAPI:
    """Build the emulator app; ``app.state.emulator`` holds its state, which every router
    gets by dependency (``routes.common.Emu``)."""
    store = Store(
        config.db,
        provision_delay=config.provision_delay,
        fail_patterns=config.fail_sets,
        deploy_delay=config.deploy_delay,
        fail_agent_patterns=config.fail_agents,
    )
    if config.remember_token and config.db != ":memory:":
        config = dataclasses.replace(config, token=store.remember_token(config.token))
    builds = BuildStore(store, org=config.org, build_delay=config.build_delay)
    emu = Emulator(config=config, store=store, builds=builds, rng=random.Random(config.fault_seed))

    # The schema and its viewers are served by ``routes.schema``, behind the token.
    app = FastAPI(
        title="pcc-env emulator of the Pipecat Cloud API (secrets and agents)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        **_NO_TELEMETRY,
    )
    app.state.emulator = emu
    # Starlette counts the bytes of every body as it is read (chunked ones too) and raises a 413
    # HTTPException, which the handler below turns into our error shape. It sits inside
    # _Instrument, which answers a too-large Content-Length itself, before reading anything.
    app.add_middleware(_BodyLimits)
    app.add_middleware(_Instrument, emulator=emu)
    _add_error_handlers(app)

    for org_surface, prefix, guard in ((False, "/v1", AUTHENTICATED), (True, _ORG, ORGANIZATION)):
        app.include_router(secrets_router(org_surface), prefix=prefix, dependencies=guard)
        app.include_router(agents_router(org_surface), prefix=prefix, dependencies=guard)
        app.include_router(logs_router(org_surface), prefix=prefix, dependencies=guard)
        app.include_router(build_routes.router, prefix=prefix, dependencies=guard)
    # The presigned upload carries a signed policy, not the token (as S3 does).
    app.include_router(build_routes.upload_router)
    app.include_router(organization.organization_router, prefix=_ORG, dependencies=ORGANIZATION)
    app.include_router(organization.organizations_router, prefix="/v1", dependencies=AUTHENTICATED)
    app.include_router(schema.router, dependencies=AUTHENTICATED)
    app.include_router(instruments.router, dependencies=AUTHENTICATED)
    return app


_ORG = "/v1/organizations/{org}"


def _add_error_handlers(app: FastAPI) -> None:
    """Every refusal has the API's error shape, ``{"error": ..., "code": ...}``."""

    @app.exception_handler(StoreError)
    async def store_error(_: Any, exc: StoreError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Any, exc: RequestValidationError) -> JSONResponse:
        return _error(400, INVALID_FORMAT, "GENERIC_BAD_REQUEST")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Any, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(
            exc.status_code, "ERROR"
        )
        return _error(exc.status_code, str(exc.detail), code)
