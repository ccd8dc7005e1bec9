"""The gallery's revision, change log, snapshots and model pin (a mixin of ``SqlStore``).

Every change to the set of templates runs :meth:`RevisionLog._bump` and :meth:`_log` inside
its own transaction, so the revision, the log and the data can never disagree. Readers use
:meth:`changes_since` to catch up incrementally or :meth:`snapshot` to rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facegate.errors import ModelMismatch
from facegate.gallery.db import NOTIFY_CHANNEL, Database, Tx
from facegate.gallery.types import (
    Change,
    ChangeSet,
    ModelPin,
    NewTemplate,
    Snapshot,
    embedding_from_bytes,
)

_SNAPSHOT_CHUNK = 50_000


class RevisionLog:
    """Revision bookkeeping over ``self.db``; ``keep_revisions`` bounds the log."""

    db: Database
    keep_revisions: int

    def model_pin(self) -> ModelPin:
        with self.db.read() as tx:
            row = tx.execute("SELECT model_id, model_sha256 FROM gallery_meta WHERE id = 1")[0]
        return ModelPin(row[0], row[1])

    def check_model(self, model_id: str, model_sha256: str) -> None:
        """Raise ``ModelMismatch`` early (before any embedding work) if the gallery is pinned
        to another model."""
        _check_pin(self.model_pin(), model_id, model_sha256)

    def _pin(self, tx: Tx, templates: Sequence[NewTemplate]) -> None:
        row = tx.execute("SELECT model_id, model_sha256 FROM gallery_meta WHERE id = 1")[0]
        pin = ModelPin(row[0], row[1])
        first = templates[0]
        for t in templates:
            _check_pin(pin, t.model_id, t.model_sha256)
            _check_pin(ModelPin(first.model_id, first.model_sha256), t.model_id, t.model_sha256)
        if pin.model_id is None:
            tx.execute(
                "UPDATE gallery_meta SET model_id = ?, model_sha256 = ? WHERE id = 1",
                (first.model_id, first.model_sha256),
            )

    def revision(self) -> int:
        """The gallery's current revision (bumped by every change to the template set)."""
        with self.db.read() as tx:
            return int(tx.execute("SELECT revision FROM gallery_meta WHERE id = 1")[0][0])

    def _bump(self, tx: Tx) -> int:
        # The UPDATE takes the meta row's write lock: concurrent PostgreSQL writers queue here,
        # so revisions become visible in the order they are numbered.
        revision = int(
            tx.execute(
                "UPDATE gallery_meta SET revision = revision + 1 WHERE id = 1 RETURNING revision"
            )[0][0]
        )
        if self.db.dialect == "postgres":
            tx.execute("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, str(revision)))
        if revision % 100 == 0 and revision > self.keep_revisions:
            floor = revision - self.keep_revisions
            tx.execute("DELETE FROM gallery_changes WHERE revision <= ?", (floor,))
            tx.execute("UPDATE gallery_meta SET log_floor = ? WHERE id = 1", (floor,))
        return revision

    def restart_log(self, tx: Tx) -> int:
        """Bump the revision and drop the whole log below it, so every index rebuilds from a
        snapshot: for a change the log cannot express (``reembed`` rewrites every vector)."""
        revision = self._bump(tx)
        tx.execute("DELETE FROM gallery_changes")
        tx.execute("UPDATE gallery_meta SET log_floor = ? WHERE id = 1", (revision,))
        return revision

    def _log(self, tx: Tx, revision: int, op: str, items: Sequence[tuple[int, int]]) -> None:
        if items:
            tx.executemany(
                "INSERT INTO gallery_changes (revision, op, template_id, person_id) "
                "VALUES (?, ?, ?, ?)",
                [(revision, op, t, p) for t, p in items],
            )

    def changes_since(self, revision: int) -> ChangeSet:
        """Every logged change after ``revision`` (with the embeddings of added templates)."""
        with self.db.read() as tx:
            current, floor = tx.execute(
                "SELECT revision, log_floor FROM gallery_meta WHERE id = 1"
            )[0]
            if revision < int(floor) or revision > int(current):
                return ChangeSet(int(current), (), complete=False)
            rows = tx.execute(
                "SELECT c.revision, c.op, c.template_id, c.person_id, t.embedding "
                "FROM gallery_changes c LEFT JOIN templates t "
                "ON c.op = 'add' AND t.id = c.template_id "
                "WHERE c.revision > ? ORDER BY c.seq",
                (revision,),
            )
        changes = tuple(
            Change(
                int(r[0]),
                r[1],
                int(r[2]),
                int(r[3]),
                embedding_from_bytes(bytes(r[4])) if r[4] is not None else None,
            )
            for r in rows
        )
        return ChangeSet(int(current), changes, complete=True)

    def change_stats(self, revision: int) -> tuple[int, int, bool]:
        """(templates changed, templates removed) after ``revision``, and whether the log
        still reaches back that far (what the snapshot publisher decides on)."""
        with self.db.read() as tx:
            current, floor = tx.execute(
                "SELECT revision, log_floor FROM gallery_meta WHERE id = 1"
            )[0]
            if revision < int(floor) or revision > int(current):
                return 0, 0, False
            changed, removed = tx.execute(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN op = 'remove' THEN 1 ELSE 0 END), 0) "
                "FROM gallery_changes WHERE revision > ?",
                (revision,),
            )[0]
        return int(changed), int(removed), True

    def snapshot(self) -> Snapshot:
        """Every template vector and the revision they make up, read consistently, on a
        connection of its own (seconds at a million templates: the shared one stays free)."""
        with self.db.read_aside() as tx:
            revision = int(tx.execute("SELECT revision FROM gallery_meta WHERE id = 1")[0][0])
            ids: list[np.ndarray] = []
            owners: list[np.ndarray] = []
            vectors: list[np.ndarray] = []
            last = -1
            while True:  # keyset pagination keeps memory flat on big galleries
                rows = tx.execute(
                    "SELECT id, person_id, embedding FROM templates WHERE id > ? "
                    "ORDER BY id LIMIT ?",
                    (last, _SNAPSHOT_CHUNK),
                )
                if not rows:
                    break
                ids.append(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
                owners.append(np.fromiter((r[1] for r in rows), np.int64, len(rows)))
                blob = b"".join(bytes(r[2]) for r in rows)
                vectors.append(np.frombuffer(blob, "<f4").reshape(len(rows), -1))
                last = int(rows[-1][0])
        if not ids:
            empty = np.zeros(0, np.int64)
            return Snapshot(revision, empty, empty.copy(), np.zeros((0, 0), np.float32))
        return Snapshot(
            revision,
            np.concatenate(ids),
            np.concatenate(owners),
            np.ascontiguousarray(np.concatenate(vectors), dtype=np.float32),
        )


def _check_pin(pin: ModelPin, model_id: str, model_sha256: str) -> None:
    if pin.model_id is None:
        return
    if (pin.model_id, pin.model_sha256) != (model_id, model_sha256):
        raise ModelMismatch(
            f"this gallery holds embeddings of model {pin.model_id} "
            f"(sha256 {str(pin.model_sha256)[:12]}…); refusing a template from model "
            f"{model_id} (sha256 {model_sha256[:12]}…). Embeddings of different models are "
            "not comparable: re-enrol everyone into a new gallery to change models."
        )
