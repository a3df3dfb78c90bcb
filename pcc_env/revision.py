"""The set's revision record: what pcc-env last wrote to a secret set, readable from any machine.

The API never returns a value; a set's key *names* are all that every machine (and the agents,
as env vars) can read. So every write by pcc-env puts one marker key in the same PUT as the
values, and the marker's name is the record::

    PCCENV_REV1_20261204T213615123Z_1A2B3C_9F8E7D_0123456789ABCDEF
    |prefix+fmt| write time UTC   |names | salt | values digest  |   (62 of the 64 characters)

* the write time is the writer's clock, to the millisecond, read just before the PUT (an agent
  whose deployment was created before it runs older values);
* the key-names digest (SHA-256 of the sorted names, 24 bits) lets anyone check that the set's
  key list is still the one recorded (names are public: it hides nothing and need not);
* the salt is random per write (24 bits: no two writes share one in practice, and no table
  can be built ahead for scrypt);
* the values digest is scrypt (N=2**12, r=8, p=1: 4 MiB and ~15 ms per try) over the salt and
  every covered ``key=value`` pair at once, truncated to 64 bits. One digest over all pairs, not
  one per key: to test a guess of one value, one must know every other value of the write, so a
  set holding one real API key makes the digest useless for guessing anything. When every value
  is guessable (a set of flags), scrypt makes each guess cost 4 MiB and ~15 milliseconds,
  and the per-write salt makes every table useless for the next write. 64 bits are enough to
  tell "same values" from "other values" (a collision by chance: 1 in 1.8e19).

The marker's value names the covered keys (names only, not secret), so that an agent can check
the values it was given (``pcc_env.runtime.loaded_revision``). Pure: no I/O, stdlib and ``rules``
only (the runtime imports it).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from pcc_env.rules import RECORD_KEY_PREFIX

MARKER_PREFIX = RECORD_KEY_PREFIX
FORMAT = "1"
_TIME_FORMAT = "%Y%m%dT%H%M%S"
_MARKER_RE = re.compile(
    rf"{MARKER_PREFIX}{FORMAT}_(\d{{8}}T\d{{6}})(\d{{3}})Z_([0-9A-F]{{6}})_([0-9A-F]{{6}})_"
    r"([0-9A-F]{16})"
)
_VALUE_PREFIX = "pcc-env revision record (not a secret); covers: "
# 2**12 rather than 2**14: the digest guards values a guesser must get all at once, and a
# writing push pays one (benchmarks/fast_start.py: push within 1.2x of the stack's floor).
SCRYPT_N = 2**12
SCRYPT_R = 8
SCRYPT_P = 1


# Any format's marker: the prefix, a format number, then upper-case letters, digits and '_'.
_ANY_MARKER_RE = re.compile(rf"{MARKER_PREFIX}[0-9]+_[0-9A-Z_]+")


def is_marker(key: str) -> bool:
    """A key of pcc-env's record (any format): the whole name has a marker's shape. A key that
    only starts like one (``PCCENV_REVIEW_URL``, or a name no API key could hold) is a user's
    key: never taken for the record, never replaced or deleted as one. (pcc-env refuses to
    write keys with the prefix itself: ``rules.record_key_problems``.)"""
    return _ANY_MARKER_RE.fullmatch(key) is not None


def user_keys(keys: Iterable[str]) -> list[str]:
    """The keys of a set that are the user's: every key but the record's markers."""
    return [k for k in keys if not is_marker(k)]


def keys_digest(keys: Iterable[str]) -> str:
    """24 bits of SHA-256 over the sorted user key names (markers left out)."""
    names = "\n".join(sorted(set(user_keys(keys))))
    return hashlib.sha256(names.encode("utf-8", "surrogatepass")).hexdigest()[:6].upper()


def values_digest(salt: str, values: Mapping[str, str]) -> str:
    """64 bits of scrypt over the salt and every ``key=value`` pair (length-prefixed, sorted by
    key, so no two different sets of pairs give the same input)."""
    parts = []
    for key in sorted(values):
        k = key.encode("utf-8", "surrogatepass")
        v = values[key].encode("utf-8", "surrogatepass")
        parts.append(b"%d:%s%d:%s" % (len(k), k, len(v), v))
    digest = hashlib.scrypt(
        b"".join(parts),
        salt=f"pcc-env-rev{FORMAT}:{salt}".encode(),
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=64 * 1024 * 1024,
        dklen=8,
    )
    return digest.hex().upper()


@dataclass(frozen=True)
class Revision:
    """One write by pcc-env, as its marker's name tells it."""

    name: str
    written_at: datetime  # the writer's clock, UTC, to the millisecond
    keys_digest: str
    salt: str
    values_digest: str

    @property
    def timestamp(self) -> float:
        return self.written_at.timestamp()

    @property
    def hhmm(self) -> str:
        return self.written_at.strftime("%H:%M UTC")

    @property
    def shown_time(self) -> str:
        return self.written_at.strftime("%Y-%m-%d %H:%M:%S UTC")

    def covers_keys(self, keys: Iterable[str]) -> bool:
        """Whether ``keys`` (a set's live key list) is the list this write left."""
        return self.keys_digest == keys_digest(keys)

    def matches_values(self, values: Mapping[str, str]) -> bool:
        """Whether ``values`` are exactly the pairs this write covered (keys and values)."""
        return self.values_digest == values_digest(self.salt, values)


