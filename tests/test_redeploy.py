"""The pure planning of redeploys: binding, classification, plans, check findings, push times."""

from __future__ import annotations

import json
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
    # No record in the set: nothing says what the agent runs (issue 22: was a false "current").
    assert classify(agent(), None) == "unknown"
    assert classify(agent(), before, complete=False) == "unknown"  # keys changed since
    assert classify(agent(), after, complete=False) == "stale"
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


def test_push_state_is_a_cache_of_the_record_not_a_time(tmp_path: Path) -> None:
    """Issue 22: the local state no longer holds a write time that decides staleness; it holds
    the marker of the set's record it was written under, and digests valid under it only."""
    state = PushState(tmp_path / "push-state.json")
    k = b"k" * 32
    assert state.cached_marker("h", "s1", key=k) is None
    state.record("h", "s1", {"K": "v"}, key=k, marker="PCCENV_REV1_A")
    salt, digests = state.previous("h", "s1", key=k)
    assert set(digests) == {"K"} and state.cached_marker("h", "s1", key=k) == "PCCENV_REV1_A"
    state.record("h", "s1", {"J": "w"}, key=k, marker="PCCENV_REV1_B")  # a new record: afresh
    assert set(state.previous("h", "s1", key=k)[1]) == {"J"}
    assert state.cached_marker("h", "other", key=k) is None
    assert state.cached_marker("o", "s1", key=k) is None
    data = json.loads(state.path.read_text())
    assert set(data["h|s1"]) == {"v", "mac", "salt", "digests", "marker"}
    assert state.path.stat().st_mode & 0o777 == 0o600
    assert salt == state.previous("h", "s1", key=k)[0]


def test_parse_time() -> None:
    assert parse_time("2025-04-19T01:25:47.225Z") == datetime(
        2025, 4, 19, 1, 25, 47, 225000, tzinfo=timezone.utc
    )
    assert parse_time("not a time") is None
    assert parse_time(None) is None
    assert parse_time(T0) is T0
