"""The open-set decision: aggregation, threshold, margin, candidates; then on real faces."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.errors import ModelMismatch
from facegate.gallery import Gallery, Hits, Matcher, MatcherParams, NewTemplate, Person
from facegate.gallery.matcher import Aggregation, Ranked, aggregate, person_scores

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _person(pid: int) -> Person:
    return Person(pid, f"p{pid}", None, {}, NOW, NOW)


def _hits(pairs: list[tuple[int, int, float]]) -> Hits:
    t, p, s = zip(*pairs, strict=True)
    return Hits(np.array(t, np.int64), np.array(p, np.int64), np.array(s, np.float32))


def test_max_aggregation_ranks_people_by_their_best_template() -> None:
    matcher = Matcher(MatcherParams(threshold=0.5, aggregation="max"))
    hits = _hits([(1, 10, 0.8), (2, 20, 0.7), (3, 10, 0.6), (4, 30, 0.2)])
    ranked = matcher.rank(
        np.zeros(4, np.float32), hits, lambda pids: (np.zeros(0, np.int64), np.zeros((0, 4)))
    )
    assert [r.person_id for r in ranked] == [10, 20, 30]
    assert [r.score for r in ranked] == pytest.approx([0.8, 0.7, 0.2])
    match = matcher.decide(ranked, {p: _person(p) for p in (10, 20, 30)})
    assert match.person == _person(10) and match.known
    assert match.score == pytest.approx(0.8) and match.margin == pytest.approx(0.1)
    assert [c.person.id for c in match.candidates] == [10, 20, 30]


def test_unknown_below_threshold_or_without_margin() -> None:
    people = {p: _person(p) for p in (1, 2)}
    low = Matcher(MatcherParams(threshold=0.5)).decide([Ranked(1, 0.45), Ranked(2, 0.1)], people)
    assert low.person is None and not low.known and low.score == pytest.approx(0.45)
    assert low.candidates[0].person.id == 1  # the best guess is still reported
    close = Matcher(MatcherParams(threshold=0.5, min_margin=0.05))
    assert close.decide([Ranked(1, 0.62), Ranked(2, 0.60)], people).person is None
    assert close.decide([Ranked(1, 0.70), Ranked(2, 0.60)], people).person == people[1]
    alone = close.decide([Ranked(1, 0.7)], people)
    assert alone.margin == pytest.approx(0.7) and alone.known
    empty = close.decide([], people)
    assert empty.person is None and empty.candidates == ()
    gone = close.decide([Ranked(99, 0.9), Ranked(1, 0.7)], people)  # 99 deleted meanwhile
    assert gone.person == people[1]


def test_alternative_aggregations() -> None:
    probe = np.array([1.0, 0.0], np.float32)
    vectors = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
    scores = vectors @ probe
    assert scores.max() == pytest.approx(1.0)
    top2 = aggregate(probe, vectors, MatcherParams(0.5, aggregation="top2"))
    assert top2 == pytest.approx(0.8)
    blend = aggregate(probe, vectors, MatcherParams(0.5, aggregation="blend", blend_alpha=0.5))
    centre = vectors.mean(0) / np.linalg.norm(vectors.mean(0))
    assert blend == pytest.approx(0.5 * 1.0 + 0.5 * float(centre @ probe))
    assert aggregate(probe, vectors[:1], MatcherParams(0.5, aggregation="top2")) == pytest.approx(
        1.0
    )
    assert aggregate(probe, vectors[:0], MatcherParams(0.5)) == -1.0


def test_blend_of_templates_that_cancel_out_falls_back_to_the_best_template() -> None:
    """Two opposite templates have no centre direction: blend scores the best template, in
    the per-person score (verify) and in the ranking alike (it used to divide by 1e-6 in
    the ranking only, so the two disagreed)."""
    probe = np.array([0.8, 0.6, 0.0], np.float32)
    own = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], np.float32)
    params = MatcherParams(0.5, aggregation="blend", blend_alpha=0.3)
    assert aggregate(probe, own, params) == pytest.approx(0.8)
    other = np.array([[0.0, 1.0, 0.0]], np.float32)
    owners = np.array([1, 1, 2], np.int64)
    ids, scores = person_scores(probe, owners, np.vstack([own, other]), params)
    assert ids == [1, 2]
    assert scores[0].tolist() == pytest.approx([0.8, 0.6])


def _photos(faces_dir: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """Five people with three or more photos, and five one-photo strangers (sorted, fixed)."""
    folders = sorted(p for p in (faces_dir / "people").iterdir() if p.is_dir())
    files = {f.name: sorted(x for x in f.iterdir() if x.suffix.lower() == ".jpg") for f in folders}
    known = {n: fs for n, fs in files.items() if len(fs) >= 3 and n[0] != "C"}
    strangers = [fs[0] for n, fs in files.items() if len(fs) == 1]
    return dict(list(known.items())[:5]), strangers[:5]


@pytest.mark.parametrize("aggregation", ["max", "top2", "blend"])
def test_real_faces_are_identified_and_strangers_are_unknown(
    faces_dir: Path, engine: FaceEngine, tmp_path: Path, aggregation: str
) -> None:
    known, strangers = _photos(faces_dir)
    settings = Settings(data_dir=tmp_path, gallery_aggregation=aggregation)

    def embed(path: Path) -> np.ndarray:
        return engine.main_face(engine.load(path.read_bytes())).embedding

    with Gallery(settings, background=False) as gallery:
        ids = {}
        for name, photos in known.items():
            person = gallery.create_person(name)
            ids[name] = person.id
            gallery.add_templates(
                person.id,
                [
                    NewTemplate(
                        embed(p), engine.model_id, engine.model_sha256, source_sha256=p.name
                    )
                    for p in photos[:2]
                ],
            )
        matches = gallery.identify_many([embed(photos[2]) for photos in known.values()])
        for (name, _), match in zip(known.items(), matches, strict=True):
            assert match.person is not None and match.person.id == ids[name], name
            assert match.score >= match.threshold == gallery.match_threshold()
            assert match.margin > 0
        for stranger in gallery.identify_many([embed(p) for p in strangers]):
            assert stranger.person is None
            assert stranger.score < stranger.threshold
        with pytest.raises(ModelMismatch):
            gallery.add_templates(
                ids[next(iter(known))], [NewTemplate(embed(strangers[0]), "other", "0" * 64)]
            )


@pytest.mark.parametrize("aggregation", ["max", "top2", "blend"])
def test_ranking_agrees_with_aggregating_each_person_alone(aggregation: Aggregation) -> None:
    from facegate.gallery import IndexParams, VectorIndex
    from facegate.gallery.types import Snapshot
    from tests.gallery.conftest import unit_vectors

    vectors = unit_vectors(600, 21)
    ids = np.arange(600, dtype=np.int64)
    index = VectorIndex.from_snapshot(Snapshot(1, ids, ids % 97, vectors), 128, IndexParams())
    params = MatcherParams(0.4, aggregation=aggregation)
    matcher = Matcher(params)
    probe = vectors[5] * 0.7 + vectors[6] * 0.7
    probe /= np.linalg.norm(probe)
    ranked = matcher.rank(probe, index.search(probe, 600), index.people_vectors)
    assert len(ranked) == 97
    for r in ranked:
        own = vectors[ids % 97 == r.person_id]
        assert r.score == pytest.approx(aggregate(probe, own, params), abs=1e-5)
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
