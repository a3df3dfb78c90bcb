"""The specification: the OpenAPI fragments of ../shared/seeds merged into one document."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"

# GET /secrets is described in ../shared/API-NOTES.md, not in a seed fragment.
LIST_OPERATION: dict[str, Any] = {
    "get": {
        "operationId": "listSecretSets",
        "parameters": [
            {"name": "region", "in": "query", "required": False, "schema": {"type": "string"}}
        ],
        "responses": {
            "200": {
                "description": "Secret sets",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["sets"],
                            "properties": {
                                "sets": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["name", "type", "region", "status"],
                                        "properties": {
                                            "name": {"type": "string"},
                                            "type": {"enum": ["secret", "imagePullSecret"]},
                                            "region": {"type": "string"},
                                            "status": {"enum": ["pending", "ready", "failed"]},
                                            "errorMessage": {"type": "string"},
                                        },
                                    },
                                }
                            },
                        }
                    }
                },
            },
            "401": {"$ref": "#/components/responses/Unauthorized"},
        },
        "security": [{"PrivateKeyAuth": []}],
    }
}


def fragments() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(SEEDS.glob("*.txt")):
        match = re.search(r"````yaml[^\n]*\n(.*?)````", path.read_text(), re.S)
        if match:
            docs.append(yaml.safe_load(match.group(1)))
    return docs


def merged_openapi() -> dict[str, Any]:
    """One OpenAPI 3.0 document with every path and schema of the seed fragments."""
    parts = fragments()
    if not parts:
        raise FileNotFoundError(f"no OpenAPI fragments in {SEEDS}")
    merged = copy.deepcopy(parts[0])
    merged["info"] = {"title": "Pipecat Cloud secrets (seeds)", "version": "1.0.0"}
    merged["servers"] = [{"url": "/v1"}]
    for part in parts[1:]:
        for path, ops in part["paths"].items():
            merged["paths"].setdefault(path, {}).update(ops)
        for kind, items in part.get("components", {}).items():
            merged.setdefault("components", {}).setdefault(kind, {}).update(items)
    merged["paths"].setdefault("/secrets", {}).update(LIST_OPERATION)
    merged["components"].setdefault("responses", {})["Unauthorized"] = {
        "description": "Unauthorized",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    return merged


# The argument table of ../shared/API-NOTES.md ("Parsing KEY=value arguments"): the argument as
# the program receives it after the shell removed its quotes -> the value the docs promise.
ARGUMENT_TABLE: list[tuple[str, str]] = [
    ("KEY1=simple", "simple"),
    ("KEY1=value with spaces", "value with spaces"),
    ("KEY1=value=with=equals", "value=with=equals"),
    ("KEY1==value=with=equals", "value=with=equals"),
    ('KEY1=value with "quotes"', 'value with "quotes"'),
    ("KEY1=value with \\backslashes", "value with \\backslashes"),
    # pcc-env's documented escape for a value that starts with "=" (API-NOTES)
    ('KEY1="=v"', "=v"),
]
