"""``facegate bench gallery --startup``: start-up time and memory per host for N workers.

A gallery of ``size`` random unit templates (three per person) is bulk-loaded into a fresh
SQLite database (or the PostgreSQL database given, which must be empty), then ``workers``
real processes start a ``Gallery`` at once, the way the server's workers do, in two modes:

- ``cold``: snapshots off, every worker builds its own index from the database;
- ``mapped``: a snapshot is published first (its time is reported), then every worker maps
  it and replays the log.

Each worker answers 50 searches before it reports ready (so the pages a search touches are
resident), then the parent reads every worker's ``/proc/PID/smaps_rollup`` while all are
alive: RSS, PSS (shared pages divided among the processes mapping them) and shared pages.
The per-host figure is the sum over workers: the sum of PSS is what the host really pays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_WORKER_SEARCHES = 50


@dataclass(frozen=True, slots=True)
class WorkerReport:
    start_s: float
    source: str
    rss_mb: float
    pss_mb: float
    shared_mb: float


@dataclass(frozen=True, slots=True)
class ModeReport:
    workers: list[WorkerReport]
    start_s_max: float
    host_rss_mb: float
    host_pss_mb: float


def smaps_rollup(pid: int | str = "self") -> dict[str, float]:
    """Rss, Pss and Shared_* of a process in MB, from ``/proc/PID/smaps_rollup`` ({} if the
    kernel has none)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def _worker() -> None:
    """One worker: start a gallery from the environment's settings, search, say ready."""
    import numpy as np

    from facegate.config import Settings
    from facegate.gallery import Gallery

    started = time.perf_counter()
    gallery = Gallery(Settings(), background=False)
    start_s = time.perf_counter() - started
    rng = np.random.default_rng(os.getpid())
    for _ in range(_WORKER_SEARCHES):
        probe = rng.standard_normal(128).astype(np.float32)
        gallery.search(probe / np.linalg.norm(probe), k=50)
    print(json.dumps({"start_s": start_s, "source": gallery.index_source}), flush=True)
    sys.stdin.read()  # until the parent has measured everyone
    gallery.close()


def _start_workers(count: int, env: dict[str, str]) -> ModeReport:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "facegate.bench.gallery_startup"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        ready = []
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"a worker exited with {proc.wait()} before it was ready")
            ready.append(json.loads(line))
        reports = []
        for proc, info in zip(procs, ready, strict=True):
            mem = smaps_rollup(proc.pid)
            shared = mem.get("Shared_Clean", 0.0) + mem.get("Shared_Dirty", 0.0)
            reports.append(
                WorkerReport(
                    start_s=round(float(info["start_s"]), 3),
                    source=str(info["source"]),
                    rss_mb=round(mem.get("Rss", 0.0), 1),
                    pss_mb=round(mem.get("Pss", 0.0), 1),
                    shared_mb=round(shared, 1),
                )
            )
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            proc.wait(timeout=120)
    return ModeReport(
        workers=reports,
        start_s_max=max(r.start_s for r in reports),
        host_rss_mb=round(sum(r.rss_mb for r in reports), 1),
        host_pss_mb=round(sum(r.pss_mb for r in reports), 1),
    )


def run_startup_bench(
    size: int,
    *,
    workers: int = 2,
    database_url: str | None = None,
    data_dir: Path | None = None,
    exact_max: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Load ``size`` templates, then start ``workers`` processes cold and mapped."""
    from facegate.bench.gallery_load import load_random_people
    from facegate.config import Settings
    from facegate.gallery import open_store
    from facegate.gallery.index import IndexParams
    from facegate.gallery.snapshot_files import manifests
    from facegate.gallery.snapshot_job import SnapshotJob

    if size < 3 or workers < 1:
        raise ValueError("size must be >= 3 and workers >= 1")
    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        root = data_dir or Path(tmp)
        env = dict(os.environ, FACEGATE_DATA_DIR=str(root))
        if database_url:
            env["FACEGATE_DATABASE_URL"] = database_url
        if exact_max is not None:
            env["FACEGATE_GALLERY_EXACT_MAX"] = str(exact_max)
        settings = Settings(data_dir=root, database_url=database_url)
        if exact_max is not None:
            settings = settings.replace(gallery_exact_max=exact_max)
        started = time.perf_counter()
        with open_store(settings) as store:
            if store.count_templates():
                raise ValueError("the gallery must be empty")
            load_random_people(store, size // 3, seed=seed)
            load_s = time.perf_counter() - started
            cold = _start_workers(workers, dict(env, FACEGATE_GALLERY_SNAPSHOT_ENABLED="false"))
            started = time.perf_counter()
            params = IndexParams(exact_max=settings.gallery.exact_max)
            SnapshotJob(settings, store, params).publish(force=True)
            publish_s = time.perf_counter() - started
        directory = root / "index"
        stem = manifests(directory)[0][1].name[: -len(".json")]
        snapshot_mb = sum(p.stat().st_size for p in directory.glob(f"{stem}.*")) / 2**20
        mapped = _start_workers(workers, dict(env, FACEGATE_GALLERY_SNAPSHOT_ENABLED="true"))
    return {
        "size": size // 3 * 3,
        "workers": workers,
        "database": "postgres" if database_url else "sqlite",
        "load_s": round(load_s, 1),
        "publish_s": round(publish_s, 2),
        "snapshot_mb": round(snapshot_mb, 1),
        "cold": asdict(cold),
        "mapped": asdict(mapped),
    }


if __name__ == "__main__":
    _worker()
