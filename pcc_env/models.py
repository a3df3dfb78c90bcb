"""Pydantic models of the secrets API's request and response bodies, shared by client and emulator.

Attributes are snake_case; the wire names are camelCase (``secretKey``, ``errorMessage``...).
Values are ``SecretStr``: a model's repr, str and ordinary dumps never show them. The one way to
get a body with the values in it is ``to_wire()``, which the client calls to send a request.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from pcc_env.rules import escape_text

SetStatus = Literal["pending", "ready", "failed"]
SetType = Literal["secret", "imagePullSecret"]
# A string a response carries (names, keys, regions, messages): it ends up on a terminal, so
# control characters and line breaks are escaped as it is read. Valid names are unchanged.
ServerStr = Annotated[str, AfterValidator(escape_text)]


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
        extra="ignore",
        # Build validators on first use: a command touches 2-3 of these models, and building
        # all of them at import would cost every command ~20 ms of start-up.
        defer_build=True,
    )

    def dump(self) -> dict[str, Any]:
        """The JSON body as the API writes it (camelCase, absent optional fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)


# Requests ---------------------------------------------------------------------------------------


class SecretPair(ApiModel):
    secret_key: str
    secret_value: SecretStr


class RegularSecretsRequest(ApiModel):
    """``PUT /secrets/{setName}`` with key/value pairs (the REST API's array body)."""

    secrets: list[SecretPair] = Field(min_length=1)
    region: str | None = None

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "secrets": [
                {"secretKey": p.secret_key, "secretValue": p.secret_value.get_secret_value()}
                for p in self.secrets
            ]
        }
        if self.region is not None:
            body["region"] = self.region
        return body


class ImagePullSecretRequest(ApiModel):
    """``PUT /secrets/{setName}`` creating or updating an image pull secret."""

    is_image_pull_secret: Literal[True] = True
    host: str
    secret_value: SecretStr
    region: str | None = None

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "isImagePullSecret": True,
            "host": self.host,
            "secretValue": self.secret_value.get_secret_value(),
        }
        if self.region is not None:
            body["region"] = self.region
        return body


class SingleSecretRequest(ApiModel):
    """The one-key PUT body the ``pipecat cloud secrets set`` CLI sends (organization surface)."""

    name: str | None = None
    is_image_pull_secret: Literal[False] = False
    secret_key: str
    secret_value: SecretStr
    region: str | None = None


class CheckValueRequest(ApiModel):
    """Emulator only: does ``value`` match what is stored for ``set``/``key``?

    Without ``key`` it checks the value of an image pull secret.
    """

    set_name: str = Field(alias="set")
    key: str | None = None
    value: SecretStr


# Responses --------------------------------------------------------------------------------------


class ErrorBody(ApiModel):
    error: ServerStr
    code: ServerStr


class OkResponse(ApiModel):
    status: Literal["OK"] = "OK"


class PutResponse(ApiModel):
    status: Literal["OK"] = "OK"
    region: ServerStr


class SecretSetSummary(ApiModel):
    name: ServerStr
    type: SetType
    region: ServerStr
    status: SetStatus
    error_message: ServerStr | None = None
    # The key names, when the status was read from the set itself (``SecretsClient.set_status``):
    # what a push's wait for ``ready`` sees of writes made beside its own.
    keys: tuple[str, ...] | None = Field(default=None, exclude=True)


class SecretSetList(ApiModel):
    sets: list[SecretSetSummary]


class SecretKeyName(ApiModel):
    field_name: ServerStr


class SecretSetDetail(ApiModel):
    region: ServerStr
    status: SetStatus
    error_message: ServerStr | None = None
    secrets: list[SecretKeyName] = Field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [s.field_name for s in self.secrets]


class CheckValueResponse(ApiModel):
    matches: bool


# Organization surface (what the ``pipecat`` CLI reads) ------------------------------------------


class Organization(ApiModel):
    name: str
    verbose_name: str


class OrganizationList(ApiModel):
    organizations: list[Organization]


