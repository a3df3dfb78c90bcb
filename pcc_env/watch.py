"""Keep a target's secret sets in sync with its local .env files while you develop (watchfiles).

A target may merge several files (``env_files = [".env", ".env.staging"]``, later files win, as
``push`` merges them) and fan out to several sets (one per region): a change to any file plans
every set again, and each set gets its own push with every guard of ``push``. A refusal for one
set sends nothing to any set, as ``push --target`` does.

Each file's *directory* is watched, filtered to the file's name: editors save by writing a new
file and renaming it over the old one, and a watch on the file itself would stop after the first
such save. A change is pushed only once the content is stable (two reads a debounce apart agree),
so a truncate-then-write save never sends the empty or half-written intermediate. Pushes reuse
``sync.plan_update`` / ``sync.apply_push``: one PUT of the keys that changed, DELETEs only with
``prune``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import watchfiles

from pcc_env.concurrency import map_in_background
from pcc_env.dotenv_file import parse_env_bytes
from pcc_env.errors import ConfigError, InputError, PccEnvError
from pcc_env.rules import escape_text, reserved_key_problems
from pcc_env.sync import (
    PushPlan,
    PushState,
    apply_push,
    mass_delete_problem,
    plan_for,
    plan_update,
)
from pcc_env.targets import SetTarget, merge_env_files, withhold_org_keys

if TYPE_CHECKING:
    from pcc_env.client import SecretsClient
    from pcc_env.sync import PushResult

EventKind = Literal["synced", "unchanged", "skipped", "failed"]
# Seconds a file must stay unchanged before a sync that reads a last line with no newline yet
# (a writer may be mid-value), and before a sync that deletes keys (a writer may be mid-file).
PARTIAL_LINE_QUIET = 1.5
DELETE_QUIET = 2.0


@dataclass(frozen=True)
class SyncEvent:
    """What happened on one look at the files, for one set (``set_name``) or for all (None).
    Names and line numbers only, never values."""

    kind: EventKind
    at: float  # wall-clock time
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    latency: float | None = None  # seconds from the file event to ready
    message: str | None = None
    initial: bool = False
    set_name: str | None = None
    withheld: list[str] = field(default_factory=list)  # in the file, never sent (ORG_API_KEY)


@dataclass
class WatchSummary:
    """How many events of each kind (the field names are the kinds), and the writes sent."""

    synced: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    write_requests: int = 0


Contents = tuple[bytes | None, ...]  # one item per file; None: the file is missing


@dataclass
class _SetSync:
    """One set of the target, and what it holds from us (None before its first sync)."""

    target: SetTarget
    last: dict[str, str] | None = field(default=None, repr=False)
    record: str | None = None  # the set's record (marker name) our last write left
    unvouched: set[str] = field(default_factory=set)  # keys that record does not vouch for

    @property
    def name(self) -> str:
        return self.target.set_name


class EnvWatcher:
    """Watches a target's .env files and pushes their merged changes to each of its sets until
    ``stop`` is set."""

    def __init__(
        self,
        client: SecretsClient,
        env_files: Sequence[Path],
        sets: Sequence[SetTarget],
        *,
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
        agent_reads: Callable[[str], bool] = lambda key: False,
    ) -> None:
        """``agent_reads(key)``: whether the target's settings model holds ``key`` (the
        organization's private API key is sent only then, or with ``allow_reserved``)."""
        if not env_files or not sets:
            raise ValueError("watch needs at least one file and one set")
        self.client = client
        self.env_files = tuple(env_files)
        self.sets = [_SetSync(t) for t in sets]
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
        self.agent_reads = agent_reads
        self.summary = WatchSummary()
        self._seen_digest: str | None = None  # the content last looked at
        self._retry_at: float | None = None
        self._failures_in_a_row = 0
        self._withheld: list[str] = []

    # One look at the files --------------------------------------------------------------------

    def _read(self) -> Contents:
        def one(path: Path) -> bytes | None:
            try:
                return path.read_bytes()
            except (FileNotFoundError, IsADirectoryError):
                return None

        return tuple(one(p) for p in self.env_files)

    @staticmethod
    def _digest(data: Contents) -> str:
        h = hashlib.sha256()
        for item in data:
            h.update(b"-" if item is None else b"+%d:" % len(item) + item)
        return h.hexdigest()

    def _settle(
        self,
        stop: threading.Event,
        quiet: float,
        data: Contents | None = None,
        since: float | None = None,
    ) -> tuple[Contents, float]:
        """Read until the contents have not changed for ``quiet`` seconds (re-reading every
        ``debounce``): a quiet period is only evidence once reads agree. Returns the contents
        and the monotonic time they last changed. ``data``/``since`` continue an earlier read."""
        if data is None or since is None:
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
        if event.kind in ("synced", "unchanged") and self._withheld:
            event = dataclasses.replace(event, withheld=list(self._withheld))
        setattr(self.summary, event.kind, getattr(self.summary, event.kind) + 1)
        self.report(event)

    def sync(self, trigger: float, stop: threading.Event, *, quiet: bool = False) -> None:
        """Look at the files once and push what changed (``trigger``: monotonic event time).

        Slow writers are waited for: a file whose last line has no newline yet must be quiet
        for ``PARTIAL_LINE_QUIET``, and a sync that deletes keys for ``DELETE_QUIET``; if a
        file changes meanwhile, the sync starts over with the new content.
        """
        data, since = self._settle(stop, self.debounce)
        while not stop.is_set():
            if any(d and not d.endswith(b"\n") for d in data):
                data, since = self._settle(
                    stop, max(PARTIAL_LINE_QUIET, self.debounce), data, since
                )
            planned = self._plan(data, quiet)
            if planned is None or stop.is_set():
                return
            pushes, values = planned
            deletes = any(plan.to_delete for _, plan in pushes)
            if deletes and time.monotonic() - since < DELETE_QUIET:
                settled, since = self._settle(stop, DELETE_QUIET, data, since)
                if settled != data:
                    data = settled
                    continue  # a file changed while we waited: plan again
            if not stop.is_set():
                self._apply(pushes, values, trigger)
            return

    def _values(self, data: Contents) -> tuple[dict[str, str], list[str]] | None:
        """The merged values to send and the keys left blank, or None after reporting why
        nothing is sent."""
        now = time.time()
        for path, content in zip(self.env_files, data, strict=True):
            shown = escape_text(str(path))
            if content is None:
                self._emit(SyncEvent("skipped", now, message=f"{shown} is missing; waiting"))
                return None
            if not content.strip():
                self._emit(SyncEvent("skipped", now, message=f"{shown} is empty; not syncing"))
                return None
        try:
            loaders = [
                (path, functools.partial(parse_env_bytes, content, path))
                for path, content in zip(self.env_files, data, strict=True)
                if content is not None
            ]
            values, blank = merge_env_files(
                loaders, interpolate=self.interpolate, skip_empty=self.skip_empty
            )
            if not values:
                raise InputError(
                    "every value is empty (a template copied over the file?); not syncing"
                )
            if not self.allow_reserved and reserved_key_problems(values):
                raise InputError(reserved_key_problems(values))
            # The organization's private API key stays out of the set, as push leaves it out.
            self._withheld = withhold_org_keys(
                values, allow=self.allow_reserved, agent_reads=self.agent_reads
            )
            blank += self._withheld  # in the file: never deleted from the set as removed
        except InputError as exc:
            self._emit(SyncEvent("skipped", now, message=str(exc)))
            return None
        return values, blank

    def _plan(
        self, data: Contents, quiet: bool
    ) -> tuple[list[tuple[_SetSync, PushPlan]], dict[str, str]] | None:
        """A plan for every set that does not hold these values yet, or None after reporting
        why nothing is sent (a refusal or a failure for one set sends nothing to any)."""
        self._seen_digest = self._digest(data)
        found = self._values(data)
        if found is None:
            return None
        values, blank = found
        pending = [s for s in self.sets if s.last != values]
        if not pending:
            if not quiet:
                self._emit(SyncEvent("unchanged", time.time()))
            return None
        pushes: list[tuple[_SetSync, PushPlan]] = []
        refused = False
        failures: list[tuple[_SetSync, PccEnvError]] = []
        for s in pending:
            try:
                pushes.append((s, self._plan_set(s, values, blank)))
            except InputError as exc:
                refused = True
                others = " (nothing sent to any set)" if len(self.sets) > 1 else ""
                self._emit(
                    SyncEvent("skipped", time.time(), message=f"{exc}{others}", set_name=s.name)
                )
            except PccEnvError as exc:
                failures.append((s, exc))
        if failures:
            self._failed(failures)
        if refused or failures:
            return None
        return pushes, values

    def _plan_set(self, s: _SetSync, values: dict[str, str], blank: list[str]) -> PushPlan:
        """One set's plan with push's guards: the first from the remote set, later ones from
        what this watch last sent it; ``InputError`` when push would refuse it."""
        region = s.target.region
        if s.last is None:
            plan = plan_for(
                self.client, self.state, s.name, values, region=region, prune=self.prune
            )
            existing = len(plan.record.keys) if plan.record is not None else 0
        else:
            # Keys left blank (with --skip-empty) are left out, not removed.
            plan = plan_update(
                s.name,
                values,
                s.last,
                region=region,
                prune=self.prune,
                keep=blank,
                since=s.record,
                unvouched=s.unvouched,
            )
            existing = len(s.last)
        problem = mass_delete_problem(s.name, plan.to_delete, existing)
        if problem:
            raise InputError(problem)
        return plan

    def _failed(self, failures: Sequence[tuple[_SetSync, PccEnvError]]) -> None:
        self._failures_in_a_row += 1
        low, high = self.retry_backoff
        delay = min(high, low * 2 ** (self._failures_in_a_row - 1))
        self._retry_at = time.monotonic() + delay
        for s, exc in failures:
            message = f"{exc} (retrying in {delay:g}s)"
            self._emit(SyncEvent("failed", time.time(), message=message, set_name=s.name))

    def _push(self, plan: PushPlan) -> PushResult:
        return apply_push(
            self.client, plan, timeout=self.wait_timeout, state=self.state, what="watch"
        )

    def _apply(
        self, pushes: Sequence[tuple[_SetSync, PushPlan]], values: dict[str, str], trigger: float
    ) -> None:
        """Write every planned set (side by side when there are several); one event per set.
        A set whose write fails is retried later; the others keep what they were sent."""
        if len(pushes) == 1:
            future: Future[PushResult] = Future()
            try:
                future.set_result(self._push(pushes[0][1]))
            except PccEnvError as exc:
                future.set_exception(exc)
            futures = [future]
        else:
            plans = [plan for _, plan in pushes]
            futures = map_in_background(self._push, plans, max_workers=8, name="pcc-env-watch")
        failures: list[tuple[_SetSync, PccEnvError]] = []
        cannot_record: ConfigError | None = None
        for (s, plan), future in zip(pushes, futures, strict=True):
            try:
                result = future.result()
            except ConfigError as exc:  # pcc-env cannot record its state (nothing was sent)
                cannot_record = exc
                continue
            except PccEnvError as exc:
                failures.append((s, exc))
                continue
            initial = s.last is None
            s.last = values
            s.record = result.revision.name if result.revision is not None else None
            if result.covered is not None:
                s.unvouched = set(values) - set(result.covered)
            self.summary.write_requests += result.requests
            if not result.sent:  # the first sync found the set as its record says
                at = result.revision.hhmm if result.revision is not None else "?"
                already = f"'{s.name}' already has these values (as recorded by pcc-env at {at})"
                self._emit(
                    SyncEvent(
                        "unchanged", time.time(), message=already, initial=initial, set_name=s.name
                    )
                )
                continue
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
                    set_name=s.name,
                )
            )
        if cannot_record is not None:
            raise cannot_record  # stop watching
        if failures:
            self._failed(failures)
        else:
            self._failures_in_a_row = 0
            self._retry_at = None

    # The loop ---------------------------------------------------------------------------------

    def _reconcile_due(self) -> bool:
        """Has a file changed since we last looked, without an event telling us?"""
        return self._digest(self._read()) != self._seen_digest

    def run(self, stop: threading.Event) -> WatchSummary:
        """Full sync, then watch until ``stop`` is set. Changes that arrive during a sync are
        picked up by the next iteration: they coalesce into one more sync."""
        self.sync(time.monotonic(), stop)
        watched = {(p.parent, p.name) for p in self.env_files}
        names = {name for _, name in watched}

        def ours(_change: object, path: str) -> bool:
            p = Path(path)
            if p.name not in names:
                return False
            return (p.parent, p.name) in watched or (p.parent.resolve(), p.name) in watched

        # The watcher starts after the first sync: reconcile at the first tick to catch a save
        # made in between, then every ``reconcile_interval``.
        next_reconcile = time.monotonic()
        for changes in watchfiles.watch(
            *sorted({p.parent for p in self.env_files}),
            watch_filter=ours,
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
