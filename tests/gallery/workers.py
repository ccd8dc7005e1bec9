"""Code run in separate OS processes by test_processes.py (spawned, so nothing is shared)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from facegate.config import Settings
from facegate.gallery import Gallery
from tests.gallery.conftest import template, unit_vectors


def _settings(data_dir: str, url: str | None) -> Settings:
    return Settings(data_dir=Path(data_dir), database_url=url, gallery_poll_interval_s=0.2)


def watch_for_person(
    data_dir: str, url: str | None, probe: list[float], name: str, ready: Any, out: Any
) -> None:
    """Idle (no search) until the background sync shows a change, then identify once.

    Reports whether the idle watcher caught up on its own (the revision moved with no search
    made) and whom the first search after that found: the order of events, not their speed
    (the deadline only stops a hung child)."""
    with Gallery(_settings(data_dir, url)) as gallery:
        start_revision = gallery.revision
        ready.set()
        deadline = time.monotonic() + 60
        caught_up = False
        while time.monotonic() < deadline and not caught_up:
            caught_up = gallery.revision > start_revision  # no search made: the watcher did it
            time.sleep(0.005)
        found = None
        if caught_up:
            match = gallery.identify(np.asarray(probe, np.float32))
            found = match.person.name if match.person is not None else None
        out.put((caught_up, found))


def enrol_many(
    data_dir: str, url: str | None, worker: int, people: int, per_person: int, barrier: Any,
    out: Any,
) -> None:  # fmt: skip
    """Enrol people with templates in small batches while others do the same, then report
    what this process's index holds once everyone is done."""
    with Gallery(_settings(data_dir, url)) as gallery:
        vectors = unit_vectors(people * per_person, seed=1000 + worker)
        accepted = []
        for p in range(people):
            person = gallery.create_person(f"w{worker}-p{p}")
            rows = vectors[p * per_person : (p + 1) * per_person]
            for start in range(0, per_person, 3):
                batch = [
                    template(v, f"w{worker}-p{p}-{start + i}")
                    for i, v in enumerate(rows[start : start + 3])
                ]
                accepted += [t.id for t in gallery.add_templates(person.id, batch) if t]
            gallery.identify(rows[0])  # searches interleave with other processes' writes
        barrier.wait(timeout=120)
        gallery.sync()
        out.put((worker, accepted, sorted(gallery.index_contents().items())))


def bulk_insert_until_killed(data_dir: str, url: str | None, log_path: str) -> None:
    """Insert batches of 20 templates forever, logging each batch after it committed."""
    with Gallery(_settings(data_dir, url), background=False) as gallery, open(log_path, "a") as log:
        person = gallery.create_person("bulk")
        batch_no = 0
        while True:
            vectors = unit_vectors(20, seed=batch_no)
            batch = [template(v, f"b{batch_no}-{i}") for i, v in enumerate(vectors)]
            ids = [t.id for t in gallery.add_templates(person.id, batch) if t]
            log.write(f"{batch_no} {' '.join(map(str, ids))}\n")
            log.flush()
            batch_no += 1
