"""Push, export and check: a pure plan first, then the I/O that carries it out.

``plan_push`` decides everything from the local values, the remote set and the last-push
state, so ``--dry-run``, ``push`` and ``watch`` share one implementation and every refusal
happens before any write. ``apply_push`` sends one PUT, one DELETE per pruned key, waits for
``ready`` and records salted digests (never values) of what was pushed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pcc_env.concurrency import in_background
from pcc_env.dotenv_file import TemplateEntry, atomic_write_text
from pcc_env.errors import (
    ConfigError,
    InputError,
    NotFoundError,
    PccEnvError,
    ProvisioningError,
)
from pcc_env.revision import (
    Revision,
    SetRecord,
    kept_revision,
    marker_value,
    new_revision,
    next_revision,
    read_record,
)
from pcc_env.rules import DEFAULT_REGION, escape_text, show_key

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from pcc_env.client import SecretsClient
    from pcc_env.deploy_config import DeployConfig
    from pcc_env.models import SecretSetDetail, SecretSetSummary
    from pcc_env.runtime import FieldDescription
    from pcc_env.scan import ScanResult

DATA_DIR_ENV = "PCC_ENV_DATA_DIR"
Action = Literal["+", "~", "?", "=", "-"]


def user_data_dir() -> Path:
    """Where pcc-env keeps its state: ``$PCC_ENV_DATA_DIR``, else the platform's user data dir."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("pcc-env"))


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700, whatever the umask (they hold files
    about the user's secret sets and the emulator's database, values included)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask
    return path


# Local cache of the set's record: salted digests per (API host, set) -----------------------------


_STATE_LOCK = threading.Lock()  # pushes to several sets record concurrently


