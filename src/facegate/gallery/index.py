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

Two segments: the **base** (built in one go from a snapshot, possibly memory-mapped from a
snapshot file shared by every worker of the host, ``snapshot_files.py``) and a small exact
**delta** (``IndexFlatIP``) that takes every template added since, so a mapped base is never
written to. Rows are positions: 0..nb-1 in the base, nb.. in the delta; ``labels``/``owners``
map a row to its template and person. Removal marks a row dead (tombstone), because neither
HNSW nor the fast-scan index can delete in place. A person's rows are found through the base's
rows sorted by owner (``order``/``sorted_owners``, arrays that map as well, instead of a
per-person dict of Python lists that would cost ~100 MB and a second per million templates)
plus a small overlay for rows added or moved later.

When a fifth of the rows is dead, the delta outgrows its bound or the exact index outgrows
``exact_max``, the index ``wants_rebuild``: a stand-alone index rebuilds itself in place; the
gallery (``auto_rebuild=False``) builds a new one outside its search lock and swaps it in. The
index records the gallery revision it reflects; the gallery facade owns the locking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Literal

import faiss
import numpy as np

from facegate.config.gallery import GallerySettings
from facegate.gallery.types import Change, Snapshot

ApproxKind = Literal["pq", "hnsw"]
_DEAD_FRACTION_TO_COMPACT = 0.2
# The delta segment may hold this share of the base (at least _DELTA_MIN rows, at most
# exact_max) before the index wants a rebuild that folds it into the base.
_DELTA_SHARE = 0.05
_DELTA_MIN = 1000


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


_EMPTY = np.zeros(0, np.int64)


@dataclass(frozen=True, slots=True)
class BaseParts:
    """The base segment as arrays (what a snapshot file holds): the faiss index and, per row,
    template id and owner; the rows sorted by owner; and the number of people."""

    faiss_index: Any
    kind: str
    labels: np.ndarray
    owners: np.ndarray
    order: np.ndarray
    sorted_owners: np.ndarray
    people: int


