"""SQLite state of the emulator: secret sets, key names and salted digests, never values.

Provisioning is modelled by a timestamp: a write sets ``ready_at = now + provision_delay``; a set
reads as ``pending`` before it and ``ready`` (or ``failed`` for sets matching a fail pattern)
after it. State therefore survives a restart on the same file with no background task.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pcc_env.models import SecretSetDetail, SecretSetSummary, SetStatus, SetType

IMAGE_PULL_KEY = "<image-pull-secret>"  # not a valid key name, so it cannot collide
PROVISIONING_FAILED_MESSAGE = (
    "Provisioning failed. Re-create the secret set or contact support if the problem persists."
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sets (
    name     TEXT PRIMARY KEY,
    type     TEXT NOT NULL CHECK (type IN ('secret', 'imagePullSecret')),
    region   TEXT NOT NULL,
    host     TEXT,
    ready_at REAL NOT NULL,
    fail     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS secrets (
    set_name TEXT NOT NULL REFERENCES sets(name) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    salt     BLOB NOT NULL,
    digest   BLOB NOT NULL,
    PRIMARY KEY (set_name, key)
);
"""


class StoreError(Exception):
    """A request the service refuses: carries the HTTP status and the API's error body."""

    def __init__(self, status: int, error: str, code: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.code = code


def not_found(what: str) -> StoreError:
    return StoreError(404, f"{what} not found", "NOT_FOUND")


def bad_request(error: str) -> StoreError:
    return StoreError(400, error, "GENERIC_BAD_REQUEST")


def _digest(salt: bytes, value: str) -> bytes:
    return hashlib.sha256(salt + value.encode("utf-8", "surrogatepass")).digest()


def _create_private_file(path: str) -> None:
    """Create the database file with mode 0600 before SQLite opens it (no window of 0644)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class _SetRow:
    name: str
    type: SetType
    region: str
    host: str | None
    ready_at: float
    fail: bool

    def status(self, now: float) -> SetStatus:
        if now < self.ready_at:
            return "pending"
        return "failed" if self.fail else "ready"


class Store:
    """Thread-safe access to one SQLite database (WAL mode, one connection, one lock)."""

    def __init__(
        self,
        path: str,
        *,
        provision_delay: float = 0.5,
        fail_patterns: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.provision_delay = provision_delay
        self.fail_patterns = tuple(fail_patterns)
        self._clock = clock
        self._lock = threading.Lock()
        if path != ":memory:":
            _create_private_file(path)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(path + suffix, 0o600)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is applied, or none of it."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def _row(self, db: sqlite3.Connection, name: str) -> _SetRow | None:
        row = db.execute(
            "SELECT name, type, region, host, ready_at, fail FROM sets WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        return _SetRow(row[0], row[1], row[2], row[3], row[4], bool(row[5]))

    def _fails(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.fail_patterns)

    def _restart_provisioning(self, db: sqlite3.Connection, name: str) -> None:
        db.execute(
            "UPDATE sets SET ready_at = ?, fail = ? WHERE name = ?",
            (self._clock() + self.provision_delay, int(self._fails(name)), name),
        )

    # Reads --------------------------------------------------------------------------------------

    def list_sets(self, region: str | None = None) -> list[SecretSetSummary]:
        now = self._clock()
        with self._lock:
            rows = self._db.execute(
                "SELECT name, type, region, host, ready_at, fail FROM sets ORDER BY name"
            ).fetchall()
        out = []
        for r in rows:
            row = _SetRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]))
            if region is not None and row.region != region:
                continue
            status = row.status(now)
            out.append(
                SecretSetSummary(
                    name=row.name,
                    type=row.type,
                    region=row.region,
                    status=status,
                    error_message=PROVISIONING_FAILED_MESSAGE if status == "failed" else None,
                )
            )
        return out

    def get_set(self, name: str) -> SecretSetDetail:
        now = self._clock()
        with self._lock:
            row = self._row(self._db, name)
            if row is None:
                raise not_found("Set")
            if row.type == "imagePullSecret":
                raise bad_request("Cannot retrieve image pull secrets by name")
            keys = [
                k
                for (k,) in self._db.execute(
                    "SELECT key FROM secrets WHERE set_name = ? ORDER BY rowid", (name,)
                )
            ]
        status = row.status(now)
        return SecretSetDetail.model_validate(
            {
                "region": row.region,
                "status": status,
                "errorMessage": PROVISIONING_FAILED_MESSAGE if status == "failed" else None,
                "secrets": [{"fieldName": k} for k in keys],
            }
        )

    def exists(self, name: str) -> bool:
        with self._lock:
            return self._row(self._db, name) is not None

    def check_value(self, name: str, key: str, value: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT salt, digest FROM secrets WHERE set_name = ? AND key = ?", (name, key)
            ).fetchone()
        if row is None:
            return False
        return hmac.compare_digest(_digest(row[0], value), row[1])

    # Writes -------------------------------------------------------------------------------------

    def _upsert_set(
        self,
        db: sqlite3.Connection,
        name: str,
        set_type: SetType,
        region: str | None,
        default_region: str,
        host: str | None = None,
    ) -> str:
        """Create the set or check that it may be updated; returns its region."""
        row = self._row(db, name)
        if row is None:
            used = region or default_region
            db.execute(
                "INSERT INTO sets (name, type, region, host, ready_at, fail) "
                "VALUES (?, ?, ?, ?, 0, 0)",
                (name, set_type, used, host),
            )
        else:
            if row.type == "secret" and set_type == "imagePullSecret":
                raise bad_request("Cannot update existing regular secrets to image pull secrets")
            if row.type == "imagePullSecret" and set_type == "secret":
                raise bad_request(
                    "Must provide isImagePullSecret, host, and secretValue to update an image "
                    "pull secret"
                )
            if region is not None and region != row.region:
                raise bad_request(
                    f"Secret already exists in region '{row.region}'. "
                    f"Cannot change region to '{region}'."
                )
            used = row.region
            if host is not None:
                db.execute("UPDATE sets SET host = ? WHERE name = ?", (host, name))
        self._restart_provisioning(db, name)
        return used

    @staticmethod
    def _put_value(db: sqlite3.Connection, name: str, key: str, value: str) -> None:
        salt = secrets.token_bytes(16)
        db.execute(
            "INSERT INTO secrets (set_name, key, salt, digest) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (set_name, key) DO UPDATE SET salt = excluded.salt, "
            "digest = excluded.digest",
            (name, key, salt, _digest(salt, value)),
        )

    def put_secrets(
        self, name: str, pairs: Sequence[tuple[str, str]], region: str | None, default_region: str
    ) -> str:
        """Merge ``pairs`` into set ``name`` (created when absent); returns the set's region."""
        with self._transaction() as db:
            used = self._upsert_set(db, name, "secret", region, default_region)
            for key, value in pairs:
                self._put_value(db, name, key, value)
        return used

    def put_image_pull_secret(
        self, name: str, host: str, value: str, region: str | None, default_region: str
    ) -> str:
        with self._transaction() as db:
            used = self._upsert_set(db, name, "imagePullSecret", region, default_region, host)
            self._put_value(db, name, IMAGE_PULL_KEY, value)
        return used

    def delete_key(self, name: str, key: str) -> None:
        with self._transaction() as db:
            row = self._row(db, name)
            if row is None:
                raise not_found("Set")
            if row.type == "imagePullSecret":
                raise bad_request("Cannot delete keys from image pull secrets")
            deleted = db.execute(
                "DELETE FROM secrets WHERE set_name = ? AND key = ?", (name, key)
            ).rowcount
            if not deleted:
                raise not_found("Secret")
            self._restart_provisioning(db, name)

    def delete_set(self, name: str) -> None:
        with self._transaction() as db:
            if not db.execute("DELETE FROM sets WHERE name = ?", (name,)).rowcount:
                raise not_found("Set")
