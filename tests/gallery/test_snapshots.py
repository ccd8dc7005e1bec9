"""Rebuilding outside the search lock, and the memory-mapped index snapshots of a data dir.

Real faiss indexes over random unit vectors, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from facegate.bench.gallery_load import load_random_people
from facegate.config import Settings
from facegate.gallery import Gallery
from facegate.gallery.snapshot_files import manifests
from tests.gallery.conftest import MODEL_ID, MODEL_SHA, template, unit_vectors


def _load(gallery: Gallery, people: int, seed: int) -> np.ndarray:
    """``people`` people of three random templates each, of the tests' model."""
    return load_random_people(gallery.store, people, seed=seed, model=(MODEL_ID, MODEL_SHA))


def _contents_in_db(gallery: Gallery) -> dict[int, int]:
    snap = gallery.store.snapshot()
    return dict(zip(snap.template_ids.tolist(), snap.person_ids.tolist(), strict=True))


def _snapshot_files(settings: Settings) -> list[str]:
    return sorted(p.name for p in (Path(settings.storage.data_dir) / "index").glob("gallery-*"))


@pytest.mark.slow
def test_searches_are_answered_while_a_rebuild_runs(settings: Settings) -> None:
    """A rebuild of a 60k-template approximate index builds aside: another thread's searches
    complete while it runs, and the results are the same before and after the swap."""
    settings = settings.replace(gallery_exact_max=1000, gallery_snapshot_enabled=False)
    with Gallery(settings, background=False) as gallery:
        vectors = _load(gallery, 20_000, 5)
        gallery.sync()  # the bulk load moved the log floor: this rebuilds
        assert len(gallery.index_contents()) == 60_000
        probes = vectors[::997]
        before = [gallery.search(p, k=5).template_ids.tolist() for p in probes]

        rebuilding = threading.Event()
        done = threading.Event()
        during = 0

        def search_loop() -> None:
            nonlocal during
            i = 0
            while not done.is_set():
                gallery.search(probes[i % len(probes)], k=5)
                i += 1
                if rebuilding.is_set() and not done.is_set():
                    during += 1

        # Count the searches completed between the snapshot read and the swap: the build.
        snapshot_read, swap_in = gallery.store.snapshot, gallery._swap_in

        def snapshot():
            snap = snapshot_read()
            rebuilding.set()
            return snap

        def swap(*args):
            done.set()
            return swap_in(*args)

        gallery.store.snapshot = snapshot  # type: ignore[method-assign]  # instrumented
        gallery._swap_in = swap  # type: ignore[method-assign]  # instrumented
        thread = threading.Thread(target=search_loop)
        thread.start()
        try:
            gallery.rebuild()
        finally:
            done.set()
            thread.join(timeout=60)
            gallery.store.snapshot = snapshot_read  # type: ignore[method-assign]  # instrumented
        assert during > 0
        after = [gallery.search(p, k=5).template_ids.tolist() for p in probes]
        assert after == before
        assert gallery.index_contents() == _contents_in_db(gallery)


def test_a_rebuild_replays_what_was_committed_while_it_built(settings: Settings) -> None:
    """Changes committed between the snapshot read and the swap are in the swapped index."""
    with Gallery(settings, background=False) as gallery:
        person = gallery.create_person("base")
        gallery.add_templates(person.id, [template(v) for v in unit_vectors(3, 1)])
        snapshot_read = gallery.store.snapshot
        late = gallery.create_person("late")

        def snapshot_then_commit():
            snap = snapshot_read()
            gallery.store.add_templates(late.id, [template(unit_vectors(1, 2)[0], "late")])
            gallery.store.delete_template(int(snap.template_ids[0]))
            return snap

        gallery.store.snapshot = snapshot_then_commit  # type: ignore[method-assign]  # instrumented
        try:
            gallery.rebuild()
        finally:
            gallery.store.snapshot = snapshot_read  # type: ignore[method-assign]  # instrumented
        assert gallery.index_contents() == _contents_in_db(gallery)
        assert late.id in gallery.index_contents().values()
        assert gallery.revision == gallery.store.revision()


def test_workers_map_the_snapshot_and_replay_the_log(settings: Settings) -> None:
    with Gallery(settings, background=False) as first:
        _load(first, 300, 7)
        first.rebuild()  # publishes: there is no snapshot yet
        assert first.index_source.startswith("gallery-") and _snapshot_files(settings)
        for path in (Path(settings.storage.data_dir) / "index").glob("gallery-*"):
            assert path.stat().st_mode & 0o077 == 0  # biometric data: the owner's only
        person = first.create_person("after the snapshot")
        added = first.add_templates(person.id, [template(v) for v in unit_vectors(2, 8)])
        with Gallery(settings, background=False) as second:
            assert second.index_source == first.index_source  # mapped, not rebuilt
            assert second.index_contents() == _contents_in_db(first)
            found = second.search(unit_vectors(2, 8)[1], k=1).template_ids[0]
            assert added[1] is not None and found == added[1].id
            assert second.people_count == 301