class PushState:
    """``push-state.json`` (mode 0600): a cache of the set's revision record (``revision``), for
    each (API host, set): the name of the last marker written from this machine, a salt, and one
    digest per key it covered. The set's own record is the truth: the per-key digests are used
    only while the set's record is still that marker (then they tell which keys changed since);
    nothing here decides whether an agent is stale.

    Everything in a slot is keyed by ``key`` (``ApiKey.cache_key``, from the API key): the
    digests, so that the file alone lets nobody test a guess of a value, however weak; and the
    whole slot (its host and set, marker, salt and digests) under one MAC, so that an edited or
    copied slot is no cache rather than a false "unchanged". A slot written under another API
    key (rotated), by an older pcc-env, or malformed in any way is no cache."""

    VERSION = 2

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or user_data_dir() / "push-state.json"

    def check_writable(self) -> None:
        """Raise ``ConfigError`` unless the state can be recorded: checked before a write is
        sent, so a push never reaches the API only to fail at recording what it sent."""
        directory = self.path.parent
        try:
            private_dir(directory)
            fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=directory)
            os.close(fd)
            os.unlink(probe)
            mode = os.lstat(self.path).st_mode if os.path.lexists(self.path) else None
        except OSError as exc:
            raise ConfigError(
                f"pcc-env cannot write its state in {escape_text(str(directory))} "
                f"({type(exc).__name__}); set {DATA_DIR_ENV} to a writable directory. "
                "Nothing was sent."
            ) from None
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise ConfigError(
                f"pcc-env cannot write its state: {escape_text(str(self.path))} is not a file; "
                f"remove it, or set {DATA_DIR_ENV} to another directory. Nothing was sent."
            )

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # absent or unreadable: no cache
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _slot_name(api_host: str, set_name: str) -> str:
        return f"{api_host}|{set_name}"

    @classmethod
    def _mac(cls, key: bytes, slot_name: str, slot: Mapping[str, Any]) -> str:
        """The slot's MAC: its place (host and set), format, marker, salt and every digest."""
        body = [
            slot_name,
            cls.VERSION,
            slot.get("marker"),
            slot["salt"],
            sorted(slot["digests"].items()),
        ]
        text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def digest(salt: str, key: str, value: str) -> str:
        """A pair's digest; ``salt`` is the keyed salt ``previous`` returns, never the file's."""
        return hashlib.sha256(f"{salt}\0{key}\0{value}".encode()).hexdigest()

    def _slot(
        self, api_host: str, set_name: str, key: bytes, data: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The slot of (host, set) when it is well formed and its MAC holds under ``key``
        (``data``: the file's content, when the caller has read it already)."""
        name = self._slot_name(api_host, set_name)
        slot = (self._load() if data is None else data).get(name)
        if not (
            isinstance(slot, dict)
            and slot.get("v") == self.VERSION
            and isinstance(slot.get("salt"), str)
            and _HEX32.fullmatch(slot["salt"])
            and isinstance(slot.get("digests"), dict)
            and all(
                isinstance(k, str) and isinstance(d, str) and _HEX64.fullmatch(d)
                for k, d in slot["digests"].items()
            )
            and (slot.get("marker") is None or isinstance(slot.get("marker"), str))
            and isinstance(slot.get("mac"), str)
        ):
            return None
        try:
            if not hmac.compare_digest(slot["mac"], self._mac(key, name, slot)):
                return None
        except (TypeError, ValueError, UnicodeError):  # a hand-edited slot: no cache
            return None
        return slot

    @staticmethod
    def _keyed(key: bytes, salt: str) -> str:
        return hmac.new(key, salt.encode(), hashlib.sha256).hexdigest()

    def cached(
        self, api_host: str, set_name: str, *, key: bytes
    ) -> tuple[tuple[str, dict[str, str]], str | None]:
        """One read of the cache: ((keyed salt, key -> digest), the record's marker name they
        were written under) of the last write from here under this API key; a fresh salt, {}
        and None when none. Compare with ``digest(keyed_salt, k, v)``."""
        slot = self._slot(api_host, set_name, key)
        if slot is None:
            return (self._keyed(key, secrets.token_hex(16)), {}), None
        marker = slot.get("marker")
        return (self._keyed(key, slot["salt"]), dict(slot["digests"])), marker

    def previous(self, api_host: str, set_name: str, *, key: bytes) -> tuple[str, dict[str, str]]:
        """``cached``'s (keyed salt, digests)."""
        return self.cached(api_host, set_name, key=key)[0]

    def cached_marker(self, api_host: str, set_name: str, *, key: bytes) -> str | None:
        """``cached``'s marker: the record the cached digests were written under."""
        return self.cached(api_host, set_name, key=key)[1]

    def record(
        self,
        api_host: str,
        set_name: str,
        values: Mapping[str, str],
        deleted: Sequence[str] = (),
        *,
        key: bytes,
        marker: str | None = None,
    ) -> None:
        """Cache what a write under record ``marker`` covered. A new marker starts the digests
        afresh: those of an older record say nothing about the set any more. Slots of an older
        format are dropped as the file is written (their digests were not keyed)."""
        with _STATE_LOCK:
            data = {
                name: slot
                for name, slot in self._load().items()
                if isinstance(slot, dict) and slot.get("v") == self.VERSION
            }
            slot = self._slot(api_host, set_name, key, data)
            salt = slot["salt"] if slot is not None else secrets.token_hex(16)
            digests = dict(slot["digests"]) if slot is not None else {}
            if slot is None or marker != slot.get("marker"):
                digests = {}
            keyed = self._keyed(key, salt)
            digests.update({k: self.digest(keyed, k, v) for k, v in values.items()})
            for name in deleted:
                digests.pop(name, None)
            new: dict[str, Any] = {"v": self.VERSION, "salt": salt, "digests": digests}
            if marker is not None:
                new["marker"] = marker
            slot_name = self._slot_name(api_host, set_name)
            new["mac"] = self._mac(key, slot_name, new)
            data[slot_name] = new
            private_dir(self.path.parent)
            atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True), mode=0o600)


_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


# Push -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyChange:
    key: str
    action: Action


