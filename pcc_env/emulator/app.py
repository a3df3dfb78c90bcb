"""FastAPI app that behaves like the Pipecat Cloud API (secrets and agents), on both surfaces.

``/v1/secrets...`` and ``/v1/agents...`` are the REST API of the docs;
``/v1/organizations/{org}/secrets...`` and ``.../services...`` are what the ``pipecat cloud``
CLI calls. Both share one store. Test instruments live under ``/_emulator``: request counts, a
value check against stored digests, the set generations an agent runs, and a reset.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import importlib.util
import json
import random
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from pcc_env.emulator import agents
from pcc_env.emulator.store import (
    AGENT_NOT_FOUND,
    IMAGE_PULL_KEY,
    SERVICE_NOT_FOUND,
    AgentState,
    AgentWrite,
    Store,
    StoreError,
    bad_request,
    not_found_error,
)
from pcc_env.models import (
    AgentList,
    CheckValueRequest,
    CheckValueResponse,
    ImagePullSecretRequest,
    OkResponse,
    Organization,
    OrganizationList,
    OrganizationProperties,
    PropertiesResponse,
    PutResponse,
    Region,
    RegionList,
    RegularSecretsRequest,
    SecretSetList,
    SingleSecretRequest,
)
from pcc_env.rules import (
    DEFAULT_REGION,
    escape_text,
    key_problems,
    normalize_host,
    set_name_problems,
)

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

REGIONS: tuple[tuple[str, str], ...] = (
    ("us-west", "US West (Oregon)"),
    ("us-east", "US East (Virginia)"),
    ("eu-central", "EU Central (Frankfurt)"),
    ("ap-south", "AP South (Mumbai)"),
)
Fault = Literal["500", "409", "drop-before", "drop-after"]
FAULTS: tuple[Fault, ...] = ("500", "409", "drop-before", "drop-after")
INVALID_FORMAT = "Invalid request format"
MAX_BODY_BYTES = 1 << 20  # 413 past 1 MiB, with or without a Content-Length
TOO_LARGE = "Content Too Large"
IMAGE_PULL_FIELDS = (
    "Must provide isImagePullSecret, host, and secretValue to update an image pull secret"
)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything ``pcc-env emulator`` can be told. ``db=":memory:"`` keeps nothing on disk."""

    token: str
    org: str = "local"
    db: str = ":memory:"
    provision_delay: float = 0.5
    fail_sets: tuple[str, ...] = ()
    deploy_delay: float = 1.0
    fail_agents: tuple[str, ...] = ()
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    fault_seed: int | None = None
    # A persistent database keeps the first token it is given (remember_token) and answers to it
    # from then on, instead of ``token``: for a generated token that must survive restarts.
    remember_token: bool = False
    # One line per request on stderr (method, path, status, ms); never a body.
    log_requests: bool = False
    default_region: str = DEFAULT_REGION
    regions: tuple[tuple[str, str], ...] = REGIONS


class DropConnection(Exception):
    """Raised by a handler to make the server close the connection without a full response."""


