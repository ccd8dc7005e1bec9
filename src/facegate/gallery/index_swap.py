"""Replacing a gallery's index without stalling its searches (a mixin of ``Gallery``).

A rebuild — compaction after many deletions, the delta segment folded into the base, a change
log pruned past this worker, or a newer snapshot file to map — never holds the search lock
while it builds: the new index is built from a database snapshot (or mapped from a snapshot
file, ``snapshot_job.py``) aside, the changes committed since that snapshot are replayed onto
it (still outside every lock, as it is private to the rebuilding thread), and only the last
few changes and the swap of the reference happen under the locks, for a moment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from facegate.gallery.index import IndexParams, VectorIndex, replay
from facegate.gallery.snapshot_job import SnapshotJob
from facegate.gallery.store import SqlStore

log = logging.getLogger("facegate.gallery.gallery")
# Rebuilds remembered (diagnostics and ``facegate bench gallery --delete-fraction``).
REBUILDS_KEPT = 50


@dataclass(frozen=True, slots=True)
class RebuildRecord:
    """One index swapped in: when its rebuild started and when it was swapped in
    (``time.monotonic()``), the revision it reflected then and where its base came from."""

    started: float
    swapped: float
    revision: int
    source: str


class IndexSwap:
    """Rebuild-aside-and-swap over the attributes ``Gallery`` sets up."""

    store: SqlStore
    snapshots: SnapshotJob | None
    index_params: IndexParams
    background: bool
    _index: VectorIndex | None
    _revision: int
    _checked: float
    _lock: threading.RLock
    _update_lock: threading.Lock
    _rebuild_lock: threading.Lock
    _rebuilding: bool
    rebuilds: deque[RebuildRecord]  # the last REBUILDS_KEPT swaps, oldest first

    def _refresh_operating_point(self, model: tuple[str, str] | None = None) -> None:
        raise NotImplementedError

    @property
    def index_source(self) -> str:
        """Where the index's base comes from: "memory" or the mapped snapshot file."""
        index = self._index
        return index.source if index is not None else "memory"

    def rebuild(self, *, starting: bool = False) -> None:
        """Replace the index by one built outside the search lock, then swap it in.

        Starting, a worker maps the newest valid snapshot (waiting for a worker that is
        publishing one) or builds from the database and publishes that; later (compaction, a
        pruned log, a newer snapshot published by another worker) it maps a snapshot newer
        than its own base, else publishes a fresh one if it gets the lock, else builds
        privately from the database."""
        with self._rebuild_lock:
            files = True
            for _attempt in range(3):
                started = time.monotonic()
                fresh, revision = self._fresh_index(starting, files)
                if self._swap_in(fresh, revision, started):
                    return
                if fresh is not None and fresh.source != "memory":
                    log.warning(
                        "gallery snapshot %s ignored: the change log no longer reaches back "
                        "to its revision %d",
                        fresh.source,
                        revision,
                    )
                    files = False
            raise RuntimeError("the change log was pruned faster than the index was rebuilt")

    def _fresh_index(self, starting: bool, files: bool) -> tuple[VectorIndex | None, int]:
        job = self.snapshots
        if job is not None and files:
            if not starting:  # a newer snapshot than this worker's base is the cheap way
                loaded = job.load()
                if loaded is not None and loaded.revision > self.base_revision:
                    return loaded, loaded.revision
            built = job.publish(force=True, wait=starting)
            if built is not None:
                return built, built.revision
        snapshot = self.store.snapshot()
        if len(snapshot.template_ids) == 0:
            return None, snapshot.revision
        dim = snapshot.vectors.shape[1]
        fresh = VectorIndex.from_snapshot(snapshot, dim, self.index_params, auto_rebuild=False)
        return fresh, snapshot.revision

    @property
    def base_revision(self) -> int:
        """The revision the index's base segment was built at (-1 without an index): a
        rebuild moves it, so a base at or past a deletion's revision no longer holds the
        deleted rows even as tombstones."""
        index = self._index
        return index.base_revision if index is not None else -1

    def _swap_in(self, fresh: VectorIndex | None, revision: int, started: float) -> bool:
        """Replay onto ``fresh`` (private to this thread) what was committed after
        ``revision``; False if the log no longer reaches back that far."""
        for _round in range(3):  # outside every lock: usually one round catches up
            changes = self.store.changes_since(revision)
            if not changes.complete:
                return False
            fresh = replay(fresh, changes.changes, self.index_params, auto_rebuild=False)
            revision = changes.revision
            if revision >= self._revision:
                break
        with self._update_lock:  # no catch-up in between: the last changes, then the swap
            changes = self.store.changes_since(revision)
            if not changes.complete:
                return False
            fresh = replay(fresh, changes.changes, self.index_params, auto_rebuild=False)
            if fresh is not None:
                fresh.revision = changes.revision
            with self._lock:
                self._index = fresh
                self._revision = changes.revision
                self._checked = max(self._checked, started)
        swapped = time.monotonic()
        self.rebuilds.append(RebuildRecord(started, swapped, changes.revision, self.index_source))
        self._refresh_operating_point()
        log.info(
            "gallery index ready: %d templates at revision %d (%s) in %.2f s",
            len(fresh) if fresh is not None else 0,
            changes.revision,
            self.index_source,
            swapped - started,
        )
        return True

    def refresh_snapshot(self) -> str | None:
        """The periodic snapshot check: publish one if due (and this worker gets the lock),
        or map a newer one another worker published. Says what it did."""
        job = self.snapshots
        if job is None:
            return None
        if job.due() is not None:
            with self._rebuild_lock:
                started = time.monotonic()
                built = job.publish()
                if built is not None and self._swap_in(built, built.revision, started):
                    return "published"
        newest = job.newest()
        if newest is not None and newest[0] > self.base_revision:
            self.rebuild()
            return "mapped"
        return None

    def _compact_if_wanted(self) -> None:
        """Start a rebuild when the index wants one (in the background with the watchers)."""
        index = self._index
        if index is None or not index.wants_rebuild or self._rebuilding:
            return
        self._rebuilding = True

        def run() -> None:
            try:
                self.rebuild()
            except Exception:
                log.exception("gallery index rebuild failed")
            finally:
                self._rebuilding = False

        if self.background:
            threading.Thread(target=run, name="gallery-rebuild", daemon=True).start()
        else:
            run()
