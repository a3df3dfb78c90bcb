"""status / redeploy / push --redeploy / check against the emulator's agents, end to end."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import Result, run_cli
from tests.conftest import raw_client

SET = "bot-secrets"
OTHER = "other-secrets"


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    with run_emulator(provision_delay=0.05, deploy_delay=0.2) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pcc-deploy.toml").write_text(f'secret_set = "{SET}"\nregion = "us-west"\n')
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-1\nDAILY_API_KEY=d-1\n")
    return tmp_path


def cli(emu: EmulatorServer, cwd: Path, *args: str, **env: str) -> Result:
    return run_cli(
        *args,
        cwd=cwd,
        env={**emu.env(), "PCC_ENV_DATA_DIR": str(cwd / ".state"), **env},
    )


def api(emu: EmulatorServer, method: str, path: str, body: Any = None) -> Any:
    with raw_client(emu) as http:
        response = http.request(method, path, json=body)
    response.raise_for_status()
    return response.json()


def wait_ready(emu: EmulatorServer, name: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        agent = api(emu, "GET", f"/v1/agents/{name}")
        if agent["ready"] and agent["reconciledDeploymentId"] == agent["desiredDeploymentId"]:
            return agent  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, agent
        time.sleep(0.05)


def deploy(emu: EmulatorServer, name: str, secret_set: str, region: str = "us-west") -> str:
    """Create an agent bound to ``secret_set`` (as `pipecat cloud deploy` would) and wait."""
    api(
        emu,
        "POST",
        "/v1/agents",
        {"serviceName": name, "image": "example/bot:1", "secretSet": secret_set, "region": region},
    )
    return str(wait_ready(emu, name)["desiredDeploymentId"])


def put_set(emu: EmulatorServer, name: str, region: str = "us-west", value: str = "v") -> None:
    api(
        emu,
        "PUT",
        f"/v1/secrets/{name}",
        {"secrets": [{"secretKey": "K", "secretValue": value}], "region": region},
    )
    deadline = time.monotonic() + 10
    while api(emu, "GET", f"/v1/secrets/{name}")["status"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def generation(emu: EmulatorServer, name: str) -> dict[str, Any]:
    """What the emulator alone knows: the write of the set the agent's deployment runs."""
    return api(emu, "GET", f"/_emulator/agents/{name}")  # type: ignore[no-any-return]


def runs_latest(g: dict[str, Any]) -> bool:
    """Ready, reconciled, and every set it binds at the generation of its latest write."""
    sets = g["sets"].values()
    return bool(
        g["ready"]
        and g["reconciledDeploymentId"] == g["deploymentId"]
        and sets
        and all(s["deployed"] == s["current"] for s in sets)
    )


def up_to_date(emu: EmulatorServer, name: str) -> bool:
    return runs_latest(generation(emu, name))


def redeploy_posts(emu: EmulatorServer) -> int:
    return int(emu.stats()["requests"].get("POST /v1/agents/{agentName}", 0))


def bound_project(emu: EmulatorServer, project: Path) -> dict[str, str]:
    """Push the set, deploy two agents bound to it and one bound to another set."""
    r = cli(emu, project, "push")
    assert r.code == 0, r.stderr
    put_set(emu, OTHER)
    return {
        "bot-a": deploy(emu, "bot-a", SET),
        "bot-b": deploy(emu, "bot-b", SET),
        "bystander": deploy(emu, "bystander", OTHER),
    }


def change_value(project: Path, value: str) -> None:
    (project / ".env").write_text(f"OPENAI_API_KEY={value}\nDAILY_API_KEY=d-1\n")