@dataclass(frozen=True)
class PushPlan:
    """What a push will do, by key name. ``values`` (what the PUT sends) is never shown.

    ``record``: the set's revision record as the plan read it (None: the set was not read,
    ``watch``'s later syncs); ``covered``: the pairs the record of this write will vouch for,
    as long as the set's record is still ``since`` (the watch's own last write) when it writes."""

    set_name: str
    region: str | None
    exists: bool
    remote_region: str | None
    changes: list[KeyChange]
    kept_remote: list[str]
    values: dict[str, str] = field(repr=False)
    remote_status: str | None = None
    record: SetRecord | None = None
    covered: dict[str, str] | None = field(default=None, repr=False)
    record_matches: bool | None = None  # the set's record vouches for exactly these values
    since: str | None = None

    def keys(self, action: Action) -> list[str]:
        return [c.key for c in self.changes if c.action == action]

    @property
    def nothing_to_send(self) -> bool:
        """Every key is ``=`` (the set's own record, from whichever machine wrote it, says it
        holds that value), none is deleted, and the set did not fail: a PUT would change
        nothing, and would only put the set back to ``pending``. (A failed set is sent again:
        that is the retry.)"""
        return (
            self.exists
            and bool(self.changes)
            and all(c.action == "=" for c in self.changes)
            and self.remote_status != "failed"
        )

    @property
    def to_delete(self) -> list[str]:
        return self.keys("-")

    @property
    def pairs_covered(self) -> dict[str, str]:
        return self.covered if self.covered is not None else self.values

    @property
    def recorded(self) -> Revision | None:
        """The set's record the plan rests on (the newest marker), if any."""
        return self.record.latest if self.record is not None else None

    def unknown_note(self) -> str | None:
        """Why some keys are ``?`` (their remote value is not known), for the plan."""
        if not self.keys("?") or self.record is None:
            return None
        why = self.record.why_unknown()
        if not why:
            rev = self.record.latest
            assert rev is not None
            why = (
                f"the set was last written by pcc-env at {rev.shown_time} with other values or "
                "keys (from another machine, or from here)"
            )
        return f"? value unknown: {why}; these keys are sent"

    def to_json(self) -> dict[str, Any]:
        rev = self.recorded
        return {
            "set": self.set_name,
            "exists": self.exists,
            "region": self.remote_region or self.region or DEFAULT_REGION,
            "new": self.keys("+"),
            "changed": self.keys("~"),
            "unknown": self.keys("?"),
            "unchanged": self.keys("="),
            "delete": self.to_delete,
            "keptOnRemote": self.kept_remote,
            "recordedAt": rev.written_at.isoformat() if rev is not None else None,
        }


def plan_push(
    set_name: str,
    values: Mapping[str, str],
    remote: SecretSetDetail | None,
    previous: tuple[str, Mapping[str, str]],
    *,
    region: str | None = None,
    prune: bool = False,
    cached_marker: str | None = None,
) -> PushPlan:
    """Decide a push without I/O. Raises ``InputError`` for a push that must not happen.

    ``+`` the key is not in the remote set; ``=`` the set's own revision record says it holds
    this value (the record vouches for every value of the file at once); ``~`` its value differs
    from what this machine wrote under the set's current record (``previous``, the local cache,
    used only when ``cached_marker`` is that record); ``?`` not known (no record, a record of
    other values by another machine, or keys changed by another tool); ``-`` a remote key
    missing from the file, deleted only with ``prune``. The record's marker is never a key of
    the plan.
    """
    record = read_record(remote.keys if remote is not None else [])
    remote_keys = list(record.keys)
    if remote is not None and region is not None and remote.region != region:
        raise InputError(
            f"secret set '{set_name}' is in region '{remote.region}', not '{region}'; a set's "
            "region cannot change. Use the set's region, or a new set name for this region."
        )
    if prune and not values:
        raise InputError("refusing --prune from an empty file: it would delete every key")
    if not values:
        raise InputError("nothing to push: the file has no keys")
    trusted = record.trusted
    matches: bool | None = None
    per_key = trusted is not None and cached_marker == trusted.name
    salt, digests = previous
    if trusted is not None and all(k in remote_keys for k in values):
        if per_key:
            # This machine wrote the set's record: its cache holds a digest of every pair the
            # record covers, so the cheap per-key digests answer what the slow one would.
            matches = set(digests) == set(values) and all(
                digests[k] == PushState.digest(salt, k, v) for k, v in values.items()
            )
        else:
            matches = trusted.matches_values(values)  # one scrypt
    changes: list[KeyChange] = []
    for key, value in values.items():
        if key not in remote_keys:
            changes.append(KeyChange(key, "+"))
        elif matches:
            changes.append(KeyChange(key, "="))
        elif per_key and key in digests:
            same = digests[key] == PushState.digest(salt, key, value)
            changes.append(KeyChange(key, "=" if same else "~"))
        else:
            changes.append(KeyChange(key, "?"))
    stale = [k for k in remote_keys if k not in values]
    if prune and stale and len(stale) == len(remote_keys):
        raise InputError(
            f"refusing --prune: it would delete every key of '{set_name}' "
            f"({', '.join(map(show_key, stale))}); is this the right file?"
        )
    if prune:
        changes.extend(KeyChange(k, "-") for k in stale)
    return PushPlan(
        set_name=set_name,
        region=region,
        exists=remote is not None,
        remote_region=remote.region if remote is not None else None,
        changes=changes,
        kept_remote=[] if prune else stale,
        values=dict(values),
        remote_status=remote.status if remote is not None else None,
        record=record,
        record_matches=matches,
    )


