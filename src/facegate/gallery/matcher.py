"""The open-set decision: which enrolled person a probe embedding shows, or nobody.

A person's score aggregates their templates' cosine similarities to the probe. The best
person is accepted when the score reaches the calibrated threshold and leads the runner-up by
at least ``min_margin``; otherwise the answer is "unknown", a first-class result rather than
an error. Aggregations (measured on the dev set; see docs/gallery.md):

- ``max``: the best template. The baseline.
- ``top2``: the mean of the two best templates (the best alone for one-template people).
- ``blend``: ``blend_alpha`` * best template + (1 - ``blend_alpha``) * similarity to the
  person's mean template (re-normalised), which rewards agreeing with the whole set.

The index supplies the nearest templates; every candidate person's *other* templates are then
scored exactly so an aggregation never depends on which templates happened to make the cut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from facegate.config.gallery import GallerySettings
from facegate.gallery.index import Hits
from facegate.gallery.types import Person

Aggregation = Literal["max", "top2", "blend"]


_DEFAULTS = GallerySettings()  # the defaults are the settings' (facegate.config)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One person and their aggregated score for a probe."""

    person: Person
    score: float


@dataclass(frozen=True, slots=True)
class Match:
    """The open-set answer for one probe.

    ``person`` is None for "unknown". ``score`` is the best person's aggregated similarity
    (reported for unknowns too), ``margin`` its lead over the runner-up (the score itself when
    there is no runner-up, as if one scored 0). ``candidates`` are the top people, best first.
    ``threshold`` is the one the decision used: with the score and margin it is the evidence
    an operator needs to see why a name was (not) given.
    """

    person: Person | None
    score: float
    margin: float
    candidates: tuple[Candidate, ...]
    threshold: float = 0.0

    @property
    def known(self) -> bool:
        return self.person is not None


@dataclass(frozen=True, slots=True)
class Ranked:
    """A person id and score before names are looked up (the index knows only ids)."""

    person_id: int
    score: float


@dataclass(frozen=True, slots=True)
class MatcherParams:
    threshold: float  # used when ``decide`` is not given the operating point's threshold
    min_margin: float = _DEFAULTS.min_margin
    aggregation: Aggregation = _DEFAULTS.aggregation
    blend_alpha: float = _DEFAULTS.blend_alpha
    top_k: int = _DEFAULTS.top_k  # candidates reported


def aggregate(probe: np.ndarray, vectors: np.ndarray, params: MatcherParams) -> float:
    """One person's score from their template ``vectors`` (-1 without any): the same
    ``person_scores`` that ranks everyone, for a single person."""
    if len(vectors) == 0:
        return -1.0
    owners = np.zeros(len(vectors), np.int64)
    _, scores = person_scores(probe, owners, np.asarray(vectors, np.float32), params)
    return float(scores[0, 0])


def person_scores(
    probes: np.ndarray, owners: np.ndarray, vectors: np.ndarray, params: MatcherParams
) -> tuple[list[int], np.ndarray]:
    """Every probe against every person: ``(person ids, scores[probe, person])``.

    ``owners``/``vectors`` are template vectors grouped by person (as ``people_vectors`` gives
    them). The one vectorised implementation of the aggregations, used per face by ``rank``
    and over whole dev sets by the open-set calibration, so both score alike.
    """
    if len(owners) == 0:
        return [], np.zeros((len(np.atleast_2d(probes)), 0), np.float32)
    probes = np.asarray(probes, np.float32).reshape(-1, vectors.shape[1])
    scores = probes @ vectors.T
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    ids = [int(i) for i in owners[starts].tolist()]
    best = np.maximum.reduceat(scores, starts, axis=1)
    if params.aggregation == "max":
        return ids, best
    if params.aggregation == "top2":
        ends = np.r_[starts[1:], len(owners)]
        columns = [
            np.sort(scores[:, a:b], axis=1)[:, -2:].mean(axis=1)
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
        return ids, np.stack(columns, axis=1)
    sums = np.add.reduceat(vectors, starts, axis=0)
    norms = np.linalg.norm(sums, axis=1)
    # A person whose templates cancel out has no centre direction: the best template stands
    # in for it (dividing by a tiny norm would score noise).
    degenerate = norms <= 1e-6
    centre = (probes @ sums.T) / np.where(degenerate, 1.0, norms)
    centre = np.where(degenerate, best, centre)
    alpha = params.blend_alpha
    return ids, alpha * best + (1 - alpha) * centre


class Matcher:
    """Turns nearest-template hits into ranked people and an open-set decision."""

    def __init__(self, params: MatcherParams) -> None:
        self.params = params

    def rank(
        self,
        probe: np.ndarray,
        hits: Hits,
        vectors_of: Callable[[list[int]], tuple[np.ndarray, np.ndarray]],
    ) -> list[Ranked]:
        """Every person among the hits, scored by the aggregation, best first.

        ``vectors_of(person_ids)`` returns ``(owners, vectors)``: all template vectors of those
        people, grouped by person (``VectorIndex.people_vectors``).
        """
        probe = np.asarray(probe, np.float32).reshape(-1)
        people = list(dict.fromkeys(hits.person_ids.tolist()))
        if not people:
            return []
        if self.params.aggregation == "max":
            # The hits are the nearest templates: the first hit of each person is their max.
            best = {pid: float(hits.scores[hits.person_ids == pid].max()) for pid in people}
            ranked = [Ranked(int(pid), score) for pid, score in best.items()]
        else:
            owners, vectors = vectors_of(people)
            ranked = self._aggregate_grouped(probe, owners, vectors)
        ranked.sort(key=lambda r: r.score, reverse=True)
        return ranked

    def _aggregate_grouped(
        self, probe: np.ndarray, owners: np.ndarray, vectors: np.ndarray
    ) -> list[Ranked]:
        """Aggregate per person over vectors grouped by owner, vectorised (no per-person
        Python work for ``blend``, which runs on every face)."""
        ids, scores = person_scores(probe.reshape(1, -1), owners, vectors, self.params)
        return [Ranked(pid, float(v)) for pid, v in zip(ids, scores[0].tolist(), strict=True)]

    def decide(
        self, ranked: list[Ranked], people: dict[int, Person], threshold: float | None = None
    ) -> Match:
        """The open-set answer from ranked people (``people`` gives their records) at
        ``threshold`` (default: the params' own).

        People missing from ``people`` (deleted since the index was read) are skipped.
        """
        limit = self.params.threshold if threshold is None else threshold
        present = [r for r in ranked if r.person_id in people]
        if not present:
            return Match(None, 0.0, 0.0, (), limit)
        best = present[0]
        runner_up = present[1].score if len(present) > 1 else 0.0
        margin = best.score - runner_up
        known = best.score >= limit and margin >= self.params.min_margin
        candidates = tuple(
            Candidate(people[r.person_id], r.score) for r in present[: self.params.top_k]
        )
        person = people[best.person_id] if known else None
        return Match(person, best.score, margin, candidates, limit)
