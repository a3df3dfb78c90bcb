"""``/agents...`` of the REST API (``/v1``), or ``/services...`` of the CLI's organization
surface (``/v1/organizations/{org}``): one store, two shapes of the same answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from pcc_env.emulator import agents
from pcc_env.emulator.routes.common import AgentName, Emu, json_body
from pcc_env.emulator.state import Emulator
from pcc_env.emulator.store import (
    AGENT_NOT_FOUND,
    SERVICE_NOT_FOUND,
    AgentState,
    AgentWrite,
    bad_request,
    not_found_error,
)
from pcc_env.models import AgentList, OkResponse


def agent_state(emu: Emulator, name: str, missing: str) -> AgentState:
    state = emu.store.get_agent(name)
    if state is None:
        raise not_found_error(missing)
    return state


async def _create_agent(emu: Emulator, request: Request, org_surface: bool) -> dict[str, Any]:
    body = await json_body(request)
    name, region, agent_config = agents.parse_create(body, emu.builds.image_of)
    emu.check_region(region)

    def apply() -> AgentWrite:
        written = emu.store.create_agent(name, region or emu.config.default_region, agent_config)
        emu.record_deployment(name, "create", written.deployment_id)
        return written

    await emu.write(name, apply, agent=True)
    state = agent_state(emu, name, AGENT_NOT_FOUND)
    return agents.detail(state, org_surface=org_surface).dump()


async def _update_agent(
    emu: Emulator, name: str, body: dict[str, Any], org_surface: bool
) -> dict[str, Any]:
    patch = agents.parse_update(body, emu.builds.image_of)
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
    state = agent_state(emu, name, SERVICE_NOT_FOUND)
    return agents.detail(state, org_surface=org_surface, warning=warning).dump()


def agents_router(org_surface: bool) -> APIRouter:
    """``/agents`` of the REST API, or ``/services`` of the organization surface."""
    router = APIRouter()
    collection = "/services" if org_surface else "/agents"

    @router.get(collection)
    async def list_agents(
        emu: Emu,
        region: Annotated[str | None, Query()] = None,
        include: Annotated[str | None, Query(alias="includeActiveDeployment")] = None,
    ) -> dict[str, Any]:
        # Lenient, like the service: only "true" (or "1") asks for it, anything else not.
        include_deployment = (include or "").lower() in ("true", "1")
        await emu.latency()
        states = emu.store.list_agents(region)
        return AgentList(services=[agents.summary(s, include_deployment) for s in states]).dump()

    @router.get(collection + "/{agentName}")
    async def get_agent(agent_name: AgentName, emu: Emu) -> dict[str, Any]:
        await emu.latency()
        state = agent_state(emu, agent_name, AGENT_NOT_FOUND)
        body = agents.detail(state, org_surface=org_surface).dump()
        # The CLI reads the organization surface's answer from "body" (pipecatcloud api.py).
        return {"body": body} if org_surface else body

    @router.post(collection)
    async def create(request: Request, emu: Emu) -> dict[str, Any]:
        return await _create_agent(emu, request, org_surface)

    if org_surface:

        @router.put(collection)
        async def update_by_body(request: Request, emu: Emu) -> dict[str, Any]:
            # The CLI updates with PUT on the collection, naming the agent in the body.
            body = await json_body(request)
            name = body.get("serviceName")
            if not isinstance(name, str):
                raise bad_request(agents.INVALID_PARAMETERS)
            return await _update_agent(emu, name, body, org_surface)

    else:

        @router.post(collection + "/{agentName}")
        async def update(agent_name: AgentName, request: Request, emu: Emu) -> dict[str, Any]:
            return await _update_agent(emu, agent_name, await json_body(request), org_surface)

    @router.delete(collection + "/{agentName}")
    async def delete(agent_name: AgentName, emu: Emu) -> dict[str, Any]:
        if not agents.valid_agent_name(agent_name):
            raise not_found_error(AGENT_NOT_FOUND)
        await emu.write(agent_name, lambda: emu.store.delete_agent(agent_name), agent=True)
        return OkResponse().dump()

    return router
