"""``/secrets...``: the REST API's (``/v1``) and the CLI's (``/v1/organizations/{org}``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from pcc_env.emulator.routes.common import (
    INVALID_FORMAT,
    Emu,
    SecretKeyParam,
    SetName,
    json_body,
    valid_set_name,
    validated,
)
from pcc_env.emulator.store import bad_request
from pcc_env.models import (
    ImagePullSecretRequest,
    OkResponse,
    PutResponse,
    RegularSecretsRequest,
    SecretSetList,
    SingleSecretRequest,
)
from pcc_env.rules import key_problems, normalize_host

IMAGE_PULL_FIELDS = (
    "Must provide isImagePullSecret, host, and secretValue to update an image pull secret"
)


def secrets_router(org_surface: bool) -> APIRouter:
    """The organization surface also takes the CLI's one-key body (``SingleSecretRequest``)."""
    router = APIRouter()

    @router.get("/secrets")
    async def list_sets(emu: Emu, region: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        await emu.latency()
        return SecretSetList(sets=emu.store.list_sets(region)).dump()

    @router.get("/secrets/{setName}")
    async def get_set(set_name: SetName, emu: Emu) -> dict[str, Any]:
        await emu.latency()
        # A name that breaks the rules cannot exist: 404, the status the API documents.
        return emu.store.get_set(set_name).dump()

    @router.put("/secrets/{setName}", status_code=202)
    async def put_set(set_name: SetName, request: Request, emu: Emu) -> dict[str, Any]:
        name = valid_set_name(set_name)
        body = await json_body(request)
        default_region = emu.config.default_region
        if body.get("isImagePullSecret") is True:
            ips = validated(ImagePullSecretRequest, body, IMAGE_PULL_FIELDS)
            emu.check_region(ips.region)
            value = ips.secret_value.get_secret_value()

            def apply() -> str:
                used = emu.store.put_image_pull_secret(
                    name, normalize_host(ips.host), value, ips.region, default_region
                )
                emu.record_write("PUT", name, [])
                return used

        else:
            if "secrets" in body or not org_surface:
                regular = validated(RegularSecretsRequest, body)
                pairs = [(p.secret_key, p.secret_value.get_secret_value()) for p in regular.secrets]
                region = regular.region
            else:
                single = validated(SingleSecretRequest, body)
                if single.name is not None and single.name != name:
                    raise bad_request(INVALID_FORMAT)
                pairs = [(single.secret_key, single.secret_value.get_secret_value())]
                region = single.region
            problems = [p for key, _ in pairs for p in key_problems(key)]
            if problems:
                raise bad_request("Invalid secret key: " + "; ".join(problems))
            emu.check_region(region)

            def apply() -> str:
                used = emu.store.put_secrets(name, pairs, region, default_region)
                emu.record_write("PUT", name, [k for k, _ in pairs])
                return used

        used_region = await emu.write(name, apply)
        return PutResponse(region=used_region).dump()

    @router.delete("/secrets/{setName}")
    async def delete_set(set_name: SetName, emu: Emu) -> dict[str, Any]:
        name = set_name  # an invalid name is simply not found (404, as documented)

        def apply() -> None:
            emu.store.delete_set(name)
            emu.record_write("DELETE", name, [])

        await emu.write(name, apply)
        return OkResponse().dump()

    @router.delete("/secrets/{setName}/{secretKey}")
    async def delete_key(set_name: SetName, secret_key: SecretKeyParam, emu: Emu) -> dict[str, Any]:
        # Invalid names or keys cannot exist: the store answers 404, as the API documents.
        name = set_name

        def apply() -> None:
            emu.store.delete_key(name, secret_key)
            emu.record_write("DELETE", name, [secret_key])

        await emu.write(name, apply)
        return OkResponse().dump()

    return router
