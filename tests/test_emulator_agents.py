"""Agents and deployments on the emulator, over real HTTP: both surfaces, the deploy gates, the
deploy delay, failing agents, and the write generations only ``/_emulator`` shows."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from pcc_env.emulator.server import EmulatorServer
from pcc_env.models import AgentDetail, AgentGenerations, AgentList
from pcc_env.testing import run_emulator
from tests.test_no_leaks import Canaries

ORG = "/v1/organizations/local"
NOT_READY = "Secret set '{}' is not yet ready. Retry once it has been provisioned."


def client(emu: EmulatorServer) -> httpx.Client:
    return httpx.Client(
        base_url=emu.api_host, headers={"Authorization": f"Bearer {emu.token}"}, timeout=30
    )


def put_set(api: httpx.Client, name: str, region: str | None = None, **pairs: str) -> None:
    body: dict[str, Any] = {
        "secrets": [{"secretKey": k, "secretValue": v} for k, v in (pairs or {"K": "v"}).items()]
    }
    if region:
        body["region"] = region
    r = api.put(f"/v1/secrets/{name}", json=body)
    assert r.status_code == 202, r.text


def put_pull_secret(api: httpx.Client, name: str, region: str | None = None) -> None:
    body: dict[str, Any] = {"isImagePullSecret": True, "host": "ghcr.io", "secretValue": "dTp0"}
    if region:
        body["region"] = region
    assert api.put(f"/v1/secrets/{name}", json=body).status_code == 202


def create(api: httpx.Client, name: str, **fields: Any) -> httpx.Response:
    return api.post("/v1/agents", json={"serviceName": name, "image": "me/agent:1", **fields})


def wait_for(
    read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = read()
        if done(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.01)


def wait_set(api: httpx.Client, name: str, status: str) -> None:
    def read() -> dict[str, Any]:
        sets = {s["name"]: s for s in api.get("/v1/secrets").json()["sets"]}
        return sets[name]  # type: ignore[no-any-return]

    assert wait_for(read, lambda s: s["status"] == status)["status"] == status


def settled(body: dict[str, Any]) -> bool:
    return body.get("reconciledDeploymentId") == body["desiredDeploymentId"]


def wait_settled(api: httpx.Client, name: str) -> dict[str, Any]:
    body = wait_for(lambda: api.get(f"/v1/agents/{name}").json(), settled)
    assert settled(body), body
    return body


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    with run_emulator(provision_delay=0, deploy_delay=0, fail_agents=["broken-*"]) as server:
        yield server


@pytest.fixture
def api(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with client(emu) as c:
        yield c


# Create, read, list, delete ---------------------------------------------------------------------


def test_create_answers_the_detail_and_lists_the_agent(api: httpx.Client) -> None:
    put_set(api, "my-set")
    put_pull_secret(api, "my-pull")
    r = create(
        api,
        "my-agent",
        secretSet="my-set",
        imagePullSecretSet="my-pull",
        agentProfile="agent-2x",
        autoScaling={"minAgents": 1, "maxAgents": 5},
        krispViva={"audioFilter": "tel"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    dep_id = body["desiredDeploymentId"]
    assert body["activeDeploymentId"] == dep_id
    assert body["name"] == "my-agent" and body["region"] == "us-west"
    assert body["deployment"]["id"] == dep_id
    assert body["deployment"]["manifest"] == {
        "spec": {
            "image": "me/agent:1",
            "envFromSecretNames": ["my-set"],
            "imagePullSecretName": "my-pull",
        }
    }
    assert body["agentProfile"] == "agent-2x"
    assert body["autoScaling"] == {"minReplicas": 1, "maxReplicas": 5}
    assert body["createdAt"].endswith("Z") and body["deployment"]["createdAt"].endswith("Z")
    AgentDetail.model_validate(body)  # the shape the client reads

    detail = api.get("/v1/agents/my-agent").json()  # deploy_delay=0: reconciled at once
    assert detail["reconciledDeploymentId"] == dep_id
    assert (detail["ready"], detail["activeDeploymentReady"], detail["available"]) == (
        True,
        True,
        True,
    )
    assert detail["currentRevision"] == {
        "deploymentID": dep_id,
        "phase": "Active",
        "health": {"ready": True},
    }
    assert "errors" not in detail and "warning" not in detail

    listed = api.get("/v1/agents").json()
    (item,) = listed["services"]
    assert set(item) == {
        "id",
        "name",
        "region",
        "desiredDeploymentId",
        "activeDeploymentId",
        "reconciledDeploymentId",
        "createdAt",
        "updatedAt",
    }
    assert item["desiredDeploymentId"] == dep_id
    with_dep = api.get("/v1/agents", params={"includeActiveDeployment": "true"}).json()
    assert with_dep["services"][0]["deployment"] == detail["deployment"]
    AgentList.model_validate(with_dep)
    for value in ("false", "0", "null"):
        plain = api.get("/v1/agents", params={"includeActiveDeployment": value}).json()
        assert "deployment" not in plain["services"][0]


def test_list_region_filter_and_default_region(api: httpx.Client) -> None:
    assert api.get("/v1/agents").json() == {"services": []}
    assert create(api, "west-agent").json()["region"] == "us-west"
    assert create(api, "east-agent", region="us-east").json()["region"] == "us-east"
    names = [
        s["name"] for s in api.get("/v1/agents", params={"region": "us-east"}).json()["services"]
    ]
    assert names == ["east-agent"]
    assert [s["name"] for s in api.get("/v1/agents").json()["services"]] == [
        "east-agent",
        "west-agent",
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"image": "i"}, "Invalid parameters"),
        ({"serviceName": 5, "image": "i"}, "Invalid parameters"),
        ({"serviceName": "ok-name", "image": "i", "secretSet": 5}, "Invalid parameters"),
        ({"serviceName": "ok-name", "image": "i", "forceRedeploy": []}, "Invalid parameters"),
        ({"serviceName": "ok-name", "image": "i", "agentProfile": 1}, "Invalid parameters"),
        ({"serviceName": "ok-name", "image": "i", "autoScaling": 3}, "Invalid parameters"),
        (
            {"serviceName": "ok-name", "image": "i", "autoScaling": {"minAgents": "1"}},
            "Invalid parameters",
        ),
        ({"serviceName": "Upper", "image": "i"}, "Invalid agent name"),
        ({"serviceName": "-lead", "image": "i"}, "Invalid agent name"),
        ({"serviceName": "a" * 55, "image": "i"}, "Invalid agent name"),
        ({"serviceName": "ok-name"}, "Either image or buildId is required for service creation"),
        (
            {"serviceName": "ok-name", "image": "i", "buildId": "b"},
            "Cannot specify both image and buildId. Use one or the other.",
        ),
        ({"serviceName": "ok-name", "buildId": "b"}, "Build not found"),
        (
            {"serviceName": "ok-name", "image": "i", "region": "mars-1"},
            "Invalid region or organization does not have access",
        ),
    ],
)
def test_create_refuses_bad_bodies(api: httpx.Client, body: dict[str, Any], error: str) -> None:
    r = api.post("/v1/agents", json=body)
    assert r.status_code == 400
    assert r.json()["code"] == "GENERIC_BAD_REQUEST"
    assert r.json()["error"].startswith(error)
    assert api.get("/v1/agents").json() == {"services": []}


def test_create_existing_agent_is_400(api: httpx.Client) -> None:
    first = create(api, "twice").json()
    r = create(api, "twice", image="other:2")
    assert (r.status_code, r.json()) == (
        400,
        {"error": "Service already exists", "code": "GENERIC_BAD_REQUEST"},
    )
    assert api.get("/v1/agents/twice").json()["desiredDeploymentId"] == first["desiredDeploymentId"]


def test_unknown_agent_is_404(api: httpx.Client) -> None:
    not_found = {"error": "Not found", "code": "NOT_FOUND"}
    for name in ("no-such-agent", "Bad..Name"):
        assert api.get(f"/v1/agents/{name}").json() == not_found
        assert api.get(f"/v1/agents/{name}").status_code == 404
        assert api.delete(f"/v1/agents/{name}").json() == not_found
        r = api.post(f"/v1/agents/{name}", json={"forceRedeploy": True})
        assert (r.status_code, r.json()) == (
            404,
            {"error": "Service not found", "code": "NOT_FOUND"},
        )
        assert api.get(f"/_emulator/agents/{name}").status_code == 404


def test_delete(api: httpx.Client) -> None:
    create(api, "gone-agent")
    r = api.delete("/v1/agents/gone-agent")
    assert (r.status_code, r.json()) == (200, {"status": "OK"})
    assert api.get("/v1/agents/gone-agent").status_code == 404
    assert api.delete("/v1/agents/gone-agent").status_code == 404
    # the name can be used again, with a fresh deployment
    assert create(api, "gone-agent").status_code == 200


# Updates and deployments ------------------------------------------------------------------------


def test_update_that_changes_the_manifest_makes_a_new_deployment(api: httpx.Client) -> None:
    put_set(api, "set-one")
    put_set(api, "set-two")
    first = create(api, "upd-agent", secretSet="set-one").json()
    r = api.post("/v1/agents/upd-agent", json={"image": "me/agent:2", "secretSet": "set-two"})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["desiredDeploymentId"] != first["desiredDeploymentId"]
    assert "warning" not in second
    assert second["deployment"]["manifest"]["spec"] == {
        "image": "me/agent:2",
        "envFromSecretNames": ["set-two"],
    }
    assert second["createdAt"] == first["createdAt"]
    # absent fields keep their value; null unbinds a set
    third = api.post("/v1/agents/upd-agent", json={"secretSet": None}).json()
    assert third["deployment"]["manifest"]["spec"] == {
        "image": "me/agent:2",
        "envFromSecretNames": [],
    }
    # another setting that defines a version (the agent profile) makes one too
    fourth = api.post("/v1/agents/upd-agent", json={"agentProfile": "agent-2x"}).json()
    assert fourth["desiredDeploymentId"] != third["desiredDeploymentId"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"image": "me/agent:1", "secretSet": "keep-set"},
        {"forceRedeploy": False},
        {"autoScaling": {"minAgents": 2, "maxAgents": 9}},  # scaling only: same version
        {"region": "us-east"},  # not an update field: ignored
    ],
)
def test_update_without_change_keeps_the_deployment_with_a_warning(
    api: httpx.Client, emu: EmulatorServer, body: dict[str, Any]
) -> None:
    put_set(api, "keep-set")
    first = create(api, "same-agent", secretSet="keep-set").json()
    emu.reset_stats()
    r = api.post("/v1/agents/same-agent", json=body)
    assert r.status_code == 200
    answer = r.json()
    assert answer["desiredDeploymentId"] == first["desiredDeploymentId"]
    assert answer["warning"].startswith("No changes detected")
    assert "forceRedeploy" in answer["warning"]
    assert answer["region"] == "us-west"
    assert emu.stats()["deployments"] == []


def test_force_redeploy_makes_a_new_deployment_that_runs_the_latest_write(
    api: httpx.Client, emu: EmulatorServer
) -> None:
    put_set(api, "gen-set", A="1")
    put_pull_secret(api, "gen-pull")
    first = create(api, "gen-agent", secretSet="gen-set", imagePullSecretSet="gen-pull").json()
    gens = api.get("/_emulator/agents/gen-agent").json()
    assert gens == {
        "name": "gen-agent",
        "deploymentId": first["desiredDeploymentId"],
        "reconciledDeploymentId": first["desiredDeploymentId"],
        "phase": "Active",
        "ready": True,
        "sets": {
            "gen-set": {"deployed": 1, "current": 1},
            "gen-pull": {"deployed": 1, "current": 1},
        },
    }
    AgentGenerations.model_validate(gens)
    # two writes to the set (a merge, then an unset): the agent is now two behind
    put_set(api, "gen-set", B="2")
    assert api.delete("/v1/secrets/gen-set/A").status_code == 200
    behind = api.get("/_emulator/agents/gen-agent").json()
    assert behind["sets"]["gen-set"] == {"deployed": 1, "current": 3}
    # a plain identical deploy does not pick it up
    api.post("/v1/agents/gen-agent", json={})
    assert api.get("/_emulator/agents/gen-agent").json()["sets"]["gen-set"]["deployed"] == 1
    # a forced one does
    r = api.post("/v1/agents/gen-agent", json={"forceRedeploy": True})
    assert r.status_code == 200 and "warning" not in r.json()
    forced = r.json()["desiredDeploymentId"]
    assert forced != first["desiredDeploymentId"]
    after = api.get("/_emulator/agents/gen-agent").json()
    assert after["deploymentId"] == forced and after["ready"]
    assert after["sets"] == {
        "gen-set": {"deployed": 3, "current": 3},
        "gen-pull": {"deployed": 1, "current": 1},
    }
    assert emu.agent_generations("gen-agent") == after
    assert [(d["agent"], d["reason"]) for d in emu.stats()["deployments"]] == [
        ("gen-agent", "create"),
        ("gen-agent", "force"),
    ]
    # a deleted set has no current generation
    api.delete("/v1/secrets/gen-pull")
    assert api.get("/_emulator/agents/gen-agent").json()["sets"]["gen-pull"] == {"deployed": 1}


def test_generations_survive_deleting_and_recreating_a_set(api: httpx.Client) -> None:
    put_set(api, "again-set")
    create(api, "again-agent", secretSet="again-set")
    api.delete("/v1/secrets/again-set")
    put_set(api, "again-set")
    # the re-created set is a newer write than the one the agent runs
    assert api.get("/_emulator/agents/again-agent").json()["sets"]["again-set"] == {
        "deployed": 1,
        "current": 2,
    }


def test_deploy_delay_transitions() -> None:
    delay = 0.5
    with run_emulator(provision_delay=0, deploy_delay=delay) as server, client(server) as api:
        put_set(api, "slow-set")
        started = time.monotonic()
        created = create(api, "slow-agent", secretSet="slow-set").json()
        first = created["desiredDeploymentId"]
        assert (created["ready"], created["available"]) == (False, False)
        assert "reconciledDeploymentId" not in created
        assert created["currentRevision"] == {"deploymentID": first, "phase": "Creating"}
        ready = wait_settled(api, "slow-agent")
        assert time.monotonic() - started >= delay
        assert ready["ready"] and ready["currentRevision"]["phase"] == "Active"

        started = time.monotonic()
        forced = api.post("/v1/agents/slow-agent", json={"forceRedeploy": True}).json()
        second = forced["desiredDeploymentId"]
        # the new deployment is desired, the old one still reconciled and serving
        assert second != first
        assert forced["reconciledDeploymentId"] == first
        assert (forced["ready"], forced["available"]) == (False, True)
        assert forced["currentRevision"]["phase"] == "Creating"
        listed = api.get("/v1/agents").json()["services"][0]
        assert (listed["desiredDeploymentId"], listed["reconciledDeploymentId"]) in {
            (second, first),
            (second, second),
        }
        done = wait_settled(api, "slow-agent")
        assert time.monotonic() - started >= delay
        assert done["reconciledDeploymentId"] == second and done["ready"]


def test_fail_agent(api: httpx.Client, emu: EmulatorServer) -> None:
    put_set(api, "fail-set")
    created = create(api, "broken-agent", secretSet="fail-set").json()
    dep = created["desiredDeploymentId"]
    body = api.get("/v1/agents/broken-agent").json()
    assert body["reconciledDeploymentId"] == dep  # reconciled, and failed
    assert (body["ready"], body["activeDeploymentReady"], body["available"]) == (
        False,
        False,
        False,
    )
    revision = body["currentRevision"]
    assert revision["deploymentID"] == dep and revision["phase"] == "Failed"
    assert revision["health"]["ready"] is False
    assert revision["health"]["reason"] and revision["health"]["message"]
    assert "errors" not in body  # not part of ServiceDetailsResponse
    # the organization surface adds the errors list the pipecat CLI stops on
    org = api.get(f"{ORG}/services/broken-agent").json()["body"]
    assert org["errors"] == [
        {
            "code": "PCC_UNKNOWN_ERROR",
            "message": "Unknown error occurred when attempting to start provided image.",
        }
    ]
    # a redeploy fails again; other agents are fine
    again = api.post("/v1/agents/broken-agent", json={"forceRedeploy": True}).json()
    assert again["desiredDeploymentId"] != dep
    assert api.get("/v1/agents/broken-agent").json()["currentRevision"]["phase"] == "Failed"
    assert create(api, "fine-agent").json()["desiredDeploymentId"]
    assert api.get("/v1/agents/fine-agent").json()["ready"] is True
    assert emu.agent_generations("broken-agent")["phase"] == "Failed"  # type: ignore[index]


# The deploy gates --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gated() -> Iterator[tuple[EmulatorServer, httpx.Client]]:
    """Sets stay pending for 1 s (long enough to act while pending on a loaded machine);
    ``failed-*`` sets fail. Ready, failed and other-region sets are made once."""
    with (
        run_emulator(provision_delay=1.0, deploy_delay=0, fail_sets=["failed-*"]) as server,
        client(server) as api,
    ):
        put_set(api, "ready-set")
        put_pull_secret(api, "ready-pull")
        put_set(api, "failed-set")
        put_pull_secret(api, "failed-pull")
        put_set(api, "east-set", region="us-east")
        put_pull_secret(api, "east-pull", region="us-east")
        for name, status in [
            ("ready-set", "ready"),
            ("ready-pull", "ready"),
            ("failed-set", "failed"),
            ("failed-pull", "failed"),
        ]:
            wait_set(api, name, status)
        yield server, api


FIELD = {"secret": "secretSet", "pull": "imagePullSecretSet"}


def _gate_error(kind: str, problem: str, name: str, creating: bool) -> tuple[int, dict[str, str]]:
    if problem in ("pending", "failed"):
        return 409, {"error": NOT_READY.format(name), "code": "CONFLICT"}
    if problem == "missing":
        what = "Secret set" if kind == "secret" else "Image pull secret set"
        return 404, {"error": f"{what} not found", "code": "NOT_FOUND"}
    where = "will be created" if creating else "is"
    if kind == "secret":
        error = (
            f"Secret set '{name}' is in region 'us-east' but service {where} in region "
            "'us-west'. Secrets must be in the same region as the service."
        )
    else:
        error = (
            f"Image pull secret set '{name}' is in region 'us-east' but service {where} in "
            "region 'us-west'. Image pull secrets must be in the same region as the service."
        )
    return 400, {"error": error, "code": "GENERIC_BAD_REQUEST"}


def _bad_set(api: httpx.Client, kind: str, problem: str, unique: str) -> str:
    if problem == "pending":
        name = f"pending-{kind}-{unique}"
        (put_set if kind == "secret" else put_pull_secret)(api, name)
        return name
    if problem == "missing":
        return f"missing-{kind}"
    prefix = {"failed": "failed", "region": "east"}[problem]
    return f"{prefix}-{'set' if kind == 'secret' else 'pull'}"


PROBLEMS = ["pending", "failed", "region", "missing"]


@pytest.mark.parametrize("kind", ["secret", "pull"])
@pytest.mark.parametrize("problem", PROBLEMS)
def test_gate_on_create(
    gated: tuple[EmulatorServer, httpx.Client], kind: str, problem: str
) -> None:
    _, api = gated
    name = _bad_set(api, kind, problem, "c")
    agent = f"gate-create-{kind}-{problem}"
    for path in ("/v1/agents", f"{ORG}/services"):
        r = api.post(path, json={"serviceName": agent, "image": "i", FIELD[kind]: name})
        assert (r.status_code, r.json()) == _gate_error(kind, problem, name, creating=True)
    assert api.get(f"/v1/agents/{agent}").status_code == 404


@pytest.mark.parametrize("kind", ["secret", "pull"])
@pytest.mark.parametrize("problem", PROBLEMS)
def test_gate_on_update(
    gated: tuple[EmulatorServer, httpx.Client], kind: str, problem: str
) -> None:
    _, api = gated
    agent = f"gate-update-{kind}-{problem}"
    before = create(api, agent).json()
    name = _bad_set(api, kind, problem, "u")
    r = api.post(f"/v1/agents/{agent}", json={FIELD[kind]: name})
    assert (r.status_code, r.json()) == _gate_error(kind, problem, name, creating=False)
    r = api.put(f"{ORG}/services", json={"serviceName": agent, "image": "i", FIELD[kind]: name})
    assert (r.status_code, r.json()) == _gate_error(kind, problem, name, creating=False)
    after = api.get(f"/v1/agents/{agent}").json()
    assert after["desiredDeploymentId"] == before["desiredDeploymentId"]
    assert after["deployment"]["manifest"] == before["deployment"]["manifest"]


def test_binding_a_set_of_the_other_type_is_not_found(
    gated: tuple[EmulatorServer, httpx.Client],
) -> None:
    _, api = gated
    r = create(api, "wrong-type", secretSet="ready-pull")
    assert r.json() == {"error": "Secret set not found", "code": "NOT_FOUND"}
    r = create(api, "wrong-type", imagePullSecretSet="ready-set")
    assert r.json() == {"error": "Image pull secret set not found", "code": "NOT_FOUND"}


@pytest.mark.parametrize("kind", ["secret", "pull"])
@pytest.mark.parametrize("problem", ["pending", "region", "missing"])
def test_gate_on_force_redeploy(
    gated: tuple[EmulatorServer, httpx.Client], kind: str, problem: str
) -> None:
    """The bound set went bad after the deploy: rewritten (pending), deleted, or deleted and
    re-created in another region. (A set fails by name, so a bound set cannot turn failed.)"""
    _, api = gated
    name = f"force-{kind}-{problem}"
    write = put_set if kind == "secret" else put_pull_secret
    write(api, name)
    wait_set(api, name, "ready")
    agent = f"gate-force-{kind}-{problem}"
    before = create(api, agent, **{FIELD[kind]: name}).json()
    assert before.get("code") is None, before
    if problem == "pending":
        write(api, name)
    else:
        assert api.delete(f"/v1/secrets/{name}").status_code == 200
        if problem == "region":
            write(api, name, region="us-east")
    r = api.post(f"/v1/agents/{agent}", json={"forceRedeploy": True})
    assert (r.status_code, r.json()) == _gate_error(kind, problem, name, creating=False)
    r = api.put(
        f"{ORG}/services", json={"serviceName": agent, "image": "me/agent:1", "forceRedeploy": True}
    )
    assert (r.status_code, r.json()) == _gate_error(kind, problem, name, creating=False)
    assert (
        api.get(f"/v1/agents/{agent}").json()["desiredDeploymentId"]
        == before["desiredDeploymentId"]
    )
    if problem == "pending":  # once ready, the same request goes through
        wait_set(api, name, "ready")
        r = api.post(f"/v1/agents/{agent}", json={"forceRedeploy": True})
        assert r.status_code == 200
        assert r.json()["desiredDeploymentId"] != before["desiredDeploymentId"]


# Organization surface ---------------------------------------------------------------------------


def test_organization_surface(api: httpx.Client) -> None:
    put_set(api, "org-set")
    r = api.post(
        f"{ORG}/services",
        json={"serviceName": "org-agent", "image": "me/agent:1", "secretSet": "org-set"},
    )
    assert r.status_code == 200
    created = r.json()
    # one store: the REST surface sees it
    assert (
        api.get("/v1/agents/org-agent").json()["desiredDeploymentId"]
        == (created["desiredDeploymentId"])
    )
    got = api.get(f"{ORG}/services/org-agent").json()
    assert set(got) == {"body"} and got["body"]["name"] == "org-agent"
    assert [s["name"] for s in api.get(f"{ORG}/services").json()["services"]] == ["org-agent"]
    assert api.get(f"{ORG}/services", params={"region": "eu-central"}).json() == {"services": []}
    same = api.put(f"{ORG}/services", json={"serviceName": "org-agent", "image": "me/agent:1"})
    assert same.json()["warning"].startswith("No changes detected")
    changed = api.put(f"{ORG}/services", json={"serviceName": "org-agent", "image": "me/agent:2"})
    assert changed.json()["desiredDeploymentId"] != created["desiredDeploymentId"]
    missing = api.put(f"{ORG}/services", json={"serviceName": "nobody", "image": "i"})
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "Service not found", "code": "NOT_FOUND"},
    )
    no_name = api.put(f"{ORG}/services", json={"image": "i"})
    assert (no_name.status_code, no_name.json()) == (
        400,
        {"error": "Invalid parameters", "code": "GENERIC_BAD_REQUEST"},
    )
    assert api.get(f"{ORG}/services/nobody").status_code == 404
    assert api.get("/v1/organizations/other/services").status_code == 404
    assert api.delete(f"{ORG}/services/org-agent").json() == {"status": "OK"}
    assert api.get("/v1/agents/org-agent").status_code == 404


# Instruments, auth, faults, persistence, leaks -------------------------------------------------


def test_stats_count_agent_routes(api: httpx.Client, emu: EmulatorServer) -> None:
    create(api, "stat-agent")
    api.get("/v1/agents/stat-agent")
    api.get("/v1/agents/stat-agent")
    api.post("/v1/agents/stat-agent", json={"forceRedeploy": True})
    api.get(f"{ORG}/services/stat-agent")
    api.get("/v1/agents/missing-agent")
    stats = emu.stats()
    assert stats["requests"]["POST /v1/agents"] == 1
    assert stats["requests"]["GET /v1/agents/{agentName}"] == 3
    assert stats["requests"]["POST /v1/agents/{agentName}"] == 1
    assert stats["requests"]["GET /v1/organizations/{org}/services/{agentName}"] == 1
    assert stats["statuses"]["404"] == 1
    assert [d["reason"] for d in stats["deployments"]] == ["create", "force"]


NEW_ROUTES = [
    ("GET", "/v1/agents"),
    ("POST", "/v1/agents"),
    ("GET", "/v1/agents/some-agent"),
    ("POST", "/v1/agents/some-agent"),
    ("DELETE", "/v1/agents/some-agent"),
    ("GET", f"{ORG}/services"),
    ("POST", f"{ORG}/services"),
    ("PUT", f"{ORG}/services"),
    ("GET", f"{ORG}/services/some-agent"),
    ("DELETE", f"{ORG}/services/some-agent"),
    ("GET", "/_emulator/agents/some-agent"),
]


@pytest.mark.parametrize(("method", "path"), NEW_ROUTES)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Bearer"])
def test_unauthorized(emu: EmulatorServer, method: str, path: str, auth: str | None) -> None:
    with client(emu) as api:
        create(api, "some-agent")
    headers = {"Authorization": auth} if auth else {}
    body = {"serviceName": "some-agent", "image": "i", "forceRedeploy": True}
    r = httpx.request(method, emu.api_host + path, headers=headers, json=body)
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorized", "code": "UNAUTHORIZED"})
    assert [d["reason"] for d in emu.stats()["deployments"]] == ["create"]


def test_fault_rate_and_latency_apply_to_agent_writes() -> None:
    with (
        run_emulator(provision_delay=0, deploy_delay=0, fault_rate=1.0, fault_seed=3) as server,
        client(server) as api,
    ):
        outcomes = []
        for i in range(12):
            try:
                outcomes.append(create(api, f"fault-{i}").status_code)
            except httpx.TransportError:
                outcomes.append(0)  # dropped connection
        assert all(code in (0, 409, 500) for code in outcomes), outcomes
        assert sum(server.stats()["faults"].values()) == 12
        assert api.get("/v1/agents").status_code == 200  # reads draw no faults
    with (
        run_emulator(provision_delay=0, deploy_delay=0, latency_ms=150) as server,
        client(server) as api,
    ):
        started = time.monotonic()
        assert create(api, "slow-write").status_code == 200
        assert time.monotonic() - started >= 0.15


def test_agents_survive_a_restart_on_the_same_database(tmp_path: Path) -> None:
    db = str(tmp_path / "emu.sqlite3")
    with run_emulator(db=db, provision_delay=0, deploy_delay=0) as server, client(server) as api:
        put_set(api, "disk-set")
        created = create(api, "disk-agent", secretSet="disk-set").json()
        put_set(api, "disk-set", B="2")
    with run_emulator(db=db, provision_delay=0, deploy_delay=0) as server, client(server) as api:
        again = api.get("/v1/agents/disk-agent").json()
        assert again["desiredDeploymentId"] == created["desiredDeploymentId"] and again["ready"]
        assert api.get("/_emulator/agents/disk-agent").json()["sets"] == {
            "disk-set": {"deployed": 1, "current": 2}
        }


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/agents"), ("POST", "/v1/agents/hostile-agent"), ("PUT", f"{ORG}/services")],
)
@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"serviceName": "x\\ud800", "image": "i"}', b"{no json", b"[]"],
    ids=["nested", "surrogate", "not-json", "not-object"],
)
def test_hostile_bodies_are_400(
    api: httpx.Client, emu: EmulatorServer, method: str, path: str, body: bytes
) -> None:
    create(api, "hostile-agent")
    r = api.request(method, path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "GENERIC_BAD_REQUEST"
    statuses = emu.stats()["statuses"]
    assert not [s for s in statuses if s.startswith("5") or s == "dropped"], statuses


def test_no_secret_value_in_any_agent_answer(api: httpx.Client) -> None:
    canaries = Canaries()
    put_set(api, "leak-set", API_KEY=canaries.new(), OTHER=canaries.new())
    api.put(
        "/v1/secrets/leak-pull",
        json={"isImagePullSecret": True, "host": "ghcr.io", "secretValue": canaries.new()},
    )
    answers = [
        create(api, "leak-agent", secretSet="leak-set", imagePullSecretSet="leak-pull"),
        api.post("/v1/agents/leak-agent", json={}),
        api.post("/v1/agents/leak-agent", json={"forceRedeploy": True}),
        api.get("/v1/agents/leak-agent"),
        api.get("/v1/agents", params={"includeActiveDeployment": "true"}),
        api.get(f"{ORG}/services/leak-agent"),
        api.get(f"{ORG}/services"),
        api.put(f"{ORG}/services", json={"serviceName": "leak-agent", "image": "me/agent:1"}),
        api.get("/_emulator/agents/leak-agent"),
        api.get("/_emulator/stats"),
    ]
    for r in answers:
        assert r.status_code == 200, r.text
        canaries.assert_absent(r.text, f"{r.request.method} {r.request.url.path}")


# Conformance to the OpenAPI of the service ------------------------------------------------------

OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "docs" / "pipecat-cloud-openapi.json"


def _agents_openapi() -> dict[str, Any]:
    """The agent paths of the service's OpenAPI. Security is dropped: the test sends the token
    itself (schemathesis would otherwise generate one)."""
    doc: dict[str, Any] = json.loads(OPENAPI.read_text())
    doc["paths"] = {
        p: v for p, v in doc["paths"].items() if p in ("/agents", "/agents/{agentName}")
    }
    doc.pop("security", None)
    for operations in doc["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return doc


if OPENAPI.is_file():
    agents_schema = schemathesis.openapi.from_dict(_agents_openapi())

    @pytest.fixture(scope="module")
    def live() -> Iterator[EmulatorServer]:
        with run_emulator(provision_delay=0.0, deploy_delay=0.0) as server:
            yield server

    @agents_schema.parametrize()
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def test_agents_conform_to_the_openapi(case: schemathesis.Case, live: EmulatorServer) -> None:
        case.call_and_validate(
            base_url=live.api_host + "/v1",
            headers={"Authorization": f"Bearer {live.token}"},
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )
