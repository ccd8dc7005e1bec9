"""The vector index on its own: exact vs approximate, removal, moves, rebuild equals database."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.bench.gallery_bench import genuine_probes
from facegate.gallery import Gallery, IndexParams, VectorIndex
from facegate.gallery.index import ApproxKind
from facegate.gallery.types import Change, Snapshot
from tests.gallery.conftest import template, unit_vectors


def _snapshot(n: int, seed: int = 0) -> Snapshot:
    ids = np.arange(10, 10 + n, dtype=np.int64)
    return Snapshot(7, ids, ids // 4, unit_vectors(n, seed))


@pytest.mark.parametrize("approx", ["pq", "hnsw"])
def test_approximate_index_recalls_what_exact_search_finds(approx: ApproxKind) -> None:
    snap = _snapshot(10_000)
    exact = VectorIndex.from_snapshot(snap, 128, IndexParams(exact_max=10**9))
    fast = VectorIndex.from_snapshot(snap, 128, IndexParams(exact_max=1000, approx=approx))
    assert (exact.kind, fast.kind) == ("exact", approx)
    probes = genuine_probes(snap.vectors, 200, 0.6, np.random.default_rng(1))
    agree = [
        exact.search(p, 10).template_ids[0] == fast.search(p, 10).template_ids[0] for p in probes
    ]
    assert np.mean(agree) >= 0.99
    hits = exact.search(snap.vectors[5], 3)
    assert hits.template_ids[0] == snap.template_ids[5] and hits.person_ids[0] == snap.person_ids[5]
    assert hits.scores[0] == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(hits.scores) <= 0)


def test_removal_moves_and_switching_to_approximate() -> None:
    index = VectorIndex(128, IndexParams(exact_max=50))
    v = unit_vectors(80, 3)
    index.add(range(40), [i // 2 for i in range(40)], v[:40])
    assert index.kind == "exact" and len(index) == 40
    index.remove([0, 1, 999])  # person 0's templates and an id never added
    assert 0 not in index.search(v[0], 5).template_ids and len(index) == 38
    assert len(index.person_vectors(0)) == 0
    index.move([2, 3], to_person=100)
    assert index.contents()[2] == 100 and len(index.person_vectors(100)) == 2
    np.testing.assert_allclose(index.person_vectors(100), v[2:4], atol=1e-6)
    index.add(range(40, 80), [i // 2 for i in range(40, 80)], v[40:])  # crosses exact_max
    assert index.kind == "pq" and len(index) == 78
    assert index.search(v[70], 1).template_ids[0] == 70
    assert index.contents()[3] == 100
    # Deleting many compacts the approximate index; the survivors are still found.
    index.remove(range(40, 75))
    assert len(index) == 43 and index.search(v[77], 1).template_ids[0] == 77
    assert set(index.contents()) == set(range(2, 40)) | set(range(75, 80))


def test_index_equals_database_after_rebuild_and_after_catch_up(gallery: Gallery) -> None:
    people = [gallery.create_person(f"p{i}") for i in range(6)]
    vectors = unit_vectors(30, 4)
    for i, person in enumerate(people):
        gallery.add_templates(
            person.id, [template(v, f"s{i}-{j}") for j, v in enumerate(vectors[i * 5 : i * 5 + 5])]
        )
    gallery.delete_person(people[1].id)
    gallery.merge_people(people[2].id, people[3].id)
    first = gallery.list_templates(people[0].id)[0]
    gallery.delete_template(first.id)
    caught_up = gallery.index_contents()
    gallery.rebuild()
    snapshot = gallery.store.snapshot()
    in_db = dict(zip(snapshot.template_ids.tolist(), snapshot.person_ids.tolist(), strict=True))
    assert caught_up == gallery.index_contents() == in_db
    assert len(in_db) == 24 and gallery.revision == gallery.store.revision()
    for tid, vector in zip(snapshot.template_ids, snapshot.vectors, strict=True):
        assert gallery.search(vector, k=1).template_ids[0] == tid


def test_a_second_gallery_catches_up_on_search(gallery: Gallery) -> None:
    other = Gallery(gallery.settings, background=False)
    try:
        person = gallery.create_person("late")
        vector = unit_vectors(1, 11)[0]
        gallery.add_templates(person.id, [template(vector)])
        assert other.revision < gallery.revision  # no background thread, no search yet
        assert other.identify(vector).person == gallery.get_person(person.id)
        assert other.revision == gallery.revision
    finally:
        other.close()


def test_threads_searching_while_another_writes(gallery: Gallery) -> None:
    """The server calls one Gallery from a thread pool: searches and writes interleave."""
    from concurrent.futures import ThreadPoolExecutor

    vectors = unit_vectors(120, 13)
    person = gallery.create_person("threads")

    def write() -> int:
        for start in range(0, 120, 6):
            batch = [template(v, f"t{start + i}") for i, v in enumerate(vectors[start : start + 6])]
            gallery.add_templates(person.id, batch)
        return 120

    def search(seed: int) -> int:
        found = 0
        for v in unit_vectors(60, seed):
            found += len(gallery.identify(v).candidates)
        return found

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(write)] + [pool.submit(search, s) for s in (1, 2, 3)]
        for future in futures:
            future.result(timeout=120)
    assert len(gallery.index_contents()) == 120
    # (Ranked, not accepted: 120 random templates have a meaningless mean for the blend.)
    assert all(gallery.identify(v).candidates[0].person.id == person.id for v in vectors[::10])


def test_runs_of_changes_replay_as_one_call_with_the_same_result() -> None:
    """``apply`` folds a run of adds or removals over many revisions into one call: the
    contents, people count and searches equal replaying one revision at a time, across adds,
    removals (including a template added and removed again) and moves in between."""
    snap = _snapshot(400)  # people 2..101, four templates each
    extra = unit_vectors(12, 9)
    changes = [Change(8 + i, "remove", int(t), int(t) // 4) for i, t in enumerate(range(10, 50))]
    changes += [Change(60, "move", 50, 500), Change(60, "move", 51, 500)]
    changes += [Change(61 + i, "add", 1000 + i, 600 + i // 3, extra[i]) for i in range(6)]
    changes += [Change(70, "add", 1006, 700, None), Change(71, "remove", 1006, 700)]
    changes += [Change(72 + i, "remove", int(t), int(t) // 4) for i, t in enumerate((52, 53, 1000))]
    changes += [Change(80 + i, "add", 1007 + i, 601, extra[6 + i]) for i in range(6)]
    at_once = VectorIndex.from_snapshot(snap, 128, IndexParams(exact_max=10**9))
    one_by_one = VectorIndex.from_snapshot(snap, 128, IndexParams(exact_max=10**9))
    at_once.apply(changes)
    for change in changes:
        one_by_one.apply([change])
    assert at_once.contents() == one_by_one.contents()
    assert at_once.people == one_by_one.people == 100 - 10 + 1 + 2
    assert not set(range(10, 50)) & set(at_once.contents()) and 1006 not in at_once.contents()
    assert at_once.contents()[50] == 500 and at_once.contents()[1012] == 601
    for probe in (extra[1], extra[8], snap.vectors[200]):
        assert at_once.search(probe, 5).template_ids.tolist() == (
            one_by_one.search(probe, 5).template_ids.tolist()
        )