def parse_marker(name: str) -> Revision | None:
    """The revision a marker's name records; None for a name of another format."""
    match = _MARKER_RE.fullmatch(name)
    if match is None:
        return None
    try:
        at = datetime.strptime(match[1], _TIME_FORMAT).replace(
            tzinfo=timezone.utc, microsecond=int(match[2]) * 1000
        )
    except ValueError:
        return None
    return Revision(name, at, match[3], match[4], match[5])


def new_revision(
    keys_after: Iterable[str], covered: Mapping[str, str], *, now: float, salt: str | None = None
) -> Revision:
    """The record of a write made at ``now`` (epoch seconds, kept to the millisecond)."""
    at = datetime.fromtimestamp(math.floor(now * 1000) / 1000, tz=timezone.utc)
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    salt = salt if salt is not None else secrets.token_hex(3).upper()
    keys = keys_digest(keys_after)
    values = values_digest(salt, covered)
    stamp = f"{at.strftime(_TIME_FORMAT)}{at.microsecond // 1000:03d}Z"
    name = f"{MARKER_PREFIX}{FORMAT}_{stamp}_{keys}_{salt}_{values}"
    return Revision(name, at, keys, salt, values)


def marker_value(covered: Iterable[str]) -> str:
    """The marker's value: the names of the covered keys (not secret), for the agent's check."""
    return _VALUE_PREFIX + ",".join(sorted(covered))


def covered_keys(value: str) -> list[str] | None:
    """The covered key names a marker's value gives; None for a value of another shape."""
    if not value.startswith(_VALUE_PREFIX):
        return None
    rest = value[len(_VALUE_PREFIX) :]
    return [k for k in rest.split(",") if k] if rest else []


@dataclass(frozen=True)
class SetRecord:
    """What a set's key list says about pcc-env's writes to it."""

    keys: tuple[str, ...]  # the user's keys, markers left out
    markers: tuple[str, ...]  # every marker key, parsed or not
    revisions: tuple[Revision, ...]  # the parsed ones, newest first

    @property
    def latest(self) -> Revision | None:
        return self.revisions[0] if self.revisions else None

    @property
    def written_at(self) -> float | None:
        """When pcc-env last wrote the set (the newest marker); None when it never did."""
        return self.latest.timestamp if self.latest is not None else None

    @property
    def trusted(self) -> Revision | None:
        """The record, when it can vouch for the set's values: exactly one marker, of a known
        format, whose key list is still the set's. Two markers (two writers at once, or a write
        cut short) or a key list changed by another tool: what the set holds is not known."""
        if len(self.markers) != 1 or self.latest is None:
            return None
        return self.latest if self.latest.covers_keys(self.keys) else None

    @property
    def keys_changed(self) -> bool:
        """The newest record's key list is no longer the set's (another tool added or removed
        keys after it, at a time nobody can know)."""
        return self.latest is not None and not self.latest.covers_keys(self.keys)

    def why_unknown(self) -> str:
        """Why the record cannot vouch for the values (for a plan's or a status's note)."""
        if not self.markers:
            return "the set has no pcc-env record (written by another tool, or never by pcc-env)"
        if self.latest is None:
            return "the set's pcc-env record is of a format this pcc-env does not read"
        if len(self.markers) > 1:
            return (
                f"the set has {len(self.markers)} pcc-env records (two writes at once, or one "
                "cut short)"
            )
        if self.keys_changed:
            return (
                f"keys were added or removed since pcc-env wrote it at {self.latest.shown_time} "
                "(by another tool)"
            )
        return ""


def read_record(keys: Sequence[str]) -> SetRecord:
    """The record of a set with these live keys."""
    markers = tuple(dict.fromkeys(k for k in keys if is_marker(k)))  # a name listed twice: one
    parsed = [r for r in map(parse_marker, markers) if r is not None]
    parsed.sort(key=lambda r: (r.written_at, r.name), reverse=True)
    return SetRecord(tuple(user_keys(keys)), markers, tuple(parsed))


def kept_revision(
    record: SetRecord,
    keys_after: Iterable[str],
    covered: Mapping[str, str],
    *,
    force: bool = False,
    matches: bool | None = None,
) -> Revision | None:
    """The set's record, when a write of ``covered`` leaving ``keys_after`` keeps it: the set's
    own record proves the write changes nothing (same name, same time: no agent becomes stale).
    None when the write needs a new record (``--force`` included: sent because something may
    have changed unseen). ``matches``: the answer of ``record.trusted.matches_values(covered)``
    when the caller has it (a digest costs ~15 ms)."""
    prev = record.trusted
    if force or prev is None or not prev.covers_keys(keys_after):
        return None
    same = matches if matches is not None else prev.matches_values(covered)
    return prev if same else None


def next_revision(
    record: SetRecord,
    keys_after: Iterable[str],
    covered: Mapping[str, str],
    *,
    now: float,
    force: bool = False,
    matches: bool | None = None,
) -> Revision:
    """The record a write leaves: the set's own when ``kept_revision`` says so, else a new one."""
    keys_after = list(keys_after)
    kept = kept_revision(record, keys_after, covered, force=force, matches=matches)
    return kept if kept is not None else new_revision(keys_after, covered, now=now)
