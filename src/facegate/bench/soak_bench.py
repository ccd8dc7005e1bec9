"""``facegate bench soak``: streams, identify requests and enrolments at once, for minutes,
against a self-started ``facegate serve``; memory and latency sampled over time.

Why: a leak or a slowly growing structure (a cache without a bound, a list per frame, a
gallery index that never compacts) shows only over time. The run is cut into windows of
``sample_seconds``; in each, ``streams`` stream clients send the dev video at ``fps``,
``clients`` HTTP clients post identify requests, and one enroller creates a person, enrols
photos and deletes the person again (the gallery grows and shrinks). At each window's end
the server's resident memory (RSS of its process tree) and the window's latency percentiles
are recorded. The verdict fits a straight line through the samples after the first window
(warm-up: models, allocator pools) and reports the slope of RSS (MB per minute) and of the
identify and stream p95 (ms per minute), with the growth over the run they imply.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from facegate.bench.http_bench import enrol, load, percentiles, probe_photos, served, tree_cpu
from facegate.bench.stream_bench import _client, _ClientRun, load_jpegs


def tree_rss_mb(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / 2**20


def _enroller(base: str, faces_dir: Path, until: float, done: list[float]) -> None:
    """Create, enrol and delete a person over and over until ``until`` (ms per cycle)."""
    folder = faces_dir / "people" / "Kit_Harington"
    files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in sorted(folder.iterdir())]
    with httpx.Client(base_url=base, timeout=120) as client:
        k = 0
        while time.monotonic() < until:
            began = time.monotonic()
            person = client.post("/api/v1/people", json={"name": f"soak {k}"}).json()
            client.post(f"/api/v1/people/{person['id']}/faces", files=files)
            client.delete(f"/api/v1/people/{person['id']}")
            done.append((time.monotonic() - began) * 1000.0)
            k += 1
            time.sleep(1.0)


def slope_per_minute(times_s: list[float], values: list[float]) -> float:
    """Least-squares slope of ``values`` against time, per minute (0 for fewer than 2)."""
    if len(values) < 2:
        return 0.0
    return float(np.polyfit(np.asarray(times_s) / 60.0, np.asarray(values), 1)[0])


def run_soak(
    faces_dir: Path, video: Path, *, minutes: float, sample_seconds: float = 30.0,
    streams: int = 4, fps: float = 10.0, clients: int = 4,
) -> dict[str, Any]:  # fmt: skip
    jpegs = load_jpegs(video, 640, 360)
    photos = probe_photos(faces_dir)
    samples: list[dict[str, Any]] = []
    with served(1, stream=True) as server:
        assert server.stream_port is not None
        enrol(server.base, faces_dir)
        start = time.monotonic()
        end = start + minutes * 60.0
        while time.monotonic() < end:
            window_end = min(end, time.monotonic() + sample_seconds)
            runs = [_ClientRun(i, streams) for i in range(streams)]
            until_perf = time.perf_counter() + (window_end - time.monotonic())
            threads = [
                threading.Thread(
                    target=_client,
                    args=("127.0.0.1", server.stream_port, "soak", jpegs, fps, until_perf, r),
                    daemon=True,
                )
                for r in runs
            ]
            enrolments: list[float] = []
            threads.append(
                threading.Thread(
                    target=_enroller, args=(server.base, faces_dir, window_end, enrolments)
                )
            )
            for t in threads:
                t.start()
            cpu0 = tree_cpu(server.pid)
            seconds = max(1.0, window_end - time.monotonic())
            tally, _ = asyncio.run(load(server.base, photos, clients, 0.0, seconds))
            for t in threads:
                t.join(timeout=30)
            stream_ms = [ms for r in runs for ms in r.latency.values()]
            sent = sum(len(r.sent) for r in runs)
            identify = percentiles(tally.latencies_ms)
            samples.append(
                {
                    "t_s": round(time.monotonic() - start, 1),
                    "rss_mb": round(tree_rss_mb(server.pid), 1),
                    "server_cpu_cores": round((tree_cpu(server.pid) - cpu0) / seconds, 2),
                    "identify_requests": len(tally.latencies_ms),
                    "identify_errors": sum(tally.errors.values()),
                    "identify_ms_p50": identify["latency_ms_p50"],
                    "identify_ms_p95": identify["latency_ms_p95"],
                    "stream_frames_sent": sent,
                    "stream_results": len(stream_ms),
                    "stream_ms_p50": percentiles(stream_ms)["latency_ms_p50"],
                    "stream_ms_p95": percentiles(stream_ms)["latency_ms_p95"],
                    "stream_errors": sum(r.error is not None for r in runs),
                    "enrolment_cycles": len(enrolments),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                }
            )
    return {"samples": samples, "verdict": verdict(samples), "settings": {
        "minutes": minutes, "sample_seconds": sample_seconds, "streams": streams, "fps": fps,
        "identify_clients": clients, "cores": os.cpu_count()}}  # fmt: skip


def verdict(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Slopes after the first (warm-up) window and the growth they imply over the run."""
    steady = samples[1:] if len(samples) > 2 else samples
    t = [s["t_s"] for s in steady]
    span_min = (t[-1] - t[0]) / 60.0 if len(t) > 1 else 0.0
    out: dict[str, Any] = {"windows": len(samples), "windows_fitted": len(steady)}
    for key, unit in (
        ("rss_mb", "mb"),
        ("identify_ms_p95", "ms"),
        ("stream_ms_p95", "ms"),
    ):
        values = [float(s[key]) for s in steady]
        slope = slope_per_minute(t, values)
        mean = float(np.mean(values)) if values else 0.0
        out[f"{key}_slope_{unit}_per_min"] = round(slope, 3)
        out[f"{key}_growth_over_run_pct"] = (
            round(100.0 * slope * span_min / mean, 1) if mean else 0.0
        )
    rss_ok = out["rss_mb_growth_over_run_pct"] < 5.0
    out["stable"] = bool(rss_ok and out["identify_ms_p95_growth_over_run_pct"] < 25.0)
    return out
