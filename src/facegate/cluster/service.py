"""``ClusterNode``: what a process knows of the cluster, built once per process (``Services``).

It names this node (id and URL), holds the cluster store, registers the TCP stream names this
process serves (so a second live HELLO with the same name anywhere is refused) and makes the
process's ``LeaseKeeper`` (cameras). The stream server heartbeats its names.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any

from facegate.cluster.auth import NodeTokens
from facegate.cluster.node import LeaseKeeper, Timings, node_id_for
from facegate.cluster.store import ClusterStore, NodeRow
from facegate.config import Settings
from facegate.gallery.db import Database

log = logging.getLogger(__name__)


def timings_from(settings: Settings) -> Timings:
    """The keeper's timings; the housekeeping is offered every 30 s, or a quarter of
    ``node_forget_s`` when that is shorter (a node is forgotten at most 25 % late)."""
    lease = settings.cluster.lease_s
    forget = settings.cluster.node_forget_s
    return Timings(
        lease_s=lease,
        renew_s=min(settings.cluster.renew_s, lease / 2),
        deadline_s=min(settings.cluster.renew_deadline_s, lease * 0.9),
        node_timeout_s=settings.cluster.node_timeout_s,
        node_forget_s=forget,
        housekeep_s=min(30.0, forget / 4) if forget > 0 else 30.0,
    )


def default_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` for a listen address (a wildcard address names the host)."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ClusterNode:
    """This process's view of the cluster (the database decides; nothing is cached here but
    the stream names this process registered)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.store = ClusterStore(db)
        self.timings = timings_from(settings)
        self._lock = threading.Lock()
        self._streams: dict[str, str] = {}  # token -> name, for the heartbeat

    @cached_property
    def id(self) -> str:
        return node_id_for(self.settings.storage.data_dir, self.settings.cluster.node_id)

    @property
    def url(self) -> str:
        return self.settings.cluster.node_url or default_url("127.0.0.1", 8000)

    @property
    def shared(self) -> bool:
        """Whether other hosts may share this database (PostgreSQL). SQLite serves one host:
        its live view stays in-process (no node look-ups, no proxying)."""
        return self.store.db.dialect == "postgres"

    @cached_property
    def tokens(self) -> NodeTokens:
        """Node tokens signed with the cluster secret (facegate.cluster.auth)."""
        return NodeTokens(self.store.db)

    # -- where things run (blocking: call from a thread) ---------------------------------------

    def peers(self) -> list[NodeRow]:
        """The other nodes that are alive now."""
        return [
            n for n in self.store.nodes(self.timings.node_timeout_s) if n.alive and n.id != self.id
        ]

    def placed(self) -> dict[str, tuple[str, str]]:
        """Every live stream and leased camera of the cluster: name -> (kind, node)."""
        found = {c.camera: ("camera", c.node) for c in self.store.leases()}
        for name, node in self.store.streams(self.timings.node_timeout_s):
            found.setdefault(name, ("tcp", node))
        return found

    def owner(self, name: str) -> NodeRow | None:
        """The alive node, other than this one, that runs stream or camera ``name``."""
        where = self.placed().get(name)
        if where is None or where[1] == self.id:
            return None
        return next((n for n in self.peers() if n.id == where[1]), None)

    def keeper(
        self,
        *,
        may_run: Callable[[str], bool],
        let_go: Callable[[str], None],
        on_change: Callable[[], None],
    ) -> LeaseKeeper:
        return LeaseKeeper(
            self.store,
            self.id,
            self.url,
            self.timings,
            may_run=may_run,
            let_go=let_go,
            on_change=on_change,
        )

    # -- stream names (blocking: call from a thread) -------------------------------------------

    def claim_stream(self, name: str) -> str | None:
        """Register ``name`` for a new TCP stream of this process; its token, or None when a
        live stream (or a camera) of the cluster already has the name."""
        token = secrets.token_hex(8)
        if not self.store.claim_stream(name, self.id, token, self.timings.node_timeout_s):
            return None
        with self._lock:
            self._streams[token] = name
        return token

    def release_stream(self, name: str, token: str) -> None:
        with self._lock:
            self._streams.pop(token, None)
        self.store.release_stream(name, token)

    def stream_tokens(self) -> list[str]:
        with self._lock:
            return list(self._streams)

    def heartbeat_streams(self) -> None:
        self.store.heartbeat_streams(self.stream_tokens())

    def release_all_streams(self) -> None:
        with self._lock:
            held, self._streams = self._streams, {}
        for token, name in held.items():
            self.store.release_stream(name, token)

    def view(self) -> dict[str, Any]:
        """The ``GET /api/v1/cluster`` answer."""
        return {"nodes": self.store.view(self.timings.node_timeout_s)}