def test_deleted_people_are_masked_at_load_and_erased_by_the_next_publish(
    settings: Settings,
) -> None:
    settings = settings.replace(gallery_snapshot_erase_s=0.01)
    with Gallery(settings, background=False) as gallery:
        vectors = _load(gallery, 100, 9)
        gallery.rebuild()
        old_files = _snapshot_files(settings)
        gone = gallery.store.list_people(limit=1).items[0]
        gone_ids = [t.id for t in gallery.list_templates(gone.id)]
        gone_vectors = [t.embedding for t in gallery.list_templates(gone.id)]
        gallery.delete_person(gone.id)
        # A worker starting now maps the snapshot that still holds them: masked by the replay.
        with Gallery(settings, background=False) as late:
            assert late.index_source == gallery.index_source
            assert not set(gone_ids) & set(late.index_contents())
            for v in gone_vectors:
                assert not set(gone_ids) & set(late.search(v, k=10).template_ids.tolist())
            assert late.people_count == 99
        # The deletion makes a snapshot due once the old file is snapshot_erase_s old (on a
        # quiet machine all of the above can take less); publishing removes the old files.
        time.sleep(0.05)
        assert gallery.snapshots is not None and gallery.snapshots.due() is not None
        assert gallery.refresh_snapshot() == "published"
        new_files = _snapshot_files(settings)
        assert new_files and not set(old_files) & set(new_files)
        labels = np.load(
            next(Path(settings.storage.data_dir, "index").glob("gallery-*.labels.npy"))
        )
        assert not set(gone_ids) & set(labels.tolist()) and len(labels) == len(vectors) - 3
        assert gallery.index_contents() == _contents_in_db(gallery)
        assert gallery.refresh_snapshot() is None  # nothing due any more


def test_a_snapshot_is_published_when_enough_changed(settings: Settings) -> None:
    settings = settings.replace(gallery_snapshot_min_changes=4)
    with Gallery(settings, background=False) as gallery:
        _load(gallery, 10, 3)
        gallery.rebuild()
        first = manifests(Path(settings.storage.data_dir) / "index")[0][0]
        person = gallery.create_person("p")
        gallery.add_templates(person.id, [template(v) for v in unit_vectors(3, 4)])
        assert gallery.refresh_snapshot() is None  # 3 < 4 changes, interval not reached
        gallery.add_templates(person.id, [template(unit_vectors(1, 5)[0], "x")])
        assert gallery.refresh_snapshot() == "published"
        assert manifests(Path(settings.storage.data_dir) / "index")[0][0] > first
        with Gallery(settings, background=False) as other:
            assert other.index_source == gallery.index_source
            assert other.index_contents() == _contents_in_db(gallery)


@pytest.mark.parametrize("damage", ["truncate", "flip", "model", "ahead", "no-manifest"])
def test_damaged_or_foreign_snapshots_are_ignored(
    settings: Settings, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Gallery(settings, background=False) as gallery:
        _load(gallery, 200, 11)
        gallery.rebuild()
        expected = _contents_in_db(gallery)
    directory = Path(settings.storage.data_dir) / "index"
    manifest = manifests(directory)[0][1]
    faiss_file = manifest.with_suffix(".faiss")
    if damage == "truncate":
        faiss_file.write_bytes(faiss_file.read_bytes()[:-100])
    elif damage == "flip":
        data = bytearray(faiss_file.read_bytes())
        data[len(data) // 2] ^= 0xFF
        faiss_file.write_bytes(bytes(data))
    elif damage in ("model", "ahead"):
        raw = json.loads(manifest.read_text())
        raw.update({"model_sha256": "cd" * 32} if damage == "model" else {"revision": 10**6})
        manifest.write_text(json.dumps(raw))
    else:
        manifest.unlink()
    full = settings.replace(gallery_snapshot_full_check=damage == "flip")
    with caplog.at_level(logging.WARNING), Gallery(full, background=False) as fresh:
        assert fresh.index_contents() == expected  # rebuilt from the database
        assert fresh.index_source != manifest.with_suffix("").name
    if damage != "no-manifest":
        assert "ignored" in caplog.text


def test_a_snapshot_older_than_the_change_log_is_not_replayed(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A stale snapshot (the log was pruned past its revision) is ignored with a warning; the
    worker builds from the database, and the next check publishes a fresh one."""
    with Gallery(settings, background=False) as gallery:
        _load(gallery, 50, 13)
        gallery.rebuild()
        stale = gallery.index_source
        _load(gallery, 50, 14)  # moves the log floor past the snapshot, like pruning
        with caplog.at_level(logging.WARNING), Gallery(settings, background=False) as late:
            assert late.index_contents() == _contents_in_db(gallery)
            assert late.index_source == "memory" and len(late.index_contents()) == 300
            assert "no longer reaches back" in caplog.text and stale in caplog.text
            assert late.refresh_snapshot() == "published"
            assert late.index_source != stale and late.index_source.startswith("gallery-")
            assert late.index_contents() == _contents_in_db(gallery)


def test_background_checks_publish_after_a_deletion_and_every_worker_remaps(
    settings: Settings,
) -> None:
    """Two workers with their background threads: after a deletion one of them publishes a
    fresh snapshot without the deleted templates, and both end up mapping it."""
    import time

    settings = settings.replace(gallery_snapshot_check_s=0.2, gallery_snapshot_erase_s=0.2)
    with Gallery(settings, background=False) as loader:
        _load(loader, 40, 17)
        loader.rebuild()
        first = loader.index_source
    with Gallery(settings) as a, Gallery(settings) as b:
        assert a.index_source == b.index_source == first
        gone = a.store.list_people(limit=1).items[0]
        gone_ids = {t.id for t in a.list_templates(gone.id)}
        a.delete_person(gone.id)
        deadline = time.monotonic() + 60  # a bound for the loop, not a speed requirement
        while time.monotonic() < deadline and not (
            a.index_source != first and b.index_source == a.index_source
        ):
            time.sleep(0.1)
        assert a.index_source != first and b.index_source == a.index_source
        assert _snapshot_files(settings) and not any(
            name.startswith(first[: -len(".json")]) for name in _snapshot_files(settings)
        )
        for worker in (a, b):
            assert worker.index_contents() == _contents_in_db(a)
            assert not gone_ids & set(worker.index_contents())
