"""Live view cost: CPU of a ``facegate serve`` process and MJPEG frame rate, with a video file
as a server-side camera, for 0, 1 and 3 viewers and for an always-on camera nobody watches.

    .venv/bin/python bench/live_view.py --video ../shared/data/faces/videos/obama.mp4

CPU is the server process's user+system time over the window (100% = one core), read from
/proc, so it includes capture, recognition, drawing, encoding and HTTP. Numbers go to stdout
as one JSON line per scenario; docs/live.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

FACEGATE = Path(sys.executable).parent / "facegate"
HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def watch(base: str, key: str, stop: threading.Event, counts: list[int], i: int) -> None:
    with (
        httpx.Client(timeout=30) as c,
        c.stream("GET", f"{base}/streams/cam/mjpeg", headers={"X-API-Key": key}) as r,
    ):
        for chunk in r.iter_bytes():
            counts[i] += chunk.count(b"Content-Type: image/jpeg")
            if stop.is_set():
                return


def serve(data: Path, video: Path, always_on: bool, people: Path | None) -> tuple[Any, str, str]:
    command = [str(FACEGATE), "keys", "create", "--scope", "admin", "--data-dir", str(data)]
    created = subprocess.run([*command, "--json"], capture_output=True, text=True, check=True)
    key = json.loads(created.stdout)["key"]
    port = free_port()
    env = dict(os.environ)
    env["FACEGATE_CAMERAS"] = json.dumps(
        [{"name": "cam", "source": str(video), "always_on": always_on}]
    )
    proc = subprocess.Popen(
        [str(FACEGATE), "serve", "--port", str(port), "--data-dir", str(data), "--no-stream",
         "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    if people is not None:
        h = {"X-API-Key": key}
        person = httpx.post(f"{base}/api/v1/people", json={"name": people.name}, headers=h).json()
        files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in people.iterdir()]
        httpx.post(f"{base}/api/v1/people/{person['id']}/faces", files=files, headers=h, timeout=60)
    return proc, base, key


def measure(proc: Any, base: str, key: str, viewers: int, seconds: float) -> dict[str, Any]:
    stop = threading.Event()
    counts = [0] * viewers
    threads = [
        threading.Thread(target=watch, args=(base, key, stop, counts, i), daemon=True)
        for i in range(viewers)
    ]
    for t in threads:
        t.start()
    time.sleep(3.0)  # camera start, first frames
    start_counts, start_cpu, t0 = list(counts), cpu_seconds(proc.pid), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(proc.pid) - start_cpu) / elapsed * 100
    fps = [round((c - s) / elapsed, 1) for c, s in zip(counts, start_counts, strict=True)]
    stats = httpx.get(f"{base}/api/v1/live/streams", headers={"X-API-Key": key}).json()
    stop.set()
    for t in threads:
        t.join(5)
    cam = stats["streams"][0]
    return {
        "viewers": viewers,
        "cpu_percent": round(cpu, 1),
        "mjpeg_fps_per_viewer": fps,
        "pipeline_fps": cam["fps"],
        "latency_ms_p50": cam["latency_ms_p50"],
        "latency_ms_p95": cam["latency_ms_p95"],
        "camera_state": cam["state"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--person", type=Path, help="a folder of photos to enrol first")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    for always_on, viewer_counts in ((False, (0, 1, 3)), (True, (0,))):
        with tempfile.TemporaryDirectory() as tmp:
            proc, base, key = serve(Path(tmp), args.video, always_on, args.person)
            try:
                for n in viewer_counts:
                    result = measure(proc, base, key, n, args.seconds)
                    print(json.dumps({"always_on": always_on, **result}), flush=True)
                    time.sleep(6.0)  # let an on-demand camera stop between scenarios
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)


if __name__ == "__main__":
    main()
