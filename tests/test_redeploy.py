"""The pure planning of redeploys: binding, classification, plans, check findings, push times."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pcc_env.errors import InputError
from pcc_env.redeploy import (
    AgentStatus,
    AgentView,
    agent_findings,
    classify,
    parse_time,
    plan_redeploy,
)
from pcc_env.sync import PushState

T0 = datetime(2026, 11, 23, 12, 0, 0, tzinfo=timezone.utc)


def agent(
    name: str = "bot",
    *,
    sets: tuple[str, ...] = ("s1",),
    region: str = "us-west",
    created: datetime | None = T0,
    reconciled: bool = True,
    ready: bool | None = True,
    failed: bool = False,
) -> AgentView:
    return AgentView(
        name=name,
        region=region,
        secret_sets=sets,
        deployment_id=f"dep-{name}",
        deployment_created_at=created,
        reconciled=reconciled,
        ready=ready,
        failed=failed,
    )


def test_classify_each_state() -> None:
    before = (T0 - timedelta(seconds=5)).timestamp()
    after = (T0 + timedelta(seconds=5)).timestamp()
    assert classify(agent(), after) == "stale"
    assert classify(agent(), before) == "current"
    assert classify(agent(), None) == "current"  # never written from here: nothing newer known
    assert classify(agent(created=None), before) == "stale"
    assert classify(agent(reconciled=False), after) == "deploying"
    assert classify(agent(ready=False), before) == "deploying"
    assert classify(agent(failed=True, reconciled=False), before) == "failed"


def test_plan_redeploy_every_bound_agent_or_the_named_ones() -> None:
    agents = [agent("a"), agent("b", sets=("s1", "s2")), agent("c", sets=("s2",))]
    assert plan_redeploy("s1", agents).agents == ["a", "b"]
    assert plan_redeploy("s2", agents).agents == ["b", "c"]
    assert plan_redeploy("s3", agents).agents == []
    assert plan_redeploy("s1", agents, ["b", "b"]).agents == ["b"]


def test_plan_redeploy_refuses_agents_that_do_not_bind_the_set() -> None:
    agents = [agent("a"), agent("c", sets=("s2",))]
    with pytest.raises(InputError) as info:
        plan_redeploy("s1", agents, ["a", "c", "ghost"])
    problems = info.value.problems
    assert "agent 'c' does not bind secret set 's1'" in problems
    assert "agent 'ghost' does not exist" in problems
    assert "agents that bind 's1': a" in problems
    with pytest.raises(InputError, match="no agent binds 's3'"):
        plan_redeploy("s3", agents, ["a"])


def test_plan_redeploy_does_not_echo_a_name_that_could_be_a_value() -> None:
    pasted = "sk-live " + "x" * 80
    with pytest.raises(InputError) as info:
        plan_redeploy("s1", [agent("a")], [pasted])
    assert pasted not in str(info.value)


def test_agent_findings_region_and_stale() -> None:
    late = (T0 + timedelta(seconds=1)).timestamp()
    statuses = [
        AgentStatus(agent("a"), classify(agent("a"), late)),
        AgentStatus(agent("b", region="eu-central"), "current"),
    ]
    findings = {f.check: f for f in agent_findings("s1", "us-west", statuses)}
    assert not findings["agent-region"].ok
    assert "b (eu-central)" in findings["agent-region"].message
    assert findings["stale-agents"].ok and "a" in findings["stale-agents"].message
    strict = {f.check: f for f in agent_findings("s1", "us-west", statuses, strict=True)}
    assert not strict["stale-agents"].ok
    assert "pcc-env redeploy --set s1" in strict["stale-agents"].message

    current = [AgentStatus(agent("a"), "current")]
    findings = {f.check: f for f in agent_findings("s1", "us-west", current, strict=True)}
    assert findings["agent-region"].ok and findings["stale-agents"].ok
    [none] = agent_findings("s1", "us-west", [], strict=True)
    assert none.ok and "no agent binds" in none.message


def test_push_state_records_the_time_of_the_last_write(tmp_path: Path) -> None:
    state = PushState(tmp_path / "push-state.json")
    assert state.last_write("h", "s1") is None
    before = time.time()
    state.record("h", "s1", {"K": "v"})
    first = state.last_write("h", "s1")
    assert first is not None and before <= first <= time.time()
    # A plan that wrote nothing keeps the time of the last real write.
    state.record("h", "s1", {})
    assert state.last_write("h", "s1") == first
    time.sleep(0.01)
    state.record("h", "s1", {}, deleted=["K"])
    deleted_at = state.last_write("h", "s1")
    assert deleted_at is not None and deleted_at > first
    time.sleep(0.01)
    salt, digests = state.previous("h", "s1")
    state.note_write("h", "s1")  # a write by `secrets set`: the time, digests kept
    noted = state.last_write("h", "s1")
    assert noted is not None and noted > deleted_at
    assert state.previous("h", "s1") == (salt, digests)
    assert state.last_write("h", "other") is None and state.last_write("other", "s1") is None
    data = json.loads(state.path.read_text())
    assert set(data["h|s1"]) == {"salt", "digests", "writtenAt"}
    assert state.path.stat().st_mode & 0o777 == 0o600


def test_parse_time() -> None:
    assert parse_time("2025-04-19T01:25:47.225Z") == datetime(
        2025, 4, 19, 1, 25, 47, 225000, tzinfo=timezone.utc
    )
    assert parse_time("not a time") is None
    assert parse_time(None) is None
    assert parse_time(T0) is T0
