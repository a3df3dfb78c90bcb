"""SQLite state of the emulator: secret sets (key names and salted digests, never values),
agents and their deployments.

Provisioning is modelled by a timestamp: a write sets ``ready_at = now + provision_delay``; a set
reads as ``pending`` before it and ``ready`` (or ``failed`` for sets matching a fail pattern)
after it. Deployments work the same way with ``deploy_delay``. State therefore survives a restart
on the same file with no background task.

Every applied write to a set bumps the set's *generation*; a deployment records the generation of
each set it bound, which is how tests prove an agent runs the latest write (the real service
does not expose this, so only the ``/_emulator`` surface shows it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

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
-- Write generation of each set name; kept when a set is deleted, so a re-created set never
-- reuses a generation an older deployment recorded.
CREATE TABLE IF NOT EXISTS generations (
    name       TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    name                  TEXT PRIMARY KEY,
    id                    TEXT NOT NULL,
    region                TEXT NOT NULL,
    image                 TEXT,
    secret_set            TEXT,
    image_pull_secret_set TEXT,
    extra                 TEXT NOT NULL,  -- JSON: the other request fields, as given
    desired_deployment_id TEXT NOT NULL,
    created_at            REAL NOT NULL,
    updated_at            REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deployments (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    agent_name TEXT NOT NULL REFERENCES agents(name) ON DELETE CASCADE,
    spec       TEXT NOT NULL,  -- JSON: manifest.spec (image, envFromSecretNames, ...)
    settings   TEXT NOT NULL,  -- JSON: the other settings that define a version
    bound      TEXT NOT NULL,  -- JSON: {set name: generation at creation}
    created_at REAL NOT NULL,
    ready_at   REAL NOT NULL,
    fail       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deployments_by_agent ON deployments (agent_name, seq);
-- The env var names each deployment was given (names only), for what its agent "prints".
CREATE TABLE IF NOT EXISTS deployment_env (
    deployment_id TEXT PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
    names         TEXT NOT NULL,  -- JSON: {set name: [key, ...]}
    startup_error TEXT            -- what its agent died of at start-up (an image from a build)
);
-- The emulator's own settings that outlive a restart (the generated token).
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
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


def not_found_error(error: str) -> StoreError:
    return StoreError(404, error, "NOT_FOUND")


def bad_request(error: str) -> StoreError:
    return StoreError(400, error, "GENERIC_BAD_REQUEST")


def conflict(what: str) -> StoreError:
    return StoreError(409, what, "CONFLICT")


def set_not_ready(name: str) -> StoreError:
    """The deploy gate of the error-codes page (pending or failed set, or image pull secret)."""
    return conflict(f"Secret set '{name}' is not yet ready. Retry once it has been provisioned.")


AGENT_NOT_FOUND = "Not found"  # GET and DELETE /agents/{agentName} (OpenAPI examples)
SERVICE_NOT_FOUND = "Service not found"  # POST /agents/{agentName}
SERVICE_EXISTS = "Service already exists"
DEPLOYMENT_FAILED_REASON = "Error"
DEPLOYMENT_FAILED_MESSAGE = (
    "The agent exited with an error during startup (emulated: its name matches --fail-agent)."
)
# Changing only these keeps the current version (fundamentals_deploy.mdx: "a scaling-only change").
SCALING_FIELDS = frozenset({"autoScaling"})

BindingKind = Literal["secret", "imagePullSecret"]
Phase = Literal["Creating", "Active", "Failed"]


def _region_mismatch(kind: BindingKind, name: str, region: str, agent: str, creating: bool) -> str:
    what, plural = (
        ("Secret set", "Secrets")
        if kind == "secret"
        else ("Image pull secret set", "Image pull secrets")
    )
    where = "will be created" if creating else "is"
    return (
        f"{what} '{name}' is in region '{region}' but service {where} in region '{agent}'. "
        f"{plural} must be in the same region as the service."
    )


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


@dataclass(frozen=True)
class AgentConfig:
    """What an agent runs: image, bound sets, and the other request fields as given."""

    image: str | None = None
    secret_set: str | None = None
    image_pull_secret_set: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        """``deployment.manifest.spec`` of a deployment made from this config."""
        spec: dict[str, Any] = {"envFromSecretNames": [self.secret_set] if self.secret_set else []}
        if self.image is not None:
            spec["image"] = self.image
        if self.image_pull_secret_set is not None:
            spec["imagePullSecretName"] = self.image_pull_secret_set
        return spec

    def settings(self) -> dict[str, Any]:
        """The other fields that define a version: all but scaling."""
        return {k: v for k, v in self.extra.items() if k not in SCALING_FIELDS}

    def bindings(self) -> list[tuple[BindingKind, str]]:
        out: list[tuple[BindingKind, str]] = []
        if self.secret_set is not None:
            out.append(("secret", self.secret_set))
        if self.image_pull_secret_set is not None:
            out.append(("imagePullSecret", self.image_pull_secret_set))
        return out


@dataclass(frozen=True)
class AgentPatch:
    """An update: ``fields`` holds the known fields present in the request (``None`` clears
    one), ``extra`` the other fields (merged), ``force`` is ``forceRedeploy``."""

    fields: Mapping[str, str | None] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    force: bool = False

    def apply(self, config: AgentConfig) -> AgentConfig:
        return AgentConfig(
            image=self.fields.get("image", config.image),
            secret_set=self.fields.get("secret_set", config.secret_set),
            image_pull_secret_set=self.fields.get(
                "image_pull_secret_set", config.image_pull_secret_set
            ),
            extra={**config.extra, **self.extra},
        )


@dataclass(frozen=True)
class DeploymentRow:
    id: str
    agent_name: str
    spec: dict[str, Any]
    settings: dict[str, Any]
    bound: dict[str, int]
    created_at: float
    ready_at: float
    fail: bool
    startup_error: str | None = None

    def phase(self, now: float) -> Phase:
        if now < self.ready_at:
            return "Creating"
        return "Failed" if self.fail else "Active"


@dataclass(frozen=True)
class AgentState:
    """An agent as seen at ``now``: its desired deployment, the latest one reconciled, and
    whether any reconciled deployment that did not fail can serve (``available``)."""

    name: str
    id: str
    region: str
    config: AgentConfig
    created_at: float
    updated_at: float
    desired: DeploymentRow
    reconciled_id: str | None
    available: bool
    now: float

    @property
    def phase(self) -> Phase:
        return self.desired.phase(self.now)

    @property
    def ready(self) -> bool:
        return self.phase == "Active"


@dataclass(frozen=True)
class AgentWrite:
    """Outcome of a create or update: the desired deployment, and whether it is new."""

    deployment_id: str
    new_deployment: bool


_AGENT_COLUMNS = (
    "name, id, region, image, secret_set, image_pull_secret_set, extra, desired_deployment_id, "
    "created_at, updated_at"
)
_DEPLOYMENT_COLUMNS = "id, agent_name, spec, settings, bound, created_at, ready_at, fail"


def _deployment(row: Sequence[Any]) -> DeploymentRow:
    return DeploymentRow(
        id=row[0],
        agent_name=row[1],
        spec=json.loads(row[2]),
        settings=json.loads(row[3]),
        bound=json.loads(row[4]),
        created_at=row[5],
        ready_at=row[6],
        fail=bool(row[7]),
    )


class Store:
    """Thread-safe access to one SQLite database (WAL mode, one connection, one lock)."""

    def __init__(
        self,
        path: str,
        *,
        provision_delay: float = 0.5,
        fail_patterns: Sequence[str] = (),
        deploy_delay: float = 1.0,
        fail_agent_patterns: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.provision_delay = provision_delay
        self.fail_patterns = tuple(fail_patterns)
        self.deploy_delay = deploy_delay
        self.fail_agent_patterns = tuple(fail_agent_patterns)
        self._clock = clock
        # What a deployment of an image dies of at start-up (set by the builds), if anything.
        self.image_check: Callable[[sqlite3.Connection, str | None], str | None] | None = None
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

    def remember_token(self, candidate: str) -> str:
        """The token kept in this database, or ``candidate`` once kept: with a persistent
        database the token survives restarts, so the exported env lines stay valid. The file
        is mode 0600, like the digests it holds."""
        with self._transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'token'").fetchone()
            if row is not None:
                return str(row[0])
            db.execute("INSERT INTO meta (key, value) VALUES ('token', ?)", (candidate,))
            return candidate

    def add_schema(self, script: str) -> None:
        """Tables of another part of the emulator (builds), in the same database and lock."""
        with self._lock:
            self._db.executescript(script)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, for reads."""
        with self._lock:
            yield self._db

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction, for another part of the emulator (builds)."""
        return self._transaction()

    def now(self) -> float:
        return self._clock()

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
        """Every applied write ends here: provisioning restarts and the generation goes up."""
        db.execute(
            "UPDATE sets SET ready_at = ?, fail = ? WHERE name = ?",
            (self._clock() + self.provision_delay, int(self._fails(name)), name),
        )
        db.execute(
            "INSERT INTO generations (name, generation) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET generation = generation + 1",
            (name,),
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

    # Generations --------------------------------------------------------------------------------

    def generations(self, names: Sequence[str]) -> dict[str, int | None]:
        """The current write generation of each named set; ``None`` for a set that does not
        exist (any more)."""
        with self._lock:
            return {name: self._generation(self._db, name) for name in names}

    @staticmethod
    def _generation(db: sqlite3.Connection, name: str) -> int | None:
        row = db.execute(
            "SELECT g.generation FROM generations g JOIN sets s ON s.name = g.name "
            "WHERE g.name = ?",
            (name,),
        ).fetchone()
        return None if row is None else int(row[0])

    # Agents: reads ------------------------------------------------------------------------------

    def get_agent(self, name: str) -> AgentState | None:
        now = self._clock()
        with self._lock:
            row = self._db.execute(
                f"SELECT {_AGENT_COLUMNS} FROM agents WHERE name = ?", (name,)
            ).fetchone()
            return None if row is None else self._agent_state(self._db, row, now)

    def list_agents(self, region: str | None = None) -> list[AgentState]:
        now = self._clock()
        with self._lock:
            rows = self._db.execute(f"SELECT {_AGENT_COLUMNS} FROM agents ORDER BY name").fetchall()
            return [
                self._agent_state(self._db, row, now)
                for row in rows
                if region is None or row[2] == region
            ]

    def deployment(self, deployment_id: str) -> DeploymentRow | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_DEPLOYMENT_COLUMNS} FROM deployments WHERE id = ?", (deployment_id,)
            ).fetchone()
        return None if row is None else _deployment(row)

    def deployments_of(self, agent: str) -> list[tuple[DeploymentRow, dict[str, list[str]]]]:
        """Every deployment of ``agent``, oldest first, with the env var names it was given
        (``{}`` for one made before the emulator recorded them)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join('d.' + c.strip() for c in _DEPLOYMENT_COLUMNS.split(','))}, "
                "e.names, e.startup_error FROM deployments d "
                "LEFT JOIN deployment_env e ON e.deployment_id = d.id "
                "WHERE d.agent_name = ? ORDER BY d.seq",
                (agent,),
            ).fetchall()
        return [
            (
                dataclasses.replace(_deployment(row), startup_error=row[9]),
                json.loads(row[8] or "{}"),
            )
            for row in rows
        ]

    @staticmethod
    def _agent_state(db: sqlite3.Connection, row: Sequence[Any], now: float) -> AgentState:
        name = row[0]
        desired = db.execute(
            f"SELECT {_DEPLOYMENT_COLUMNS} FROM deployments WHERE id = ?", (row[7],)
        ).fetchone()
        died = db.execute(
            "SELECT startup_error FROM deployment_env WHERE deployment_id = ?", (row[7],)
        ).fetchone()
        reconciled = db.execute(
            "SELECT id FROM deployments WHERE agent_name = ? AND ready_at <= ? "
            "ORDER BY seq DESC LIMIT 1",
            (name, now),
        ).fetchone()
        available = db.execute(
            "SELECT 1 FROM deployments WHERE agent_name = ? AND ready_at <= ? AND fail = 0 LIMIT 1",
            (name, now),
        ).fetchone()
        return AgentState(
            name=name,
            id=row[1],
            region=row[2],
            config=AgentConfig(
                image=row[3],
                secret_set=row[4],
                image_pull_secret_set=row[5],
                extra=json.loads(row[6]),
            ),
            created_at=row[8],
            updated_at=row[9],
            desired=dataclasses.replace(
                _deployment(desired), startup_error=None if died is None else died[0]
            ),
            reconciled_id=None if reconciled is None else reconciled[0],
            available=available is not None,
            now=now,
        )

    # Agents: writes -----------------------------------------------------------------------------

    def _check_bindings(
        self, db: sqlite3.Connection, config: AgentConfig, region: str, creating: bool
    ) -> dict[str, int]:
        """The deploy gates, in the order a client can act on them: the set exists (404), is in
        the agent's region (400), is ready (409). Returns the generation of each bound set."""
        now = self._clock()
        bound: dict[str, int] = {}
        for kind, name in config.bindings():
            row = self._row(db, name)
            if row is None or row.type != kind:
                what = "Secret set" if kind == "secret" else "Image pull secret set"
                raise not_found(what)
            if row.region != region:
                raise bad_request(_region_mismatch(kind, name, row.region, region, creating))
            if row.status(now) != "ready":
                raise set_not_ready(name)
            bound[name] = self._generation(db, name) or 0
        return bound

    def _new_deployment(
        self, db: sqlite3.Connection, name: str, config: AgentConfig, bound: dict[str, int]
    ) -> str:
        now = self._clock()
        deployment_id = str(uuid.uuid4())
        startup_error = None if self.image_check is None else self.image_check(db, config.image)
        fail = startup_error is not None or any(
            fnmatch.fnmatchcase(name, p) for p in self.fail_agent_patterns
        )
        db.execute(
            f"INSERT INTO deployments ({_DEPLOYMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                deployment_id,
                name,
                json.dumps(config.spec()),
                json.dumps(config.settings(), sort_keys=True),
                json.dumps(bound),
                now,
                now + self.deploy_delay,
                int(fail),
            ),
        )
        names = {
            set_name: [
                k
                for (k,) in db.execute(
                    "SELECT key FROM secrets WHERE set_name = ? ORDER BY rowid", (set_name,)
                )
            ]
            for kind, set_name in config.bindings()
            if kind == "secret"
        }
        db.execute(
            "INSERT INTO deployment_env (deployment_id, names, startup_error) VALUES (?, ?, ?)",
            (deployment_id, json.dumps(names), startup_error),
        )
        return deployment_id

    def create_agent(self, name: str, region: str, config: AgentConfig) -> AgentWrite:
        """Create agent ``name`` and its first deployment (400 when it exists, gates first)."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM agents WHERE name = ?", (name,)).fetchone():
                raise bad_request(SERVICE_EXISTS)
            bound = self._check_bindings(db, config, region, creating=True)
            now = self._clock()
            db.execute(
                f"INSERT INTO agents ({_AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
                (
                    name,
                    str(uuid.uuid4()),
                    region,
                    config.image,
                    config.secret_set,
                    config.image_pull_secret_set,
                    json.dumps(dict(config.extra)),
                    now,
                    now,
                ),
            )
            deployment_id = self._new_deployment(db, name, config, bound)
            db.execute(
                "UPDATE agents SET desired_deployment_id = ? WHERE name = ?", (deployment_id, name)
            )
        return AgentWrite(deployment_id, new_deployment=True)

    def update_agent(self, name: str, patch: AgentPatch) -> AgentWrite:
        """Apply ``patch``. A changed version or ``force`` makes a new deployment (gated); an
        identical one keeps the current deployment, as the real service does."""
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {_AGENT_COLUMNS} FROM agents WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise not_found_error(SERVICE_NOT_FOUND)
            state = self._agent_state(db, row, self._clock())
            config = patch.apply(state.config)
            changed = (
                config.spec() != state.desired.spec or config.settings() != state.desired.settings
            )
            deployment_id = state.desired.id
            if changed or patch.force:
                bound = self._check_bindings(db, config, state.region, creating=False)
                deployment_id = self._new_deployment(db, name, config, bound)
            if deployment_id != state.desired.id or config != state.config:
                db.execute(
                    "UPDATE agents SET image = ?, secret_set = ?, image_pull_secret_set = ?, "
                    "extra = ?, desired_deployment_id = ?, updated_at = ? WHERE name = ?",
                    (
                        config.image,
                        config.secret_set,
                        config.image_pull_secret_set,
                        json.dumps(dict(config.extra)),
                        deployment_id,
                        self._clock(),
                        name,
                    ),
                )
        return AgentWrite(deployment_id, new_deployment=deployment_id != state.desired.id)

    def delete_agent(self, name: str) -> None:
        with self._transaction() as db:
            if not db.execute("DELETE FROM agents WHERE name = ?", (name,)).rowcount:
                raise not_found_error(AGENT_NOT_FOUND)
