"""``facegate bench access``: how long from a frame's capture to the door's decision.

A real stream server, door watcher and decision thread in this process, over a fresh gallery
(SQLite in a temporary folder, or ``--database-url``): the person of ``--photos`` is enrolled
and allowed through a door whose camera is the TCP stream; each "walk" streams the video on a
new connection at ``--fps`` (so a new track, so one new decision). Per walk:

- ``capture_to_decision_ms``: from the capture time of the first frame whose result shows
  the person confirmed (the client's clock, the same machine) to the decision (the door
  event's ``at``: when the decision thread took the attempt and began its transaction);
- ``watcher_to_decision_ms``: from the door watcher seeing that frame to that moment (the
  event's ``latency_ms``: the wait in the decision queue);
- ``capture_to_processed_ms``: from that capture to the end of that frame's processing
  (where the watcher runs): the pipeline's share;
- ``capture_to_confirmed_ms``: from the first frame in which the face appears to the
  confirming frame's capture: the confirmation itself (several frames must agree).

Output delivery (decision -> webhook/MQTT/relay) is measured by the outputs' own benchmark.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.access.service import AccessService
from facegate.access.store import DoorCamera
from facegate.config import Settings
from facegate.services import Services
from facegate.stream import Client
from facegate.stream.messages import Result
from facegate.stream.server import AllowAll, StreamServer

DOOR, CAMERA = "bench-door", "bench-cam"


def _frames(video: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    if not frames:
        raise ValueError(f"no frames could be read from {video}")
    return frames


def _walk(port: int, frames: Sequence[np.ndarray], fps: float) -> list[Result]:
    """Stream the frames in real time on a new connection; every frame's result."""
    results: list[Result] = []
    with Client("127.0.0.1", port, "bench", stream=CAMERA) as client:
        start = time.monotonic()
        for index, image in enumerate(frames):
            delay = start + index / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            results.append(client.result_for(client.send_frame(image)))
    return results


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 1),
        "p95": round(p95, 1),
        "max": round(ordered[-1], 1),
    }


def run_access_bench(
    video: Path,
    photos: Path,
    *,
    walks: int = 10,
    frames: int = 45,
    fps: float = 15.0,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark; the JSON report (see the module docstring)."""
    clip = _frames(video, frames)
    with tempfile.TemporaryDirectory(prefix="facegate-access-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp), database_url=database_url, stream_port=0, access_refresh_s=0.5
        )
        services = Services.start(settings, background_sync=False)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        access = AccessService(settings, services.gallery.store.db)
        try:
            person = services.gallery.create_person(photos.name)
            images = [(p.name, p.read_bytes()) for p in sorted(photos.iterdir()) if p.is_file()]
            services.recognition.enrol(person.id, images, enforce_quality=False)
            store = access.store
            store.add_door(DOOR, [DoorCamera(CAMERA, "in")])
            store.add_group("bench")
            store.add_member("bench", person.id)
            store.add_rule(DOOR, "bench")
            access.start()
            services.observers.register(access.watcher_factory)
            server = StreamServer(services, "127.0.0.1", 0, verifier=AllowAll())
            asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
            report = _measure(access, server.port, clip, walks, fps, person.id)
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        finally:
            access.stop()
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            services.close()
    report.update({"video": video.name, "frames_per_walk": len(clip), "fps": fps})
    report["database"] = "postgres" if database_url else "sqlite"
    return report


def _measure(
    access: AccessService, port: int, clip: list[np.ndarray], walks: int, fps: float, pid: int
) -> dict[str, Any]:
    to_decision, watcher, to_confirm, to_result = [], [], [], []
    decided = 0
    for _ in range(walks):
        before = access.events.events(door=DOOR, limit=1).total
        results = _walk(port, clip, fps)
        deadline = time.monotonic() + 10
        page = access.events.events(door=DOOR, limit=1)
        while page.total == before and time.monotonic() < deadline:
            time.sleep(0.02)
            page = access.events.events(door=DOOR, limit=1)
        if page.total == before:
            continue
        event = page.items[0]
        confirmed = next(
            (
                r
                for r in results
                if any(f.confirmed and f.person and f.person.id == pid for f in r.faces)
            ),
            None,
        )
        first_face = next((r for r in results if r.faces), None)
        if event.decision != "granted" or confirmed is None or first_face is None:
            continue
        decided += 1
        to_decision.append((event.at.timestamp() - confirmed.timestamps.captured) * 1000)
        watcher.append(event.latency_ms or 0.0)
        to_result.append((confirmed.timestamps.processed - confirmed.timestamps.captured) * 1000)
        to_confirm.append((confirmed.timestamps.captured - first_face.timestamps.captured) * 1000)
    return {
        "walks": walks,
        "granted": decided,
        "capture_to_decision_ms": _stats(to_decision),
        "watcher_to_decision_ms": _stats(watcher),
        "capture_to_processed_ms": _stats(to_result),
        "capture_to_confirmed_ms": _stats(to_confirm),
    }
