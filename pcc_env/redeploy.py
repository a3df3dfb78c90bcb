"""From a written secret set to the running agents: which agents bind it, which are stale, and
the force-redeploys that update them.

A deploy that binds a set mounts the values the set holds *then*; a later write reaches a running
agent only through a new deployment (``forceRedeploy``). The service does not say which write a
deployment runs, so an agent is ``stale`` when its active deployment was created before the set's
revision record (``pcc_env.revision``: the time of pcc-env's last write, from any machine, on the
writer's clock; the deploy gate refuses to bind a set still provisioning, so no deployment
created after the write can hold older values). With no record, or a key list changed by another
tool since, an agent deployed after the record is ``unknown``, never ``current``.

Pure planning first (``AgentView``, ``classify``, ``plan_redeploy``, ``agent_findings``), then
the I/O: ``agent_statuses`` reads the agents, ``apply_redeploy`` force-redeploys them concurrently
and waits until each has reconciled and is ready, and ``Redeployer`` does the same in the
background after each sync of ``watch``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from pcc_env.concurrency import map_in_background
from pcc_env.errors import InputError, PccEnvError
from pcc_env.rules import escape_text, redact_name, show_key

if TYPE_CHECKING:
    from pcc_env.client import SecretsClient
    from pcc_env.models import AgentDetail, AgentSummary
    from pcc_env.revision import SetRecord
    from pcc_env.sync import Finding

AgentState = Literal["current", "stale", "unknown", "deploying", "failed"]
Outcome = Literal["current", "deploying", "failed", "timeout", "interrupted"]

# Readiness polls of one agent: 0.1 s at first, doubling to this.
MAX_POLL_INTERVAL = 2.0


def parse_time(value: datetime | str | None) -> datetime | None:
    """An API timestamp (``2025-04-19T01:25:47.225Z``) as an aware datetime."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# Pure: what the service says about one agent, and what it means --------------------------------


@dataclass(frozen=True)
class AgentView:
    """The fields of an agent that redeploy and status need, from a list item or a detail."""

    name: str
    region: str
    secret_sets: tuple[str, ...]
    deployment_id: str | None  # the deployment the agent should run (desired)
    deployment_created_at: datetime | None
    reconciled: bool  # the operator has processed the desired deployment
    ready: bool | None  # None: not known (list items do not say)
    failed: bool
    message: str | None = None  # why it failed, from the service

    def binds(self, set_name: str) -> bool:
        return set_name in self.secret_sets

    @classmethod
    def of(cls, agent: AgentSummary | AgentDetail) -> AgentView:
        deployment = agent.deployment
        spec = deployment.manifest.spec if deployment is not None else None
        desired = agent.desired_deployment_id or (deployment.id if deployment else None)
        revision = getattr(agent, "current_revision", None)
        failed = revision is not None and revision.phase == "Failed"
        message = None
        if failed and revision is not None and revision.health is not None:
            message = revision.health.message or revision.health.reason
        return cls(
            name=agent.name,
            region=agent.region,
            secret_sets=tuple(spec.env_from_secret_names) if spec is not None else (),
            deployment_id=desired,
            deployment_created_at=parse_time(deployment.created_at) if deployment else None,
            reconciled=desired is not None and agent.reconciled_deployment_id == desired,
            ready=getattr(agent, "ready", None),
            failed=failed,
            message=message,
        )


def classify(agent: AgentView, written_at: float | None, *, complete: bool = True) -> AgentState:
    """``failed``: the latest deployment failed; ``deploying``: not reconciled or not ready yet;
    ``stale``: running a deployment created before ``written_at`` (the set's record, epoch
    seconds); ``unknown`` when the set has no record (``written_at`` None), or when keys changed
    after it (not ``complete``) and the deployment is newer; else ``current``."""
    if agent.failed:
        return "failed"
    if not agent.reconciled or agent.ready is False:
        return "deploying"
    created = agent.deployment_created_at
    if written_at is not None and (created is None or created.timestamp() < written_at):
        return "stale"
    if written_at is None or not complete:
        return "unknown"
    return "current"


def classify_by_record(agent: AgentView, record: SetRecord | None) -> AgentState:
    """``classify`` against the set's revision record (None: the set does not exist)."""
    if record is None:
        return classify(agent, None)
    return classify(agent, record.written_at, complete=not record.keys_changed)


@dataclass(frozen=True)
class AgentStatus:
    """One row of ``pcc-env status``."""

    view: AgentView
    state: AgentState

    def to_json(self) -> dict[str, Any]:
        created = self.view.deployment_created_at
        return {
            "name": self.view.name,
            "region": self.view.region,
            "deploymentId": self.view.deployment_id,
            "deploymentCreatedAt": created.isoformat() if created else None,
            "ready": self.view.ready,
            "state": self.state,
            "message": self.view.message,
        }


