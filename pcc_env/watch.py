"""Keep a secret set in sync with a local .env while you develop (watchfiles).

The file's *directory* is watched, filtered to the file's name: editors save by writing a new
file and renaming it over the old one, and a watch on the file itself would stop after the first
such save. A change is pushed only once the content is stable (two reads a debounce apart agree),
so a truncate-then-write save never sends the empty or half-written intermediate. Pushes reuse
``sync.plan_update`` / ``sync.apply_push``: one PUT of the keys that changed, DELETEs only with
``prune``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import watchfiles

from pcc_env.dotenv_file import parse_env_bytes, secrets_to_send
from pcc_env.errors import ConfigError, InputError, PccEnvError
from pcc_env.rules import reserved_key_problems
from pcc_env.sync import (
    PushPlan,
    PushState,
    apply_push,
    fetch_remote,
    mass_delete_problem,
    plan_push,
    plan_update,
)

if TYPE_CHECKING:
    from pcc_env.client import SecretsClient

EventKind = Literal["synced", "unchanged", "skipped", "failed"]
# Seconds a file must stay unchanged before a sync that reads a last line with no newline yet
# (a writer may be mid-value), and before a sync that deletes keys (a writer may be mid-file).
PARTIAL_LINE_QUIET = 1.5
DELETE_QUIET = 2.0


@dataclass(frozen=True)
class SyncEvent:
    """What happened on one look at the file. Names and line numbers only, never values."""

    kind: EventKind
    at: float  # wall-clock time
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    latency: float | None = None  # seconds from the file event to ready
    message: str | None = None
    initial: bool = False


@dataclass
class WatchSummary:
    """How many events of each kind (the field names are the kinds), and the writes sent."""

    synced: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    write_requests: int = 0


class EnvWatcher:
    """Watches one .env file and pushes its changes to one set until ``stop`` is set."""

    def __init__(
        self,
        client: SecretsClient,
        env_file: Path,
        set_name: str,
        *,
        region: str | None = None,
        prune: bool = False,
        debounce: float = 0.1,
        interpolate: bool = True,
        skip_empty: bool = False,
        wait_timeout: float = 60.0,
        reconcile_interval: float = 30.0,
        retry_backoff: tuple[float, float] = (2.0, 30.0),
        report: Callable[[SyncEvent], None] = lambda event: None,
        state: PushState | None = None,
        allow_reserved: bool = False,
    ) -> None:
        self.client = client
        self.env_file = env_file
        self.set_name = set_name
        self.region = region
        self.prune = prune
        self.debounce = debounce
        self.interpolate = interpolate
        self.skip_empty = skip_empty
        self.wait_timeout = wait_timeout
        self.reconcile_interval = reconcile_interval
        self.retry_backoff = retry_backoff
        self.report = report
        self.state = state or PushState()
        self.allow_reserved = allow_reserved
        self.summary = WatchSummary()
        self._last: dict[str, str] | None = None  # what the set holds from us
        self._seen_digest: str | None = None  # the content last looked at
        self._retry_at: float | None = None
        self._failures_in_a_row = 0

    # One look at the file ---------------------------------------------------------------------

    def _read(self) -> bytes | None:
        try:
            return self.env_file.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def _settle(
        self,
        stop: threading.Event,
        quiet: float,
        data: bytes | None = None,
        since: float | None = None,
    ) -> tuple[bytes | None, float]:
        """Read until the content has not changed for ``quiet`` seconds (re-reading every
        ``debounce``): a quiet period is only evidence once reads agree. Returns the content
        and the monotonic time it last changed. ``data``/``since`` continue an earlier read."""
        if since is None:
            data, since = self._read(), time.monotonic()
        while not stop.is_set():
            left = quiet - (time.monotonic() - since)
            if left <= 0:
                break
            if stop.wait(min(self.debounce, left)):
                break
            current = self._read()
            if current != data:
                data, since = current, time.monotonic()
        return data, since

    def _emit(self, event: SyncEvent) -> None:
        setattr(self.summary, event.kind, getattr(self.summary, event.kind) + 1)
        self.report(event)

    def sync(self, trigger: float, stop: threading.Event, *, quiet: bool = False) -> None:
        """Look at the file once and push what changed (``trigger``: monotonic event time).

        Slow writers are waited for: a file whose last line has no newline yet must be quiet
        for ``PARTIAL_LINE_QUIET``, and a sync that deletes keys for ``DELETE_QUIET``; if the
        file changes meanwhile, the sync starts over with the new content.
        """
        data, since = self._settle(stop, self.debounce)
        while not stop.is_set():
            if data and not data.endswith(b"\n"):
                data, since = self._settle(
                    stop, max(PARTIAL_LINE_QUIET, self.debounce), data, since
                )
            planned = self._plan(data, quiet)
            if planned is None or stop.is_set():
                return
            plan, values = planned
            if plan.to_delete and time.monotonic() - since < DELETE_QUIET:
                settled, since = self._settle(stop, DELETE_QUIET, data, since)
                if settled != data:
                    data = settled
                    continue  # the file changed while we waited: plan again
            if not stop.is_set():
                self._apply(plan, values, trigger)
            return

    def _plan(self, data: bytes | None, quiet: bool) -> tuple[PushPlan, dict[str, str]] | None:
        """The plan for ``data``, or None after reporting why nothing is sent."""
        now = time.time()
        self._seen_digest = hashlib.sha256(data).hexdigest() if data is not None else None
        if data is None:
            self._emit(SyncEvent("skipped", now, message=f"{self.env_file} is missing; waiting"))
            return None
        if not data.strip():
            self._emit(SyncEvent("skipped", now, message=f"{self.env_file} is empty; not syncing"))
            return None
        try:
            env = parse_env_bytes(data, self.env_file)
            values, blank = secrets_to_send(
                env, interpolate=self.interpolate, skip_empty=self.skip_empty
            )
            if not values:
                raise InputError(
                    "every value is empty (a template copied over the file?); not syncing"
                )
            if not self.allow_reserved and reserved_key_problems(values):
                raise InputError(reserved_key_problems(values))
        except InputError as exc:
            self._emit(SyncEvent("skipped", now, message=str(exc)))
            return None
        if values == self._last:
            if not quiet:
                self._emit(SyncEvent("unchanged", now))
            return None
        try:
            if self._last is None:
                remote = fetch_remote(self.client, self.set_name)
                plan = plan_push(
                    self.set_name,
                    values,
                    remote,
                    self.state.previous(self.client.api_host, self.set_name),
                    region=self.region,
                    prune=self.prune,
                )
                existing = len(remote.keys) if remote is not None else 0
            else:
                # Keys left blank (with --skip-empty) are left out, not removed.
                plan = plan_update(
                    self.set_name,
                    values,
                    self._last,
                    region=self.region,
                    prune=self.prune,
                    keep=blank,
                )
                existing = len(self._last)
            problem = mass_delete_problem(self.set_name, plan.to_delete, existing)
            if problem:
                raise InputError(problem)
        except InputError as exc:
            self._emit(SyncEvent("skipped", time.time(), message=str(exc)))
            return None
        except PccEnvError as exc:
            self._failed(exc)
            return None
        return plan, values

    def _failed(self, exc: PccEnvError) -> None:
        self._failures_in_a_row += 1
        low, high = self.retry_backoff
        delay = min(high, low * 2 ** (self._failures_in_a_row - 1))
        self._retry_at = time.monotonic() + delay
        self._emit(SyncEvent("failed", time.time(), message=f"{exc} (retrying in {delay:g}s)"))

    def _apply(self, plan: PushPlan, values: dict[str, str], trigger: float) -> None:
        initial = self._last is None
        try:
            result = apply_push(self.client, plan, timeout=self.wait_timeout, state=self.state)
        except ConfigError:
            raise  # pcc-env cannot record its state: stop watching (nothing was sent)
        except PccEnvError as exc:
            self._failed(exc)
            return
        self._failures_in_a_row = 0
        self._retry_at = None
        self._last = values
        self.summary.write_requests += result.requests
        if not result.sent:  # the first sync found the set as last pushed from here
            already = f"'{self.set_name}' already has these values (as last pushed from here)"
            self._emit(SyncEvent("unchanged", time.time(), message=already, initial=initial))
            return
        self._emit(
            SyncEvent(
                "synced",
                time.time(),
                added=plan.keys("+"),
                changed=plan.keys("~"),
                removed=plan.to_delete,
                kept=plan.kept_remote,
                latency=time.monotonic() - trigger,
                initial=initial,
            )
        )

    # The loop ---------------------------------------------------------------------------------

    def _reconcile_due(self) -> bool:
        """Has the file changed since we last looked, without an event telling us?"""
        data = self._read()
        digest = hashlib.sha256(data).hexdigest() if data is not None else None
        return digest != self._seen_digest

    def run(self, stop: threading.Event) -> WatchSummary:
        """Full sync, then watch until ``stop`` is set. Changes that arrive during a sync are
        picked up by the next iteration: they coalesce into one more sync."""
        self.sync(time.monotonic(), stop)
        name = self.env_file.name
        # The watcher starts after the first sync: reconcile at the first tick to catch a save
        # made in between, then every ``reconcile_interval``.
        next_reconcile = time.monotonic()
        for changes in watchfiles.watch(
            self.env_file.parent,
            watch_filter=lambda _change, path: Path(path).name == name,
            debounce=1600,
            step=50,
            stop_event=stop,
            rust_timeout=500,
            yield_on_timeout=True,
            raise_interrupt=False,
            recursive=False,
            debug=False,  # $WATCHFILES_DEBUG prints raw events, paths unescaped, to stderr
        ):
            if stop.is_set():
                break
            now = time.monotonic()
            if changes or (self._retry_at is not None and now >= self._retry_at):
                self.sync(now, stop)
            elif now >= next_reconcile:
                next_reconcile = now + self.reconcile_interval
                if self._reconcile_due():
                    self.sync(now, stop, quiet=True)
        return self.summary
