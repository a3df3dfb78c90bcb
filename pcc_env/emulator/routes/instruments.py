"""``/_emulator/...``: what tests read and do that the real service has no route for."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from pcc_env.emulator import agents
from pcc_env.emulator.build_store import BUILD_NOT_FOUND
from pcc_env.emulator.routes.agents import agent_state
from pcc_env.emulator.routes.common import AgentName, Emu, json_body, validated
from pcc_env.emulator.store import AGENT_NOT_FOUND, IMAGE_PULL_KEY, bad_request, not_found_error
from pcc_env.models import CheckValueRequest, CheckValueResponse, OkResponse

router = APIRouter(prefix="/_emulator")


@router.get("/stats")
async def stats(emu: Emu) -> dict[str, Any]:
    return emu.stats()


@router.get("/agents/{agentName}")
async def agent_generations(agent_name: AgentName, emu: Emu) -> dict[str, Any]:
    state = agent_state(emu, agent_name, AGENT_NOT_FOUND)
    current = emu.store.generations(list(state.desired.bound))
    return agents.generations(state, current).dump()


@router.post("/reset")
async def reset(emu: Emu) -> dict[str, Any]:
    emu.reset_stats()
    return OkResponse().dump()


@router.post("/check-value")
async def check_value(request: Request, emu: Emu) -> dict[str, Any]:
    req = validated(CheckValueRequest, await json_body(request))
    key = req.key if req.key is not None else IMAGE_PULL_KEY
    matches = emu.store.check_value(req.set_name, key, req.value.get_secret_value())
    return CheckValueResponse(matches=matches).dump()


@router.get("/builds/{buildId}")
async def build_context(
    emu: Emu, build_id: Annotated[str, Path(alias="buildId")]
) -> dict[str, Any]:
    """What a build received (paths and sizes, never contents) and what its steps copied."""
    build = emu.builds.get(build_id)
    if build is None:
        raise not_found_error(BUILD_NOT_FOUND)
    return {
        "id": build.id,
        "status": build.status(emu.store.now()),
        "contextHash": build.context_hash,
        "dockerfilePath": build.dockerfile_path,
        "files": [{"path": path, "size": size} for path, size in build.files],
        "copied": list(build.copied),
    }


@router.post("/builds/fail-next")
async def fail_next_builds(request: Request, emu: Emu) -> dict[str, Any]:
    """The next ``count`` builds (default 1) fail once their steps ran, with ``message``."""
    body = await json_body(request)
    count = body.get("count", 1)
    message = body.get("message", "emulated failure (POST /_emulator/builds/fail-next)")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= 1000:
        raise bad_request("count must be a whole number from 1 to 1000")
    if not isinstance(message, str) or not message or len(message) > 1000:
        raise bad_request("message must be a non-empty string of at most 1000 characters")
    emu.builds.fail_next(count, message)
    return OkResponse().dump()