@dataclass(frozen=True)
class RedeployPlan:
    """Which agents a redeploy of ``set_name`` will force-redeploy (names from the service)."""

    set_name: str
    agents: list[str]
    set_region: str | None = None


def plan_redeploy(
    set_name: str,
    agents: Sequence[AgentView],
    only: Sequence[str] = (),
    *,
    set_region: str | None = None,
) -> RedeployPlan:
    """Every agent that binds the set, or the ``only`` ones; ``InputError`` (nothing sent) when
    a named agent does not exist or does not bind the set."""
    bound = [a.name for a in agents if a.binds(set_name)]
    if not only:
        return RedeployPlan(set_name, bound, set_region)
    known = {a.name for a in agents}
    problems = []
    for name in dict.fromkeys(only):
        if name not in known:
            problems.append(f"agent {show_key(name)} does not exist")
        elif name not in bound:
            problems.append(f"agent {show_key(name)} does not bind secret set '{set_name}'")
    if problems:
        if bound:
            problems.append(f"agents that bind '{set_name}': {', '.join(map(escape_text, bound))}")
        else:
            problems.append(f"no agent binds '{set_name}'")
        raise InputError(problems)
    return RedeployPlan(set_name, list(dict.fromkeys(only)), set_region)


def agent_findings(
    set_name: str,
    set_region: str | None,
    statuses: Sequence[AgentStatus],
    *,
    strict: bool = False,
    why_unknown: str = "the set has no pcc-env record",
) -> list[Finding]:
    """``check``: every agent that binds the set runs in its region; stale agents, and those
    the set's record cannot tell about, are listed: a warning, a failure with ``strict``."""
    from pcc_env.sync import Finding

    if not statuses:
        return [Finding(True, "agents", f"no agent binds secret set {show_key(set_name, 'name')}")]
    findings = []
    if set_region is not None:
        elsewhere = [s.view for s in statuses if s.view.region != set_region]
        if elsewhere:
            names = ", ".join(f"{escape_text(a.name)} ({escape_text(a.region)})" for a in elsewhere)
            findings.append(
                Finding(
                    False,
                    "agent-region",
                    f"agents that bind '{set_name}' outside its region '{set_region}': {names}",
                )
            )
        else:
            findings.append(
                Finding(
                    True,
                    "agent-region",
                    f"every agent that binds '{set_name}' is in '{set_region}' "
                    f"({', '.join(escape_text(s.view.name) for s in statuses)})",
                )
            )
    stale = [escape_text(s.view.name) for s in statuses if s.state == "stale"]
    unknown = [escape_text(s.view.name) for s in statuses if s.state == "unknown"]
    if stale:
        findings.append(
            Finding(
                not strict,
                "stale-agents",
                f"agents running values older than the last write to '{set_name}' (its pcc-env "
                f"record): {', '.join(stale)} (update them: pcc-env redeploy --set {set_name})",
                warning=not strict,
            )
        )
    if unknown:
        findings.append(
            Finding(
                not strict,
                "stale-agents",
                f"cannot tell whether these agents run the latest values of '{set_name}' "
                f"({why_unknown}): {', '.join(unknown)} (pcc-env redeploy --set {set_name} "
                "makes them current)",
                warning=not strict,
            )
        )
    if not stale and not unknown:
        findings.append(
            Finding(True, "stale-agents", f"no agent runs values older than '{set_name}'")
        )
    return findings


# I/O: reading agents ----------------------------------------------------------------------------


def list_agent_views(client: SecretsClient) -> list[AgentView]:
    """Every agent of the organization, with the secret sets its active deployment binds."""
    return [AgentView.of(a) for a in client.list_agents()]


def agent_statuses(
    client: SecretsClient,
    set_name: str,
    record: SetRecord | None,
    agents: Iterable[AgentView] | None = None,
) -> list[AgentStatus]:
    """The agents that bind ``set_name``, each read in full (the list does not say ``ready``)
    concurrently, and classified."""
    listed = list(agents) if agents is not None else list_agent_views(client)
    bound = [a for a in listed if a.binds(set_name)]
    if not bound:
        return []
    reads = map_in_background(
        lambda a: client.find_agent(a.name), bound, max_workers=16, name="pcc-env-agent"
    )
    details = [r.result() for r in reads]
    views = [AgentView.of(d) for d in details if d is not None]  # None: deleted since listed
    return [AgentStatus(v, classify_by_record(v, record)) for v in views]


