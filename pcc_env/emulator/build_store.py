"""Builds on the emulator: uploads (in memory) and builds (in the store's SQLite database).

An upload's bytes stay in memory only until its build is created (or it expires, 15 minutes
after its URL was issued, as the real presigned URL does), so a context, which may hold anything
the project has, is never written to disk. A build keeps the paths and sizes it received, its log
and its outcome, decided when it is created; like sets and deployments, its status is a matter
of time (``ready_at``), so it survives a restart with no background task.
"""

from __future__ import annotations

import hmac
import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pcc_env.emulator import builds
from pcc_env.emulator.store import Store, StoreError, bad_request

UPLOAD_TTL = 15 * 60.0
MAX_PENDING_UPLOADS = 64
MAX_PENDING_BYTES = 256 << 20  # uploads not yet built, together (they are held in memory)
UPLOAD_NOT_FOUND = "Upload not found or expired"
REGION_MISMATCH = "Region must match the region used when getting the upload URL"
BUILD_NOT_FOUND = "Build not found"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS builds (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    region          TEXT NOT NULL,
    context_hash    TEXT NOT NULL,
    dockerfile_path TEXT NOT NULL,
    context_size    INTEGER NOT NULL,
    created_at      REAL NOT NULL,
    ready_at        REAL NOT NULL,
    success         INTEGER NOT NULL,
    error_message   TEXT,
    image_uri       TEXT NOT NULL,
    files           TEXT NOT NULL,  -- JSON: [[path, size], ...], never contents
    copied          TEXT NOT NULL,  -- JSON: [path, ...]
    log             TEXT NOT NULL,  -- JSON: [line, ...]
    startup_error   TEXT            -- what an agent running its image dies of, if anything
);
CREATE INDEX IF NOT EXISTS builds_by_hash ON builds (context_hash, region, dockerfile_path);
"""
_COLUMNS = (
    "id, region, context_hash, dockerfile_path, context_size, created_at, ready_at, success, "
    "error_message, image_uri, files, copied, log, startup_error"
)


@dataclass
class Upload:
    id: str
    region: str
    expires_at: float
    data: bytes | None = None


@dataclass(frozen=True)
class Build:
    id: str
    region: str
    context_hash: str
    dockerfile_path: str
    context_size: int
    created_at: float
    ready_at: float
    success: bool
    error_message: str | None
    image_uri: str
    files: tuple[tuple[str, int], ...]
    copied: tuple[str, ...]
    log: tuple[str, ...]
    startup_error: str | None = None

    def status(self, now: float) -> str:
        if now < self.ready_at:
            return "building"
        return "success" if self.success else "failed"

    def visible_log(self, now: float) -> list[str]:
        """The lines a build "has printed" by ``now``: spread over its duration."""
        if now >= self.ready_at or not self.log:
            return list(self.log)
        span = self.ready_at - self.created_at
        shown = int(len(self.log) * (now - self.created_at) / span) if span > 0 else 0
        return list(self.log[: max(1, shown)])


def _build(row: Sequence[Any]) -> Build:
    return Build(
        id=row[0],
        region=row[1],
        context_hash=row[2],
        dockerfile_path=row[3],
        context_size=row[4],
        created_at=row[5],
        ready_at=row[6],
        success=bool(row[7]),
        error_message=row[8],
        image_uri=row[9],
        files=tuple((p, s) for p, s in json.loads(row[10])),
        copied=tuple(json.loads(row[11])),
        log=tuple(json.loads(row[12])),
        startup_error=row[13],
    )


class BuildStore:
    def __init__(self, store: Store, *, org: str, build_delay: float) -> None:
        self.store = store
        self.org = org
        self.build_delay = build_delay
        self._signing_key = secrets.token_bytes(32)
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()
        self._fail_next: list[str] = []
        store.add_schema(_SCHEMA)
        store.image_check = self._startup_error

    # Uploads ------------------------------------------------------------------------------------

    def sign(self, policy: str) -> str:
        return hmac.new(self._signing_key, policy.encode(), "sha256").hexdigest()

    def new_upload(self, region: str) -> Upload:
        now = self.store.now()
        upload = Upload(str(uuid.uuid4()), region, now + UPLOAD_TTL)
        with self._lock:
            for key in [k for k, u in self._uploads.items() if u.expires_at <= now]:
                del self._uploads[key]
            if len(self._uploads) >= MAX_PENDING_UPLOADS:
                oldest = min(self._uploads.values(), key=lambda u: u.expires_at)
                del self._uploads[oldest.id]
            self._uploads[upload.id] = upload
        return upload

    def put_upload(self, upload_id: str, policy: str, signature: str, data: bytes) -> None:
        """The presigned POST: the policy must be the one issued, signed, and not expired."""
        with self._lock:
            upload = self._uploads.get(upload_id)
            valid = hmac.compare_digest(self.sign(policy).encode(), signature.encode())
            if upload is None or upload.expires_at <= self.store.now():
                raise StoreError(403, "Request has expired or the upload is unknown", "FORBIDDEN")
            if not valid:
                raise StoreError(403, "Invalid signature", "FORBIDDEN")
            held = sum(len(u.data or b"") for u in self._uploads.values() if u is not upload)
            if held + len(data) > MAX_PENDING_BYTES:
                raise StoreError(
                    413,
                    "Too many uploads waiting for their build; create those builds first",
                    "PAYLOAD_TOO_LARGE",
                )
            upload.data = data

    def _take_upload(self, upload_id: str, region: str) -> bytes:
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None or upload.data is None or upload.expires_at <= self.store.now():
                raise bad_request(UPLOAD_NOT_FOUND)
            if upload.region != region:
                raise bad_request(REGION_MISMATCH)
            del self._uploads[upload_id]
            return upload.data

    # Builds -------------------------------------------------------------------------------------

    def fail_next(self, count: int, message: str) -> None:
        with self._lock:
            self._fail_next.extend([message] * count)

    def create(self, upload_id: str, region: str, dockerfile_path: str) -> tuple[Build, bool]:
        """The build of an upload, and whether it is a cached one (a successful build of the
        same context hash, region and Dockerfile path)."""
        data = self._take_upload(upload_id, region)
        digest = builds.context_hash(data)
        cached = self._cached(digest, region, dockerfile_path)
        if cached is not None:
            return cached, True
        build_id = str(uuid.uuid4())
        image_uri = f"pcc-env-emulator.invalid/{self.org}/builds:{build_id}"
        with self._lock:
            forced = self._fail_next.pop(0) if self._fail_next else None
        try:
            context = builds.read_context(data, dockerfile_path)
            outcome = builds.run_build(context, dockerfile_path, image_uri, forced)
            files = [(f.path, f.size) for f in context.files]
        except builds.ContextError as exc:
            outcome = builds.BuildOutcome(False, (str(exc),), f"Docker build failed: {exc}")
            files = []
        now = self.store.now()
        build = Build(
            id=build_id,
            region=region,
            context_hash=digest,
            dockerfile_path=dockerfile_path,
            context_size=len(data),
            created_at=now,
            ready_at=now + self.build_delay,
            success=outcome.success,
            error_message=outcome.error_message,
            image_uri=image_uri,
            files=tuple(files),
            copied=outcome.copied,
            log=outcome.log,
            startup_error=outcome.startup_error,
        )
        with self.store.transaction() as db:
            db.execute(
                f"INSERT INTO builds ({_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                (
                    build.id,
                    build.region,
                    build.context_hash,
                    build.dockerfile_path,
                    build.context_size,
                    build.created_at,
                    build.ready_at,
                    int(build.success),
                    build.error_message,
                    build.image_uri,
                    json.dumps(files),
                    json.dumps(list(build.copied)),
                    json.dumps(list(build.log)),
                    build.startup_error,
                ),
            )
        return build, False

    @staticmethod
    def _startup_error(db: sqlite3.Connection, image: str | None) -> str | None:
        """For the store, inside its transaction: what a deployment of ``image`` dies of."""
        if image is None:
            return None
        row = db.execute(
            "SELECT startup_error FROM builds WHERE image_uri = ?", (image,)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def _cached(self, digest: str, region: str, dockerfile_path: str) -> Build | None:
        now = self.store.now()
        with self.store.reading() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM builds WHERE context_hash = ? AND region = ? "
                "AND dockerfile_path = ? AND success = 1 AND ready_at <= ? ORDER BY seq DESC",
                (digest, region, dockerfile_path, now),
            ).fetchall()
        return _build(rows[0]) if rows else None

    def get(self, build_id: str) -> Build | None:
        with self.store.reading() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM builds WHERE id = ?", (build_id,)).fetchone()
        return None if row is None else _build(row)

    def find(
        self, *, status: str | None, region: str | None, context_hash: str | None
    ) -> list[Build]:
        """Newest first."""
        with self.store.reading() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM builds ORDER BY seq DESC").fetchall()
        now = self.store.now()
        return [
            b
            for b in map(_build, rows)
            if (status is None or b.status(now) == status)
            and (region is None or b.region == region)
            and (context_hash is None or b.context_hash == context_hash)
        ]

    def image_of(self, build_id: str) -> str:
        """The image a deploy with ``buildId`` runs: only a successful build has one."""
        build = self.get(build_id) if _is_uuid(build_id) else None
        if build is None:
            raise bad_request(BUILD_NOT_FOUND)
        status = build.status(self.store.now())
        if status != "success":
            raise bad_request(f"Build '{build.id}' has not succeeded (status: {status})")
        return build.image_uri


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
