"""What every router of the emulator shares: its configuration and its state (store, write guard,
fault dice, request counts). Routers get the one ``Emulator`` of their app by dependency
(``routes.common.Emu``), so no handler closes over it."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from pcc_env.emulator.build_store import BuildStore
from pcc_env.emulator.store import Store, StoreError, bad_request
from pcc_env.rules import DEFAULT_REGION

REGIONS: tuple[tuple[str, str], ...] = (
    ("us-west", "US West (Oregon)"),
    ("us-east", "US East (Virginia)"),
    ("eu-central", "EU Central (Frankfurt)"),
    ("ap-south", "AP South (Mumbai)"),
)
Fault = Literal["500", "409", "drop-before", "drop-after"]
FAULTS: tuple[Fault, ...] = ("500", "409", "drop-before", "drop-after")


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything ``pcc-env emulator`` can be told. ``db=":memory:"`` keeps nothing on disk."""

    token: str
    org: str = "local"
    db: str = ":memory:"
    provision_delay: float = 0.5
    fail_sets: tuple[str, ...] = ()
    deploy_delay: float = 1.0
    fail_agents: tuple[str, ...] = ()
    # Seconds a Cloud Build takes (status "building", then "success" or "failed").
    build_delay: float = 1.0
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    fault_seed: int | None = None
    # A persistent database keeps the first token it is given (remember_token) and answers to it
    # from then on, instead of ``token``: for a generated token that must survive restarts.
    remember_token: bool = False
    # One line per request on stderr (method, path, status, ms); never a body.
    log_requests: bool = False
    default_region: str = DEFAULT_REGION
    regions: tuple[tuple[str, str], ...] = REGIONS


class DropConnection(Exception):
    """Raised by a handler to make the server close the connection without a full response."""


def conflict(name: str, *, agent: bool = False) -> StoreError:
    what = "Agent" if agent else "Secret set"
    return StoreError(409, f"{what} '{name}' was modified concurrently. Please retry.", "CONFLICT")


@dataclass
class Emulator:
    """State shared by the handlers: store, write guard, fault dice and request counts."""

    config: EmulatorConfig
    store: Store
    builds: BuildStore
    rng: random.Random = field(default_factory=random.Random)
    _in_flight: set[str] = field(default_factory=set)
    _stats_lock: threading.Lock = field(default_factory=threading.Lock)
    _requests: Counter[str] = field(default_factory=Counter)
    _statuses: Counter[str] = field(default_factory=Counter)
    _faults: Counter[str] = field(default_factory=Counter)
    _writes: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    _deployments: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))

    # Instruments ------------------------------------------------------------------------------

    def count(self, method: str, route: str, status: int | None) -> None:
        with self._stats_lock:
            self._requests[f"{method} {route}"] += 1
            self._statuses[str(status) if status is not None else "dropped"] += 1

    def record_write(self, method: str, set_name: str, keys: list[str]) -> None:
        with self._stats_lock:
            self._writes.append({"method": method, "set": set_name, "keys": keys})

    def record_deployment(self, agent: str, reason: str, deployment_id: str) -> None:
        with self._stats_lock:
            self._deployments.append(
                {"agent": agent, "reason": reason, "deploymentId": deployment_id}
            )

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            return {
                "total": sum(self._requests.values()),
                "requests": dict(sorted(self._requests.items())),
                "statuses": dict(sorted(self._statuses.items())),
                "faults": dict(sorted(self._faults.items())),
                "writes": list(self._writes),
                "deployments": list(self._deployments),
            }

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._requests.clear()
            self._statuses.clear()
            self._faults.clear()
            self._writes.clear()
            self._deployments.clear()

    # Behaviour --------------------------------------------------------------------------------

    async def latency(self) -> None:
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)

    def draw_fault(self) -> Fault | None:
        if self.config.fault_rate <= 0 or self.rng.random() >= self.config.fault_rate:
            return None
        fault = self.rng.choice(FAULTS)
        with self._stats_lock:
            self._faults[fault] += 1
        return fault

    def check_region(self, region: str | None) -> None:
        if region is not None and region not in {code for code, _ in self.config.regions}:
            raise bad_request("Invalid region or organization does not have access")

    async def write(self, set_name: str, apply: Any, *, agent: bool = False) -> Any:
        """Run ``apply()`` as the one write in flight on set (or ``agent``) ``set_name``;
        others get 409. Latency and the fault dice apply to every write."""
        key = ("agent:" if agent else "set:") + set_name
        busy = conflict(set_name, agent=agent)
        if key in self._in_flight:
            raise busy
        self._in_flight.add(key)
        try:
            fault = self.draw_fault()
            if fault == "500":
                raise StoreError(500, "Internal server error (emulated fault)", "INTERNAL_ERROR")
            if fault == "409":
                raise busy
            if fault == "drop-before":
                raise DropConnection
            await self.latency()
            result = apply()
            if fault == "drop-after":
                raise DropConnection
            return result
        finally:
            self._in_flight.discard(key)
