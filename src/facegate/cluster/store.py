"""The cluster's tables (migration 8): cameras, nodes, camera leases and stream names.

Every decision about time is made by the database's clock inside the statement (``now()`` on
PostgreSQL; on SQLite, which serves one host, SQLite's own clock as unix seconds), never by a
host's clock: a host whose clock runs ahead must not steal a lease.

A lease row ``(camera, node, epoch, expires_at)`` is taken by an UPDATE that only matches an
expired lease (or one this node already holds), and every take adds 1 to ``epoch``: the epoch
is the fencing token that attendance and door events from the camera carry (``fence_ok``).
Renewing keeps the epoch and matches only the exact (node, epoch), so a former owner can
never renew a lease that was taken from it. Concurrent takers serialise on the row: on
PostgreSQL the second UPDATE re-checks its WHERE after the first commits, on SQLite
``BEGIN IMMEDIATE`` lets one writer in at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from facegate.delivery import stored_time
from facegate.gallery.db import Database, Tx, advisory_key, utcnow

# Advisory lock class of the once-per-cluster jobs (first int4 key of pg_try_advisory_xact_lock).
_SINGLETON_CLASS = 7265730


@dataclass(frozen=True, slots=True)
class CameraRow:
    """A camera of the cluster. ``options`` holds the rest of its configuration
    (``always_on``); ``pinned_node`` restricts it to one node."""

    name: str
    source: str
    direction: str = "both"
    options: dict[str, Any] = field(default_factory=dict)
    pinned_node: str | None = None

    @property
    def always_on(self) -> bool:
        return bool(self.options.get("always_on", False))


@dataclass(frozen=True, slots=True)
class NodeRow:
    id: str
    url: str
    alive: bool


@dataclass(frozen=True, slots=True)
class LeaseRow:
    camera: str
    node: str
    epoch: int


class SqlClock:
    """SQL for the database's clock in one dialect, evaluated inside the statement (the cluster
    tables and the live event log use it: no host's clock decides a lease or a retention)."""

    def __init__(self, dialect: str) -> None:
        if dialect == "postgres":
            self.now = "now()"
            self.unit = "interval '1 second'"
        else:
            self.now = "((julianday('now') - 2440587.5) * 86400.0)"
            self.unit = "1.0"

    def plus(self) -> str:
        """``now + ?`` seconds (the parameter is a float)."""
        return f"({self.now} + ? * {self.unit})"


def fence_ok(tx: Tx, db: Database, camera: str, epoch: int | None) -> bool:
    """Inside a write transaction: whether a write from ``camera`` under lease ``epoch`` may
    happen. ``None`` (a TCP stream, a check-in) is never fenced. On PostgreSQL the lease row
    is share-locked until the write commits, so a takeover waits for it instead of passing it:
    the write lands either wholly before the new epoch or not at all."""
    if epoch is None:
        return True
    lock = " FOR SHARE" if db.dialect == "postgres" else ""
    rows = tx.execute(f"SELECT epoch FROM camera_leases WHERE camera = ?{lock}", (camera,))
    return bool(rows) and int(rows[0][0]) == int(epoch)


def singleton(tx: Tx, db: Database, job: str) -> bool:
    """Inside a write transaction: whether this process may run the once-per-cluster ``job``
    now. PostgreSQL: a transaction advisory lock (another host running the same job makes
    this one skip; the lock dies with the transaction, so no holder can go stale). SQLite
    serves one host and its write transaction already excludes every other writer."""
    if db.dialect != "postgres":
        return True
    rows = tx.execute(
        "SELECT pg_try_advisory_xact_lock(?, ?)", (_SINGLETON_CLASS, advisory_key(job))
    )
    return bool(rows[0][0])


