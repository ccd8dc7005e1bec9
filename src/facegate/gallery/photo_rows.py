"""The SQL of kept enrolment photos (table ``enrolment_photos``, migration 10) and of
``facegate reembed``'s one-transaction rewrite of every template.

Photos are opaque ciphertext here (``SealedPhoto``): the gallery never sees an image.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from facegate.gallery.db import Database, Tx
from facegate.gallery.types import JsonObject, SealedPhoto, embedding_to_bytes


@dataclass(frozen=True, slots=True)
class KeptPhoto:
    """A template's kept photo, with whose face it is."""

    template_id: int
    person_id: int
    sealed: SealedPhoto


@dataclass(frozen=True, slots=True)
class NewEmbedding:
    """A template's replacement from ``reembed`` (same template id, photo and thumbnail)."""

    embedding: np.ndarray
    quality: JsonObject


def insert_photo(tx: Tx, template_id: int, photo: SealedPhoto, now: Any) -> None:
    tx.execute(
        "INSERT INTO enrolment_photos (template_id, nonce, ciphertext, key_id, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (template_id, photo.nonce, photo.ciphertext, photo.key_id, now),
    )


def kept_photos(db: Database) -> list[KeptPhoto]:
    """Every kept photo, by template id."""
    with db.read() as tx:
        rows = tx.execute(
            "SELECT p.template_id, t.person_id, p.nonce, p.ciphertext, p.key_id "
            "FROM enrolment_photos p JOIN templates t ON t.id = p.template_id ORDER BY 1"
        )
    return [
        KeptPhoto(int(r[0]), int(r[1]), SealedPhoto(bytes(r[2]), bytes(r[3]), str(r[4])))
        for r in rows
    ]


def faces_without_photo(db: Database) -> list[tuple[int, str, int]]:
    """(person id, name, faces) for everyone with a face whose photo was not kept."""
    with db.read() as tx:
        rows = tx.execute(
            "SELECT p.id, p.name, COUNT(*) FROM templates t JOIN people p ON p.id = t.person_id "
            "LEFT JOIN enrolment_photos e ON e.template_id = t.id WHERE e.template_id IS NULL "
            "GROUP BY p.id, p.name ORDER BY p.id"
        )
    return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]


def rewrite_templates(
    tx: Tx, updates: Mapping[int, NewEmbedding], model_id: str, model_sha256: str
) -> None:
    """Replace every template's embedding in place and re-pin the gallery to a new model.

    Ids, photos and thumbnails stay. The change log cannot express "every vector changed": the
    caller restarts it in the same transaction (``SqlStore.restart_log``), so every worker
    rebuilds its index from a snapshot at its next revision check (``Gallery.sync``)."""
    count = int(tx.execute("SELECT COUNT(*) FROM templates")[0][0])
    if count != len(updates):
        raise RuntimeError("a template was added or removed during reembed; run it again")
    tx.executemany(
        "UPDATE templates SET embedding = ?, model_id = ?, model_sha256 = ?, quality = ? "
        "WHERE id = ?",
        [
            (
                embedding_to_bytes(new.embedding),
                model_id,
                model_sha256,
                json.dumps(dict(new.quality)),
                template_id,
            )
            for template_id, new in updates.items()
        ],
    )
    tx.execute(
        "UPDATE gallery_meta SET model_id = ?, model_sha256 = ? WHERE id = 1",
        (model_id, model_sha256),
    )