class Region(ApiModel):
    code: str
    display_name: str = Field(alias="display_name")


class RegionList(ApiModel):
    regions: list[Region]


class OrganizationProperties(ApiModel):
    default_region: str


class PropertiesResponse(ApiModel):
    properties: OrganizationProperties


# Agents (``/agents``): what status and redeploy read; the emulator writes the same shapes --------

RevisionPhase = Literal["Creating", "Validating", "Active", "Draining", "Failed"]


class AgentUpdateRequest(ApiModel):
    """``POST /agents/{agentName}`` (UpdateServiceRequest): only the fields pcc-env and the
    emulator act on; the others are accepted and kept by the emulator as given."""

    image: str | None = None
    secret_set: str | None = None
    image_pull_secret_set: str | None = None
    region: str | None = None
    force_redeploy: bool = False


class AgentCreateRequest(AgentUpdateRequest):
    """``POST /agents`` (CreateServiceRequest)."""

    service_name: str


class ManifestSpec(ApiModel):
    image: ServerStr | None = None
    image_pull_secret_name: ServerStr | None = None
    env_from_secret_names: list[ServerStr] = []


class Manifest(ApiModel):
    spec: ManifestSpec = ManifestSpec()


class Deployment(ApiModel):
    """An agent's deployment: ``manifest.spec.envFromSecretNames`` are the sets it mounts."""

    id: ServerStr
    manifest: Manifest = Manifest()
    created_at: str | None = None
    updated_at: str | None = None


class RevisionHealth(ApiModel):
    ready: bool | None = None
    reason: ServerStr | None = None
    message: ServerStr | None = None


class RevisionInfo(ApiModel):
    deployment_id: ServerStr | None = Field(default=None, alias="deploymentID")
    phase: ServerStr | None = None  # RevisionPhase; an unknown phase is not an error
    health: RevisionHealth | None = None


class AgentAutoScaling(ApiModel):
    min_replicas: int | None = None
    max_replicas: int | None = None


class AgentError(ApiModel):
    code: ServerStr
    message: ServerStr


class AgentSummary(ApiModel):
    """One item of ``GET /agents`` (ServiceListItem); ``deployment`` only with
    ``includeActiveDeployment=true``."""

    id: ServerStr | None = None
    name: ServerStr
    region: ServerStr
    desired_deployment_id: ServerStr | None = None
    active_deployment_id: ServerStr | None = None  # deprecated alias of desiredDeploymentId
    reconciled_deployment_id: ServerStr | None = None
    created_at: str | None = None
    updated_at: str | None = None
    deployment: Deployment | None = None


class AgentList(ApiModel):
    services: list[AgentSummary]


class AgentDetail(AgentSummary):
    """``GET|POST /agents/{agentName}`` (ServiceDetailsResponse). The deployment is complete when
    ``reconciledDeploymentId == desiredDeploymentId`` and ``ready``."""

    ready: bool = False
    available: bool | None = None
    active_deployment_ready: bool | None = None  # deprecated alias of ready
    agent_profile: ServerStr | None = None
    auto_scaling: AgentAutoScaling | None = None
    current_revision: RevisionInfo | None = None
    # Organization surface only: what the ``pipecat`` CLI reads to stop waiting on a failure.
    errors: list[AgentError] | None = None
    warning: ServerStr | None = None


# Emulator only: which write of each set an agent runs ------------------------------------------


class SetGenerations(ApiModel):
    """``deployed``: the set's write generation when the agent's desired deployment was made;
    ``current``: its generation now (absent when the set no longer exists)."""

    deployed: int | None = None
    current: int | None = None


class AgentGenerations(ApiModel):
    """``GET /_emulator/agents/{name}``: the agent runs the latest write of a set when ``ready``
    and ``deployed == current``."""

    name: ServerStr
    deployment_id: ServerStr
    reconciled_deployment_id: ServerStr | None = None
    phase: ServerStr
    ready: bool
    sets: dict[str, SetGenerations] = Field(default_factory=dict)
