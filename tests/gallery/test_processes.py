"""Consistency and faults with real OS processes (spawned, not threads), on both backends."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from facegate.config import Settings
from facegate.gallery import Gallery
from facegate.gallery.gallery import open_store
from tests.gallery import workers
from tests.gallery.conftest import template, unit_vectors

# Real OS processes writing one gallery: the processes tier.
pytestmark = pytest.mark.processes


SPAWN = multiprocessing.get_context("spawn")


def _args(settings: Settings) -> tuple[str, str | None]:
    return str(settings.storage.data_dir), settings.storage.database_url


def test_a_person_enrolled_by_one_process_is_identified_by_another_without_a_search(
    settings: Settings,
) -> None:
    """An idle worker's background sync (LISTEN/NOTIFY or polling) picks up another
    process's commit by itself, and its first search after that finds the newcomer."""
    probe = unit_vectors(1, seed=42)[0]
    with Gallery(settings) as gallery:
        gallery.add_templates(gallery.create_person("Other").id, [template(unit_vectors(1, 1)[0])])
        ready, out = SPAWN.Event(), SPAWN.Queue()
        child = SPAWN.Process(
            target=workers.watch_for_person,
            args=(*_args(settings), probe.tolist(), "Newcomer", ready, out),
        )
        child.start()
        try:
            assert ready.wait(60), "the other process did not start"
            person = gallery.create_person("Newcomer")
            gallery.add_templates(person.id, [template(probe)])
            caught_up, found = out.get(timeout=90)
        finally:
            child.join(30)
    assert caught_up, "an idle worker never noticed the change"
    assert found == "Newcomer", f"the first search after the sync found {found!r}"


def test_concurrent_writers_lose_nothing(settings: Settings) -> None:
    # No process migrates first: the three start on an empty database at once.
    workers_n, people, per_person = 3, 4, 7
    barrier, out = SPAWN.Barrier(workers_n), SPAWN.Queue()
    procs = [
        SPAWN.Process(
            target=workers.enrol_many,
            args=(*_args(settings), w, people, per_person, barrier, out),
        )
        for w in range(workers_n)
    ]
    for p in procs:
        p.start()
    reports = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    store = open_store(settings)
    snapshot = store.snapshot()
    in_db = dict(zip(snapshot.template_ids.tolist(), snapshot.person_ids.tolist(), strict=True))
    store.close()
    accepted = [t for _, ids, _ in reports for t in ids]
    assert len(accepted) == workers_n * people * per_person == len(in_db)
    assert set(accepted) == set(in_db)
    for worker, _, contents in reports:
        assert dict(contents) == in_db, f"worker {worker}'s index differs from the database"


def test_sigkill_mid_bulk_insert_leaves_a_clean_database(
    settings: Settings, backend: str, tmp_path: Path
) -> None:
    log = tmp_path / "committed.log"
    log.touch()
    child = SPAWN.Process(
        target=workers.bulk_insert_until_killed, args=(*_args(settings), str(log))
    )
    child.start()
    deadline = time.time() + 60
    while time.time() < deadline and log.read_text().count("\n") < 15:
        time.sleep(0.02)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    committed = {
        int(i) for line in log.read_text().splitlines() if line.strip() for i in line.split()[1:]
    }
    assert len(committed) >= 15 * 20

    if backend == "sqlite":
        conn = sqlite3.connect(settings.storage.data_dir / "facegate.db")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    with Gallery(settings, background=False) as gallery:  # opens cleanly, rebuilds its index
        snapshot = gallery.store.snapshot()
        in_db = set(snapshot.template_ids.tolist())
        assert committed <= in_db, "a committed template is missing"
        # Batches are atomic: each one is entirely present or entirely absent.
        sources = [t.source_sha256 or "" for t in gallery.list_templates(snapshot.person_ids[0])]
        per_batch: dict[str, int] = {}
        for source in sources:
            per_batch[source.split("-")[0]] = per_batch.get(source.split("-")[0], 0) + 1
        assert set(per_batch.values()) == {20}
        # The rebuilt index equals the database, vectors included.
        assert gallery.index_contents() == dict(
            zip(snapshot.template_ids.tolist(), snapshot.person_ids.tolist(), strict=True)
        )
        for tid, vector in list(zip(snapshot.template_ids, snapshot.vectors, strict=True))[::50]:
            hits = gallery.search(vector, k=1)
            assert hits.template_ids[0] == tid and hits.scores[0] == pytest.approx(1.0, abs=1e-5)
        assert gallery.revision == gallery.store.revision()
        # And it keeps working.
        person = gallery.create_person("after")
        gallery.add_templates(person.id, [template(np.asarray(unit_vectors(1, 99)[0]))])
        assert gallery.identify(unit_vectors(1, 99)[0]).person == gallery.get_person(person.id)