def test_push_names_stale_agents_then_redeploy_makes_them_current(
    emu: EmulatorServer, project: Path
) -> None:
    before = bound_project(emu, project)
    assert up_to_date(emu, "bot-a") and up_to_date(emu, "bot-b")
    change_value(project, "sk-2")
    r = cli(emu, project, "push")
    assert r.code == 0, r.stderr
    assert "Now stale (deployed before this write): bot-a, bot-b." in r.stderr
    assert "pcc-env redeploy --set bot-secrets" in r.stderr
    assert not up_to_date(emu, "bot-a")

    r = cli(emu, project, "status", "--set", SET)
    assert r.code == 0, r.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in r.stdout.splitlines()}
    assert rows["bot-a"][-1] == "stale" and rows["bot-b"][-1] == "stale"
    assert "bystander" not in rows
    assert f"Secret set '{SET}' (us-west, ready, 2 key(s))" in r.stdout

    r = cli(emu, project, "redeploy")
    assert r.code == 0, r.stdout + r.stderr
    assert re.search(r"bot-a: current \(deployment \S+, ready in", r.stdout)
    assert re.search(r"bot-b: current \(deployment \S+, ready in", r.stdout)
    assert "2 agent(s) current." in r.stdout
    assert up_to_date(emu, "bot-a") and up_to_date(emu, "bot-b")
    after = {n: api(emu, "GET", f"/v1/agents/{n}")["desiredDeploymentId"] for n in before}
    assert after["bot-a"] != before["bot-a"] and after["bot-b"] != before["bot-b"]
    assert after["bystander"] == before["bystander"]

    r = cli(emu, project, "status", "--set", SET, "--json")
    data = json.loads(r.stdout)
    [block] = data["sets"]
    assert block["name"] == SET and block["keyCount"] == 2 and block["status"] == "ready"
    assert block["lastWrite"] is not None
    states = {a["name"]: a for a in block["agents"]}
    assert {n: a["state"] for n, a in states.items()} == {"bot-a": "current", "bot-b": "current"}
    assert states["bot-a"]["deploymentId"] == after["bot-a"] and states["bot-a"]["ready"] is True


def test_push_redeploy_updates_exactly_the_bound_agents(emu: EmulatorServer, project: Path) -> None:
    before = bound_project(emu, project)
    change_value(project, "sk-3")
    emu.reset_stats()
    r = cli(emu, project, "push", "--redeploy")
    assert r.code == 0, r.stdout + r.stderr
    assert "Redeploying 2 agent(s) that bind 'bot-secrets': bot-a, bot-b" in r.stdout
    assert redeploy_posts(emu) == 2
    for name in ("bot-a", "bot-b"):
        g = generation(emu, name)
        assert runs_latest(g), g
        assert api(emu, "GET", f"/v1/agents/{name}")["desiredDeploymentId"] != before[name]
    assert api(emu, "GET", "/v1/agents/bystander")["desiredDeploymentId"] == before["bystander"]
    assert emu.check_value(SET, "OPENAI_API_KEY", "sk-3")

    change_value(project, "sk-4")
    r = cli(emu, project, "push", "--redeploy", "--json")
    assert r.code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["result"]["ok"] and data["redeploy"]["ok"]
    assert {a["name"]: a["outcome"] for a in data["redeploy"]["agents"]} == {
        "bot-a": "current",
        "bot-b": "current",
    }
    assert up_to_date(emu, "bot-a") and up_to_date(emu, "bot-b")


def test_redeploy_failure_exits_1_naming_the_agent(project: Path) -> None:
    with run_emulator(provision_delay=0.05, deploy_delay=0.1, fail_agents=["doomed-*"]) as emu:
        cli(emu, project, "push")
        deploy(emu, "bot-a", SET)
        api(
            emu,
            "POST",
            "/v1/agents",
            {"serviceName": "doomed-1", "image": "example/bot:1", "secretSet": SET},
        )
        change_value(project, "sk-5")
        r = cli(emu, project, "push", "--redeploy")
        assert r.code == 1
        assert re.search(r"redeploy of agent 'doomed-1' failed", r.stderr), r.stderr
        assert "bot-a" not in r.stderr
        assert re.search(r"bot-a: current", r.stdout)
        assert up_to_date(emu, "bot-a")
        r = cli(emu, project, "status", "--json", "--set", SET)
        states = {a["name"]: a["state"] for a in json.loads(r.stdout)["sets"][0]["agents"]}
        assert states == {"bot-a": "current", "doomed-1": "failed"}