def check_agents(
    client: SecretsClient,
    set_name: str,
    *,
    strict: bool = False,
) -> list[Finding]:
    """``check``'s agent findings: read the set (region and record) and the agents that bind
    it. Agents that cannot be read are one failed finding (the other checks still report)."""
    from pcc_env.errors import ApiError, BadRequestError
    from pcc_env.revision import read_record
    from pcc_env.sync import Finding

    try:
        try:
            detail = client.find_set(set_name)
        except BadRequestError:  # an image pull secret: the set finding says so
            detail = None
        region = detail.region if detail is not None else None
        record = read_record(detail.keys) if detail is not None else None
        statuses = agent_statuses(client, set_name, record, agents=None)
    except ApiError as exc:  # a timeout past check's deadline included
        return [Finding(False, "agents", f"cannot read the agents that bind '{set_name}': {exc}")]
    why = record.why_unknown() if record is not None else "the set does not exist"
    return agent_findings(set_name, region, statuses, strict=strict, why_unknown=why)


# I/O: redeploying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """What happened to one agent: ``redeploying`` (request sent), ``deploying`` (accepted, new
    deployment not ready yet), then an outcome."""

    agent: str
    phase: str
    deployment_id: str | None = None
    seconds: float = 0.0
    message: str | None = None


@dataclass(frozen=True)
class AgentOutcome:
    agent: str
    outcome: Outcome
    deployment_id: str | None
    seconds: float
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "current"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.agent,
            "outcome": self.outcome,
            "deploymentId": self.deployment_id,
            "seconds": round(self.seconds, 3),
            "message": self.message,
        }


@dataclass(frozen=True)
class RedeployResult:
    set_name: str
    outcomes: list[AgentOutcome] = field(default_factory=list)
    wait: bool = True

    @property
    def ok(self) -> bool:
        good = ("current",) if self.wait else ("current", "deploying")
        return all(o.outcome in good for o in self.outcomes)

    @property
    def failures(self) -> list[AgentOutcome]:
        good = ("current",) if self.wait else ("current", "deploying")
        return [o for o in self.outcomes if o.outcome not in good]

    def to_json(self) -> dict[str, Any]:
        return {
            # No agent binds it: perhaps no such set, only a name typed (maybe a pasted key).
            "set": self.set_name if self.outcomes else redact_name(self.set_name),
            "ok": self.ok,
            "agents": [o.to_json() for o in self.outcomes],
        }


def redeploy_one(
    client: SecretsClient,
    name: str,
    *,
    deadline: float,
    wait: bool = True,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] = lambda p: None,
    clock: Callable[[], float] = time.monotonic,
) -> AgentOutcome:
    """Force-redeploy one agent, then poll it until the new deployment is reconciled and ready,
    it fails, ``deadline`` (a ``clock()`` time) passes, or ``stop`` is set."""
    stop = stop or threading.Event()
    started = clock()
    on_progress(Progress(name, "redeploying"))
    try:
        view = AgentView.of(client.redeploy_agent(name))
    except PccEnvError as exc:
        return _finish(on_progress, AgentOutcome(name, "failed", None, clock() - started, str(exc)))
    on_progress(Progress(name, "deploying", view.deployment_id, clock() - started))
    if not wait:
        outcome = AgentOutcome(name, "deploying", view.deployment_id, clock() - started)
        return _finish(on_progress, outcome)
    interval = 0.1
    while True:
        # ``deployment_id`` is the desired one: a newer deployment by someone else counts too.
        if view.failed:
            message = view.message or "the new deployment failed"
            outcome = AgentOutcome(name, "failed", view.deployment_id, clock() - started, message)
            return _finish(on_progress, outcome)
        if view.reconciled and view.ready:
            outcome = AgentOutcome(name, "current", view.deployment_id, clock() - started)
            return _finish(on_progress, outcome)
        remaining = deadline - clock()
        if remaining <= 0:
            outcome = AgentOutcome(
                name, "timeout", view.deployment_id, clock() - started, "not ready in time"
            )
            return _finish(on_progress, outcome)
        if stop.wait(min(interval, remaining)):
            outcome = AgentOutcome(name, "interrupted", view.deployment_id, clock() - started)
            return _finish(on_progress, outcome)
        interval = min(interval * 2, MAX_POLL_INTERVAL)
        try:
            view = AgentView.of(client.get_agent(name))
        except PccEnvError as exc:
            outcome = AgentOutcome(name, "failed", view.deployment_id, clock() - started, str(exc))
            return _finish(on_progress, outcome)


def _finish(on_progress: Callable[[Progress], None], outcome: AgentOutcome) -> AgentOutcome:
    on_progress(
        Progress(
            outcome.agent, outcome.outcome, outcome.deployment_id, outcome.seconds, outcome.message
        )
    )
    return outcome


def apply_redeploy(
    client: SecretsClient,
    plan: RedeployPlan,
    *,
    wait: bool = True,
    timeout: float = 300.0,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] = lambda p: None,
    clock: Callable[[], float] = time.monotonic,
) -> RedeployResult:
    """Wait for the set to be ready (a deploy binding a pending set is refused), force-redeploy
    every agent of the plan at once, then wait for each; one deadline, ``timeout`` from now,
    covers it all. Per-agent failures are outcomes, not exceptions."""
    deadline = clock() + timeout
    if not plan.agents:
        return RedeployResult(plan.set_name, [], wait)
    client.wait_ready(plan.set_name, timeout=max(0.0, deadline - clock()))
    stop = stop or threading.Event()
    with ThreadPoolExecutor(max_workers=min(32, len(plan.agents))) as pool:
        futures = [
            pool.submit(
                redeploy_one,
                client,
                name,
                deadline=deadline,
                wait=wait,
                stop=stop,
                on_progress=on_progress,
                clock=clock,
            )
            for name in plan.agents
        ]
        try:
            outcomes = [f.result() for f in futures]
        except BaseException:
            stop.set()  # Ctrl-C: the polls end now; requests in flight finish
            raise
    return RedeployResult(plan.set_name, outcomes, wait)


# I/O: redeploying after each sync of ``watch`` ---------------------------------------------------


@dataclass
class _Slot:
    running: bool = False
    again: bool = False
    last: AgentOutcome | None = None


@dataclass
class RedeploySummary:
    started: int = 0
    current: int = 0
    failed: int = 0
    not_updated: list[str] = field(default_factory=list)  # still stale at the end


class Redeployer:
    """Force-redeploys the agents that bind a set after each sync, in the background.

    At most one redeploy is in flight per agent; syncs that complete during it lead to exactly
    one more once it is done (so an agent always ends on a deployment created after the last
    write, with no more redeploys than syncs). The agents are re-listed at most every
    ``list_interval`` seconds.
    """

    def __init__(
        self,
        client: SecretsClient,
        set_name: str,
        *,
        timeout: float = 300.0,
        list_interval: float = 30.0,
        on_progress: Callable[[Progress], None] = lambda p: None,
    ) -> None:
        self.client = client
        self.set_name = set_name
        self.timeout = timeout
        self.list_interval = list_interval
        self.on_progress = on_progress
        self.summary = RedeploySummary()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        self._threads: list[threading.Thread] = []
        self._listed: tuple[float, list[str]] | None = None

    def bound(self) -> list[str]:
        """Names of the agents that bind the set (cached for ``list_interval``)."""
        now = time.monotonic()
        if self._listed is None or now - self._listed[0] >= self.list_interval:
            names = [a.name for a in list_agent_views(self.client) if a.binds(self.set_name)]
            self._listed = (now, names)
        return self._listed[1]

    def request(self) -> list[str]:
        """The set was just written: redeploy every agent that binds it (now, or once its
        redeploy in flight ends). Returns the agents concerned."""
        names = self.bound()
        with self._lock:
            for name in names:
                slot = self._slots.setdefault(name, _Slot())
                if slot.running:
                    slot.again = True
                    continue
                slot.running = True
                thread = threading.Thread(
                    target=self._run, args=(name,), name=f"redeploy:{name}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return names

    def _run(self, name: str) -> None:
        while True:
            with self._lock:
                self.summary.started += 1
            deadline = time.monotonic() + self.timeout
            try:
                # A sync may have made the set pending again: a deploy would be refused (409).
                self.client.wait_ready(self.set_name, timeout=self.timeout)
            except PccEnvError as exc:
                outcome = _finish(
                    self.on_progress, AgentOutcome(name, "failed", None, 0.0, str(exc))
                )
            else:
                outcome = redeploy_one(
                    self.client,
                    name,
                    deadline=deadline,
                    stop=self._stop,
                    on_progress=self.on_progress,
                )
            with self._lock:
                slot = self._slots[name]
                slot.last = outcome
                if outcome.ok:
                    self.summary.current += 1
                elif outcome.outcome != "interrupted":
                    self.summary.failed += 1
                if slot.again and not self._stop.is_set():
                    slot.again = False
                    continue
                slot.running = False
                return

    def busy(self) -> bool:
        with self._lock:
            return any(s.running for s in self._slots.values())

    def close(self) -> RedeploySummary:
        """Stop waiting for readiness (requests in flight finish) and report the agents whose
        last write did not reach a ready deployment."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        with self._lock:
            self.summary.not_updated = sorted(
                name
                for name, slot in self._slots.items()
                if slot.again or slot.last is None or not slot.last.ok
            )
        return self.summary
