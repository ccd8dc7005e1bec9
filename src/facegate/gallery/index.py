"""The in-memory vector index: faiss, inner product on unit vectors, keyed by template id.

Exact search (``IndexFlatIP``) up to ``exact_max`` live templates; beyond that an approximate
index. Measured on this 2-core machine (1M random 128-D unit vectors, genuine-like probes at
cosine 0.6 to a stored vector; numbers and method in docs/gallery.md):

- ``pq``: 4-bit product-quantisation fast-scan over everything, then the best
  ``k * k_factor`` re-ranked with the exact vectors (``IndexRefineFlat``). The default.
- ``hnsw``: ``IndexHNSWFlat``. On uniformly random 128-D data the graph search needs a very
  large ``efSearch`` to find the true neighbour, and building it for 1M vectors takes minutes.
- IVF was measured too: it loses the true neighbour across cell borders unless it probes a
  large share of the lists, at which point it is slower than the fast scan.

Rows in faiss are positions (0..n-1); ``labels``/``owners`` map a row to its template and
person. Removal marks a row dead (tombstone) and the index compacts itself when a fifth of it
is dead, because neither HNSW nor the fast-scan index can delete in place. The index records
the gallery revision it reflects; the gallery facade owns the locking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import faiss
import numpy as np

from facegate.config.gallery import GallerySettings
from facegate.gallery.types import Snapshot

ApproxKind = Literal["pq", "hnsw"]
_DEAD_FRACTION_TO_COMPACT = 0.2


_DEFAULTS = GallerySettings()  # the defaults are the settings' (facegate.config)


@dataclass(frozen=True, slots=True)
class IndexParams:
    """How to index: exact up to ``exact_max`` live templates, then ``approx``."""

    exact_max: int = _DEFAULTS.exact_max
    approx: ApproxKind = _DEFAULTS.approx_index
    pq_k_factor: int = 16  # re-rank k * this many fast-scan hits exactly
    hnsw_m: int = 32
    hnsw_ef_construction: int = 40
    hnsw_ef_search: int = 256
    train_max: int = 100_000  # vectors sampled to train the product quantiser
    # One probe is searched on one thread. OpenMP across both cores for a single probe made
    # p95 latency 100x worse whenever the other core was busy (measured, docs/gallery.md),
    # and the server already runs one search per face in parallel from its thread pool.
    search_threads: int = 1
    # Building on one thread too: k-means training runs thousands of tiny OpenMP regions, and
    # with the other core busy (inference) their spinning barriers made a 10k build take 54 s
    # on two threads against 1.9 s on one (measured). Set OMP_WAIT_POLICY=PASSIVE and raise
    # this on a dedicated machine.
    build_threads: int = 1


@dataclass(frozen=True, slots=True)
class Hits:
    """Search results for one probe: template ids, their owners and scores, best first."""

    template_ids: np.ndarray  # int64
    person_ids: np.ndarray  # int64
    scores: np.ndarray  # float32, cosine similarity


def _build_faiss(
    dim: int, vectors: np.ndarray, params: IndexParams, exact: bool
) -> tuple[Any, str]:
    """A faiss index holding ``vectors`` as rows 0..n-1, and what kind it is."""
    faiss.omp_set_num_threads(params.build_threads)
    kind = "exact"
    if exact or len(vectors) == 0:
        index: Any = faiss.IndexFlatIP(dim)
    elif params.approx == "pq" and dim % 8 == 0:
        base = faiss.index_factory(dim, f"PQ{dim // 4}x4fs", faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors
        if len(vectors) > params.train_max:
            sample = vectors[np.sort(rng.choice(len(vectors), params.train_max, replace=False))]
        base.train(np.ascontiguousarray(sample))
        index = faiss.IndexRefineFlat(base)
        index.k_factor = float(params.pq_k_factor)
        kind = "pq"
    else:  # HNSW, also for "pq" when the dimension does not split into 4-D sub-vectors
        kind = "hnsw"
        index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.hnsw_ef_construction
        index.hnsw.efSearch = params.hnsw_ef_search
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, kind


class VectorIndex:
    """Template vectors for nearest-neighbour search, with template → person ownership.

    Not thread-safe on its own: ``Gallery`` serialises writers against searchers.
    """

    def __init__(self, dim: int, params: IndexParams | None = None) -> None:
        self.dim = dim
        self.params = params or IndexParams()
        self.revision = 0
        self._exact = True
        self._faiss: Any = faiss.IndexFlatIP(dim)
        self._kind = "exact"
        self._labels = np.zeros(0, np.int64)
        self._owners = np.zeros(0, np.int64)
        self._alive = np.zeros(0, bool)
        self._dead = 0
        self._rows_of: dict[int, list[int]] = {}  # person id -> live rows

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def from_snapshot(
        cls, snapshot: Snapshot, dim: int, params: IndexParams | None = None
    ) -> VectorIndex:
        index = cls(dim, params)
        index._rebuild(snapshot.template_ids, snapshot.person_ids, snapshot.vectors)
        index.revision = snapshot.revision
        return index

    def _rebuild(self, labels: np.ndarray, owners: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self._exact = len(vectors) <= self.params.exact_max
        self._faiss, self._kind = _build_faiss(self.dim, vectors, self.params, self._exact)
        self._labels = np.asarray(labels, np.int64).copy()
        self._owners = np.asarray(owners, np.int64).copy()
        self._alive = np.ones(len(labels), bool)
        self._dead = 0
        self._rows_of = {}
        for row, owner in enumerate(self._owners.tolist()):
            self._rows_of.setdefault(owner, []).append(row)

    def _compact(self) -> None:
        rows = np.flatnonzero(self._alive)
        vectors = self._vectors(rows)
        self._rebuild(self._labels[rows], self._owners[rows], vectors)

    # -- reading -----------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """ "exact", or the approximate index in use."""
        return self._kind

    def __len__(self) -> int:
        return len(self._labels) - self._dead

    @property
    def people(self) -> int:
        """People with at least one live template: the gallery size N of the open-set
        operating point."""
        return len(self._rows_of)

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros((0, self.dim), np.float32)
        vectors: np.ndarray = self._faiss.reconstruct_batch(np.asarray(rows, np.int64))
        return vectors

    def contents(self) -> dict[int, int]:
        """Live template id → person id (for tests and diagnostics)."""
        rows = np.flatnonzero(self._alive)
        return dict(zip(self._labels[rows].tolist(), self._owners[rows].tolist(), strict=True))

    def person_vectors(self, person_id: int) -> np.ndarray:
        """Every live template vector of one person."""
        return self.people_vectors([person_id])[1]

    def people_vectors(self, person_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """Every live template vector of several people in one call: (owners, vectors),
        grouped by person in the order given. One faiss call instead of one per person keeps
        aggregation over ~50 candidates well under a millisecond."""
        rows = [r for pid in person_ids for r in self._rows_of.get(pid, ()) if self._alive[r]]
        picked = np.asarray(rows, np.int64)
        return self._owners[picked], self._vectors(picked)

    def search(self, probe: np.ndarray, k: int) -> Hits:
        """The ``k`` most similar live templates to one unit probe vector."""
        query = np.ascontiguousarray(np.asarray(probe, np.float32).reshape(1, self.dim))
        n = len(self._labels)
        if n == 0 or k < 1:
            empty = np.zeros(0, np.int64)
            return Hits(empty, empty.copy(), np.zeros(0, np.float32))
        fetch = min(n, k + min(self._dead, k) if self._dead else k)
        # OpenMP's thread count is per calling thread (libgomp ICV), so this does not leak
        # into other threads.
        faiss.omp_set_num_threads(self.params.search_threads)
        scores, rows = self._faiss.search(query, fetch)
        scores, rows = scores[0], rows[0]
        keep = rows >= 0
        keep[keep] = self._alive[rows[keep]]
        scores, rows = scores[keep][:k], rows[keep][:k]
        return Hits(self._labels[rows], self._owners[rows], scores.astype(np.float32))

    # -- writing -----------------------------------------------------------------------------

    def add(
        self, template_ids: Iterable[int], person_ids: Iterable[int], vectors: np.ndarray
    ) -> None:
        labels = np.fromiter(template_ids, np.int64)
        owners = np.fromiter(person_ids, np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if not (len(labels) == len(owners) == len(vectors)):
            raise ValueError("ids, owners and vectors differ in length")
        if len(labels) == 0:
            return
        if self._exact and len(self) + len(labels) > self.params.exact_max:
            # Crossing the exact limit: rebuild once as an approximate index.
            rows = np.flatnonzero(self._alive)
            self._rebuild(
                np.concatenate([self._labels[rows], labels]),
                np.concatenate([self._owners[rows], owners]),
                np.concatenate([self._vectors(rows), vectors]),
            )
            return
        start = len(self._labels)
        faiss.omp_set_num_threads(self.params.build_threads)
        self._faiss.add(vectors)
        self._labels = np.concatenate([self._labels, labels])
        self._owners = np.concatenate([self._owners, owners])
        self._alive = np.concatenate([self._alive, np.ones(len(labels), bool)])
        for offset, owner in enumerate(owners.tolist()):
            self._rows_of.setdefault(owner, []).append(start + offset)

    def _rows(self, template_ids: Iterable[int]) -> np.ndarray:
        # A linear scan (about 1 ms per million rows): removals and merges are rare, and a
        # template id -> row dict would cost ~100 MB at a million templates.
        wanted = np.fromiter(template_ids, np.int64)
        return np.flatnonzero(np.isin(self._labels, wanted) & self._alive)

    def _disown(self, rows: np.ndarray) -> None:
        by_owner: dict[int, set[int]] = {}
        for row in rows.tolist():
            by_owner.setdefault(int(self._owners[row]), set()).add(row)
        for owner, gone in by_owner.items():
            remaining = [r for r in self._rows_of.get(owner, ()) if r not in gone]
            if remaining:
                self._rows_of[owner] = remaining
            else:
                self._rows_of.pop(owner, None)

    def remove(self, template_ids: Iterable[int]) -> None:
        """Forget templates (ids not present are ignored)."""
        rows = self._rows(template_ids)
        if len(rows) == 0:
            return
        self._disown(rows)
        self._alive[rows] = False
        self._dead += len(rows)
        if self._dead > _DEAD_FRACTION_TO_COMPACT * len(self._labels):
            self._compact()

    def move(self, template_ids: Iterable[int], to_person: int) -> None:
        """Give templates a new owner (a merge); vectors do not change."""
        rows = self._rows(template_ids)
        if len(rows) == 0:
            return
        self._disown(rows)
        self._owners[rows] = to_person
        self._rows_of.setdefault(to_person, []).extend(rows.tolist())