@dataclass
class Emulator:
    """State shared by the handlers: store, write guard, fault dice and request counts."""

    config: EmulatorConfig
    store: Store
    rng: random.Random = field(default_factory=random.Random)
    _in_flight: set[str] = field(default_factory=set)
    _stats_lock: threading.Lock = field(default_factory=threading.Lock)
    _requests: Counter[str] = field(default_factory=Counter)
    _statuses: Counter[str] = field(default_factory=Counter)
    _faults: Counter[str] = field(default_factory=Counter)
    _writes: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    _deployments: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))

    # Instruments ------------------------------------------------------------------------------

    def count(self, method: str, route: str, status: int | None) -> None:
        with self._stats_lock:
            self._requests[f"{method} {route}"] += 1
            self._statuses[str(status) if status is not None else "dropped"] += 1

    def record_write(self, method: str, set_name: str, keys: list[str]) -> None:
        with self._stats_lock:
            self._writes.append({"method": method, "set": set_name, "keys": keys})

    def record_deployment(self, agent: str, reason: str, deployment_id: str) -> None:
        with self._stats_lock:
            self._deployments.append(
                {"agent": agent, "reason": reason, "deploymentId": deployment_id}
            )

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            return {
                "total": sum(self._requests.values()),
                "requests": dict(sorted(self._requests.items())),
                "statuses": dict(sorted(self._statuses.items())),
                "faults": dict(sorted(self._faults.items())),
                "writes": list(self._writes),
                "deployments": list(self._deployments),
            }

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._requests.clear()
            self._statuses.clear()
            self._faults.clear()
            self._writes.clear()
            self._deployments.clear()

    # Behaviour --------------------------------------------------------------------------------

    async def latency(self) -> None:
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)

    def draw_fault(self) -> Fault | None:
        if self.config.fault_rate <= 0 or self.rng.random() >= self.config.fault_rate:
            return None
        fault = self.rng.choice(FAULTS)
        with self._stats_lock:
            self._faults[fault] += 1
        return fault

    def check_region(self, region: str | None) -> None:
        if region is not None and region not in {code for code, _ in self.config.regions}:
            raise bad_request("Invalid region or organization does not have access")

    async def write(self, set_name: str, apply: Any, *, agent: bool = False) -> Any:
        """Run ``apply()`` as the one write in flight on set (or ``agent``) ``set_name``;
        others get 409. Latency and the fault dice apply to every write."""
        key = ("agent:" if agent else "set:") + set_name
        busy = conflict(set_name, agent=agent)
        if key in self._in_flight:
            raise busy
        self._in_flight.add(key)
        try:
            fault = self.draw_fault()
            if fault == "500":
                raise StoreError(500, "Internal server error (emulated fault)", "INTERNAL_ERROR")
            if fault == "409":
                raise busy
            if fault == "drop-before":
                raise DropConnection
            await self.latency()
            result = apply()
            if fault == "drop-after":
                raise DropConnection
            return result
        finally:
            self._in_flight.discard(key)


def conflict(name: str, *, agent: bool = False) -> StoreError:
    what = "Agent" if agent else "Secret set"
    return StoreError(409, f"{what} '{name}' was modified concurrently. Please retry.", "CONFLICT")


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

        if _declared_length(scope) > MAX_BODY_BYTES:
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


SetName = Annotated[str, Path(alias="setName")]
AgentName = Annotated[str, Path(alias="agentName")]
SecretKeyParam = Annotated[str, Path(alias="secretKey")]


def _valid_set_name(name: str) -> str:
    problems = set_name_problems(name)
    if problems:
        raise bad_request("Invalid secret set name: " + "; ".join(problems))
    return name


