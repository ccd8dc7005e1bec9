"""This host as a node of the cluster: its id and URL, its heartbeat, the camera leases it
holds and the stream names it registered.

A node is a host (a data dir), not a process: the workers of one ``facegate serve
--workers N`` share the node id kept in ``<data_dir>/node-id``, and between them a camera is
run by the worker that holds its file lock (``may_run``), which is also the only worker that
takes and renews the camera's lease. So the database decides which *host* runs a camera and
the kernel decides which of its workers does.

``LeaseKeeper`` is one thread per process. Every ``cluster_renew_s`` it heartbeats the node,
reads the cameras and the live nodes, and for each camera placed on this node (rendezvous
hashing, ``placement.place``) takes or renews the lease; a camera placed elsewhere is released
at once (its new node takes it without waiting for the expiry). Each lease it holds gets a
local *deadline* on the monotonic clock: the moment its last successful renewal *started*,
plus ``cluster_renew_deadline_s`` (shorter than the lease). The camera manager stops the
camera when the deadline passes, whether or not this thread is stuck in a database call, so a
cut-off or paused owner stops capturing before anyone else may take the lease. Every
``housekeep_s`` the thread also offers to run the once-per-cluster housekeeping (forgetting
nodes gone for ``cluster.node_forget_s``, pruning epoch starts): whichever process gets the
advisory lock runs it, so it keeps running as long as any host is up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facegate.cluster.placement import place
from facegate.cluster.store import CameraRow, ClusterStore

log = logging.getLogger(__name__)


def node_id_for(data_dir: Path, configured: str | None = None) -> str:
    """``configured``, else the id kept in ``<data_dir>/node-id`` (made once, from the host
    name and a random suffix, so two data dirs on one machine are two nodes)."""
    if configured:
        return configured
    path = data_dir / "node-id"
    with contextlib.suppress(FileNotFoundError):
        found = path.read_text(encoding="utf-8").strip()
        if found:
            return found
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = f"{socket.gethostname()}-{secrets.token_hex(4)}"
    try:  # O_EXCL: of workers starting at once, the first one's id wins
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        time.sleep(0.05)
        return path.read_text(encoding="utf-8").strip() or made
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(made + "\n")
    return made


@dataclass(frozen=True, slots=True)
class Lease:
    """A camera lease this process holds: the camera, its epoch, and the monotonic moment by
    which the camera must have stopped unless renewed again."""

    camera: CameraRow
    epoch: int
    deadline: float


@dataclass(frozen=True, slots=True)
class Timings:
    lease_s: float = 10.0
    renew_s: float = 2.0
    deadline_s: float = 7.0
    node_timeout_s: float = 10.0
    node_forget_s: float = 600.0  # 0: never forget a node
    housekeep_s: float = 30.0  # how often this process offers to run the cluster housekeeping


class LeaseKeeper:
    """The node's heartbeat and its camera leases, on a thread of their own."""

    def __init__(
        self,
        store: ClusterStore,
        node: str,
        url: str,
        timings: Timings,
        *,
        may_run: Callable[[str], bool] = lambda camera: True,
        let_go: Callable[[str], None] = lambda camera: None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.store, self.node, self.url, self.t = store, node, url, timings
        self.may_run, self.let_go, self.on_change = may_run, let_go, on_change
        self._lock = threading.Lock()
        self._held: dict[str, Lease] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cluster-leases", daemon=True)
        self.cycles = 0
        self._housekept = 0.0  # monotonic time of the last housekeeping offer (0: never)

    def start(self) -> None:
        """Register the node and run the first cycle here (a starting server owns its
        cameras before it reports ready), then keep cycling on the thread."""
        self.store.register_node(self.node, self.url)
        try:
            self.cycle()
        except Exception as exc:
            log.warning("cluster: first lease cycle failed (%s)", type(exc).__name__)
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and give every lease up (a clean shutdown moves cameras at once)."""
        self._stop.set()
        self._thread.join(timeout=10)
        with self._lock:
            held, self._held = self._held, {}
        for name, lease in held.items():
            with contextlib.suppress(Exception):
                self.store.release(name, self.node, lease.epoch)
            self.let_go(name)

    def held(self) -> dict[str, Lease]:
        """The leases held now whose deadline has not passed (a snapshot; any thread)."""
        now = time.monotonic()
        with self._lock:
            return {n: lease for n, lease in self._held.items() if lease.deadline > now}

    def _run(self) -> None:
        while not self._stop.wait(self.t.renew_s):
            began = time.monotonic()
            try:
                self.cycle()
            except Exception as exc:  # database away: the deadlines stop the cameras
                log.warning("cluster: lease cycle failed (%s)", type(exc).__name__)
            self.housekeep()
            self.cycles += 1
            if time.monotonic() - began > self.t.renew_s:
                log.warning("cluster: a lease cycle took %.1f s", time.monotonic() - began)

    def housekeep(self) -> None:
        """Every ``housekeep_s``, offer to run the once-per-cluster housekeeping
        (``ClusterStore.housekeep``: one host of the cluster runs it, the others skip)."""
        now = time.monotonic()
        if self._housekept and now - self._housekept < self.t.housekeep_s:
            return
        self._housekept = now
        try:
            gone = self.store.housekeep(self.t.node_forget_s)
        except Exception as exc:
            log.warning("cluster: housekeeping failed (%s)", type(exc).__name__)
            return
        if gone:
            forget_s = self.t.node_forget_s
            log.info(
                "cluster: forgot node(s) %s (no heartbeat for %.0f s)", ", ".join(gone), forget_s
            )

    def cycle(self) -> None:
        """One round: heartbeat, then take, renew or release each camera's lease."""
        self.store.heartbeat(self.node, self.url)
        cameras = {c.name: c for c in self.store.cameras()}
        live = [n.id for n in self.store.nodes(self.t.node_timeout_s) if n.alive]
        if self.node not in live:
            live.append(self.node)  # we just heartbeat: we are alive whatever the read says
        changed = False
        for name in list(self._snapshot()):
            if name not in cameras:  # removed from the cluster
                changed |= self._drop(name, release=True)
        for name, camera in cameras.items():
            if place(name, live, camera.pinned_node) != self.node:
                if name in self._snapshot():
                    log.info("cluster: camera %s placed on another node, releasing it", name)
                    changed |= self._drop(name, release=True)
                continue
            if not self.may_run(name):
                continue  # another worker of this host runs it
            changed |= self._keep(camera)
        if changed:
            self.on_change()

    def _snapshot(self) -> dict[str, Lease]:
        with self._lock:
            return dict(self._held)

    def _keep(self, camera: CameraRow) -> bool:
        """Renew or take ``camera``'s lease; whether what this process holds changed."""
        began = time.monotonic()  # the deadline counts from before the statement was sent
        held = self._snapshot().get(camera.name)
        if held is not None and held.deadline > began:
            if self.store.renew(camera.name, self.node, held.epoch, self.t.lease_s):
                with self._lock:
                    self._held[camera.name] = Lease(camera, held.epoch, began + self.t.deadline_s)
                return held.camera != camera
            log.warning("cluster: camera %s lease (epoch %d) lost", camera.name, held.epoch)
            self._drop(camera.name, release=False)
            return True
        if held is not None:  # its deadline passed: the camera stopped; take a new epoch
            self._drop(camera.name, release=False, keep_local=True)
        epoch = self.store.acquire(camera.name, self.node, self.t.lease_s)
        if epoch is None:
            if held is not None:
                self.let_go(camera.name)
            return held is not None
        with self._lock:
            self._held[camera.name] = Lease(camera, epoch, began + self.t.deadline_s)
        log.info("cluster: camera %s leased to node %s, epoch %d", camera.name, self.node, epoch)
        return True

    def _drop(self, name: str, *, release: bool, keep_local: bool = False) -> bool:
        with self._lock:
            lease = self._held.pop(name, None)
        if lease is None:
            return False
        if release:
            with contextlib.suppress(Exception):
                self.store.release(name, self.node, lease.epoch)
        if not keep_local:
            self.let_go(name)
        return True
