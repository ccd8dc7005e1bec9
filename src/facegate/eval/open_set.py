"""Open-set calibration: the impostor tails behind the operating point (``facegate calibrate
--people``).

For each population (a folder of identities, or the identities matching a ``--group`` pattern)
every identity with at least ``enrol`` photos becomes a gallery person (its first ``enrol``
photos, aggregated exactly as the gallery does), and every photo of the population is a probe
against every gallery person *of another identity*: those (stranger, person) scores are the
impostor distribution whose tail sets the threshold for a target FPIR at any gallery size
(``facegate.gallery.operating_point``). Populations are kept apart because a stranger meets the
people of their own site: East-Asian strangers against an East-Asian gallery score higher
than against LFW's, and the strictest population sets the threshold.

The report also checks the model where the data allow: for gallery sizes up to the
population's, the *exact* expected FPIR of random galleries drawn from it (hypergeometric:
the chance that none of a stranger's above-threshold people is drawn) at the chosen threshold.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facegate.engine import FaceEngine
from facegate.engine.decode import image_files
from facegate.errors import InvalidInput
from facegate.eval.pairs import embed_main_faces
from facegate.gallery.matcher import MatcherParams, person_scores
from facegate.gallery.operating_point import Calibration, ImpostorTail, share_per_person

GALLERY_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 344, 500, 1000, 2000, 5000, 10_000, 100_000)


@dataclass(frozen=True)
class Population:
    """A named set of identity folders."""

    name: str
    folders: tuple[Path, ...]


def populations(people_dirs: Sequence[Path], groups: Sequence[str] = ()) -> list[Population]:
    """One population per ``--people`` folder, except identities whose folder name matches a
    ``NAME=GLOB`` group, which form population NAME (e.g. ``east-asian=CASIA5_*``)."""
    patterns: list[tuple[str, str]] = []
    for group in groups:
        name, sep, pattern = group.partition("=")
        if not sep or not name or not pattern:
            raise InvalidInput(f"--group must be NAME=GLOB, got {group!r}")
        patterns.append((name, pattern))
    found: dict[str, list[Path]] = {}
    for people in people_dirs:
        for folder in sorted(p for p in people.iterdir() if p.is_dir()):
            owner = next((n for n, pat in patterns if fnmatch.fnmatch(folder.name, pat)), None)
            found.setdefault(owner or people.name, []).append(folder)
    out = [Population(name, tuple(folders)) for name, folders in found.items()]
    if not out:
        raise InvalidInput("no identity folders found")
    return out


@dataclass(frozen=True)
class MeasuredPopulation:
    """A population's impostor tail and, per probe, its impostor scores (for the exact check)."""

    tail: ImpostorTail
    scores: np.ndarray  # [probe, gallery person]; NaN where the probe is that person


def measure_population(
    population: Population,
    embeddings: dict[Path, np.ndarray | None],
    enrol: int,
    params: MatcherParams,
) -> MeasuredPopulation:
    """Impostor scores of every probe against every other identity's gallery person."""
    owners: list[int] = []
    vectors: list[np.ndarray] = []
    gallery_names: list[str] = []
    probes: list[np.ndarray] = []
    probe_names: list[str] = []
    for folder in population.folders:
        faces = [e for f in image_files(folder) if (e := embeddings.get(f)) is not None]
        probes.extend(faces)
        probe_names.extend([folder.name] * len(faces))
        if len(faces) >= enrol:
            owners.extend([len(gallery_names)] * enrol)
            vectors.extend(faces[:enrol])
            gallery_names.append(folder.name)
    if len(gallery_names) < 2 or not probes:
        raise InvalidInput(
            f"population {population.name!r}: needs at least 2 identities with {enrol} photos"
        )
    _, scores = person_scores(
        np.stack(probes), np.asarray(owners, np.int64), np.stack(vectors).astype(np.float32), params
    )
    scores = scores.astype(np.float64)
    same = np.asarray(probe_names)[:, None] == np.asarray(gallery_names)[None, :]
    scores[same] = np.nan
    tail = ImpostorTail.measure(
        population.name,
        scores[~same],
        identities=len(population.folders),
        gallery_people=len(gallery_names),
        probes=len(probes),
    )
    return MeasuredPopulation(tail, scores)


def exact_fpir(scores: np.ndarray, threshold: float, people: int) -> float | None:
    """Expected FPIR of a random N-person gallery drawn from the measured people, at
    ``threshold``: per probe 1 - C(M - k, N) / C(M, N), k of its M people scoring >= it.
    None when N exceeds some probe's M."""
    valid = ~np.isnan(scores)
    m = valid.sum(axis=1)
    if people > int(m.min()):
        return None
    k = (np.where(valid, scores, -np.inf) >= threshold).sum(axis=1)
    total = 0.0
    for mi, ki in zip(m.tolist(), k.tolist(), strict=True):
        if mi - ki < people:
            total += 1.0
            continue
        none = (
            math.lgamma(mi - ki + 1)
            - math.lgamma(mi - ki - people + 1)
            - math.lgamma(mi + 1)
            + math.lgamma(mi - people + 1)
        )
        total += 1.0 - math.exp(none)
    return total / len(m)


def calibrate_open_set(
    engine: FaceEngine,
    people_dirs: Sequence[Path],
    groups: Sequence[str],
    fpir: float,
    enrol: int = 2,
    command: str = "",
) -> tuple[Calibration, dict[str, Any]]:
    """Measure every population and return the calibration with the report to print."""
    pops = populations(people_dirs, groups)
    paths = [f for pop in pops for folder in pop.folders for f in image_files(folder)]
    images = embed_main_faces(engine, paths)
    settings = engine.settings
    params = MatcherParams(
        threshold=0.0,
        aggregation=settings.gallery.aggregation,
        blend_alpha=settings.gallery.blend_alpha,
    )
    measured = [measure_population(p, images.embeddings, enrol, params) for p in pops]
    calibration = Calibration(
        engine.model_id,
        engine.model_sha256,
        settings.gallery.aggregation,
        settings.gallery.blend_alpha,
        enrol,
        tuple(m.tail for m in measured),
        command,
    )
    table = []
    for n in GALLERY_SIZES:
        share = share_per_person(fpir, n)
        threshold = calibration.identify_threshold(fpir, n)
        own = {m.tail.population: m.tail.threshold_at_share(share) for m in measured}
        table.append(
            {
                "people": n,
                "threshold": round(threshold, 4),
                "own_threshold": {k: round(v, 4) for k, v in own.items()},
                # the model's check: ~fpir where the population is large enough to draw N
                "exact_fpir_at_own": {
                    m.tail.population: _rounded(exact_fpir(m.scores, own[m.tail.population], n))
                    for m in measured
                },
                "exact_fpir_at_threshold": {
                    m.tail.population: _rounded(exact_fpir(m.scores, threshold, n))
                    for m in measured
                },
            }
        )
    report = {
        "fpir_target": fpir,
        "enrol": enrol,
        "aggregation": settings.gallery.aggregation,
        "populations": [
            {k: v for k, v in m.tail.as_dict().items() if k != "knots"} for m in measured
        ],
        "thresholds": table,
        "verify_threshold_at_far_0.001": round(calibration.verify_threshold(0.001), 4),
        "no_face": len(images.no_face),
        "model": engine.model_id,
        "model_sha256": engine.model_sha256,
    }
    return calibration, report


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 5)
