"""``facegate bench gallery``: search latency, recall and memory of the gallery's vector index.

The index is the production ``VectorIndex`` built exactly as a ``Gallery`` builds it (exact up
to ``gallery_exact_max`` templates, the approximate index beyond), over ``size`` random unit
vectors. Each probe is a stored vector moved to cosine ``probe_similarity`` of it (default
0.6, a typical same-person SFace similarity), so the probe has a true nearest template as a
face of an enrolled person does. ``recall_at_1`` is the share of probes whose top hit equals
exact search's top hit on the same vectors. ``recall_at_1_random`` repeats that for probes
that resemble nothing (uniform random): there every stored vector is about equally far and an
approximate index may return a different, equally poor, neighbour; such probes score far
below any threshold and come out "unknown" either way, so it is reported, not targeted.

Latency is per single probe (``k`` nearest, one call; by default the ``gallery_search_k``
the server uses), as the server searches per face;
``match_ms_*`` adds what identification does on top (50 nearest, the default aggregation over
every candidate person's templates; people are three templates each here).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import faiss
import numpy as np

from facegate.config import Settings
from facegate.gallery.index import ApproxKind, IndexParams, VectorIndex
from facegate.gallery.matcher import Matcher, MatcherParams
from facegate.gallery.operating_point import FALLBACK_THRESHOLD
from facegate.gallery.types import Snapshot

_CHUNK = 100_000


@dataclass(frozen=True, slots=True)
class GalleryBenchResult:
    size: int
    dim: int
    index: str
    k: int
    queries: int
    probe_similarity: float
    build_s: float
    search_ms_p50: float
    search_ms_p95: float
    search_ms_mean: float
    match_ms_p50: float
    match_ms_p95: float
    recall_at_1: float
    recall_at_1_random: float
    rss_mb: float
    search_threads: int
    build_threads: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _unit(rows: np.ndarray) -> np.ndarray:
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), np.float32)


def random_unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        out[start:stop] = _unit(rng.standard_normal((stop - start, dim), dtype=np.float32))
    return out


def genuine_probes(
    vectors: np.ndarray, n: int, similarity: float, rng: np.random.Generator
) -> np.ndarray:
    """Probes at cosine ``similarity`` to randomly chosen stored vectors."""
    return probes_near(vectors[rng.integers(0, len(vectors), n)], similarity, rng)


def probes_near(sources: np.ndarray, similarity: float, rng: np.random.Generator) -> np.ndarray:
    """One probe per source vector, at cosine ``similarity`` to it (a random direction in
    the orthogonal complement supplies the rest, as a new photo of the same face would)."""
    noise = _unit(rng.standard_normal(sources.shape, dtype=np.float32))
    noise = _unit(noise - (noise * sources).sum(1, keepdims=True) * sources)  # orthogonal part
    return _unit(similarity * sources + np.sqrt(1 - similarity**2) * noise)


def rss_mb() -> float:
    """This process's resident memory in MB."""
    try:
        import psutil

        return psutil.Process(os.getpid()).memory_info().rss / 2**20
    except ImportError:  # psutil comes with the bench extra; fall back to the peak
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _top1(index: VectorIndex, probes: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    ids = np.empty(len(probes), np.int64)
    times: list[float] = []
    for i, probe in enumerate(probes):
        started = time.perf_counter()
        hits = index.search(probe, k)
        times.append(time.perf_counter() - started)
        ids[i] = hits.template_ids[0] if len(hits.template_ids) else -1
    return ids, times


def _match_times(index: VectorIndex, probes: np.ndarray) -> np.ndarray:
    """Seconds per probe for what ``Gallery.identify`` does in memory: the default search
    depth, then ranking people with the default aggregation (names are a DB read, excluded)."""
    defaults = Settings()
    matcher = Matcher(
        MatcherParams(
            threshold=FALLBACK_THRESHOLD,  # ranking only: the threshold plays no part
            aggregation=defaults.gallery.aggregation,
            blend_alpha=defaults.gallery.blend_alpha,
        )
    )
    times = []
    for probe in probes:
        started = time.perf_counter()
        matcher.rank(probe, index.search(probe, defaults.gallery.search_k), index.people_vectors)
        times.append(time.perf_counter() - started)
    return np.asarray(times)


def run_gallery_bench(
    size: int,
    *,
    dim: int = 128,
    queries: int = 500,
    k: int = 50,
    exact_max: int = 20_000,
    approx: ApproxKind = "pq",
    probe_similarity: float = 0.6,
    seed: int = 0,
) -> GalleryBenchResult:
    """Build the index over ``size`` random unit vectors and time ``queries`` single searches."""
    if size < 1 or queries < 1 or not 0.0 < probe_similarity < 1.0:
        raise ValueError("size and queries must be >= 1 and 0 < probe_similarity < 1")
    rng = np.random.default_rng(seed)
    vectors = random_unit_vectors(size, dim, rng)
    probes = genuine_probes(vectors, queries, probe_similarity, rng)
    random_probes = random_unit_vectors(queries, dim, rng)
    # Ground truth by brute force on the same vectors (faiss.knn: no second copy of them).
    _, truth = faiss.knn(probes, vectors, 1, metric=faiss.METRIC_INNER_PRODUCT)
    _, truth_random = faiss.knn(random_probes, vectors, 1, metric=faiss.METRIC_INNER_PRODUCT)

    ids = np.arange(size, dtype=np.int64)
    snapshot = Snapshot(1, ids, ids // 3, vectors)  # three templates per person
    started = time.perf_counter()
    index = VectorIndex.from_snapshot(
        snapshot, dim, IndexParams(exact_max=exact_max, approx=approx)
    )
    build_s = time.perf_counter() - started
    del snapshot, vectors

    index.search(probes[0], k)  # warm-up
    found, times = _top1(index, probes, k)
    found_random, _ = _top1(index, random_probes, k)
    match_ms = _match_times(index, probes) * 1000
    ms = np.asarray(times) * 1000
    return GalleryBenchResult(
        size=size,
        dim=dim,
        index=index.kind,
        k=k,
        queries=queries,
        probe_similarity=probe_similarity,
        build_s=round(build_s, 3),
        search_ms_p50=round(float(np.percentile(ms, 50)), 4),
        search_ms_p95=round(float(np.percentile(ms, 95)), 4),
        search_ms_mean=round(float(ms.mean()), 4),
        match_ms_p50=round(float(np.percentile(match_ms, 50)), 4),
        match_ms_p95=round(float(np.percentile(match_ms, 95)), 4),
        recall_at_1=round(float(np.mean(found == truth[:, 0])), 4),
        recall_at_1_random=round(float(np.mean(found_random == truth_random[:, 0])), 4),
        rss_mb=round(rss_mb(), 1),
        search_threads=index.params.search_threads,
        build_threads=index.params.build_threads,
    )
