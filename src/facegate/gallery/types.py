"""The typed values that cross the gallery's seams: people, templates, snapshots, changes.

Everything here is a frozen dataclass so a value read from the database cannot be mutated by
one caller under another's feet (the gallery is shared by a thread pool).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

# Free-form JSON attached to a person (employee data, notes) or a template (quality report).
JsonObject = Mapping[str, Any]

EMBEDDING_DTYPE = np.dtype("<f4")


def embedding_to_bytes(embedding: np.ndarray) -> bytes:
    """Serialise one embedding as little-endian float32 (portable between machines)."""
    vector = np.asarray(embedding, dtype=EMBEDDING_DTYPE).reshape(-1)
    return vector.tobytes()


def embedding_from_bytes(blob: bytes) -> np.ndarray:
    """The inverse of :func:`embedding_to_bytes` (a fresh, writable float32 array)."""
    return np.frombuffer(blob, dtype=EMBEDDING_DTYPE).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Person:
    """An enrolled person. ``external_id`` is the caller's key (e.g. an employee number)."""

    id: int
    name: str
    external_id: str | None
    metadata: JsonObject
    created_at: datetime
    updated_at: datetime
    template_count: int = 0


@dataclass(frozen=True, slots=True)
class SealedPhoto:
    """An enrolment photo encrypted by ``facegate.photos`` (the gallery stores only this):
    nonce, ciphertext with its authentication tag, and the id of the key."""

    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    key_id: str


@dataclass(frozen=True, slots=True)
class NewTemplate:
    """A template to add: what the operations layer builds from an engine ``Face``.

    ``quality`` is the engine's ``Quality.as_dict()``; ``source_sha256`` the hash of the photo
    it came from (duplicate detection, resumable enrolment); ``thumbnail`` an optional small
    JPEG of the face for the pages (dropped when thumbnails are switched off); ``photo`` the
    encrypted photo when photos are kept (``photos_keep``).
    """

    embedding: np.ndarray = field(repr=False, compare=False)
    model_id: str
    model_sha256: str
    quality: JsonObject = field(default_factory=dict)
    source_sha256: str | None = None
    thumbnail: bytes | None = field(default=None, repr=False)
    photo: SealedPhoto | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Template:
    """A stored template. The embedding is a unit float32 vector; the thumbnail is fetched
    separately (``Store.thumbnail``) so listing templates never drags images around."""

    id: int
    person_id: int
    embedding: np.ndarray = field(repr=False, compare=False)
    model_id: str
    model_sha256: str
    quality: JsonObject
    source_sha256: str | None
    has_thumbnail: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PersonPage:
    """One page of a person listing, with the total matching the search."""

    items: tuple[Person, ...]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class ModelPin:
    """The model a gallery's embeddings come from; None until the first template is added."""

    model_id: str | None
    model_sha256: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every template vector at one revision: what an index is (re)built from."""

    revision: int
    template_ids: np.ndarray = field(repr=False)  # int64, shape (n,)
    person_ids: np.ndarray = field(repr=False)  # int64, shape (n,)
    vectors: np.ndarray = field(repr=False)  # float32, shape (n, dim)


ChangeOp = Literal["add", "remove", "move"]


@dataclass(frozen=True, slots=True)
class Change:
    """One logged change to the template set, in commit order.

    ``add`` carries the embedding (None if the template was removed again later, in which case
    a ``remove`` follows); ``move`` gives the template's new owner (merges).
    """

    revision: int
    op: ChangeOp
    template_id: int
    person_id: int
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """The changes after a revision up to ``revision``; ``complete`` is False when the log was
    pruned past the caller's revision and it must rebuild from a snapshot instead."""

    revision: int
    changes: tuple[Change, ...]
    complete: bool
