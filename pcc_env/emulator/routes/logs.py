"""Agent logs: ``GET /agents/{agentName}/logs`` (REST API) and the CLI's
``GET .../services/{agentName}/logs`` (``pipecat cloud agent logs``), one answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from pcc_env.emulator import agent_logs
from pcc_env.emulator.routes.agents import agent_state
from pcc_env.emulator.routes.common import AgentName, Emu
from pcc_env.emulator.store import AGENT_NOT_FOUND, bad_request


def logs_router(org_surface: bool) -> APIRouter:
    router = APIRouter()
    collection = "/services" if org_surface else "/agents"

    @router.get(collection + "/{agentName}/logs")
    async def get_logs(
        agent_name: AgentName,
        emu: Emu,
        limit: Annotated[int, Query()] = 10,
        offset: Annotated[int, Query()] = 0,
        deployment_id: Annotated[str | None, Query(alias="deploymentId")] = None,
        session_id: Annotated[str | None, Query(alias="sessionId")] = None,
        query: Annotated[str | None, Query()] = None,
        order: Annotated[Literal["asc", "desc"], Query()] = "desc",
        start_time: Annotated[int | None, Query(alias="startTime")] = None,
        end_time: Annotated[int | None, Query(alias="endTime")] = None,
    ) -> dict[str, Any]:
        if limit < 0 or offset < 0:
            raise bad_request("Invalid pagination parameters")
        await emu.latency()
        agent_state(emu, agent_name, AGENT_NOT_FOUND)  # 404 for an unknown agent
        now = emu.store.now()
        lines = [
            line
            for row, names in emu.store.deployments_of(agent_name)
            if deployment_id is None or row.id == deployment_id
            for line in agent_logs.deployment_lines(row, names, now)
        ]
        if session_id is not None:
            lines = []  # the emulator runs no sessions
        if query:
            lines = [line for line in lines if query.lower() in line.log.lower()]
        if start_time is not None:
            lines = [line for line in lines if line.at >= start_time]
        if end_time is not None:
            lines = [line for line in lines if line.at <= end_time]
        if order == "desc":
            lines.reverse()
        return {
            "total": {"value": len(lines), "relation": "eq"},
            "logs": [line.dump() for line in lines[offset : offset + limit]],
        }

    return router
