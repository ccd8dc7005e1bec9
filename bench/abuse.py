"""Hostile clients against a real ``facegate serve``: what they cost the server and everyone
else (docs/security.md ("Limits") quotes the numbers).

    PYTHONPATH=$PWD/src .venv/bin/python bench/abuse.py [--seconds 6]

Scenarios, each measured by a well-behaved client (keep-alive, its own address):
``/healthz`` and ``/api/v1/identify`` latency alone, under 3 clients sending 19 MB JSON
bodies without a key, and under 200 slowloris connections; then the latency, answer and
server RSS of single hostile images (a 600-byte JPEG claiming 6300x6300, a float TIFF, an
EPS, 400 faces in one image, 20 lying JPEGs in one enrolment). Prints one JSON object.
``--server-pythonpath /old/checkout/src`` measures an older server (the "before" numbers).
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serving import create_key, free_port, serving  # noqa: E402

from facegate.bench.hostile import (  # noqa: E402
    FR_OBAMA_FACE,
    body_flood,
    crowd,
    eps,
    float_tiff,
    lying_jpeg,
    slowloris,
)

FACES = ROOT.parent / "shared" / "data" / "faces" / "people"
PHOTO = FACES / "Barack_Obama" / "fr_obama.jpg"


def server_pid(port: int) -> int:
    """The process listening on ``port`` (``facegate serve`` with one worker)."""
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
            return int(conn.pid)
    raise RuntimeError(f"nothing listens on {port}")


def rss_mb(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / 1e6, 1)


def latencies(call: Callable[[], int], seconds: float) -> dict[str, Any]:
    """Call repeatedly for ``seconds``; latency quantiles in ms and the statuses seen."""
    times, statuses = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        try:
            statuses.append(call())
        except httpx.HTTPError as exc:
            statuses.append(type(exc).__name__)  # type: ignore[arg-type]
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1) if len(times) > 1 else None,
        "max_ms": round(times[-1], 1),
        "statuses": sorted({str(s) for s in statuses}),
    }


def measure(base: str, recognize: str, seconds: float) -> dict[str, Any]:
    photo = PHOTO.read_bytes()
    with httpx.Client(base_url=base, timeout=120) as c:
        health = latencies(lambda: c.get("/healthz").status_code, seconds)
        identify = latencies(
            lambda: (
                c.post(
                    "/api/v1/identify",
                    files={"image": ("p.jpg", photo, "image/jpeg")},
                    headers={"X-API-Key": recognize},
                ).status_code
            ),
            seconds,
        )
    return {"healthz": health, "identify": identify}


def under(attack: Callable[[threading.Event], object], count: int, run: Callable[[], Any]) -> Any:
    stop = threading.Event()
    threads = [threading.Thread(target=attack, args=(stop,), daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # let the attack build up
    try:
        return run()
    finally:
        stop.set()
        for t in threads:
            t.join(30)


def hostile_images(base: str, pid: int, recognize: str, admin: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    cases = {
        "lying_jpeg_6300": lying_jpeg(),
        "float_tiff_6000": float_tiff(),
        "eps": eps(),
        "crowd_400_faces": crowd(PHOTO.read_bytes(), FR_OBAMA_FACE),
    }
    with httpx.Client(base_url=base, timeout=300) as c:
        for name, data in cases.items():
            start = time.perf_counter()
            r = c.post(
                "/api/v1/identify",
                files={"image": (name, data, "application/octet-stream")},
                headers={"X-API-Key": recognize},
            )
            faces = len(r.json().get("faces", [])) if r.status_code == 200 else None
            results[name] = {
                "bytes": len(data),
                "status": r.status_code,
                "code": r.json().get("error", {}).get("code") if r.status_code != 200 else None,
                "faces": faces,
                "ms": round((time.perf_counter() - start) * 1000, 1),
                "server_rss_mb_after": rss_mb(pid),
            }
        person = c.post("/api/v1/people", json={"name": "Bench"}, headers={"X-API-Key": admin})
        pid_ = person.json()["id"]
        lie = base64.b64encode(lying_jpeg()).decode()
        start = time.perf_counter()
        r = c.post(
            f"/api/v1/people/{pid_}/faces",
            json={"images": [lie] * 20},
            headers={"X-API-Key": admin},
        )
        results["enrol_20_lying_jpegs"] = {
            "status": r.status_code,
            "ms": round((time.perf_counter() - start) * 1000, 1),
            "server_rss_mb_after": rss_mb(pid),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per latency window")
    parser.add_argument(
        "--server-pythonpath", help="PYTHONPATH of the server only (an older checkout's src)"
    )
    args = parser.parse_args()
    env = {"PYTHONPATH": args.server_pythonpath} if args.server_pythonpath else None
    with tempfile.TemporaryDirectory(prefix="facegate-abuse-") as tmp:
        data = Path(tmp)
        admin, recognize = create_key(data, "admin"), create_key(data, "recognize")
        port = free_port()
        with serving(data, port, "--no-stream", env=env) as base:
            pid = server_pid(port)
            report: dict[str, Any] = {"server_rss_mb_start": rss_mb(pid)}
            report["alone"] = measure(base, recognize, args.seconds)

            def flood(stop: threading.Event) -> object:
                return body_flood(port, stop)

            def loris(stop: threading.Event) -> object:
                return slowloris(port, stop, connections=200)

            report["3_body_flooders_no_key"] = under(
                flood, 3, lambda: measure(base, recognize, args.seconds)
            )
            report["rss_mb_after_flood"] = rss_mb(pid)
            report["200_slowloris"] = under(
                loris, 1, lambda: measure(base, recognize, args.seconds)
            )
            report["open_fds_after_slowloris"] = psutil.Process(pid).num_fds()
            report["hostile_images"] = hostile_images(base, pid, recognize, admin)
            report["server_rss_mb_end"] = rss_mb(pid)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
