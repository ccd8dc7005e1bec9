"""``facegate bench http``: identify requests from many concurrent clients against a real
``facegate serve`` process, with 1 and 2 workers.

Why it is built this way:

- The server is the product's own command in a subprocess (``facegate serve --no-auth`` on
  loopback, a throwaway data folder, no stream server), so what is measured is what a
  deployment runs: uvicorn, the API layer, the inference pool, the gallery.
- A few dev people are enrolled first (over the API) so every identify searches a gallery.
- The clients are asyncio tasks in this process (httpx, keep-alive), ``clients`` requests in
  flight at all times, each posting dev photos round-robin (their sizes vary as phones'
  do). They share the machine's cores with the server, as in the issue's measurement.
- Each worker count runs ``warmup`` seconds unmeasured, then ``seconds`` measured:
  requests/s, latency percentiles of the measured requests, errors by status, and the
  server's CPU time per answered request (psutil over the server's process tree).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

FACEGATE = Path(sys.executable).parent / "facegate"
ENROLLED = ("Barack_Obama", "Joseph_Biden", "Kit_Harington", "Rose_Leslie", "Alex_Lacamoire")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def probe_photos(faces_dir: Path, limit: int = 24) -> list[bytes]:
    """Dev photos the clients post: the group photos and the demo photos (various sizes)."""
    paths = sorted((faces_dir / "groups").glob("*.jpg"))
    paths += sorted(faces_dir.glob("people/*/fr_*.jp*g"))
    if not paths:
        raise FileNotFoundError(f"no dev photos under {faces_dir}")
    return [p.read_bytes() for p in paths[:limit]]


@dataclass
class Tally:
    """What the clients saw during the measured window."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


async def _client(
    client: httpx.AsyncClient, photos: list[bytes], offset: int, until: float, start: float,
    tally: Tally,
) -> None:  # fmt: skip
    i = offset
    while time.monotonic() < until:
        photo = photos[i % len(photos)]
        i += 1
        began = time.monotonic()
        try:
            response = await client.post(
                "/api/v1/identify", files={"image": ("photo.jpg", photo, "image/jpeg")}
            )
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        if began < start:
            continue  # warm-up
        if status == "200":
            tally.latencies_ms.append((time.monotonic() - began) * 1000.0)
        else:
            tally.errors[status] += 1


async def load(
    base: str, photos: list[bytes], clients: int, warmup: float, seconds: float
) -> tuple[Tally, float]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        start = time.monotonic() + warmup
        until = start + seconds
        tally = Tally()
        await asyncio.gather(
            *(_client(client, photos, k, until, start, tally) for k in range(clients))
        )
        # requests still in flight at ``until`` finish after it: the window is measured to
        # the last answer so requests/s is not overstated
        return tally, time.monotonic() - start


def tree_cpu(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def enrol(base: str, faces_dir: Path) -> int:
    with httpx.Client(base_url=base, timeout=120) as client:
        for name in ENROLLED:
            folder = faces_dir / "people" / name
            person = client.post("/api/v1/people", json={"name": name}).json()
            files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in folder.iterdir()]
            client.post(f"/api/v1/people/{person['id']}/faces", files=files).raise_for_status()
    return len(ENROLLED)


@dataclass(frozen=True)
class Served:
    """A running self-started server: HTTP base URL, process id, stream port (or None)."""

    base: str
    pid: int
    stream_port: int | None


@contextmanager
def served(
    workers: int,
    *,
    stream: bool = False,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
) -> Iterator[Served]:
    """``facegate serve --no-auth`` (loopback, throwaway data folder) until the block ends;
    ``prefix`` runs it through another command (a CPU cap: ``facegate.bench.cluster_bench``)."""
    data = Path(tempfile.mkdtemp(prefix="facegate-bench-"))
    port = _free_port()
    stream_port = _free_port() if stream else None
    command = [
        *prefix, str(FACEGATE), "serve", "--no-auth", "--port", str(port),
        "--workers", str(workers), "--data-dir", str(data), "--log-level", "warning",
    ]  # fmt: skip
    command += ["--stream-port", str(stream_port)] if stream_port else ["--no-stream"]
    log = (data / "server.log").open("w")
    proc = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(data / 'server.log').read_text()[-1500:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server not ready within 300 s")
            time.sleep(0.3)
        yield Served(base, proc.pid, stream_port)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 in ms (zeros for no values)."""
    lat = np.asarray(values or [0.0])
    return {f"latency_ms_p{q}": round(float(np.percentile(lat, q)), 1) for q in (50, 95, 99)}


def run_one(
    faces_dir: Path, workers: int, *, clients: int, warmup: float, seconds: float,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Start a server with ``workers``, load it, stop it: one row of the report."""
    with served(workers, env=env) as server:
        people = enrol(server.base, faces_dir)
        photos = probe_photos(faces_dir)
        load0 = os.getloadavg()[0]
        cpu0 = tree_cpu(server.pid)
        wall0 = time.monotonic()
        tally, window = asyncio.run(load(server.base, photos, clients, warmup, seconds))
        cpu1 = tree_cpu(server.pid)
        wall = time.monotonic() - wall0
    answered = len(tally.latencies_ms)
    return {
        "workers": workers,
        "clients": clients,
        "requests": answered,
        "requests_per_s": round(answered / window, 2) if window > 0 else 0.0,
        **percentiles(tally.latencies_ms),
        "errors": sum(tally.errors.values()),
        "errors_by_status": dict(tally.errors),
        # CPU over warm-up + window, shared over the answers of the window: an upper bound
        "server_cpu_ms_per_request": round((cpu1 - cpu0) * 1000.0 / answered, 1)
        if answered
        else None,
        "server_cpu_cores": round((cpu1 - cpu0) / wall, 2) if wall > 0 else None,
        "enrolled_people": people,
        "photos": len(photos),
        "measured_s": round(window, 2),
        "load_average_1m": {"before": round(load0, 2), "after": round(os.getloadavg()[0], 2)},
    }


def run_http_bench(
    faces_dir: Path, *, workers: tuple[int, ...] = (1, 2), clients: int = 20,
    warmup: float = 3.0, seconds: float = 20.0,
) -> dict[str, Any]:  # fmt: skip
    """Every worker count in turn (JSON-ready)."""
    return {
        "runs": [
            run_one(faces_dir, w, clients=clients, warmup=warmup, seconds=seconds) for w in workers
        ],
        "cores": os.cpu_count(),
        "timing": (
            f"{clients} asyncio clients (keep-alive) in the bench process post dev photos to "
            "/api/v1/identify for warm-up + measured seconds; requests/s = answers in the "
            "measured window / its length; a self-started `facegate serve --no-auth` per run"
        ),
    }
