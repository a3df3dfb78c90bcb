"""``/_emulator/...``: what tests read and do that the real service has no route for."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from pcc_env.emulator import agents
from pcc_env.emulator.routes.agents import agent_state
from pcc_env.emulator.routes.common import AgentName, Emu, json_body, validated
from pcc_env.emulator.store import AGENT_NOT_FOUND, IMAGE_PULL_KEY
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