def test_redeploy_named_agents_only_and_refuses_others(emu: EmulatorServer, project: Path) -> None:
    before = bound_project(emu, project)
    change_value(project, "sk-6")
    cli(emu, project, "push")
    emu.reset_stats()
    for bad in (["--agent", "bystander"], ["--agent", "ghost"], ["--agent", "bot-a", "-a", "nope"]):
        r = cli(emu, project, "redeploy", *bad)
        assert r.code == 2, r.stderr
        assert "does not bind secret set 'bot-secrets'" in r.stderr or "does not exist" in r.stderr
    assert redeploy_posts(emu) == 0  # nothing sent

    r = cli(emu, project, "redeploy", "--agent", "bot-b", "--json")
    assert r.code == 0, r.stderr
    data = json.loads(r.stdout)
    assert [a["name"] for a in data["agents"]] == ["bot-b"] and data["ok"]
    assert redeploy_posts(emu) == 1
    assert up_to_date(emu, "bot-b") and not up_to_date(emu, "bot-a")
    assert api(emu, "GET", "/v1/agents/bot-a")["desiredDeploymentId"] == before["bot-a"]


def test_redeploy_no_wait_and_nothing_bound(emu: EmulatorServer, project: Path) -> None:
    bound_project(emu, project)
    r = cli(emu, project, "redeploy", "--no-wait")
    assert r.code == 0, r.stderr
    assert "bot-a: accepted" in r.stdout and "bot-b: accepted" in r.stdout
    r = cli(emu, project, "status", "--set", SET, "--json")
    states = {a["state"] for a in json.loads(r.stdout)["sets"][0]["agents"]}
    assert states <= {"deploying", "current"}
    put_set(emu, "lonely-secrets")
    r = cli(emu, project, "redeploy", "--set", "lonely-secrets")
    assert r.code == 0 and "No agent binds 'lonely-secrets'" in r.stderr


def test_status_without_set_shows_every_set(emu: EmulatorServer, project: Path) -> None:
    bound_project(emu, project)
    # Issue 22: with no --set, the project's sets (as push and check); --all: every set.
    r = cli(emu, project, "status", "--json")
    assert r.code == 0, r.stderr
    assert [b["name"] for b in json.loads(r.stdout)["sets"]] == [SET]
    r = cli(emu, project, "status", "--all", "--json")
    assert r.code == 0, r.stderr
    blocks = {b["name"]: b for b in json.loads(r.stdout)["sets"]}
    assert set(blocks) == {SET, OTHER}
    assert [a["name"] for a in blocks[OTHER]["agents"]] == ["bystander"]
    # Never written by pcc-env (no record): unknown, not the false "current" of before.
    assert blocks[OTHER]["lastWrite"] is None
    assert blocks[OTHER]["agents"][0]["state"] == "unknown"
    r = cli(emu, project, "status", "--all")
    assert f"Secret set '{OTHER}'" in r.stdout and "no pcc-env record" in r.stdout
    r = cli(emu, project, "status", "--set", "no-such-set")
    assert r.code == 1 and "does not exist" in r.stdout


def test_check_agent_region_and_stale_agents(emu: EmulatorServer, project: Path) -> None:
    bound_project(emu, project)
    r = cli(emu, project, "check", "--json")
    assert r.code == 0, r.stdout
    found = {f["check"]: f for f in json.loads(r.stdout)["findings"]}
    assert found["agent-region"]["ok"] and found["stale-agents"]["ok"]

    change_value(project, "sk-7")
    cli(emu, project, "push")
    r = cli(emu, project, "check")
    assert r.code == 0, r.stdout
    # Issue 22: a stale agent is not "ok": a warning (exit 0 without --strict).
    assert re.search(r"WARN agents running values older .*: bot-a, bot-b", r.stdout), r.stdout
    assert "All checks passed" not in r.stdout and "warning" in r.stdout
    r = cli(emu, project, "check", "--strict")
    assert r.code == 1
    assert re.search(r"FAIL agents running values older .*: bot-a, bot-b", r.stdout)