def owner_order(owners: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows sorted by owner, the owners in that order, and how many distinct owners."""
    order = np.argsort(owners, kind="stable").astype(np.int64)
    ranked = np.asarray(owners, np.int64)[order]
    people = int(np.count_nonzero(np.diff(ranked))) + 1 if len(ranked) else 0
    return order, ranked, people


class VectorIndex:
    """Template vectors for nearest-neighbour search, with template → person ownership.

    Not thread-safe on its own: ``Gallery`` serialises writers against searchers.
    """

    def __init__(
        self, dim: int, params: IndexParams | None = None, *, auto_rebuild: bool = True
    ) -> None:
        self.dim = dim
        self.params = params or IndexParams()
        self.revision = 0
        self.base_revision = 0  # the revision the base segment was built at
        self.auto_rebuild = auto_rebuild
        self.source = "memory"  # or the snapshot file the base is mapped from
        self._install(BaseParts(faiss.IndexFlatIP(dim), "exact", _EMPTY, _EMPTY, _EMPTY, _EMPTY, 0))

    def _install(self, base: BaseParts) -> None:
        self._base: Any = base.faiss_index
        self._kind = base.kind
        self._labels = base.labels
        self._owners = base.owners  # writable (a copy-on-write map when mapped): merges
        self._order = base.order
        self._sorted = base.sorted_owners
        self._people = base.people
        self._nb = len(base.labels)
        self._delta: Any = faiss.IndexFlatIP(self.dim)
        self._dlabels = _EMPTY
        self._downers = _EMPTY
        self._alive = np.ones(self._nb, bool)
        self._dead = 0
        self._extra: dict[int, list[int]] = {}  # person -> rows outside the sorted base

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def from_snapshot(
        cls,
        snapshot: Snapshot,
        dim: int,
        params: IndexParams | None = None,
        *,
        auto_rebuild: bool = True,
    ) -> VectorIndex:
        index = cls(dim, params, auto_rebuild=auto_rebuild)
        index._rebuild(snapshot.template_ids, snapshot.person_ids, snapshot.vectors)
        index.revision = index.base_revision = snapshot.revision
        return index

    @classmethod
    def from_parts(
        cls,
        parts: BaseParts,
        dim: int,
        revision: int,
        params: IndexParams | None = None,
        *,
        auto_rebuild: bool = True,
    ) -> VectorIndex:
        """An index over a base built elsewhere (a mapped snapshot file)."""
        index = cls(dim, params, auto_rebuild=auto_rebuild)
        index._install(parts)
        index.revision = index.base_revision = revision
        return index

    def _rebuild(self, labels: np.ndarray, owners: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        exact = len(vectors) <= self.params.exact_max
        built, kind = _build_faiss(self.dim, vectors, self.params, exact)
        owners = np.asarray(owners, np.int64).copy()
        order, ranked, people = owner_order(owners)
        self._install(
            BaseParts(
                built, kind, np.asarray(labels, np.int64).copy(), owners, order, ranked, people
            )
        )
        self.source = "memory"

    def _compact(self) -> None:
        rows = np.flatnonzero(self._alive)
        self._rebuild(self._label_at(rows), self._owner_at(rows), self._vectors(rows))
        self.base_revision = self.revision

    @property
    def parts(self) -> BaseParts:
        """The base as arrays, for writing a snapshot file; only for a freshly built index
        (nothing added, removed or moved since), which is what a publisher writes."""
        if self._dead or self._extra or len(self._dlabels):
            raise ValueError("only a freshly built index can be written as a snapshot")
        return BaseParts(
            self._base,
            self._kind,
            self._labels,
            self._owners,
            self._order,
            self._sorted,
            self._people,
        )

    @property
    def wants_rebuild(self) -> bool:
        """Whether the index should be rebuilt: a fifth of it dead, the delta past its bound,
        or an exact index grown past ``exact_max``."""
        rows = len(self._alive)
        delta_max = min(self.params.exact_max, max(_DELTA_MIN, int(self._nb * _DELTA_SHARE)))
        return (
            self._dead > _DEAD_FRACTION_TO_COMPACT * rows
            or len(self._dlabels) > delta_max
            or (self._kind == "exact" and len(self) > self.params.exact_max)
        )

    def _rebuild_if_wanted(self) -> None:
        if self.auto_rebuild and self.wants_rebuild:
            self._compact()

    # -- reading -----------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """ "exact", or the approximate index in use (of the base segment)."""
        return self._kind

    def __len__(self) -> int:
        return len(self._alive) - self._dead

    @property
    def people(self) -> int:
        """People with at least one live template: the gallery size N of the open-set
        operating point."""
        return self._people

    @property
    def delta_size(self) -> int:
        """Templates in the delta segment (added since the base was built)."""
        return len(self._dlabels)

    def _split(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, np.int64)
        inside = rows < self._nb
        return inside, rows

    def _label_at(self, rows: np.ndarray) -> np.ndarray:
        inside, rows = self._split(rows)
        out = np.empty(len(rows), np.int64)
        out[inside] = self._labels[rows[inside]]
        out[~inside] = self._dlabels[rows[~inside] - self._nb]
        return out

    def _owner_at(self, rows: np.ndarray) -> np.ndarray:
        inside, rows = self._split(rows)
        out = np.empty(len(rows), np.int64)
        out[inside] = self._owners[rows[inside]]
        out[~inside] = self._downers[rows[~inside] - self._nb]
        return out

    def _set_owner(self, rows: np.ndarray, person_id: int) -> None:
        inside, rows = self._split(rows)
        if inside.any():
            self._owners[rows[inside]] = person_id
        if not inside.all():
            self._downers[rows[~inside] - self._nb] = person_id

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        inside, rows = self._split(rows)
        out = np.zeros((len(rows), self.dim), np.float32)
        if inside.any():
            out[inside] = self._base.reconstruct_batch(rows[inside])
        if not inside.all():
            out[~inside] = self._delta.reconstruct_batch(rows[~inside] - self._nb)
        return out

    def rows_of(self, person_id: int) -> np.ndarray:
        """The live rows of one person (sorted base slice plus the overlay)."""
        lo = int(np.searchsorted(self._sorted, person_id, "left"))
        hi = int(np.searchsorted(self._sorted, person_id, "right"))
        rows = np.asarray(self._order[lo:hi], np.int64)
        extra = self._extra.get(person_id)
        if extra:
            rows = np.unique(np.concatenate([rows, np.asarray(extra, np.int64)]))
        if len(rows) == 0:
            return rows
        keep = self._alive[rows] & (self._owner_at(rows) == person_id)
        live: np.ndarray = rows[keep]
        return live

    def contents(self) -> dict[int, int]:
        """Live template id → person id (for tests and diagnostics)."""
        rows = np.flatnonzero(self._alive)
        labels, owners = self._label_at(rows), self._owner_at(rows)
        return dict(zip(labels.tolist(), owners.tolist(), strict=True))

    def person_vectors(self, person_id: int) -> np.ndarray:
        """Every live template vector of one person."""
        return self.people_vectors([person_id])[1]

    def people_vectors(self, person_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """Every live template vector of several people in one call: (owners, vectors),
        grouped by person in the order given. One faiss call instead of one per person keeps
        aggregation over ~50 candidates well under a millisecond."""
        parts = [self.rows_of(pid) for pid in person_ids]
        picked = np.concatenate(parts) if parts else _EMPTY
        return self._owner_at(picked), self._vectors(picked)

    def search(self, probe: np.ndarray, k: int) -> Hits:
        """The ``k`` most similar live templates to one unit probe vector."""
        query = np.ascontiguousarray(np.asarray(probe, np.float32).reshape(1, self.dim))
        if len(self._alive) == 0 or k < 1:
            return Hits(_EMPTY, _EMPTY.copy(), np.zeros(0, np.float32))
        # OpenMP's thread count is per calling thread (libgomp ICV), so this does not leak
        # into other threads.
        faiss.omp_set_num_threads(self.params.search_threads)
        wanted = k + min(self._dead, k)
        found_scores: list[np.ndarray] = []
        found_rows: list[np.ndarray] = []
        for segment, offset, size in (
            (self._base, 0, self._nb),
            (self._delta, self._nb, len(self._dlabels)),
        ):
            if size:
                scores, rows = segment.search(query, min(size, wanted))
                keep = rows[0] >= 0
                found_scores.append(scores[0][keep])
                found_rows.append(rows[0][keep] + offset)
        scores, rows = np.concatenate(found_scores), np.concatenate(found_rows)
        keep = self._alive[rows]
        scores, rows = scores[keep], rows[keep]
        if len(found_rows) > 1:
            best = np.argsort(-scores, kind="stable")
            scores, rows = scores[best], rows[best]
        scores, rows = scores[:k], rows[:k]
        return Hits(self._label_at(rows), self._owner_at(rows), scores.astype(np.float32))

    # -- writing -----------------------------------------------------------------------------

    def _empty(self, people: Iterable[int]) -> set[int]:
        return {p for p in people if len(self.rows_of(p)) == 0}

    def add(
        self, template_ids: Iterable[int], person_ids: Iterable[int], vectors: np.ndarray
    ) -> None:
        """Add templates to the delta segment (a mapped base is never written)."""
        labels = np.fromiter(template_ids, np.int64)
        owners = np.fromiter(person_ids, np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if not (len(labels) == len(owners) == len(vectors)):
            raise ValueError("ids, owners and vectors differ in length")
        if len(labels) == 0:
            return
        newcomers = self._empty(set(owners.tolist()))
        start = len(self._alive)
        faiss.omp_set_num_threads(self.params.build_threads)
        self._delta.add(vectors)
        self._dlabels = np.concatenate([self._dlabels, labels])
        self._downers = np.concatenate([self._downers, owners])
        self._alive = np.concatenate([self._alive, np.ones(len(labels), bool)])
        for offset, owner in enumerate(owners.tolist()):
            self._extra.setdefault(owner, []).append(start + offset)
        self._people += len(newcomers)
        self._rebuild_if_wanted()

    def _rows(self, template_ids: Iterable[int]) -> np.ndarray:
        # A linear scan (about 1 ms per million rows): removals and merges are rare, and a
        # template id -> row dict would cost ~100 MB at a million templates.
        wanted = np.fromiter(template_ids, np.int64)
        rows = np.concatenate(
            [
                np.flatnonzero(np.isin(self._labels, wanted)),
                np.flatnonzero(np.isin(self._dlabels, wanted)) + self._nb,
            ]
        )
        live: np.ndarray = rows[self._alive[rows]]
        return live

    def remove(self, template_ids: Iterable[int]) -> None:
        """Forget templates (ids not present are ignored)."""
        rows = self._rows(template_ids)
        if len(rows) == 0:
            return
        owners = set(self._owner_at(rows).tolist())
        self._alive[rows] = False
        self._dead += len(rows)
        self._people -= len(self._empty(owners))
        self._rebuild_if_wanted()

    def move(self, template_ids: Iterable[int], to_person: int) -> None:
        """Give templates a new owner (a merge); vectors do not change."""
        rows = self._rows(template_ids)
        if len(rows) == 0:
            return
        sources = set(self._owner_at(rows).tolist()) - {to_person}
        newcomer = bool(self._empty([to_person]))
        self._set_owner(rows, to_person)
        self._extra.setdefault(to_person, []).extend(rows.tolist())
        self._people += int(newcomer) - len(self._empty(sources))

    def apply(self, changes: Sequence[Change]) -> None:
        """Replay logged changes in commit order (adds without an embedding were removed
        again later; their ``remove`` follows).

        A run of consecutive adds, or of consecutive removals, is applied as one call whatever
        the revisions in it: finding the rows of removed templates scans every row (~2 ms at
        a million), so replaying 10,000 single-person deletions one by one took 31 s on a 1M
        index (a rebuild catching up on the deletions made during its build; a catch-up
        holds the search lock), and as one call 0.09 s (measured, load ~8 on 2 cores). Moves
        depend on the owners before them and stay per revision."""
        for (op, _rev), group in groupby(changes, key=_run_key):
            batch = list(group)
            if op == "add":
                present = [c for c in batch if c.embedding is not None]
                if present:
                    self.add(
                        (c.template_id for c in present),
                        (c.person_id for c in present),
                        np.stack([c.embedding for c in present if c.embedding is not None]),
                    )
            elif op == "remove":
                self.remove(c.template_id for c in batch)
            elif op == "move":
                for person_id, moved in groupby(batch, key=lambda c: c.person_id):
                    self.move((c.template_id for c in moved), person_id)


def _run_key(change: Change) -> tuple[str, int]:
    """What ``apply`` groups on: the operation, and for moves also the revision."""
    return change.op, change.revision if change.op == "move" else -1


def replay(
    index: VectorIndex | None,
    changes: Sequence[Change],
    params: IndexParams,
    *,
    auto_rebuild: bool = True,
) -> VectorIndex | None:
    """``index`` with ``changes`` applied (a new index for the first added templates)."""
    if index is None:
        first = next((c.embedding for c in changes if c.embedding is not None), None)
        if first is None:
            return None
        index = VectorIndex(len(first), params, auto_rebuild=auto_rebuild)
    index.apply(changes)
    return index