class ClusterStore:
    """The cluster tables over the gallery's database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = SqlClock(db.dialect)

    # -- cameras ------------------------------------------------------------------------------

    def upsert_camera(self, camera: CameraRow, *, keep_pin: bool = True) -> None:
        """Add or update a camera; its pin is kept unless ``keep_pin`` is False."""
        pin = "cameras.pinned_node" if keep_pin else "excluded.pinned_node"
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO cameras (name, source, direction, options, pinned_node, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "source = excluded.source, direction = excluded.direction, "
                f"options = excluded.options, pinned_node = {pin}",
                (
                    camera.name,
                    camera.source,
                    camera.direction,
                    json.dumps(camera.options, sort_keys=True),
                    camera.pinned_node,
                    stored_time(self.db, utcnow()),
                ),
            )

    def cameras(self) -> list[CameraRow]:
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT name, source, direction, options, pinned_node FROM cameras ORDER BY name"
            )
        return [CameraRow(r[0], r[1], r[2], json.loads(r[3] or "{}"), r[4]) for r in rows]

    def remove_camera(self, name: str) -> bool:
        """Remove a camera and its lease (its owner stops it at its next renewal)."""
        with self.db.write() as tx:
            gone = tx.execute("DELETE FROM cameras WHERE name = ? RETURNING name", (name,))
            tx.execute("DELETE FROM camera_leases WHERE camera = ?", (name,))
        return bool(gone)

    def pin(self, name: str, node: str | None) -> bool:
        """Pin a camera to ``node`` (None: unpin); False when there is no such camera."""
        with self.db.write() as tx:
            rows = tx.execute(
                "UPDATE cameras SET pinned_node = ? WHERE name = ? RETURNING name", (node, name)
            )
        return bool(rows)

    # -- nodes --------------------------------------------------------------------------------

    def register_node(self, node: str, url: str) -> None:
        """A node (re)starting: its URL, start time and first heartbeat."""
        now = self.clock.now
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO nodes (id, url, started_at, heartbeat_at) "
                f"VALUES (?, ?, {now}, {now}) ON CONFLICT (id) DO UPDATE SET "
                "url = excluded.url, started_at = excluded.started_at, "
                "heartbeat_at = excluded.heartbeat_at",
                (node, url),
            )

    def heartbeat(self, node: str, url: str) -> None:
        now = self.clock.now
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO nodes (id, url, started_at, heartbeat_at) "
                f"VALUES (?, ?, {now}, {now}) ON CONFLICT (id) DO UPDATE SET "
                "heartbeat_at = excluded.heartbeat_at",
                (node, url),
            )

    def nodes(self, timeout_s: float) -> list[NodeRow]:
        """Every node known, alive when its last heartbeat is younger than ``timeout_s``."""
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT id, url, heartbeat_at > {self.clock.plus()} FROM nodes ORDER BY id",
                (-timeout_s,),
            )
        return [NodeRow(r[0], r[1], bool(r[2])) for r in rows]

    def forget_node(self, node: str) -> None:
        """A node leaving cleanly: its row goes, its leases expire now."""
        with self.db.write() as tx:
            tx.execute("DELETE FROM nodes WHERE id = ?", (node,))
            tx.execute(
                f"UPDATE camera_leases SET expires_at = {self.clock.plus()} WHERE node = ?",
                (-1.0, node),
            )
            tx.execute("DELETE FROM streams WHERE node = ?", (node,))

    # -- camera leases ------------------------------------------------------------------------

    def acquire(self, camera: str, node: str, ttl_s: float) -> int | None:
        """Take ``camera``'s lease for ``node`` if it is free (expired) or already ``node``'s;
        the new epoch, or None when another node holds it."""
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO camera_leases (camera, node, epoch, expires_at) "
                f"VALUES (?, ?, 0, {self.clock.plus()}) ON CONFLICT (camera) DO NOTHING",
                (camera, node, -1.0),
            )
            rows = tx.execute(
                f"UPDATE camera_leases SET node = ?, epoch = epoch + 1, expires_at = "
                f"{self.clock.plus()} WHERE camera = ? AND (expires_at < {self.clock.now} "
                "OR node = ?) RETURNING epoch",
                (node, ttl_s, camera, node),
            )
        return int(rows[0][0]) if rows else None

    def renew(self, camera: str, node: str, epoch: int, ttl_s: float) -> bool:
        """Extend the lease ``node`` holds under ``epoch``; False when it was taken or removed
        (even if it expired meanwhile, nobody else took it, so the epoch stays valid)."""
        with self.db.write() as tx:
            rows = tx.execute(
                f"UPDATE camera_leases SET expires_at = {self.clock.plus()} "
                "WHERE camera = ? AND node = ? AND epoch = ? RETURNING epoch",
                (ttl_s, camera, node, epoch),
            )
        return bool(rows)

    def release(self, camera: str, node: str, epoch: int) -> None:
        """Give the lease up now (the camera moves to its new place without waiting)."""
        with self.db.write() as tx:
            tx.execute(
                f"UPDATE camera_leases SET expires_at = {self.clock.plus()} "
                "WHERE camera = ? AND node = ? AND epoch = ?",
                (-1.0, camera, node, epoch),
            )

    def leases(self) -> list[LeaseRow]:
        """The leases in force now (not expired)."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT camera, node, epoch FROM camera_leases "
                f"WHERE expires_at > {self.clock.now} ORDER BY camera"
            )
        return [LeaseRow(r[0], r[1], int(r[2])) for r in rows]

    def epoch(self, camera: str) -> int | None:
        """The camera's current epoch (expired or not), None without a lease row."""
        with self.db.read() as tx:
            rows = tx.execute("SELECT epoch FROM camera_leases WHERE camera = ?", (camera,))
        return int(rows[0][0]) if rows else None

    # -- stream names -------------------------------------------------------------------------

    def claim_stream(self, name: str, node: str, token: str, timeout_s: float) -> bool:
        """Register a TCP stream name for ``token`` on ``node``; False when a live stream
        (heartbeat younger than ``timeout_s``) has it, or a camera of the cluster does."""
        with self.db.write() as tx:
            if tx.execute("SELECT 1 FROM cameras WHERE name = ?", (name,)):
                return False
            rows = tx.execute(
                "INSERT INTO streams (name, node, token, connected_at, heartbeat_at) "
                f"VALUES (?, ?, ?, {self.clock.now}, {self.clock.now}) "
                "ON CONFLICT (name) DO UPDATE SET node = excluded.node, token = excluded.token, "
                "connected_at = excluded.connected_at, heartbeat_at = excluded.heartbeat_at "
                f"WHERE streams.heartbeat_at < {self.clock.plus()} RETURNING token",
                (name, node, token, -timeout_s),
            )
        return bool(rows)

    def heartbeat_streams(self, tokens: list[str]) -> None:
        if not tokens:
            return
        marks = ", ".join("?" for _ in tokens)
        with self.db.write() as tx:
            tx.execute(
                f"UPDATE streams SET heartbeat_at = {self.clock.now} WHERE token IN ({marks})",
                tokens,
            )

    def release_stream(self, name: str, token: str) -> None:
        with self.db.write() as tx:
            tx.execute("DELETE FROM streams WHERE name = ? AND token = ?", (name, token))

    def streams(self, timeout_s: float) -> list[tuple[str, str]]:
        """Live streams as (name, node)."""
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT name, node FROM streams WHERE heartbeat_at > {self.clock.plus()} "
                "ORDER BY name",
                (-timeout_s,),
            )
        return [(r[0], r[1]) for r in rows]

    # -- the cluster view ---------------------------------------------------------------------

    def view(self, timeout_s: float) -> list[dict[str, Any]]:
        """``GET /api/v1/cluster``: every node, whether alive, and the cameras it owns now."""
        nodes = self.nodes(timeout_s)
        owned: dict[str, list[str]] = {}
        for lease in self.leases():
            owned.setdefault(lease.node, []).append(lease.camera)
        return [
            {"id": n.id, "url": n.url, "alive": n.alive, "cameras": sorted(owned.get(n.id, []))}
            for n in nodes
        ]
