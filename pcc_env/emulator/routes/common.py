"""What the routers share: the ``Emulator`` by dependency, authentication, request parsing."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from pydantic import ValidationError

from pcc_env.emulator.state import Emulator
from pcc_env.emulator.store import StoreError, bad_request
from pcc_env.rules import set_name_problems

INVALID_FORMAT = "Invalid request format"


def get_emulator(request: Request) -> Emulator:
    """The app's one ``Emulator`` (``app.state.emulator``)."""
    emulator: Emulator = request.app.state.emulator
    return emulator


Emu = Annotated[Emulator, Depends(get_emulator)]
SetName = Annotated[str, Path(alias="setName")]
AgentName = Annotated[str, Path(alias="agentName")]
SecretKeyParam = Annotated[str, Path(alias="secretKey")]


def authenticate(request: Request, emu: Emu) -> None:
    expected = f"Bearer {emu.config.token}".encode()
    given = request.headers.get("authorization", "").encode("latin-1", "replace")
    if not hmac.compare_digest(given, expected):
        raise StoreError(401, "Unauthorized", "UNAUTHORIZED")


def check_org(org: str, emu: Emu) -> None:
    if org != emu.config.org:
        raise StoreError(404, "Organization not found", "NOT_FOUND")


# Authentication first, so an unauthenticated caller learns nothing about organizations.
AUTHENTICATED = [Depends(authenticate)]
ORGANIZATION = [Depends(authenticate), Depends(check_org)]


def valid_set_name(name: str) -> str:
    problems = set_name_problems(name)
    if problems:
        raise bad_request("Invalid secret set name: " + "; ".join(problems))
    return name


async def json_body(request: Request) -> dict[str, Any]:
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


def validated(model: Any, body: dict[str, Any], message: str = INVALID_FORMAT) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError:
        raise bad_request(message) from None