def test_check_fails_for_an_agent_outside_the_set_region(
    emu: EmulatorServer, project: Path
) -> None:
    put_set(emu, "moved-secrets", region="us-east")
    deploy(emu, "east-bot", "moved-secrets", region="us-east")
    # The set is recreated in another region; the agent still binds it.
    api(emu, "DELETE", "/v1/secrets/moved-secrets")
    put_set(emu, "moved-secrets", region="us-west")
    r = cli(emu, project, "check", "--set", "moved-secrets", "--region", "us-west")
    assert r.code == 1
    assert (
        "FAIL agents that bind 'moved-secrets' outside its region 'us-west': east-bot (us-east)"
        in r.stdout
    )


def test_push_redeploy_converges_under_faults(project: Path) -> None:
    with run_emulator(provision_delay=0.05, deploy_delay=0.1, fault_rate=0.3, fault_seed=12) as emu:
        # Set up without faults getting in the way of the fixture itself.
        for _ in range(20):
            if cli(emu, project, "push").code == 0:
                break
        for name in ("bot-a", "bot-b", "bot-c"):
            for _ in range(20):
                try:
                    deploy(emu, name, SET)
                    break
                except (httpx.HTTPError, AssertionError):
                    continue
        for value in ("sk-8", "sk-9", "sk-10"):
            change_value(project, value)
            r = cli(emu, project, "push", "--redeploy")
            assert r.code == 0, r.stdout + r.stderr
            assert emu.check_value(SET, "OPENAI_API_KEY", value)
            for name in ("bot-a", "bot-b", "bot-c"):
                assert up_to_date(emu, name), name
        faults = emu.stats().get("faults", {})
        assert sum(faults.values()) > 0  # the faults did happen