def plan_update(
    set_name: str,
    current: Mapping[str, str],
    last: Mapping[str, str],
    *,
    region: str | None = None,
    prune: bool = False,
    keep: Collection[str] = (),
    since: str | None = None,
    unvouched: Collection[str] = (),
) -> PushPlan:
    """The difference between two versions of a file, as a plan (``watch``): only the keys
    added or changed since ``last`` are sent; keys removed are deleted only with ``prune``.
    Keys in ``keep`` (still in the file, value left blank) are never deleted. The write's
    record covers the whole file (the keys not sent were synced before) while the set's record
    is still ``since``, the one the watch's last write left; else only what is sent. Keys in
    ``unvouched`` (left out of an earlier record: someone else may have written them) are
    covered again only once this watch sends them."""
    changes = [KeyChange(k, "+") for k in current if k not in last]
    changes += [KeyChange(k, "~") for k in current if k in last and current[k] != last[k]]
    removed = [k for k in last if k not in current and k not in keep]
    if prune:
        changes += [KeyChange(k, "-") for k in removed]
    send = {c.key: current[c.key] for c in changes if c.action in "+~"}
    return PushPlan(
        set_name=set_name,
        region=region,
        exists=True,
        remote_region=None,
        changes=changes,
        kept_remote=[] if prune else removed,
        values=send,
        covered={k: v for k, v in current.items() if k not in unvouched or k in send},
        since=since,
    )


