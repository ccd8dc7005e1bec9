"""``facegate bench cluster``: identify throughput of 1, 2, 3 ... hosts on one PostgreSQL,
each host CPU-capped, so the numbers say how the cluster scales rather than how many idle
cores the machine happened to have.

How it is built (reusing ``bench http``'s server, clients and accounting):

- One throwaway database is created next to the given PostgreSQL URL (dropped afterwards);
  a few dev people are enrolled once through the first host. Every host is ``facegate serve
  --no-auth`` with its own data dir on that database (so its own node id), one worker.
- Hosts are added one at a time: the run for N hosts reuses the N-1 already up. Each gets
  ``clients_per_host`` asyncio clients posting dev photos to ``/api/v1/identify`` (keep-alive,
  the same photo rotation as ``bench http``); requests/s is every host's answers in the
  measured window over the window.
- The cap: a cgroup with ``cpu_quota`` of one core per host (cgroup v2 ``cpu.max`` or v1
  ``cpu.cfs_quota_us``, entered by a tiny shell before ``exec``, so every thread and child of
  the host is in it); without a writable cgroup, ``taskset`` pins host k to core k mod cores.
  The report says which cap applied. The load clients run uncapped in this process and share
  the machine: on a small machine keep ``cpu_quota * hosts`` well under the core count.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from facegate.bench.http_bench import (
    Served,
    enrol,
    load,
    percentiles,
    probe_photos,
    served,
    tree_cpu,
)

_CGROUP_V2 = Path("/sys/fs/cgroup")
_CGROUP_V1 = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000


def _cgroup_root() -> tuple[Path, str] | None:
    """Where a CPU-capped cgroup can be made here, and its version (None: nowhere)."""
    if os.geteuid() != 0:
        return None
    if (_CGROUP_V2 / "cgroup.controllers").is_file() and "cpu" in (
        _CGROUP_V2 / "cgroup.controllers"
    ).read_text():
        return _CGROUP_V2, "v2"
    if (_CGROUP_V1 / "cpu.cfs_quota_us").is_file():
        return _CGROUP_V1, "v1"
    return None


@contextmanager
def cpu_cap(index: int, quota: float) -> Iterator[tuple[tuple[str, ...], str]]:
    """A command prefix that runs a host under a cap of ``quota`` cores, and its description;
    the cgroup (if any) is removed afterwards."""
    found = _cgroup_root()
    if found is None:
        core = index % (os.cpu_count() or 1)
        yield ("taskset", "-c", str(core)), f"taskset core {core}"
        return
    root, version = found
    group = root / f"facegate-bench-{os.getpid()}-{index}"
    group.mkdir()
    try:
        quota_us = max(1000, int(quota * PERIOD_US))
        if version == "v2":
            (group / "cpu.max").write_text(f"{quota_us} {PERIOD_US}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota_us))
        enter = f'echo $$ > {group / "cgroup.procs"} && exec "$@"'
        yield ("sh", "-c", enter, "sh"), f"cgroup {version} cpu quota {quota:g} core"
    finally:
        for _ in range(50):  # the host's processes must have left it first
            with contextlib.suppress(OSError):
                group.rmdir()
            if not group.exists():
                break
            time.sleep(0.1)


@contextmanager
def throwaway_database(admin_url: str, name: str) -> Iterator[str]:
    """A fresh database next to ``admin_url``'s (dropped afterwards): its URL."""
    import psycopg

    def run(sql: str) -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql)

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _load_all(
    hosts: list[Served], photos: list[bytes], clients: int, warmup: float, seconds: float
) -> tuple[list[float], int, float]:
    """Every host loaded at once: latencies, errors, and the longest measured window."""
    runs = await asyncio.gather(*(load(h.base, photos, clients, warmup, seconds) for h in hosts))
    latencies = [ms for tally, _ in runs for ms in tally.latencies_ms]
    errors = sum(sum(tally.errors.values()) for tally, _ in runs)
    return latencies, errors, max(window for _, window in runs)


def run_cluster_bench(
    faces_dir: Path,
    admin_url: str,
    *,
    hosts: int = 3,
    cpu_quota: float = 0.5,
    clients_per_host: int = 4,
    warmup: float = 3.0,
    seconds: float = 15.0,
) -> dict[str, Any]:
    """Runs for 1..``hosts`` hosts (JSON-ready)."""
    if _cgroup_root() is None and shutil.which("taskset") is None:
        raise RuntimeError("no way to cap a host's CPU here (no writable cgroup, no taskset)")
    photos = probe_photos(faces_dir)
    runs: list[dict[str, Any]] = []
    caps: list[str] = []
    with throwaway_database(admin_url, "facegate_bench_cluster") as url, ExitStack() as stack:
        env = {"FACEGATE_DATABASE_URL": url, "FACEGATE_ACCESS_ENABLED": "false"}
        up: list[Served] = []
        people = 0
        for n in range(1, hosts + 1):
            prefix, described = stack.enter_context(cpu_cap(n - 1, cpu_quota))
            caps.append(described)
            up.append(stack.enter_context(served(1, env=env, prefix=prefix)))
            if n == 1:
                people = enrol(up[0].base, faces_dir)
            load0 = os.getloadavg()[0]
            cpu0 = sum(tree_cpu(h.pid) for h in up)
            latencies, errors, window = asyncio.run(
                _load_all(up, photos, clients_per_host, warmup, seconds)
            )
            cpu = sum(tree_cpu(h.pid) for h in up) - cpu0
            runs.append(
                {
                    "hosts": n,
                    "clients": clients_per_host * n,
                    "requests": len(latencies),
                    "requests_per_s": round(len(latencies) / window, 2) if window > 0 else 0.0,
                    **percentiles(latencies),
                    "errors": errors,
                    "server_cpu_cores": round(cpu / (warmup + window), 2),
                    "measured_s": round(window, 2),
                    "load_average_1m": {
                        "before": round(load0, 2),
                        "after": round(os.getloadavg()[0], 2),
                    },
                }
            )
    base = runs[0]["requests_per_s"] or 1.0
    for run in runs:
        run["speedup"] = round(run["requests_per_s"] / base, 2)
    return {
        "runs": runs,
        "caps": caps,
        "cpu_quota_per_host": cpu_quota,
        "enrolled_people": people,
        "photos": len(photos),
        "cores": os.cpu_count(),
        "timing": (
            f"{clients_per_host} asyncio clients per host (keep-alive) in the bench process "
            "post dev photos to /api/v1/identify on every host at once for warm-up + measured "
            "seconds; requests/s = all answers in the measured window / its length; hosts are "
            "`facegate serve --no-auth`, one worker, own data dir, one PostgreSQL database"
        ),
    }