def test_redeploy_leaks_no_value(emu: EmulatorServer, project: Path) -> None:
    from tests.test_no_leaks import Canaries

    canaries = Canaries()
    values = {f"KEY_{i}": canaries.new() for i in range(3)}
    (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    env = {"PCC_ENV_LOG_LEVEL": "DEBUG"}
    results = [cli(emu, project, "push", **env)]
    deploy(emu, "bot-a", SET)
    api(emu, "POST", "/v1/agents", {"serviceName": "bot-z", "image": "x:1", "secretSet": SET})
    values["KEY_0"] = canaries.new()
    (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    results += [
        cli(emu, project, "push", "--redeploy", **env),
        cli(emu, project, "push", "--redeploy", "--json", **env),
        cli(emu, project, "status", **env),
        cli(emu, project, "status", "--json", **env),
        cli(emu, project, "redeploy", **env),
        cli(emu, project, "redeploy", "--json", "--agent", "bot-z", **env),
        cli(emu, project, "check", "--strict", **env),
    ]
    for r in results:
        canaries.assert_absent(r.stdout, f"stdout of {r.argv[1:3]}")
        canaries.assert_absent(r.stderr, f"stderr of {r.argv[1:3]}")
    for path in project.rglob("*"):
        if path.is_file() and path.name != ".env":
            canaries.assert_absent(path.read_text(errors="replace"), str(path))


def test_watch_redeploy_burst_ends_on_the_last_write(tmp_path: Path) -> None:
    from tests.test_cli_watch import SET as WATCH_SET
    from tests.test_cli_watch import Watch

    with run_emulator(provision_delay=0.05, deploy_delay=0.3) as emu:
        env_file = tmp_path / ".env"
        env_file.write_text("A=0\n")
        put_set(emu, WATCH_SET)
        put_set(emu, OTHER)
        bystander = deploy(emu, "bystander", OTHER)
        for name in ("w-1", "w-2"):
            deploy(emu, name, WATCH_SET)
        w = Watch(emu, tmp_path, "--debounce", "60", "--redeploy")
        try:
            w.ready("initial sync")
            w.expect(r"redeploying: w-1, w-2")
            for i in range(1, 13):  # a burst of saves, some during redeploys
                env_file.write_text(f"A={i}\n")
                time.sleep(0.08)
            deadline = time.monotonic() + 20
            while not (
                emu.check_value(WATCH_SET, "A", "12")
                and up_to_date(emu, "w-1")
                and up_to_date(emu, "w-2")
            ):
                assert time.monotonic() < deadline, w.seen
                time.sleep(0.1)
            w.quiet(1.0)  # nothing left in flight would change the outcome
            assert up_to_date(emu, "w-1") and up_to_date(emu, "w-2")
        finally:
            code, tail, stderr = w.stop()
        lines = w.seen + tail.splitlines()
        assert code == 0, stderr
        syncs = sum(1 for line in lines if re.search(r"\d (initial sync|synced):", line))
        posts = redeploy_posts(emu)
        assert 2 <= posts <= 2 * syncs, (posts, syncs, lines)
        summary = next(line for line in lines if line.startswith("Redeploys:"))
        assert "Not yet on the last write" not in summary, summary
        assert api(emu, "GET", "/v1/agents/bystander")["desiredDeploymentId"] == bystander


def test_watch_without_redeploy_names_stale_agents(tmp_path: Path) -> None:
    from tests.test_cli_watch import SET as WATCH_SET
    from tests.test_cli_watch import Watch

    with run_emulator(provision_delay=0.05, deploy_delay=0.1) as emu:
        (tmp_path / ".env").write_text("A=0\n")
        put_set(emu, WATCH_SET)
        deploy(emu, "w-1", WATCH_SET)
        w = Watch(emu, tmp_path, "--debounce", "60")
        try:
            w.ready("initial sync")
            w.expect(r"now stale: w-1 \(pcc-env redeploy --set watch-set\)")
        finally:
            code, _, stderr = w.stop()
        assert code == 0
        assert "Now stale (deployed before this write): w-1" in stderr
        assert redeploy_posts(emu) == 0


def _connections_to(port: int) -> int:
    """Established TCP connections to ``port`` on this machine (client side), from /proc."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


@pytest.mark.serial  # "at once" is 2 s of wall clock from Ctrl-C to exit
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc/net/tcp (Linux)")
def test_ctrl_c_never_waits_for_the_agents_read_beside_the_write(tmp_path: Path) -> None:
    """The agents named by the stale-agent hint are read while the PUT runs (two requests in
    flight at once), and that background read never holds the command: Ctrl-C ends it at once,
    with no retry line from the abandoned read."""
    from urllib.parse import urlsplit

    from tests.cli_helpers import interrupt_when, start_cli

    (tmp_path / ".env").write_text("K=v\n")
    with run_emulator(latency_ms=3000) as emu:
        port = urlsplit(emu.api_host).port
        assert port is not None
        env = {**emu.env(), "PCC_ENV_DATA_DIR": str(tmp_path / "state")}
        proc = start_cli("push", ".env", "--set", "app-secrets", env=env, cwd=tmp_path)
        # Once the PUT and the agents read are both waiting on the server:
        out, err, took = interrupt_when(proc, lambda: _connections_to(port) >= 2)
    assert proc.returncode == 130, err
    assert took < 2, f"exit took {took:.1f}s after Ctrl-C: it waited for a request"
    assert "retrying" not in err and "Traceback" not in err, err
    assert "Plan for secret set 'app-secrets'" in out  # interrupted after the plan: in the write
