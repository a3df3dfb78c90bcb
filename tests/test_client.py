"""SecretsClient against the emulator over real HTTP; MockTransport only for what it cannot do."""

from __future__ import annotations

import base64
import logging
import time
import traceback
from collections.abc import Iterator

import httpx
import pytest

from pcc_env.client import NO_RETRIES, RetryNotice, RetryPolicy, SecretsClient
from pcc_env.emulator.server import EmulatorServer
from pcc_env.errors import (
    ApiConnectionError,
    ApiTimeoutError,
    BadRequestError,
    ConfigError,
    ConflictError,
    InputError,
    NotFoundError,
    PccEnvError,
    ProvisioningFailedError,
    ReadyTimeoutError,
    ServerError,
    UnauthorizedError,
    UnexpectedResponseError,
)
from pcc_env.testing import run_emulator

FAST = RetryPolicy(attempts=8, timeout=20, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01)


@pytest.fixture
def client(emulator: EmulatorServer) -> SecretsClient:
    with SecretsClient(api_key=emulator.token, api_host=emulator.api_host, retry=FAST) as c:
        yield c  # type: ignore[misc]


def test_put_get_list_delete_roundtrip(client: SecretsClient, emulator: EmulatorServer) -> None:
    assert client.list_sets() == []
    resp = client.put_secrets("my-secrets", {"API_KEY": "v1", "DB_URL": "v2"})
    assert (resp.status, resp.region) == ("OK", "us-west")
    detail = client.get_set("my-secrets")
    assert detail.keys == ["API_KEY", "DB_URL"] and detail.region == "us-west"
    assert emulator.check_value("my-secrets", "DB_URL", "v2")
    assert emulator.stats()["requests"]["PUT /v1/secrets/{setName}"] == 1  # one PUT, all keys
    (summary,) = client.list_sets()
    assert (summary.name, summary.type) == ("my-secrets", "secret")
    client.delete_key("my-secrets", "API_KEY")
    assert client.get_set("my-secrets").keys == ["DB_URL"]
    client.delete_set("my-secrets")
    assert client.find_set("my-secrets") is None
    with pytest.raises(NotFoundError) as info:
        client.get_set("my-secrets")
    assert info.value.code == "NOT_FOUND" and info.value.status_code == 404


def test_put_in_region(client: SecretsClient) -> None:
    assert client.put_secrets("eu-set", {"K": "v"}, region="eu-central").region == "eu-central"
    with pytest.raises(BadRequestError) as info:
        client.put_secrets("eu-set", {"K": "v"}, region="us-east")
    assert "Cannot change region to 'us-east'" in str(info.value)
    assert info.value.code == "GENERIC_BAD_REQUEST"


def test_image_pull_secret(client: SecretsClient, emulator: EmulatorServer) -> None:
    client.put_image_pull_secret("pull-creds", "https://ghcr.io", "user:tok")
    assert emulator.check_value("pull-creds", None, base64.b64encode(b"user:tok").decode())
    client.put_image_pull_secret("raw-creds", "ghcr.io", "already-encoded", encode=False)
    assert emulator.check_value("raw-creds", None, "already-encoded")
    status = client.wait_ready("pull-creds", timeout=5)
    assert (status.type, status.status) == ("imagePullSecret", "ready")
    with pytest.raises(BadRequestError):
        client.get_set("pull-creds")


def test_wait_ready_pending_then_ready() -> None:
    with (
        run_emulator(provision_delay=0.5) as emu,
        SecretsClient(api_key=emu.token, api_host=emu.api_host) as client,
    ):
        client.put_secrets("wait-set", {"K": "v"})
        seen: list[str] = []
        status = client.wait_ready("wait-set", timeout=5, on_poll=lambda s: seen.append(s.status))
    assert status.status == "ready"
    assert seen[0] == "pending" and seen[-1] == "ready"


def test_wait_ready_failed_carries_server_message() -> None:
    with (
        run_emulator(provision_delay=0.05, fail_sets=["bad-*"]) as emu,
        SecretsClient(api_key=emu.token, api_host=emu.api_host) as c,
    ):
        c.put_secrets("bad-set", {"K": "v"})
        with pytest.raises(ProvisioningFailedError) as info:
            c.wait_ready("bad-set", timeout=5)
        assert info.value.error_message and "Provisioning failed" in info.value.error_message
        assert "bad-set" in str(info.value)


def test_wait_ready_timeout_names_set_and_last_status() -> None:
    with (
        run_emulator(provision_delay=10) as emu,
        SecretsClient(api_key=emu.token, api_host=emu.api_host) as c,
    ):
        c.put_secrets("slow-set", {"K": "v"})
        started = time.monotonic()
        with pytest.raises(ReadyTimeoutError) as info:
            c.wait_ready("slow-set", timeout=0.5)
        assert time.monotonic() - started < 2
        assert info.value.last_status == "pending"
        assert "slow-set" in str(info.value) and "pending" in str(info.value)


