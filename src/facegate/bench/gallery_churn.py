"""``facegate bench gallery --delete-fraction F``: deleting a share of a big gallery while
identification keeps running.

What issue 13 feared: a compaction after many deletions stalls searches. This measures it on
the real parts: ``size`` random templates (three per person, ``gallery_load.py``) in a fresh
SQLite gallery in a temp dir (or the empty PostgreSQL database given), a real ``Gallery`` with
its background threads as a serving worker has them (revision poll or LISTEN, snapshot loop,
rebuilds aside), ``searchers`` threads ranking genuine probes continuously, a second worker
process (``other_worker``: its own ``Gallery`` on the same data dir and database, one searcher
thread, judged alike: the issue's "other hosts identify"), and an admin
deleting ``ceil(F x people)`` people through ``Gallery.delete_person`` (the API's path: the
store's delete, then the catch-up), ``delete_batch`` people per batch with a short pause
between batches. ``ceil`` because the index compacts when *more* than a fifth of its rows is
dead: deleting exactly 20 % would leave it uncompacted.

Every search is timed around ``Gallery.rank`` (catch-up, search, ranking: what
``identify_many`` does before it looks up names) and filed into a phase by its start time:
``before`` the first deletion; ``compacting`` while a rebuild (start of the build to the
swap, ``Gallery.rebuilds``) runs after deletions began; ``deleting`` the rest of the deletion
period; ``after`` once the index's base was rebuilt past the last deletion. Probes are at
cosine ``probe_similarity`` to one template of a person, half of people who survive, half of
people to be deleted.

Correctness, judged after the run from what each search saw (no race with the deleter's
bookkeeping): a **wrong answer** is a search whose ranked people include a deleted person
although the gallery's revision, read just before the search, had already reached the
revision that deletion committed (the worker knew, and still answered with them). A deleted
person in an answer of a search that started after the commit but before this worker caught
up is counted as ``stale``, not wrong (the window the revision poll / NOTIFY bounds).
``survivor_recall`` is the share of searches for survivors whose best-ranked person is the
right one.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facegate.bench.gallery_bench import probes_near, rss_mb
from facegate.bench.gallery_load import load_random_people
from facegate.config import Settings
from facegate.gallery import Gallery, open_store
from facegate.gallery.index_swap import RebuildRecord

_PROBES = 4000  # genuine probes cycled through by the searchers
_PHASES = ("before", "deleting", "compacting", "after")


@dataclass(frozen=True, slots=True)
class _Search:
    """One timed search: when it started (``time.monotonic()``, the same clock in every
    process of the host), how long it took, whose probe it was, the gallery revision just
    before it, the best-ranked person (-1: none) and every ranked person among the doomed."""

    started: float
    seconds: float
    person: int
    revision: int
    top: int
    doomed: tuple[int, ...]


def _searcher(
    gallery: Gallery,
    probes: np.ndarray,
    owners: np.ndarray,
    doomed: frozenset[int],
    seed: int,
    stop: threading.Event,
    out: list[_Search],
) -> None:
    rng = np.random.default_rng(seed)
    while not stop.is_set():
        i = int(rng.integers(len(probes)))
        revision = gallery.revision
        started = time.monotonic()
        ranked = [r.person_id for r in gallery.rank(probes[i])]
        seconds = time.monotonic() - started
        out.append(
            _Search(
                started,
                seconds,
                int(owners[i]),
                revision,
                ranked[0] if ranked else -1,
                tuple(p for p in ranked if p in doomed),
            )
        )


def _search_threads(
    gallery: Gallery,
    work: Path,
    count: int,
    seed: int,
    stop: threading.Event,
) -> tuple[list[threading.Thread], list[list[_Search]]]:
    """``count`` started searcher threads over the probes saved in ``work``, and their logs."""
    probes = np.load(work / "probes.npy")
    owners = np.load(work / "owners.npy")
    doomed = frozenset(np.load(work / "doomed.npy").tolist())
    gallery.rank(probes[0])  # warm-up
    logs: list[list[_Search]] = [[] for _ in range(count)]
    threads = [
        threading.Thread(
            target=_searcher,
            args=(gallery, probes, owners, doomed, seed + n, stop, logs[n]),
            name=f"bench-searcher-{n}",
            daemon=True,
        )
        for n in range(count)
    ]
    for thread in threads:
        thread.start()
    return threads, logs


def _worker() -> None:
    """The other worker (a second process on the same data dir and database, as another
    serving worker or host): its own ``Gallery`` with background threads, one searcher
    thread from "ready" until its stdin closes, then its searches and rebuilds as JSON."""
    work = Path(sys.argv[1])
    gallery = Gallery(Settings())
    stop = threading.Event()
    threads, logs = _search_threads(gallery, work, 1, int(sys.argv[2]), stop)
    print("ready", flush=True)
    sys.stdin.read()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    rebuilds = [astuple(r) for r in gallery.rebuilds]
    gallery.close()
    json.dump({"searches": [astuple(s) for s in logs[0]], "rebuilds": rebuilds}, sys.stdout)


class _OtherWorker:
    """The parent's handle on ``_worker``."""

    def __init__(self, work: Path, env: dict[str, str], seed: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "facegate.bench.gallery_churn", str(work), str(seed + 100)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the other worker exited with {self.proc.wait()}")

    def finish(self) -> tuple[list[_Search], list[RebuildRecord]]:
        out, _ = self.proc.communicate(timeout=300)
        report = json.loads(out)
        searches = [_Search(s[0], s[1], s[2], s[3], s[4], tuple(s[5])) for s in report["searches"]]
        return searches, [RebuildRecord(*r) for r in report["rebuilds"]]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _latency(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"searches": 0}
    ms = np.asarray(seconds) * 1000
    return {
        "searches": len(ms),
        **{f"ms_p{q}": round(float(np.percentile(ms, q)), 3) for q in (50, 95, 99)},
        "ms_max": round(float(ms.max()), 1),
    }


def _wait_compacted(gallery: Gallery, revision: int, timeout_s: float) -> bool:
    """Wait until the index's base was rebuilt at or past ``revision`` (the dead rows gone)."""
    deadline = time.monotonic() + timeout_s
    while gallery.base_revision < revision:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def run_churn_bench(
    size: int,
    *,
    delete_fraction: float = 0.2,
    delete_batch: int = 1000,
    batch_pause_s: float = 0.5,
    searchers: int = 1,
    other_worker: bool = True,
    baseline_s: float = 5.0,
    after_s: float = 5.0,
    settle_timeout_s: float = 900.0,
    probe_similarity: float = 0.8,
    database_url: str | None = None,
    exact_max: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Load, search, delete ``delete_fraction`` of the people, let the index compact, report."""
    people_n = size // 3
    victims_n = math.ceil(delete_fraction * people_n)
    if people_n < 2 or not 0 < delete_fraction < 1 or victims_n >= people_n:
        raise ValueError("size must be >= 6 and 0 < delete_fraction < 1 leaving survivors")
    if searchers < 1 or delete_batch < 1:
        raise ValueError("searchers and delete_batch must be >= 1")
    with tempfile.TemporaryDirectory(prefix="facegate-churn-") as tmp:
        work = Path(tmp)
        env = dict(os.environ, FACEGATE_DATA_DIR=str(work / "data"))
        env.pop("FACEGATE_DATABASE_URL", None)
        if database_url:
            env["FACEGATE_DATABASE_URL"] = database_url
        settings = Settings().replace(data_dir=work / "data", database_url=database_url)
        if exact_max is not None:
            env["FACEGATE_GALLERY_EXACT_MAX"] = str(exact_max)
            settings = settings.replace(gallery_exact_max=exact_max)
        started = time.monotonic()
        with open_store(settings) as store:
            if store.count_templates():
                raise ValueError("the gallery must be empty")
            vectors = load_random_people(store, people_n, seed=seed)
            with store.db.read() as tx:
                # "bench i" is the i-th person of the load: its templates are rows 3i..3i+2
                rows = tx.execute("SELECT id, name FROM people")
        load_s = time.monotonic() - started
        ids = np.empty(people_n, np.int64)
        for pid, name in rows:
            ids[int(str(name).split()[1])] = int(pid)
        rng = np.random.default_rng(seed + 1)
        doomed = rng.permutation(people_n)[:victims_n]
        is_victim = np.zeros(people_n, bool)
        is_victim[doomed] = True
        # Half the probes of survivors, half of people who will be deleted.
        half = _PROBES // 2
        picks = np.concatenate(
            [rng.choice(np.flatnonzero(~is_victim), half), rng.choice(doomed, _PROBES - half)]
        )
        chosen = picks * 3 + rng.integers(0, 3, len(picks))
        np.save(work / "probes.npy", probes_near(vectors[chosen], probe_similarity, rng))
        np.save(work / "owners.npy", ids[picks])
        np.save(work / "doomed.npy", ids[doomed])
        del vectors

        started = time.monotonic()
        gallery = Gallery(settings)  # background threads on, as a serving worker
        open_s = time.monotonic() - started
        other = _OtherWorker(work, env, seed) if other_worker else None
        try:
            report = _churn(
                gallery,
                other,
                work,
                ids[doomed],
                searchers=searchers,
                delete_batch=delete_batch,
                batch_pause_s=batch_pause_s,
                baseline_s=baseline_s,
                after_s=after_s,
                settle_timeout_s=settle_timeout_s,
                seed=seed,
            )
        finally:
            if other is not None:
                other.kill()
            gallery.close()
    return {
        "size": people_n * 3,
        "people": people_n,
        "database": "postgres" if database_url else "sqlite",
        "exact_max": settings.gallery.exact_max,
        "approx": settings.gallery.approx_index,
        "snapshots": settings.gallery.snapshot_enabled,
        "searchers": searchers,
        "load_s": round(load_s, 1),
        "open_s": round(open_s, 2),
        **report,
    }


def _churn(
    gallery: Gallery,
    other: _OtherWorker | None,
    work: Path,
    doomed: np.ndarray,
    *,
    searchers: int,
    delete_batch: int,
    batch_pause_s: float,
    baseline_s: float,
    after_s: float,
    settle_timeout_s: float,
    seed: int,
) -> dict[str, Any]:
    """Search throughout; delete ``doomed`` in batches; wait for the compaction; judge."""
    stop = threading.Event()
    threads, logs = _search_threads(gallery, work, searchers, seed, stop)
    deletions: dict[int, tuple[int, float]] = {}  # person -> (revision, when it returned)
    delete_times: list[float] = []
    try:
        time.sleep(baseline_s)
        delete_start = time.monotonic()
        for first in range(0, len(doomed), delete_batch):
            if first:
                time.sleep(batch_pause_s)
            for pid in doomed[first : first + delete_batch].tolist():
                started = time.monotonic()
                gallery.delete_person(pid)
                delete_times.append(time.monotonic() - started)
                # the bench is the only writer: the revision now is the one this delete made
                deletions[pid] = (gallery.store.revision(), time.monotonic())
        delete_end = time.monotonic()
        compacted = _wait_compacted(gallery, gallery.store.revision(), settle_timeout_s)
        settled = time.monotonic()
        time.sleep(after_s)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    window = _Window(delete_start, settled, deletions)
    rebuilds = [r for r in gallery.rebuilds if r.swapped > delete_start]
    compaction = rebuilds[-1] if compacted and rebuilds else None
    report: dict[str, Any] = {
        "deleted_people": len(doomed),
        "deleted_templates": 3 * len(doomed),
        "delete_batch": delete_batch,
        "delete_s": round(delete_end - delete_start, 1),
        "delete_ms_p50": round(float(np.percentile(delete_times, 50)) * 1000, 2),
        "delete_ms_max": round(max(delete_times) * 1000, 1),
        "compacted": compacted,
        "compaction_s": round(compaction.swapped - compaction.started, 2) if compaction else None,
        "settle_s": round(settled - delete_end, 1),
        **window.judge([s for log in logs for s in log], rebuilds),
    }
    if other is not None:
        searches, other_rebuilds = other.finish()
        report["other_worker"] = window.judge(
            searches, [r for r in other_rebuilds if r.swapped > delete_start]
        )
    report["rss_mb"] = round(rss_mb(), 1)
    return report


@dataclass(frozen=True, slots=True)
class _Window:
    """The deletion period and every deletion, to judge one worker's searches by."""

    delete_start: float
    settled: float
    deletions: dict[int, tuple[int, float]]

    def phase(self, s: _Search, rebuilds: list[RebuildRecord]) -> str:
        if s.started < self.delete_start:
            return "before"
        if s.started >= self.settled:
            return "after"
        if any(r.started <= s.started < r.swapped for r in rebuilds):
            return "compacting"
        return "deleting"

    def judge(self, searches: list[_Search], rebuilds: list[RebuildRecord]) -> dict[str, Any]:
        """Latency per phase, the slowest searches, wrong and stale answers, recall."""
        searches = sorted(searches, key=lambda s: s.started)
        phases = [self.phase(s, rebuilds) for s in searches]
        timed = list(zip(searches, phases, strict=True))
        wrong = stale = 0
        for s in searches:
            for pid in s.doomed:
                revision, committed = self.deletions[pid]
                if s.revision >= revision:
                    wrong += 1
                elif s.started > committed:
                    stale += 1
        survivors = [s for s in searches if s.person not in self.deletions]
        doomed_before = [
            s for s in searches if s.person in self.deletions and s.started < self.delete_start
        ]
        slowest = sorted(range(len(searches)), key=lambda i: -searches[i].seconds)[:5]
        return {
            "rebuilds": [
                {
                    "start_s": round(r.started - self.delete_start, 2),
                    "build_s": round(r.swapped - r.started, 2),
                    "revision": r.revision,
                    "source": "memory" if r.source == "memory" else "snapshot",
                }
                for r in rebuilds
            ],
            "latency": {
                name: _latency([s.seconds for s, p in timed if p == name]) for name in _PHASES
            },
            "slowest": [
                {
                    "at_s": round(searches[i].started - self.delete_start, 2),
                    "ms": round(searches[i].seconds * 1000, 1),
                    "phase": phases[i],
                }
                for i in slowest
            ],
            "wrong_answers": wrong,
            "stale_answers": stale,
            "survivor_searches": len(survivors),
            "survivor_recall": _recall(survivors),
            "doomed_recall_before": _recall(doomed_before),
        }


def _recall(searches: list[_Search]) -> float | None:
    """The share of searches whose best-ranked person is the probe's."""
    if not searches:
        return None
    return round(float(np.mean([s.top == s.person for s in searches])), 4)


if __name__ == "__main__":
    _worker()
