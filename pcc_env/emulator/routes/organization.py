"""The organization surface's own routes: the organization list, its regions and properties."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from pcc_env.emulator.routes.common import Emu
from pcc_env.models import (
    Organization,
    OrganizationList,
    OrganizationProperties,
    PropertiesResponse,
    Region,
    RegionList,
)

# ``/v1/organizations``
organizations_router = APIRouter()
# ``/v1/organizations/{org}/...``
organization_router = APIRouter()


@organizations_router.get("/organizations")
async def organizations(emu: Emu) -> dict[str, Any]:
    await emu.latency()
    org = emu.config.org
    return OrganizationList(
        organizations=[Organization(name=org, verbose_name=f"{org} (pcc-env emulator)")]
    ).dump()


@organization_router.get("/regions")
async def regions(emu: Emu) -> dict[str, Any]:
    await emu.latency()
    return RegionList(
        regions=[Region(code=c, display_name=d) for c, d in emu.config.regions]
    ).dump()


@organization_router.get("/properties")
async def properties(emu: Emu) -> dict[str, Any]:
    await emu.latency()
    props = OrganizationProperties(default_region=emu.config.default_region)
    return PropertiesResponse(properties=props).dump()
