"""Cloud Build (``/builds...``) on both surfaces, and the presigned upload it hands out.

``POST /builds/upload-url`` answers an S3-style presigned POST whose URL is this emulator's own
``/build-contexts`` (the address the request came in on: loopback when the emulator listens
there), so ``pipecat cloud deploy`` uploads its context here, unauthenticated as it does to S3,
with a signed policy instead of the token.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import uuid
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from pcc_env.emulator.agents import iso
from pcc_env.emulator.build_store import BUILD_NOT_FOUND, Build
from pcc_env.emulator.routes.common import INVALID_FORMAT, Emu, json_body
from pcc_env.emulator.state import Emulator
from pcc_env.emulator.store import bad_request, not_found_error

UPLOAD_PATH = "/build-contexts"
MAX_UPLOAD_BYTES = 64 << 20  # the multipart body of one context upload
STATUSES = ("pending", "building", "success", "failed", "timeout")
BuildId = Annotated[str, Path(alias="buildId")]

router = APIRouter()
upload_router = APIRouter()


def answer(build: Build, emu: Emulator) -> dict[str, Any]:
    """The OpenAPI's ``Build``: outcome fields only once the build is complete."""
    now = emu.store.now()
    status = build.status(now)
    out: dict[str, Any] = {
        "id": build.id,
        "organizationId": emu.config.org,
        "status": status,
        "region": build.region,
        "contextHash": build.context_hash,
        "dockerfilePath": build.dockerfile_path,
        "contextSizeBytes": build.context_size,
        "startedAt": iso(build.created_at),
        "createdAt": iso(build.created_at),
        "updatedAt": iso(min(now, build.ready_at)),
    }
    if status in ("success", "failed"):
        out["completedAt"] = iso(build.ready_at)
        out["buildDurationSeconds"] = round(build.ready_at - build.created_at)
    if status == "success":
        out["imageUri"] = build.image_uri
    if status == "failed" and build.error_message is not None:
        out["errorMessage"] = build.error_message
    return out


def _region(body: dict[str, Any], emu: Emulator) -> str:
    region = body.get("region")
    if not isinstance(region, str):
        raise bad_request(INVALID_FORMAT + ": region is required")
    emu.check_region(region)
    return region


def _build_or_404(build_id: str, emu: Emulator) -> Build:
    try:
        uuid.UUID(build_id)
    except ValueError:
        raise bad_request("Invalid build ID format") from None
    build = emu.builds.get(build_id)
    if build is None:
        raise not_found_error(BUILD_NOT_FOUND)
    return build


@router.post("/builds/upload-url")
async def upload_url(request: Request, emu: Emu) -> dict[str, Any]:
    region = _region(await json_body(request), emu)
    await emu.latency()
    upload = emu.builds.new_upload(region)
    expires = datetime.fromtimestamp(upload.expires_at, timezone.utc)
    key = f"{emu.config.org}/{upload.id}.tar.gz"
    policy = base64.b64encode(
        json.dumps(
            {
                "expiration": expires.isoformat().replace("+00:00", "Z"),
                "conditions": [{"key": key}, {"Content-Type": "application/gzip"}],
            }
        ).encode()
    ).decode()
    # Where this request arrived: the emulator itself, whatever Host header was sent.
    host, port = request.scope.get("server") or ("127.0.0.1", 80)
    shown = f"[{host}]" if ":" in str(host) else host
    return {
        "uploadId": upload.id,
        "uploadUrl": f"http://{shown}:{port}{UPLOAD_PATH}",
        "uploadFields": {
            "key": key,
            "Content-Type": "application/gzip",
            "Policy": policy,
            "X-Amz-Algorithm": "PCC-ENV-EMULATOR-HMAC-SHA256",
            "X-Amz-Signature": emu.builds.sign(policy),
        },
        "expiresAt": iso(upload.expires_at),
    }


@upload_router.post(UPLOAD_PATH, status_code=204)
async def upload(request: Request, emu: Emu) -> Response:
    """The presigned POST: multipart form fields, then ``file`` (S3 answers 204)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise bad_request("The upload must be multipart/form-data")
    raw = await request.body()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + raw
    )
    fields: dict[str, str] = {}
    data: bytes | None = None
    if message.is_multipart():
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(name, str) or not isinstance(payload, bytes):
                continue
            if name == "file":
                data = payload
            else:
                fields[name] = payload.decode("utf-8", "replace")
    key = fields.get("key", "")
    prefix, _, name = key.partition("/")
    if data is None or prefix != emu.config.org or not name.endswith(".tar.gz"):
        raise bad_request("The upload needs the presigned fields and a file")
    emu.builds.put_upload(
        name.removesuffix(".tar.gz"),
        fields.get("Policy", ""),
        fields.get("X-Amz-Signature", ""),
        data,
    )
    return Response(status_code=204)


@router.post("/builds")
async def create_build(request: Request, emu: Emu) -> JSONResponse:
    body = await json_body(request)
    upload_id = body.get("uploadId")
    dockerfile_path = body.get("dockerfilePath", "Dockerfile")
    if not isinstance(upload_id, str) or not isinstance(dockerfile_path, str):
        raise bad_request(INVALID_FORMAT)
    region = _region(body, emu)
    await emu.latency()
    # Reading the context is CPU work: off the event loop, so other requests are served.
    build, cached = await run_in_threadpool(emu.builds.create, upload_id, region, dockerfile_path)
    return JSONResponse(
        {"build": answer(build, emu), "contextHash": build.context_hash, "cached": cached},
        status_code=200 if cached else 201,
    )


@router.get("/builds")
async def list_builds(
    emu: Emu,
    status: Annotated[str | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    context_hash: Annotated[str | None, Query(alias="contextHash")] = None,
    limit: Annotated[int, Query()] = 20,
    offset: Annotated[int, Query()] = 0,
) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise bad_request("Invalid status")
    if not 1 <= limit <= 100 or offset < 0:
        raise bad_request("Invalid pagination parameters")
    await emu.latency()
    found = emu.builds.find(status=status, region=region, context_hash=context_hash)
    return {
        "builds": [answer(b, emu) for b in found[offset : offset + limit]],
        "total": len(found),
        "limit": limit,
        "offset": offset,
    }


@router.get("/builds/{buildId}")
async def get_build(build_id: BuildId, emu: Emu) -> dict[str, Any]:
    await emu.latency()
    return {"build": answer(_build_or_404(build_id, emu), emu)}


@router.get("/builds/{buildId}/logs")
async def build_logs(
    build_id: BuildId, emu: Emu, limit: Annotated[int, Query()] = 500
) -> dict[str, Any]:
    if not 1 <= limit <= 10_000:
        raise bad_request("Invalid limit")
    await emu.latency()
    build = _build_or_404(build_id, emu)
    return {"logs": build.visible_log(emu.store.now())[:limit]}