async def _json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or 400 for anything else: not JSON, not an object, nested
    past the parser's recursion limit, or holding a lone surrogate (``"\\ud800"`` parses, but
    is not text: it cannot be encoded, stored or hashed)."""
    try:
        body = json.loads(await request.body())
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise bad_request(INVALID_FORMAT + ": JSON nested too deeply") from None
    except UnicodeError:
        raise bad_request(INVALID_FORMAT + ": a string is not valid Unicode") from None
    except ValueError:
        raise bad_request(INVALID_FORMAT) from None
    if not isinstance(body, dict):
        raise bad_request(INVALID_FORMAT)
    return body


def _validated(model: Any, body: dict[str, Any], message: str = INVALID_FORMAT) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError:
        raise bad_request(message) from None


def create_app(config: EmulatorConfig) -> FastAPI:
    """Build the emulator app; ``app.state.emulator`` holds its state."""
    store = Store(
        config.db,
        provision_delay=config.provision_delay,
        fail_patterns=config.fail_sets,
        deploy_delay=config.deploy_delay,
        fail_agent_patterns=config.fail_agents,
    )
    if config.remember_token and config.db != ":memory:":
        config = dataclasses.replace(config, token=store.remember_token(config.token))
    emu = Emulator(config=config, store=store, rng=random.Random(config.fault_seed))
    expected = f"Bearer {config.token}".encode()

    def authenticate(request: Request) -> None:
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, expected):
            raise StoreError(401, "Unauthorized", "UNAUTHORIZED")

    def check_org(org: str) -> None:
        if org != config.org:
            raise StoreError(404, "Organization not found", "NOT_FOUND")

    # The schema and its viewers are served below, behind the token like every other route.
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
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=MAX_BODY_BYTES)
    app.add_middleware(_Instrument, emulator=emu)

    @app.exception_handler(StoreError)
    async def store_error(_: Request, exc: StoreError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, INVALID_FORMAT, "GENERIC_BAD_REQUEST")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(
            exc.status_code, "ERROR"
        )
        return _error(exc.status_code, str(exc.detail), code)

    def secrets_router(org_surface: bool) -> APIRouter:
        router = APIRouter()

        @router.get("/secrets")
        async def list_sets(region: Annotated[str | None, Query()] = None) -> dict[str, Any]:
            await emu.latency()
            return SecretSetList(sets=emu.store.list_sets(region)).dump()

        @router.get("/secrets/{setName}")
        async def get_set(set_name: SetName) -> dict[str, Any]:
            await emu.latency()
            # A name that breaks the rules cannot exist: 404, the status the API documents.
            return emu.store.get_set(set_name).dump()

        @router.put("/secrets/{setName}", status_code=202)
        async def put_set(set_name: SetName, request: Request) -> dict[str, Any]:
            name = _valid_set_name(set_name)
            body = await _json_body(request)
            if body.get("isImagePullSecret") is True:
                ips = _validated(ImagePullSecretRequest, body, IMAGE_PULL_FIELDS)
                emu.check_region(ips.region)
                value = ips.secret_value.get_secret_value()

                def apply() -> str:
                    used = emu.store.put_image_pull_secret(
                        name, normalize_host(ips.host), value, ips.region, config.default_region
                    )
                    emu.record_write("PUT", name, [])
                    return used

            else:
                if "secrets" in body or not org_surface:
                    regular = _validated(RegularSecretsRequest, body)
                    pairs = [
                        (p.secret_key, p.secret_value.get_secret_value()) for p in regular.secrets
                    ]
                    region = regular.region
                else:
                    single = _validated(SingleSecretRequest, body)
                    if single.name is not None and single.name != name:
                        raise bad_request(INVALID_FORMAT)
                    pairs = [(single.secret_key, single.secret_value.get_secret_value())]
                    region = single.region
                problems = [p for key, _ in pairs for p in key_problems(key)]
                if problems:
                    raise bad_request("Invalid secret key: " + "; ".join(problems))
                emu.check_region(region)

                def apply() -> str:
                    used = emu.store.put_secrets(name, pairs, region, config.default_region)
                    emu.record_write("PUT", name, [k for k, _ in pairs])
                    return used

            used_region = await emu.write(name, apply)
            return PutResponse(region=used_region).dump()

        @router.delete("/secrets/{setName}")
        async def delete_set(set_name: SetName) -> dict[str, Any]:
            name = set_name  # an invalid name is simply not found (404, as documented)

            def apply() -> None:
                emu.store.delete_set(name)
                emu.record_write("DELETE", name, [])

            await emu.write(name, apply)
            return OkResponse().dump()

        @router.delete("/secrets/{setName}/{secretKey}")
        async def delete_key(set_name: SetName, secret_key: SecretKeyParam) -> dict[str, Any]:
            # Invalid names or keys cannot exist: the store answers 404, as the API documents.
            name = set_name

            def apply() -> None:
                emu.store.delete_key(name, secret_key)
                emu.record_write("DELETE", name, [secret_key])

            await emu.write(name, apply)
            return OkResponse().dump()

        if org_surface:

            @router.get("/regions")
            async def regions() -> dict[str, Any]:
                await emu.latency()
                return RegionList(
                    regions=[Region(code=c, display_name=d) for c, d in config.regions]
                ).dump()

            @router.get("/properties")
            async def properties() -> dict[str, Any]:
                await emu.latency()
                props = OrganizationProperties(default_region=config.default_region)
                return PropertiesResponse(properties=props).dump()

        return router

    def agent_state(name: str, missing: str) -> AgentState:
        state = emu.store.get_agent(name)
        if state is None:
            raise not_found_error(missing)
        return state

    async def create_agent(request: Request, org_surface: bool) -> dict[str, Any]:
        name, region, agent_config = agents.parse_create(await _json_body(request))
        emu.check_region(region)

        def apply() -> AgentWrite:
            written = emu.store.create_agent(name, region or config.default_region, agent_config)
            emu.record_deployment(name, "create", written.deployment_id)
            return written

        await emu.write(name, apply, agent=True)
        return agents.detail(agent_state(name, AGENT_NOT_FOUND), org_surface=org_surface).dump()

    async def update_agent(name: str, body: dict[str, Any], org_surface: bool) -> dict[str, Any]:
        patch = agents.parse_update(body)
        if not agents.valid_agent_name(name):
            raise not_found_error(SERVICE_NOT_FOUND)  # a name that cannot exist

        def apply() -> AgentWrite:
            written = emu.store.update_agent(name, patch)
            if written.new_deployment:
                reason = "force" if patch.force else "update"
                emu.record_deployment(name, reason, written.deployment_id)
            return written

        written: AgentWrite = await emu.write(name, apply, agent=True)
        warning = None if written.new_deployment else agents.NOTHING_CHANGED
        state = agent_state(name, SERVICE_NOT_FOUND)
        return agents.detail(state, org_surface=org_surface, warning=warning).dump()

    def agents_router(org_surface: bool) -> APIRouter:
        """``/agents`` of the REST API, or ``/services`` of the organization surface."""
        router = APIRouter()
        collection = "/services" if org_surface else "/agents"

        @router.get(collection)
        async def list_agents(
            region: Annotated[str | None, Query()] = None,
            include: Annotated[str | None, Query(alias="includeActiveDeployment")] = None,
        ) -> dict[str, Any]:
            # Lenient, like the service: only "true" (or "1") asks for it, anything else not.
            include_deployment = (include or "").lower() in ("true", "1")
            await emu.latency()
            states = emu.store.list_agents(region)
            return AgentList(
                services=[agents.summary(s, include_deployment) for s in states]
            ).dump()

        @router.get(collection + "/{agentName}")
        async def get_agent(agent_name: AgentName) -> dict[str, Any]:
            await emu.latency()
            body = agents.detail(
                agent_state(agent_name, AGENT_NOT_FOUND), org_surface=org_surface
            ).dump()
            # The CLI reads the organization surface's answer from "body" (pipecatcloud api.py).
            return {"body": body} if org_surface else body

        @router.post(collection)
        async def create(request: Request) -> dict[str, Any]:
            return await create_agent(request, org_surface)

        if org_surface:

            @router.put(collection)
            async def update_by_body(request: Request) -> dict[str, Any]:
                # The CLI updates with PUT on the collection, naming the agent in the body.
                body = await _json_body(request)
                name = body.get("serviceName")
                if not isinstance(name, str):
                    raise bad_request(agents.INVALID_PARAMETERS)
                return await update_agent(name, body, org_surface)

        else:

            @router.post(collection + "/{agentName}")
            async def update(agent_name: AgentName, request: Request) -> dict[str, Any]:
                return await update_agent(agent_name, await _json_body(request), org_surface)

        @router.delete(collection + "/{agentName}")
        async def delete(agent_name: AgentName) -> dict[str, Any]:
            if not agents.valid_agent_name(agent_name):
                raise not_found_error(AGENT_NOT_FOUND)
            await emu.write(agent_name, lambda: emu.store.delete_agent(agent_name), agent=True)
            return OkResponse().dump()

        return router

    # Authentication first, so an unauthenticated caller learns nothing about organizations.
    for router in (secrets_router(org_surface=False), agents_router(org_surface=False)):
        app.include_router(router, prefix="/v1", dependencies=[Depends(authenticate)])
    for router in (secrets_router(org_surface=True), agents_router(org_surface=True)):
        app.include_router(
            router,
            prefix="/v1/organizations/{org}",
            dependencies=[Depends(authenticate), Depends(check_org)],
        )

    @app.get("/v1/organizations", dependencies=[Depends(authenticate)])
    async def organizations() -> dict[str, Any]:
        await emu.latency()
        org = Organization(name=config.org, verbose_name=f"{config.org} (pcc-env emulator)")
        return OrganizationList(organizations=[org]).dump()

    @app.get("/openapi.json", dependencies=[Depends(authenticate)], include_in_schema=False)
    async def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", dependencies=[Depends(authenticate)], include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)

    @app.get("/redoc", dependencies=[Depends(authenticate)], include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=app.title)

    @app.get("/_emulator/stats", dependencies=[Depends(authenticate)])
    async def stats() -> dict[str, Any]:
        return emu.stats()

    @app.get("/_emulator/agents/{agentName}", dependencies=[Depends(authenticate)])
    async def agent_generations(agent_name: AgentName) -> dict[str, Any]:
        state = agent_state(agent_name, AGENT_NOT_FOUND)
        current = emu.store.generations(list(state.desired.bound))
        return agents.generations(state, current).dump()

    @app.post("/_emulator/reset", dependencies=[Depends(authenticate)])
    async def reset() -> dict[str, Any]:
        emu.reset_stats()
        return OkResponse().dump()

    @app.post("/_emulator/check-value", dependencies=[Depends(authenticate)])
    async def check_value(request: Request) -> dict[str, Any]:
        req = _validated(CheckValueRequest, await _json_body(request))
        key = req.key if req.key is not None else IMAGE_PULL_KEY
        matches = emu.store.check_value(req.set_name, key, req.value.get_secret_value())
        return CheckValueResponse(matches=matches).dump()

    return app