def test_poll_interval_grows_to_two_seconds() -> None:
    with (
        run_emulator(provision_delay=100) as emu,
        SecretsClient(api_key=emu.token, api_host=emu.api_host) as c,
    ):
        c.put_secrets("poll-set", {"K": "v"})
        now = [0.0]
        sleeps: list[float] = []

        def fake_sleep(seconds: float) -> None:
            sleeps.append(seconds)
            now[0] += seconds

        with pytest.raises(ReadyTimeoutError):
            c.wait_ready("poll-set", timeout=12, sleep=fake_sleep, clock=lambda: now[0])
        assert sleeps[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]
        assert max(sleeps) == 2.0 and sum(sleeps) == pytest.approx(12)


def test_wrong_key_is_unauthorized(emulator: EmulatorServer) -> None:
    with SecretsClient(api_key="wrong", api_host=emulator.api_host) as c:
        with pytest.raises(UnauthorizedError) as info:
            c.list_sets()
    assert info.value.code == "UNAUTHORIZED" and info.value.status_code == 401


def test_invalid_input_sends_nothing(client: SecretsClient, emulator: EmulatorServer) -> None:
    emulator.reset_stats()
    with pytest.raises(InputError):
        client.put_secrets("Bad_Name", {"K": "v"})
    with pytest.raises(InputError) as info:
        client.put_secrets("good-name", {"BAD.KEY": "v", "ALSO BAD": "v"})
    assert len(info.value.problems) == 2
    with pytest.raises(InputError):
        client.put_secrets("good-name", {})
    with pytest.raises(InputError):
        client.delete_key("good-name", "bad/key")
    with pytest.raises(InputError):
        client.get_set("x")
    assert emulator.stats()["total"] == 0


def test_server_error_without_retries() -> None:
    with (
        run_emulator(fault_rate=1.0, fault_seed=3) as emu,
        SecretsClient(api_key=emu.token, api_host=emu.api_host, retry=NO_RETRIES) as c,
    ):
        kinds = set()
        for i in range(30):
            try:
                c.put_secrets("fault-set", {f"K{i}": "v"})
            except ServerError as exc:
                assert exc.status_code == 500
                kinds.add("500")
            except ConflictError as exc:
                assert exc.code == "CONFLICT"
                kinds.add("409")
            except ApiConnectionError:
                kinds.add("dropped")
        assert kinds == {"500", "409", "dropped"}


def test_retries_converge_under_fault_rate() -> None:
    canary = "canary-retry-5e1c0a"
    with (
        run_emulator(fault_rate=0.3, fault_seed=11, provision_delay=0) as emu,
        SecretsClient(api_key=emu.token, api_host=emu.api_host, retry=FAST) as c,
    ):
        values = {f"KEY_{i}": f"{canary}-{i}" for i in range(50)}
        for _ in range(10):
            c.put_secrets("conv-set", values)
        c.delete_key("conv-set", "KEY_0")
        assert sorted(c.get_set("conv-set").keys) == sorted(k for k in values if k != "KEY_0")
        assert all(emu.check_value("conv-set", k, v) for k, v in values.items() if k != "KEY_0")
        assert sum(emu.stats()["faults"].values()) > 0


def test_connection_refused_is_a_connection_error() -> None:
    with run_emulator() as emu:
        host, token = emu.api_host, emu.token
    with SecretsClient(api_key=token, api_host=host, retry=NO_RETRIES) as c:
        with pytest.raises(ApiConnectionError) as info:
            c.list_sets()
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_timeout_is_a_timeout_error() -> None:
    with (
        run_emulator(latency_ms=500) as emu,
        SecretsClient(api_key=emu.token, api_host=emu.api_host, timeout=0.1, retry=NO_RETRIES) as c,
    ):
        with pytest.raises(ApiTimeoutError):
            c.list_sets()


def test_plain_http_only_to_loopback() -> None:
    with pytest.raises(ConfigError):
        SecretsClient(api_key="k", api_host="http://api.example.com")
    with pytest.raises(ConfigError):
        SecretsClient(api_key="k", api_host="ftp://127.0.0.1")


