"""Agents on the emulator: request bodies in, response models out (pure; the store does I/O).

Both surfaces answer with the shapes of ``pcc_env.models`` (``AgentList``, ``AgentDetail``), the
ones the OpenAPI gives as ServiceListItem and ServiceDetailsResponse. Write generations never
appear here: only ``generations()`` shows them, for ``/_emulator/agents/{name}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from pcc_env.emulator.store import (
    DEPLOYMENT_FAILED_MESSAGE,
    DEPLOYMENT_FAILED_REASON,
    AgentConfig,
    AgentPatch,
    AgentState,
    DeploymentRow,
    bad_request,
)
from pcc_env.models import (
    AgentAutoScaling,
    AgentCreateRequest,
    AgentDetail,
    AgentError,
    AgentGenerations,
    AgentSummary,
    AgentUpdateRequest,
    Deployment,
    Manifest,
    ManifestSpec,
    RevisionHealth,
    RevisionInfo,
    SetGenerations,
)

# CreateServiceRequest.serviceName
AGENT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])")
AGENT_NAME_MAX = 54
INVALID_PARAMETERS = "Invalid parameters"  # the OpenAPI's 400 example for agents
INVALID_AGENT_NAME = (
    "Invalid agent name: use lowercase letters, numbers and hyphens, start and end with a "
    "letter or number, at most 54 characters"
)
IMAGE_REQUIRED = "Either image or buildId is required for service creation"
IMAGE_AND_BUILD = "Cannot specify both image and buildId. Use one or the other."
BuildImage = Callable[[str], str]  # a build id -> the image it built (or StoreError)
# An update that makes no new deployment answers 200 with this (the CLI prints it).
NOTHING_CHANGED = (
    "No changes detected: the agent keeps its current deployment, and running instances keep "
    "their configuration and secret values. Use forceRedeploy (pipecat cloud deploy --force) "
    "to make a new deployment."
)
# What a failed deployment shows on the organization surface (error-codes page).
FAILED_ERROR = AgentError(
    code="PCC_UNKNOWN_ERROR",
    message="Unknown error occurred when attempting to start provided image.",
)
# Wire names of the request fields the emulator acts on; all others are kept as given.
_KNOWN = frozenset(
    {"serviceName", "image", "buildId", "secretSet", "imagePullSecretSet", "region"}
    | {"forceRedeploy"}
)


def valid_agent_name(name: str) -> bool:
    return len(name) <= AGENT_NAME_MAX and AGENT_NAME.fullmatch(name) is not None


def iso(ts: float) -> str:
    """``2025-04-19T01:20:27.564Z``, the API's timestamps."""
    when = datetime.fromtimestamp(ts, timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Requests ---------------------------------------------------------------------------------------


def _check_extra(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields kept as given; the two the answers show must have their documented types."""
    extra = {k: v for k, v in body.items() if k not in _KNOWN}
    profile = extra.get("agentProfile")
    scaling = extra.get("autoScaling")
    if profile is not None and not isinstance(profile, str):
        raise bad_request(INVALID_PARAMETERS)
    if scaling is not None:
        if not isinstance(scaling, dict):
            raise bad_request(INVALID_PARAMETERS)
        for key in ("minAgents", "maxAgents"):
            value = scaling.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise bad_request(INVALID_PARAMETERS)
    return extra


def _built_image(body: Mapping[str, Any], build_image: BuildImage) -> str | None:
    """The image of ``buildId`` (a Cloud Build), or ``None`` when the body names none."""
    build_id = body.get("buildId")
    if build_id is None:
        return None
    if body.get("image") is not None:
        raise bad_request(IMAGE_AND_BUILD)
    if not isinstance(build_id, str):
        raise bad_request(INVALID_PARAMETERS)
    return build_image(build_id)


def parse_create(
    body: Mapping[str, Any], build_image: BuildImage
) -> tuple[str, str | None, AgentConfig]:
    """``POST /agents`` (and the CLI's ``POST .../services``): name, region asked, config.
    With ``buildId`` the agent runs the image that build made (a successful one only)."""
    try:
        req = AgentCreateRequest.model_validate(body)
    except ValidationError:
        raise bad_request(INVALID_PARAMETERS) from None
    if not valid_agent_name(req.service_name):
        raise bad_request(INVALID_AGENT_NAME)
    image = _built_image(body, build_image) or req.image
    if image is None:
        raise bad_request(IMAGE_REQUIRED)
    config = AgentConfig(
        image=image,
        secret_set=req.secret_set,
        image_pull_secret_set=req.image_pull_secret_set,
        extra=_check_extra(body),
    )
    return req.service_name, req.region, config


def parse_update(body: Mapping[str, Any], build_image: BuildImage) -> AgentPatch:
    """``POST /agents/{name}`` (and the CLI's ``PUT .../services``). Absent fields keep their
    value; ``secretSet: null`` or ``imagePullSecretSet: null`` unbinds the set; ``region`` is
    not an update field (UpdateServiceRequest) and is ignored, like other unknown keys."""
    try:
        req = AgentUpdateRequest.model_validate(body)
    except ValidationError:
        raise bad_request(INVALID_PARAMETERS) from None
    image = _built_image(body, build_image) or req.image
    fields: dict[str, str | None] = {}
    if image is not None:
        fields["image"] = image
    for name in ("secret_set", "image_pull_secret_set"):
        if name in req.model_fields_set:
            fields[name] = getattr(req, name)
    return AgentPatch(fields=fields, extra=_check_extra(body), force=req.force_redeploy)


# Answers ----------------------------------------------------------------------------------------


def deployment(row: DeploymentRow) -> Deployment:
    return Deployment(
        id=row.id,
        manifest=Manifest(spec=ManifestSpec.model_validate(row.spec)),
        created_at=iso(row.created_at),
        updated_at=iso(row.created_at),
    )


def summary(state: AgentState, include_deployment: bool = False) -> AgentSummary:
    """One item of ``GET /agents``; ``deployment`` only with ``includeActiveDeployment``."""
    return AgentSummary(
        id=state.id,
        name=state.name,
        region=state.region,
        desired_deployment_id=state.desired.id,
        active_deployment_id=state.desired.id,
        reconciled_deployment_id=state.reconciled_id,
        created_at=iso(state.created_at),
        updated_at=iso(state.updated_at),
        deployment=deployment(state.desired) if include_deployment else None,
    )


def _revision(state: AgentState) -> RevisionInfo:
    phase = state.phase
    health = None
    if phase == "Active":
        health = RevisionHealth(ready=True)
    elif phase == "Failed":
        health = RevisionHealth(
            ready=False,
            reason=DEPLOYMENT_FAILED_REASON,
            message=state.desired.startup_error or DEPLOYMENT_FAILED_MESSAGE,
        )
    return RevisionInfo(deployment_id=state.desired.id, phase=phase, health=health)


def _auto_scaling(extra: Mapping[str, Any]) -> AgentAutoScaling | None:
    scaling = extra.get("autoScaling")
    if not isinstance(scaling, dict):
        return None
    return AgentAutoScaling(
        min_replicas=scaling.get("minAgents"), max_replicas=scaling.get("maxAgents")
    )


def detail(
    state: AgentState, *, org_surface: bool = False, warning: str | None = None
) -> AgentDetail:
    """``GET|POST /agents/{name}``. On the organization surface a failed deployment also
    carries ``errors``, which is what makes ``pipecat cloud deploy`` stop waiting."""
    profile = state.config.extra.get("agentProfile")
    return AgentDetail(
        **dict(summary(state, include_deployment=True)),
        ready=state.ready,
        available=state.available,
        active_deployment_ready=state.ready,
        agent_profile=profile if isinstance(profile, str) else None,
        auto_scaling=_auto_scaling(state.config.extra),
        current_revision=_revision(state),
        errors=[FAILED_ERROR] if org_surface and state.phase == "Failed" else None,
        warning=warning,
    )


def generations(state: AgentState, current: Mapping[str, int | None]) -> AgentGenerations:
    """For tests only: the generation of each set the desired deployment bound, and now."""
    return AgentGenerations(
        name=state.name,
        deployment_id=state.desired.id,
        reconciled_deployment_id=state.reconciled_id,
        phase=state.phase,
        ready=state.ready,
        sets={
            name: SetGenerations(deployed=gen, current=current.get(name))
            for name, gen in state.desired.bound.items()
        },
    )
