"""Fill a gallery with many people of random unit-vector templates, fast (benchmarks, tests).

The regular API writes one person per transaction and logs every template, which takes
minutes for a million templates. This writes people and templates in large batches, pins the
model, and moves the revision **and the log floor** past them: a worker that was running
rebuilds from the database (or a snapshot) instead of replaying a log that was never written,
as it would after the log was pruned.
"""

from __future__ import annotations

import json

import numpy as np

from facegate.bench.gallery_bench import random_unit_vectors
from facegate.gallery.db import utcnow
from facegate.gallery.store import SqlStore
from facegate.gallery.types import embedding_to_bytes

_BATCH = 2000


def load_random_people(
    store: SqlStore,
    people: int,
    *,
    per_person: int = 3,
    dim: int = 128,
    seed: int = 0,
    model: tuple[str, str] = ("bench-model", "00" * 32),
) -> np.ndarray:
    """Add ``people`` people with ``per_person`` random unit templates each; returns the
    vectors in insertion order (person by person)."""
    vectors = random_unit_vectors(people * per_person, dim, np.random.default_rng(seed))
    db = store.db
    now = db.to_db_time(utcnow())
    for start in range(0, people, _BATCH):
        count = min(_BATCH, people - start)
        with db.write() as tx:
            rows = tx.execute(
                "INSERT INTO people (name, metadata, created_at, updated_at) VALUES "
                + ", ".join(["(?, ?, ?, ?)"] * count)
                + " RETURNING id",
                [v for i in range(count) for v in (f"bench {start + i}", "{}", now, now)],
            )
            ids = sorted(int(r[0]) for r in rows)
            first = start * per_person
            tx.executemany(
                "INSERT INTO templates (person_id, embedding, model_id, model_sha256, quality, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        pid,
                        embedding_to_bytes(vectors[first + i * per_person + j]),
                        model[0],
                        model[1],
                        json.dumps({}),
                        now,
                    )
                    for i, pid in enumerate(ids)
                    for j in range(per_person)
                ],
            )
            tx.execute(
                "UPDATE gallery_meta SET model_id = ?, model_sha256 = ? "
                "WHERE id = 1 AND model_id IS NULL",
                model,
            )
            tx.execute(
                "UPDATE gallery_meta SET revision = revision + 1, log_floor = revision + 1 "
                "WHERE id = 1"
            )
    return vectors
