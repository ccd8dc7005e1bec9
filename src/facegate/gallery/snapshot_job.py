"""When a host publishes an index snapshot, and which one its workers map.

Snapshots are **per host**: each host writes them into its own data dir (``data_dir/index``)
and its workers map them. A cluster-wide singleton (a PostgreSQL advisory lock) would leave
every other host without a local file to map, and a shared file system is not assumed, so the
one-publisher rule is per data dir: an ``flock`` on ``index/publish.lock`` (the same on SQLite
and PostgreSQL). Each worker checks every ``gallery.snapshot_check_s``; the one that gets the
lock publishes when a snapshot is *due*:

- there is none yet and the gallery has templates;
- ``gallery.snapshot_min_changes`` templates were added, removed or moved since the newest;
- templates were removed and the newest is ``gallery.snapshot_erase_s`` old (a deleted
  person's vectors leave the disk within about that plus a check and a build: the new set is
  written, then every older file is unlinked; workers that still map an old file drop it at
  their next check, when they map the new one);
- anything changed and the newest is ``gallery.snapshot_interval_s`` old;
- the change log was pruned past the newest (a worker could no longer replay from it).

Publishing builds from the database snapshot (outside any search lock) and writes the files;
the publisher then maps the file it wrote, like everyone else.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from facegate.config import Settings
from facegate.gallery.index import IndexParams, VectorIndex
from facegate.gallery.snapshot_files import (
    load_newest,
    manifests,
    publish_lock,
    remove_others,
    write_snapshot,
)
from facegate.gallery.store import SqlStore

log = logging.getLogger(__name__)


def database_identity(database_url: str | None) -> str:
    """What a snapshot is stamped with to tell databases apart (no password in it): SQLite
    lives in the data dir itself; for PostgreSQL a hash of host, port, database and user."""
    if database_url is None:
        return "sqlite"
    import psycopg.conninfo

    info = psycopg.conninfo.conninfo_to_dict(database_url)
    key = "|".join(str(info.get(k, "")) for k in ("host", "port", "dbname", "user"))
    return "postgres:" + hashlib.sha256(key.encode()).hexdigest()[:16]


class SnapshotJob:
    """Publishing and loading the snapshots of one data dir for one gallery."""

    def __init__(self, settings: Settings, store: SqlStore, params: IndexParams) -> None:
        self.settings = settings
        self.store = store
        self.params = params
        self.directory = Path(settings.storage.data_dir) / "index"
        self.database = database_identity(settings.storage.database_url)

    def newest(self) -> tuple[int, Path] | None:
        found = manifests(self.directory) if self.directory.is_dir() else []
        return found[0] if found else None

    def load(self) -> VectorIndex | None:
        """The newest valid snapshot, mapped (None if there is none)."""
        return load_newest(
            self.directory,
            pin=self.store.model_pin(),
            database=self.database,
            revision_now=self.store.revision(),
            params=self.params,
            full_check=self.settings.gallery.snapshot_full_check,
        )

    def due(self) -> str | None:
        """Why a snapshot should be published now, or None."""
        newest = self.newest()
        if newest is None:
            return "none yet" if self.store.count_templates() else None
        revision, path = newest
        if revision >= self.store.revision():
            return None
        changed, removed, complete = self.store.change_stats(revision)
        if not complete:
            return "log pruned past the newest snapshot"
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:  # removed by a publisher in the meantime
            return None
        s = self.settings
        if changed >= s.gallery.snapshot_min_changes:
            return f"{changed} changes"
        if removed and age >= s.gallery.snapshot_erase_s:
            return f"{removed} templates removed"
        if changed and age >= s.gallery.snapshot_interval_s:
            return "interval"
        return None

    def publish(self, *, force: bool = False, wait: bool = False) -> VectorIndex | None:
        """If this process gets the publish lock (``wait``: waits for it) and a snapshot is due
        (``force``: always), build one from the database, write it and return it mapped. With
        ``wait`` (a worker starting) a valid snapshot another worker just wrote is mapped
        instead of building. None if nothing was published or the gallery is empty."""
        with publish_lock(self.directory, wait=wait) as mine:
            if not mine:
                return None
            if wait and (loaded := self.load()) is not None:
                return loaded
            reason = "forced" if force else self.due()
            if reason is None:
                return None
            started = time.monotonic()
            snapshot = self.store.snapshot()
            if len(snapshot.template_ids) == 0:  # everyone deleted: no vectors stay on disk
                remove_others(self.directory, "\x00")
                return None
            built = VectorIndex.from_snapshot(
                snapshot, snapshot.vectors.shape[1], self.params, auto_rebuild=False
            )
            del snapshot
            manifest = write_snapshot(self.directory, built, self.store.model_pin(), self.database)
            log.info(
                "gallery snapshot published (%s): %d templates at revision %d in %.1f s",
                reason,
                manifest.count,
                manifest.revision,
                time.monotonic() - started,
            )
            return self.load() or built