def mass_delete_problem(set_name: str, to_delete: Sequence[str], existing: int) -> str | None:
    """Why a sync that nobody confirmed must not delete these keys (None when it may).

    ``watch --prune`` deletes what was removed from the file, but a file replaced by another
    one (or by a few unrelated keys) would take every key with it: a sync deleting all the keys,
    or more than half of them when there are more than two, is left to ``push --prune``, which
    shows the plan and asks first.
    """
    if not to_delete:
        return None
    if len(to_delete) < existing and len(to_delete) <= max(1, existing // 2):
        return None
    names = ", ".join(map(show_key, to_delete[:10])) + (" ..." if len(to_delete) > 10 else "")
    return (
        f"this save would delete {len(to_delete)} of the {existing} keys of '{set_name}' "
        f"({names}); not syncing. Was the file replaced? If this is intended, run "
        "'pcc-env push --prune', which shows the plan and asks first."
    )


def fetch_remote(client: SecretsClient, set_name: str) -> SecretSetDetail | None:
    """The remote set (None when it does not exist); a clear error for an image pull secret."""
    from pcc_env.errors import BadRequestError

    try:
        return client.find_set(set_name)
    except BadRequestError as exc:
        raise InputError(
            f"'{set_name}' is an image pull secret, not a secret set ({exc.message})"
        ) from None


def plan_for(
    client: SecretsClient,
    state: PushState,
    set_name: str,
    values: Mapping[str, str],
    *,
    region: str | None,
    prune: bool,
) -> PushPlan:
    """Read the set, then plan from it and this machine's cache of its record (push, watch's
    first sync, a push to several targets)."""
    previous, marker = state.cached(client.api_host, set_name, key=client.api_key.cache_key)
    return plan_push(
        set_name,
        values,
        fetch_remote(client, set_name),
        previous,
        region=region,
        prune=prune,
        cached_marker=marker,
    )


@dataclass(frozen=True)
class PushResult:
    region: str
    status: str
    seconds: float
    requests: int
    sent: bool = True  # False: nothing to push (``PushPlan.nothing_to_send``), nothing was sent
    revision: Revision | None = None  # the set's record after the write
    covered: tuple[str, ...] | None = None  # the keys that record vouches for (None: unknown)


class RecordMovedError(PccEnvError):
    """Another writer replaced the set's record after the plan was made: nothing was sent (a
    plan made from an older snapshot must not be applied, its prune least of all)."""

    def __init__(self, set_name: str, planned: SetRecord, now: SetRecord | None) -> None:
        self.set_name = set_name
        self.planned = planned
        self.now = now
        before = planned.latest.shown_time if planned.latest is not None else "no record"
        after = now.latest.shown_time if now is not None and now.latest is not None else None
        moved = f"from {before} to {after}" if after else f"(it was {before})"
        super().__init__(
            f"secret set '{set_name}' was written by someone else since this plan was made "
            f"(pcc-env record {moved}); nothing was sent. Run the push again to plan from what "
            "the set holds now."
        )


class ConcurrentWriteError(PccEnvError):
    """Another write reached the set beside this one (neither saw the other's record before
    writing: the API has no conditional write). Both were sent; which value each key holds now
    is not known, and the set keeps both records until the next push replaces them."""

    def __init__(self, set_name: str, records: SetRecord, what: str = "push") -> None:
        self.set_name = set_name
        self.records = records
        times = ", ".join(r.shown_time for r in records.revisions) or "unreadable"
        again = {
            "push": "Run the push again",
            "watch": "The watch writes it again at its next sync",
        }.get(what, "Run 'pcc-env push' for the whole set")
        super().__init__(
            f"secret set '{set_name}' was written by someone else at the same time as this "
            f"{what} (pcc-env records: {times}). Both writes were sent; which value each key "
            f"holds now is not known. {again} to write one whole revision, then redeploy."
        )


def _moved(record: SetRecord, live: SecretSetDetail | None) -> SetRecord | None:
    """The live record when it is not the planned one (None when it did not move)."""
    now = read_record(live.keys if live is not None else [])
    return now if now.markers != record.markers else None


def apply_push(
    client: SecretsClient,
    plan: PushPlan,
    *,
    wait: bool = True,
    timeout: float = 60.0,
    state: PushState | None = None,
    waiting: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    force: bool = False,
    what: str = "push",
) -> PushResult:
    """Carry out a plan: one PUT with every local key and the set's new record (its marker
    key), one DELETE per pruned key, then wait (inside ``waiting()``: the CLI says how to follow
    a write accepted when Ctrl-C comes). ``what``: the command, as a race with another write
    names it.

    The record costs one request, which is also the check that nobody wrote since the plan:
    the DELETE of the planned record's marker (a 404: another pcc-env removed it, replacing the
    record), or, when the set had no record to replace, a GET of the set. Either way a moved
    record raises ``RecordMovedError`` before anything is sent. A plan with nothing to send
    sends nothing (``sent`` False) unless ``force``."""
    region = plan.remote_region or plan.region or DEFAULT_REGION
    if plan.nothing_to_send and not force:
        return PushResult(
            region, plan.remote_status or "ready", 0.0, 0, sent=False, revision=plan.recorded
        )
    state = state or PushState()
    state.check_writable()
    started = time.monotonic()
    requests = 0
    base = plan.record
    checked = base is not None
    covered = plan.pairs_covered
    if base is None:  # watch's later syncs: the set was not read for the plan
        live = fetch_remote(client, plan.set_name)
        base = read_record(live.keys if live is not None else [])
        if base.trusted is None or base.trusted.name != plan.since:
            # Written by someone else (or keys added or removed) since the watch's last write:
            # the keys not sent now may hold other values, so this write's record vouches only
            # for what it sends.
            covered = dict(plan.values)
    keys_after = [k for k in base.keys if k not in plan.to_delete]
    keys_after += [k for k in covered if k not in keys_after]
    keys_after += [k for k in plan.values if k not in keys_after]
    kept = kept_revision(
        base,
        keys_after,
        covered,
        force=force,
        matches=plan.record_matches if plan.covered is None else None,
    )
    made: Future[Revision] = Future()
    if kept is None:
        # The new record's digest (~15 ms of scrypt, which frees the GIL) is computed while the
        # old record's DELETE, or the re-read of the set, is on the wire.
        at = time.time()
        made = in_background(
            lambda: new_revision(keys_after, covered, now=at), name="pcc-env-record"
        )
    else:
        made.set_result(kept)
    old = [m for m in base.markers if kept is None or m != kept.name]
    if checked and not old:
        moved = _moved(base, fetch_remote(client, plan.set_name))
        if moved is not None:
            raise RecordMovedError(plan.set_name, base, moved)
    for i, marker in enumerate(old):
        try:
            client.delete_key(plan.set_name, marker)
        except NotFoundError:
            if checked and i == 0:  # someone replaced the record: nothing was sent
                raise RecordMovedError(plan.set_name, base, None) from None
        requests += 1
    revision = made.result()
    body = {**plan.values, revision.name: marker_value(covered)}
    region = client.put_secrets(plan.set_name, body, region=plan.region).region
    requests += 1
    for key in plan.to_delete:
        with contextlib.suppress(NotFoundError):  # already gone: the goal is reached
            client.delete_key(plan.set_name, key)
        requests += 1
    state.record(
        client.api_host,
        plan.set_name,
        covered,
        plan.to_delete,
        key=client.api_key.cache_key,
        marker=revision.name,
    )
    status = "accepted"
    if wait and requests:
        with waiting():
            ready = client.wait_ready(plan.set_name, timeout=timeout)
        status = ready.status
        raced_with(plan.set_name, revision, ready.keys, what)
    return PushResult(
        region,
        status,
        time.monotonic() - started,
        requests,
        revision=revision,
        covered=tuple(covered),
    )


def raced_with(
    set_name: str, revision: Revision, keys_after: Sequence[str] | None, what: str = "push"
) -> None:
    """Raise ``ConcurrentWriteError`` when the set, read after this write, holds this write's
    record beside another one: a write planned at the same moment from another snapshot. Of
    two such writes, the one whose read comes last always sees both. (This write's record gone
    and another in its place: someone wrote after it, in turn; that is no race.)"""
    if keys_after is None or revision.name not in keys_after:
        return
    after = read_record(keys_after)
    if len(after.markers) > 1:
        raise ConcurrentWriteError(set_name, after, what)


def write_recorded(
    client: SecretsClient,
    set_name: str,
    values: Mapping[str, str],
    *,
    region: str | None = None,
    state: PushState | None = None,
) -> tuple[str, Revision]:
    """``secrets set`` / ``secrets unset``: write ``values`` (none: after keys were deleted)
    with a new record of the set, replacing the old one. Returns (region, record). The record
    covers only ``values``: a later push cannot call its other keys unchanged, and an agent
    deployed before this write is stale. Bad keys or values: ``InputError`` before any request."""
    from pcc_env.rules import check_keys, value_problems

    check_keys(values)
    problems = [p for k, v in values.items() for p in value_problems(k, v)]
    if problems:
        raise InputError(problems)
    remote = fetch_remote(client, set_name)
    base = read_record(remote.keys if remote is not None else [])
    keys_after = list(base.keys) + [k for k in values if k not in base.keys]
    revision = next_revision(base, keys_after, values, now=time.time())
    for marker in base.markers:
        if marker != revision.name:
            with contextlib.suppress(NotFoundError):
                client.delete_key(set_name, marker)
    body = {**values, revision.name: marker_value(values)}
    used = client.put_secrets(set_name, body, region=region).region
    (state or PushState()).record(
        client.api_host, set_name, values, key=client.api_key.cache_key, marker=revision.name
    )
    return used, revision


def set_record(client: SecretsClient, set_name: str) -> SetRecord | None:
    """The set's revision record (None when the set does not exist)."""
    remote = client.find_set(set_name)
    return read_record(remote.keys) if remote is not None else None


# Export -----------------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """A model's description or default as one template comment line: line breaks become
    spaces and control characters are escaped, so a model cannot add lines to the template."""
    return escape_text(" ".join(text.split()))


def template_entries(
    model: type[BaseSettings] | None, remote_keys: list[str] | None, set_name: str | None
) -> list[TemplateEntry]:
    """Template lines for the model's env vars and/or the set's keys, in a stable order. A key
    with a default is optional: written commented out with its default (``# LOG_LEVEL=INFO``;
    a secret's default is never shown), so a copied template leaves the defaults in force."""
    from pcc_env.revision import user_keys
    from pcc_env.runtime import describe

    if remote_keys is not None:  # the revision record is pcc-env's, never a template's key
        remote_keys = user_keys(remote_keys)
    entries: list[TemplateEntry] = []
    model_keys: set[str] = set()
    if model is not None:
        only_model = f"In the settings model but not in secret set '{set_name}'"
        for d in describe(model):
            model_keys.add(d.env_name)
            marks = [
                m
                for m, on in (
                    ("required", d.required), ("secret", d.secret), ("optional", not d.required)
                )
                if on
            ]  # fmt: skip
            comments = []
            if d.description:
                comments.append(
                    one_line(d.description) + (f" ({', '.join(marks)})" if marks else "")
                )
            elif marks:
                comments.append(f"({', '.join(marks)})")
            in_set = remote_keys is None or d.env_name in remote_keys
            example = _example(d.env_name, d.default)
            optional = not d.required
            if optional and d.default and not example and _default_note_passes(d):
                # A default that ``# KEY=default`` must not show (a voice ID's letters and
                # digits): the note the no-values hook reads above ``KEY=`` (empty: unset).
                comments.append(f"default: {one_line(d.default)}")
                optional = False
            entries.append(
                TemplateEntry(
                    escape_text(d.env_name),
                    tuple(comments),
                    "" if in_set else only_model,
                    optional=optional,
                    example=example,
                )
            )
    if remote_keys is not None:
        only_set = f"In secret set '{set_name}' but not in the settings model" if model else ""
        entries.extend(TemplateEntry(k, (), only_set) for k in remote_keys if k not in model_keys)
    return entries


def _default_note_passes(d: FieldDescription) -> bool:
    """Whether ``# default: value`` above ``KEY=`` passes ``check-files`` in a template
    (``value_shapes``: a plain field's default is refused for a key's own shape only)."""
    from pcc_env.value_shapes import lines_holding_values

    text = f"# default: {one_line(d.default or '')}\n{d.env_name}=\n"
    return not lines_holding_values(text, template=True)


_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./:@+,-]*")


def _example(key: str, default: str | None) -> str:
    """A default as it stands in ``# KEY=default``: as written when plain, else in double
    quotes; empty for a secret's (``describe`` gives none) or anything a template must not hold
    (``rules.is_template_value``)."""
    from pcc_env.rules import is_template_value

    if not default:
        return ""
    text = one_line(default)
    if not is_template_value(key, text):
        return ""
    if _PLAIN_VALUE.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Check ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One check's answer. ``warning``: it does not fail the check (exit 0), but it is not ok
    either (a stale agent): printed WARN, and "All checks passed" is not said."""

    ok: bool
    check: str
    message: str
    warning: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "check": self.check, "message": self.message}
        if self.warning:
            out["warning"] = True
        return out


def run_check(
    client: SecretsClient,
    set_name: str,
    *,
    model: type[BaseSettings] | None = None,
    deploy: DeployConfig | None = None,
    region: str | None = None,
    env_file: Path | None = None,
    wait: bool = False,
    timeout: float = 60.0,
) -> list[Finding]:
    """Preflight before ``pipecat cloud deploy``: every finding, names only."""
    findings: list[Finding] = []
    want, where = expected_region_label(region, deploy)
    status: SecretSetSummary | None = None
    try:
        status = (
            client.wait_ready(set_name, timeout=timeout) if wait else client.set_status(set_name)
        )
    except NotFoundError:
        findings.append(
            Finding(
                False,
                "set",
                f"secret set {show_key(set_name, 'name')} does not exist: 'pcc-env push' creates "
                "it from .env "
                "('pcc-env secrets list' shows the sets)",
            )
        )
    except ProvisioningError as exc:
        findings.append(Finding(False, "set", str(exc)))
    if status is not None:
        if status.type != "secret":
            findings.append(Finding(False, "set", f"'{set_name}' is an image pull secret"))
        elif status.status == "ready":
            findings.append(Finding(True, "set", f"secret set '{set_name}' exists and is ready"))
        else:
            detail = f": {status.error_message}" if status.error_message else ""
            findings.append(
                Finding(False, "set", f"secret set '{set_name}' is {status.status}{detail}")
            )
        findings.append(
            Finding(
                status.region == want,
                "region",
                f"set region '{status.region}' "
                + ("matches" if status.region == want else "differs from")
                + f" {where}",
            )
        )
        if model is not None and status.type == "secret":
            from pcc_env.runtime import required_env_names

            keys = set(client.get_set(set_name).keys)
            missing = [n for n in required_env_names(model) if n not in keys]
            findings.append(
                Finding(
                    not missing,
                    "required-keys",
                    f"every required env var of {model.__name__} is in the set"
                    if not missing
                    else f"required by {model.__name__} but not in the set: {', '.join(missing)}; "
                    "add them to .env and run 'pcc-env push'",
                )
            )
    if deploy is not None and deploy.image_credentials:
        findings.append(_check_image_credentials(client, deploy.image_credentials, want, where))
    if env_file is not None and model is not None:
        findings.append(_check_env_file(model, env_file))
    return findings


def expected_region_label(region: str | None, deploy: DeployConfig | None) -> tuple[str, str]:
    """The region a deploy will use, and how to name it in a finding: "the deploy region" only
    when it was read from a deploy file."""
    if deploy is not None and deploy.region and (region is None or region == deploy.region):
        return deploy.region, f"the deploy region '{deploy.region}' ({deploy.path})"
    if region:
        return region, f"the expected region '{region}' (--region or the target)"
    return DEFAULT_REGION, (
        f"the default region '{DEFAULT_REGION}' (no --region, and no region in a deploy file)"
    )


def _check_image_credentials(client: SecretsClient, name: str, want: str, where: str) -> Finding:
    entry = next((s for s in client.list_sets() if s.name == name), None)
    if entry is None:
        return Finding(False, "image-credentials", f"image pull secret '{name}' does not exist")
    if entry.type != "imagePullSecret":
        return Finding(
            False, "image-credentials", f"'{name}' is a secret set, not an image pull secret"
        )
    problems = []
    if entry.region != want:
        problems.append(f"is in '{entry.region}', not {where}")
    if entry.status != "ready":
        problems.append(f"is {entry.status}")
    if problems:
        return Finding(
            False, "image-credentials", f"image pull secret '{name}' " + " and ".join(problems)
        )
    return Finding(True, "image-credentials", f"image pull secret '{name}' is ready in '{want}'")


def _check_env_file(model: type[BaseSettings], env_file: Path) -> Finding:
    from pcc_env.dotenv_file import read_env_file
    from pcc_env.runtime import load_settings

    try:
        read_env_file(env_file)  # a line without '=' or that cannot be parsed: by number only
        load_settings(model, env_file=env_file, environ={})
    except PccEnvError as exc:
        return Finding(False, "env-file", f"{env_file}: {exc}")
    return Finding(True, "env-file", f"{env_file} satisfies {model.__name__}")


def check_code(
    client: SecretsClient,
    set_name: str,
    scan: ScanResult,
    model: type[BaseSettings] | None = None,
) -> list[Finding]:
    """``check --code``: one failed finding per variable the code reads that is neither in the
    settings model nor in the set, with where it is read; the static twin of the required-key
    check. Variables the system or Pipecat Cloud set are not counted (``scan.left_out``)."""
    from pcc_env.scan import left_out

    declared: set[str] = set()
    if model is not None:
        from pcc_env.runtime import env_names_by_field

        declared = {n.upper() for names in env_names_by_field(model).values() for n in names}
    try:
        remote = fetch_remote(client, set_name)
    except InputError:  # an image pull secret: the set finding says so
        remote = None
    keys = {k.upper() for k in remote.keys} if remote is not None else set()
    where = f"the settings model {model.__name__} nor " if model is not None else ""
    findings: list[Finding] = []
    counted = 0
    for name, reads in scan.by_name().items():
        if left_out(name) is not None:
            continue
        counted += 1
        if name in declared or name in keys:
            continue
        places = list(dict.fromkeys(r.where for r in reads))
        shown = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
        default = (
            " (it has a default in the code)"
            if all(r.default_kind != "none" or r.how == "in environ" for r in reads)
            else ""
        )
        findings.append(
            Finding(
                False,
                "code",
                f"{shown}: reads {show_key(name)}{default}, which is in neither {where}"
                f"secret set '{set_name}'",
            )
        )
    if not findings:
        findings.append(
            Finding(
                True,
                "code",
                f"the {counted} env var(s) the code reads ({len(scan.files)} Python file(s)) are "
                f"in {'the settings model or ' if model is not None else ''}the set",
            )
        )
    if scan.unparsable:
        skipped = ", ".join(p.where for p in scan.unparsable[:5])
        findings.append(
            Finding(True, "code", f"not scanned (not valid Python, or unreadable): {skipped}")
        )
    return findings