def test_api_host_from_env_and_v1_appended(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPECAT_API_HOST", emulator.api_host + "/")
    monkeypatch.setenv("PIPECAT_API_KEY", emulator.token)
    with SecretsClient() as c:
        assert c.api_host == emulator.api_host
        assert c.api_key.source == "env"
        assert c.list_sets() == []


def test_repr_and_errors_never_show_key_or_values(emulator: EmulatorServer) -> None:
    key = "pk_canary_key_" + "0123456789"
    value = "canary-value-" + "77aa"
    with SecretsClient(api_key=key, api_host=emulator.api_host, retry=NO_RETRIES) as c:
        assert key not in repr(c) and "6789" in repr(c)
        with pytest.raises(UnauthorizedError) as info:
            c.put_secrets("leak-set", {"K": value})
    exc = info.value
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    assert key not in text and value not in text
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


# MockTransport: what the emulator cannot produce ----------------------------------------------


def mock_client(handler: object, retry: RetryPolicy = FAST) -> SecretsClient:
    return SecretsClient(
        api_key="k",
        api_host="https://api.example.test",
        transport=httpx.MockTransport(handler),
        retry=retry,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
def test_a_response_past_the_size_cap_is_refused_once_not_parsed(announced: bool) -> None:
    """No API answer is megabytes long: a body past MAX_RESPONSE_BYTES is an unexpected
    response (not retried), refused before it is read when its length is announced."""
    from pcc_env.client import MAX_RESPONSE_BYTES

    calls: list[int] = []
    sent: list[int] = []
    piece = b" " * 65536

    def pieces() -> Iterator[bytes]:
        for _ in range(MAX_RESPONSE_BYTES // len(piece) + 8):
            sent.append(len(piece))
            yield piece

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if announced:
            return httpx.Response(200, content=b" " * (MAX_RESPONSE_BYTES + 1))
        return httpx.Response(200, content=pieces())

    with mock_client(handler) as c, pytest.raises(UnexpectedResponseError) as info:
        c.list_sets()
    assert "larger than 8 MiB" in str(info.value)
    assert len(calls) == 1
    if not announced:
        assert sum(sent) <= MAX_RESPONSE_BYTES + len(piece)  # reading stopped at the cap


def test_retry_after_is_honoured() -> None:
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return httpx.Response(
                429, headers={"Retry-After": "0.4"}, json={"error": "slow down", "code": "RATE"}
            )
        return httpx.Response(200, json={"sets": []})

    with mock_client(handler) as c:
        assert c.list_sets() == []
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.38  # FAST would otherwise wait <= 0.05 s


def test_retry_after_http_date_and_cap() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})

    with mock_client(handler, RetryPolicy(attempts=1)) as c:
        with pytest.raises(ServerError) as info:
            c.list_sets()
        assert info.value.retry_after is not None and info.value.retry_after > 1e6
        assert c._retry_hook(info.value) == c.retry.max_retry_after


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, content=b"<html>oops</html>"),
        httpx.Response(200, json={"unexpected": True}),
        httpx.Response(200, json={"sets": [{"name": "x"}]}),
    ],
)
def test_malformed_responses(response: httpx.Response) -> None:
    with mock_client(lambda request: response) as c, pytest.raises(UnexpectedResponseError):
        c.list_sets()


def test_non_json_error_body() -> None:
    with mock_client(lambda r: httpx.Response(502, content=b"Bad Gateway"), NO_RETRIES) as c:
        with pytest.raises(ServerError) as info:
            c.list_sets()
    assert info.value.status_code == 502 and info.value.code is None


def test_delete_404_after_dropped_connection_counts_as_done() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        return httpx.Response(404, json={"error": "Secret not found", "code": "NOT_FOUND"})

    with mock_client(handler) as c:
        c.delete_key("my-set", "KEY")  # no error
    assert calls == ["DELETE", "DELETE"]


def test_delete_404_without_drop_is_an_error() -> None:
    with (
        mock_client(
            lambda r: httpx.Response(404, json={"error": "Secret not found", "code": "NOT_FOUND"})
        ) as c,
        pytest.raises(NotFoundError),
    ):
        c.delete_key("my-set", "KEY")


def test_retry_logging_never_shows_values(caplog: pytest.LogCaptureFixture) -> None:
    canary = "canary-log-91c2"
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return httpx.Response(500, json={"error": "boom", "code": "INTERNAL"})
        return httpx.Response(202, json={"status": "OK", "region": "us-west"})

    caplog.set_level(logging.DEBUG)
    with mock_client(handler) as c:
        c.put_secrets("log-set", {"K": canary})
    assert len(calls) == 3
    assert any("retry" in r.getMessage() for r in caplog.records)
    assert canary not in caplog.text
    for record in caplog.records:
        assert canary not in repr(record.__dict__)


def test_on_retry_names_the_reason_and_the_attempt() -> None:
    notices: list[RetryNotice] = []
    with (
        run_emulator(fault_rate=1.0, fault_seed=3) as emu,
        SecretsClient(
            api_key=emu.token, api_host=emu.api_host, retry=FAST, on_retry=notices.append
        ) as c,
    ):
        with pytest.raises(PccEnvError):
            c.put_secrets("fault-set", {"K": "v"})
    assert [n.attempt for n in notices] == list(range(2, FAST.attempts + 1))
    assert {n.attempts for n in notices} == {FAST.attempts}
    assert {(n.method, n.path) for n in notices} == {("PUT", "/secrets/fault-set")}
    assert {n.reason for n in notices} <= {"500 server error", "409 conflict", "connection failed"}
