"""Every endpoint, status and error body of the seeds, over real HTTP against the emulator."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator


def put(api: httpx.Client, name: str, region: str | None = None, **pairs: str) -> httpx.Response:
    body: dict[str, object] = {
        "secrets": [{"secretKey": k, "secretValue": v} for k, v in pairs.items()]
    }
    if region:
        body["region"] = region
    return api.put(f"/v1/secrets/{name}", json=body)


def wait_status(api: httpx.Client, name: str, want: str, timeout: float = 5) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/v1/secrets/{name}").json()
        if body["status"] == want or time.monotonic() > deadline:
            return body  # type: ignore[no-any-return]
        time.sleep(0.01)


def test_list_is_empty_at_first(api: httpx.Client) -> None:
    r = api.get("/v1/secrets")
    assert (r.status_code, r.json()) == (200, {"sets": []})


def test_put_creates_set_pending_then_ready(slow_api: httpx.Client) -> None:
    api = slow_api
    r = put(api, "my-secrets", API_KEY="v1", DATABASE_URL="v2")
    assert r.status_code == 202
    assert r.json() == {"status": "OK", "region": "us-west"}
    first = api.get("/v1/secrets/my-secrets").json()
    assert first == {
        "region": "us-west",
        "status": "pending",
        "secrets": [{"fieldName": "API_KEY"}, {"fieldName": "DATABASE_URL"}],
    }
    assert wait_status(api, "my-secrets", "ready")["status"] == "ready"
    listed = api.get("/v1/secrets").json()
    assert listed == {
        "sets": [{"name": "my-secrets", "type": "secret", "region": "us-west", "status": "ready"}]
    }


def test_put_merges_keys_and_never_returns_values(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    put(api, "merge-set", A="canary-a-7f3e", B="canary-b-7f3e")
    put(api, "merge-set", B="canary-b2-7f3e", C="canary-c-7f3e")
    body = api.get("/v1/secrets/merge-set")
    assert [s["fieldName"] for s in body.json()["secrets"]] == ["A", "B", "C"]
    assert "canary" not in body.text and "canary" not in api.get("/v1/secrets").text
    assert emulator.check_value("merge-set", "A", "canary-a-7f3e")
    assert emulator.check_value("merge-set", "B", "canary-b2-7f3e")
    assert not emulator.check_value("merge-set", "B", "canary-b-7f3e")


def test_put_in_explicit_region_and_region_is_fixed(api: httpx.Client) -> None:
    assert put(api, "east-set", region="us-east", K="v").json() == {
        "status": "OK",
        "region": "us-east",
    }
    # no region: keeps the set's region
    assert put(api, "east-set", K="v2").json()["region"] == "us-east"
    r = put(api, "east-set", region="us-west", K="v3")
    assert r.status_code == 400
    assert r.json() == {
        "error": "Secret already exists in region 'us-east'. Cannot change region to 'us-west'.",
        "code": "GENERIC_BAD_REQUEST",
    }


@pytest.mark.parametrize("region", ["mars-1", "US-WEST", ""])
def test_unknown_region(api: httpx.Client, region: str) -> None:
    r = api.put(
        "/v1/secrets/some-set",
        json={"secrets": [{"secretKey": "K", "secretValue": "v"}], "region": region},
    )
    assert r.status_code == 400
    assert r.json() == {
        "error": "Invalid region or organization does not have access",
        "code": "GENERIC_BAD_REQUEST",
    }
    assert api.get("/v1/secrets/some-set").status_code == 404


@pytest.mark.parametrize("region", ["us-west", "us-east", "eu-central", "ap-south"])
def test_known_regions(api: httpx.Client, region: str) -> None:
    assert put(api, f"set-{region}", region=region, K="v").json()["region"] == region


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"secrets": []},
        {"secrets": [{"secretKey": "K"}]},
        {"secrets": [{"secretValue": "v"}]},
        {"secrets": "K=v"},
        {"secrets": [{"secretKey": 1, "secretValue": "v"}]},
        [],
        "text",
    ],
)
def test_invalid_request_format(api: httpx.Client, body: object) -> None:
    r = api.put("/v1/secrets/fmt-set", json=body)
    assert r.status_code == 400
    assert r.json() == {"error": "Invalid request format", "code": "GENERIC_BAD_REQUEST"}


def test_malformed_json(api: httpx.Client) -> None:
    r = api.put(
        "/v1/secrets/fmt-set", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["code"] == "GENERIC_BAD_REQUEST"


@pytest.mark.parametrize("key", ["BAD.KEY", "A B", "K" * 65])
def test_invalid_key_is_400(api: httpx.Client, key: str) -> None:
    r = api.put("/v1/secrets/key-set", json={"secrets": [{"secretKey": key, "secretValue": "v"}]})
    assert r.status_code == 400
    assert r.json()["code"] == "GENERIC_BAD_REQUEST"
    assert api.get("/v1/secrets/key-set").status_code == 404  # nothing half-applied


@pytest.mark.parametrize("name", ["ab", "Upper-Case", "-lead", "x" * 64, "a..b"])
def test_invalid_set_name(api: httpx.Client, name: str) -> None:
    r = put(api, name, K="v")
    assert r.status_code == 400 and r.json()["code"] == "GENERIC_BAD_REQUEST"
    # GET and DELETE document no 400: a name that cannot exist is not found
    assert api.get(f"/v1/secrets/{name}").status_code == 404
    assert api.delete(f"/v1/secrets/{name}").status_code == 404


def test_get_unknown_set_is_404(api: httpx.Client) -> None:
    r = api.get("/v1/secrets/no-such-set")
    assert (r.status_code, r.json()) == (404, {"error": "Set not found", "code": "NOT_FOUND"})


def test_image_pull_secret_lifecycle(api: httpx.Client, emulator: EmulatorServer) -> None:
    body = {
        "isImagePullSecret": True,
        "host": "https://index.docker.io/v1",
        "secretValue": "dXNlcjp0b2tlbg==",
    }
    r = api.put("/v1/secrets/pull-creds", json=body)
    assert (r.status_code, r.json()) == (202, {"status": "OK", "region": "us-west"})
    assert emulator.check_value("pull-creds", None, "dXNlcjp0b2tlbg==")
    # cannot be read by name
    r = api.get("/v1/secrets/pull-creds")
    assert (r.status_code, r.json()) == (
        400,
        {"error": "Cannot retrieve image pull secrets by name", "code": "GENERIC_BAD_REQUEST"},
    )
    # listed with its type
    (entry,) = api.get("/v1/secrets").json()["sets"]
    assert entry["type"] == "imagePullSecret" and entry["name"] == "pull-creds"
    # cannot have keys unset
    assert api.delete("/v1/secrets/pull-creds/ANY").status_code == 400
    # cannot become a regular set
    r = put(api, "pull-creds", K="v")
    assert (r.status_code, r.json()) == (
        400,
        {
            "error": "Must provide isImagePullSecret, host, and secretValue to update an "
            "image pull secret",
            "code": "GENERIC_BAD_REQUEST",
        },
    )
    # can be updated with new credentials
    assert (
        api.put("/v1/secrets/pull-creds", json={**body, "secretValue": "bmV3"}).status_code == 202
    )
    assert emulator.check_value("pull-creds", None, "bmV3")
    # can be deleted as a set
    assert api.delete("/v1/secrets/pull-creds").json() == {"status": "OK"}


def test_image_pull_secret_missing_fields(api: httpx.Client) -> None:
    r = api.put("/v1/secrets/pull-creds", json={"isImagePullSecret": True, "secretValue": "x"})
    assert r.status_code == 400
    assert r.json()["error"].startswith("Must provide isImagePullSecret, host, and secretValue")


def test_regular_set_cannot_become_image_pull_secret(api: httpx.Client) -> None:
    put(api, "regular-set", K="v")
    r = api.put(
        "/v1/secrets/regular-set", json={"isImagePullSecret": True, "host": "h", "secretValue": "x"}
    )
    assert (r.status_code, r.json()) == (
        400,
        {
            "error": "Cannot update existing regular secrets to image pull secrets",
            "code": "GENERIC_BAD_REQUEST",
        },
    )


def test_delete_key(api: httpx.Client) -> None:
    put(api, "del-set", A="1", B="2")
    r = api.delete("/v1/secrets/del-set/A")
    assert (r.status_code, r.json()) == (200, {"status": "OK"})
    assert api.get("/v1/secrets/del-set").json()["secrets"] == [{"fieldName": "B"}]
    r = api.delete("/v1/secrets/del-set/A")
    assert (r.status_code, r.json()) == (404, {"error": "Secret not found", "code": "NOT_FOUND"})
    r = api.delete("/v1/secrets/no-set/A")
    assert (r.status_code, r.json()) == (404, {"error": "Set not found", "code": "NOT_FOUND"})


def test_delete_key_restarts_provisioning(slow_api: httpx.Client) -> None:
    api = slow_api
    put(api, "prov-set", A="1", B="2")
    wait_status(api, "prov-set", "ready")
    api.delete("/v1/secrets/prov-set/A")
    assert api.get("/v1/secrets/prov-set").json()["status"] == "pending"


def test_delete_set(api: httpx.Client) -> None:
    put(api, "gone-set", A="1")
    r = api.delete("/v1/secrets/gone-set")
    assert (r.status_code, r.json()) == (200, {"status": "OK"})
    assert api.get("/v1/secrets/gone-set").status_code == 404
    r = api.delete("/v1/secrets/gone-set")
    assert (r.status_code, r.json()) == (404, {"error": "Set not found", "code": "NOT_FOUND"})


def test_write_while_pending_is_accepted_and_restarts_provisioning() -> None:
    with (
        run_emulator(provision_delay=1.0) as emu,
        httpx.Client(
            base_url=emu.api_host, headers={"Authorization": f"Bearer {emu.token}"}
        ) as api,
    ):
        put(api, "busy-set", A="1")
        time.sleep(0.6)
        assert put(api, "busy-set", B="2").status_code == 202
        time.sleep(0.6)  # 1.2 s after the first write (its 1 s is over), 0.6 s after the second
        assert api.get("/v1/secrets/busy-set").json()["status"] == "pending"
        assert wait_status(api, "busy-set", "ready")["status"] == "ready"


def test_failed_provisioning_reports_error_message() -> None:
    with (
        run_emulator(provision_delay=0.0, fail_sets=["broken-*"]) as emu,
        httpx.Client(
            base_url=emu.api_host, headers={"Authorization": f"Bearer {emu.token}"}
        ) as api,
    ):
        put(api, "broken-set", A="1")
        put(api, "fine-set", A="1")
        detail = api.get("/v1/secrets/broken-set").json()
        assert detail["status"] == "failed"
        assert detail["errorMessage"]
        sets = {s["name"]: s for s in api.get("/v1/secrets").json()["sets"]}
        assert sets["broken-set"]["status"] == "failed" and sets["broken-set"]["errorMessage"]
        assert sets["fine-set"]["status"] == "ready" and "errorMessage" not in sets["fine-set"]


def test_list_region_filter(api: httpx.Client) -> None:
    put(api, "west-set", K="v")
    put(api, "east-set", region="us-east", K="v")
    names = [s["name"] for s in api.get("/v1/secrets", params={"region": "us-east"}).json()["sets"]]
    assert names == ["east-set"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/secrets"),
        ("GET", "/v1/secrets/my-secrets"),
        ("PUT", "/v1/secrets/my-secrets"),
        ("DELETE", "/v1/secrets/my-secrets"),
        ("DELETE", "/v1/secrets/my-secrets/KEY"),
        ("GET", "/v1/organizations"),
        ("GET", "/v1/organizations/local/secrets"),
        ("GET", "/_emulator/stats"),
        ("POST", "/_emulator/check-value"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/redoc"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic abc", "Bearer"])
def test_unauthorized(emulator: EmulatorServer, method: str, path: str, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    r = httpx.request(method, emulator.api_host + path, headers=headers, json={"secrets": []})
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorized", "code": "UNAUTHORIZED"})


def test_stats_count_routes_and_reset(api: httpx.Client, emulator: EmulatorServer) -> None:
    put(api, "stat-set", A="1", B="2")
    api.get("/v1/secrets/stat-set")
    api.get("/v1/secrets/stat-set")
    stats = api.get("/_emulator/stats").json()
    assert stats["requests"]["PUT /v1/secrets/{setName}"] == 1
    assert stats["requests"]["GET /v1/secrets/{setName}"] == 2
    assert stats["writes"] == [{"method": "PUT", "set": "stat-set", "keys": ["A", "B"]}]
    assert api.post("/_emulator/reset").status_code == 200
    assert emulator.stats()["total"] == 1  # the stats request after reset is not counted yet


def test_check_value_endpoint(api: httpx.Client) -> None:
    put(api, "check-set", A="the-value")
    yes = api.post(
        "/_emulator/check-value", json={"set": "check-set", "key": "A", "value": "the-value"}
    )
    no = api.post("/_emulator/check-value", json={"set": "check-set", "key": "A", "value": "other"})
    missing = api.post(
        "/_emulator/check-value", json={"set": "check-set", "key": "Z", "value": "x"}
    )
    assert (yes.json(), no.json(), missing.json()) == (
        {"matches": True},
        {"matches": False},
        {"matches": False},
    )
    assert "the-value" not in yes.text


# Hostile bodies: never a 500 ---------------------------------------------------------------------

WRITE_PATHS = [
    ("PUT", "/v1/secrets/hostile-set"),
    ("PUT", "/v1/organizations/local/secrets/hostile-set"),
    ("POST", "/_emulator/check-value"),
]


def _no_server_errors(emulator: EmulatorServer) -> None:
    statuses = emulator.stats()["statuses"]
    assert not [s for s in statuses if s.startswith("5") or s == "dropped"], statuses


@pytest.mark.parametrize(("method", "path"), WRITE_PATHS)
@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"a":' * 100_000, b'{"secrets": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"],
    ids=["arrays", "objects", "inside-secrets"],
)
def test_deeply_nested_json_is_400(
    api: httpx.Client, emulator: EmulatorServer, method: str, path: str, body: bytes
) -> None:
    r = api.request(method, path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {
        "error": "Invalid request format: JSON nested too deeply",
        "code": "GENERIC_BAD_REQUEST",
    }
    _no_server_errors(emulator)
    assert put(api, "after-set", K="v").status_code == 202  # the server is fine


@pytest.mark.parametrize(("method", "path"), WRITE_PATHS)
@pytest.mark.parametrize(
    "body",
    [
        b'{"secrets": [{"secretKey": "K", "secretValue": "a\\ud800b"}]}',
        b'{"secrets": [{"secretKey": "K\\udfff", "secretValue": "v"}]}',
        b'{"secrets": [{"secretKey": "K", "secretValue": "v"}], "region": "\\ud800"}',
        b'{"secretKey": "K", "secretValue": "\\udc00"}',
        b'{"isImagePullSecret": true, "host": "\\ud800", "secretValue": "dTp0"}',
        b'{"set": "hostile-set", "key": "K", "value": "\\ud800"}',
        b'{"\\ud800": 1}',
    ],
    ids=["value", "key", "region", "single", "image-host", "check-value", "object-key"],
)
def test_lone_surrogate_is_400(
    api: httpx.Client, emulator: EmulatorServer, method: str, path: str, body: bytes
) -> None:
    r = api.request(method, path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {
        "error": "Invalid request format: a string is not valid Unicode",
        "code": "GENERIC_BAD_REQUEST",
    }
    _no_server_errors(emulator)
    assert api.get("/v1/secrets/hostile-set").status_code == 404  # nothing was stored


def _body_of(size: int) -> bytes:
    head, tail = b'{"secrets": [{"secretKey": "K", "secretValue": "', b'"}]}'
    return head + b"v" * (size - len(head) - len(tail)) + tail


def _chunks(body: bytes) -> Iterator[bytes]:
    for i in range(0, len(body), 64 * 1024):
        yield body[i : i + 64 * 1024]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_limit_is_one_mib(api: httpx.Client, emulator: EmulatorServer, chunked: bool) -> None:
    too_big = _body_of((1 << 20) + 1)
    content = _chunks(too_big) if chunked else too_big
    r = api.put("/v1/secrets/big-set", content=content)
    assert ("content-length" in r.request.headers) is not chunked
    assert r.status_code == 413
    assert r.json() == {"error": "Content Too Large", "code": "PAYLOAD_TOO_LARGE"}
    assert api.get("/v1/secrets/big-set").status_code == 404
    just_fits = _body_of(1 << 20)
    r = api.put("/v1/secrets/big-set", content=_chunks(just_fits) if chunked else just_fits)
    assert r.status_code == 202, r.text
    _no_server_errors(emulator)


def test_body_limit_applies_before_authentication(emulator: EmulatorServer) -> None:
    r = httpx.put(f"{emulator.api_host}/v1/secrets/big-set", content=_body_of(2 << 20))
    assert r.status_code == 413
    assert emulator.stats()["statuses"] == {"413": 1}


def test_schema_and_docs_with_the_token(api: httpx.Client) -> None:
    schema = api.get("/openapi.json")
    assert schema.status_code == 200 and "/v1/secrets/{setName}" in schema.json()["paths"]
    for page in ("/docs", "/redoc"):
        r = api.get(page)
        assert r.status_code == 200 and "/openapi.json" in r.text
