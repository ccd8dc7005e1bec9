"""``facegate bench stream``: real clients on loopback against a real stream server.

Each client streams one video at a real rate (frame i due at ``start + i / fps``, looping;
a sender that falls more than a frame behind skips, as a camera would; client k of N starts
k/N of a period late, as independent cameras are not in phase) on one thread and reads
results on another. Client k also starts k/N of the way into the video: independent
cameras do not see a scene cut or a new face at the same instant. ``lockstep`` sends every
client the same frame at (nearly) the same time instead, as the bench did until session 5:
the worst case, where every stream needs the detector and embeddings at once.

Frames are resized and JPEG-encoded once up front, so the clients cost
the machine little and the server's share of the CPU is what is measured. Latency is frame
sent → RESULT received, on one clock. The first ``warmup`` seconds are not counted.

Without ``--server`` the bench starts its own server in a subprocess (empty gallery unless
``--data-dir``, every key accepted) so the server's CPU time can be read apart from the
clients' via psutil. ``python -m facegate.bench.stream_bench PORT`` runs that server alone.

``measure_tracking`` (``facegate bench tracking``) runs the pipeline without the network
over a video to compare tracking + re-embedding cadence against embedding every face.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from facegate.stream.client import Client, StreamClosed, StreamError
from facegate.stream.jpeg import encode_jpeg
from facegate.stream.protocol import Result
from facegate.stream.stats import percentile


class VideoError(Exception):
    """The video cannot be read."""


def load_jpegs(video: Path, width: int, height: int, max_frames: int = 300) -> list[bytes]:
    """The video's frames resized to ``width x height`` and JPEG-encoded (quality 85)."""
    capture = cv2.VideoCapture(str(video))
    out: list[bytes] = []
    while len(out) < max_frames:
        ok, image = capture.read()
        if not ok:
            break
        out.append(encode_jpeg(cv2.resize(image, (width, height)), 85))
    capture.release()
    if not out:
        raise VideoError(f"no frames could be read from {video}")
    return out


@dataclass
class _ClientRun:
    index: int
    of: int  # number of clients
    sent: list[tuple[int, float]] = field(default_factory=list)  # (frame_id, t_sent)
    latency: dict[int, float] = field(default_factory=dict)  # frame_id -> ms
    # frame_id -> (server ms received → processed, ms of decode+detect+embed+match)
    server: dict[int, tuple[float, float]] = field(default_factory=dict)
    carried: set[int] = field(default_factory=set)  # answered without the detector
    skipped: int = 0
    error: str | None = None


def _connect(client: Client, attempts: int = 8) -> Client:
    """``client`` connected; ``busy`` is retried with backoff (all clients start at once, and
    the server caps connections still waiting for HELLO per address)."""
    for attempt in range(attempts - 1):
        try:
            client.connect()
            return client
        except StreamError as exc:
            if exc.code != "busy":
                raise
        time.sleep(0.05 * 2**attempt)
    client.connect()
    return client


def first_frame(frames: int, index: int, of: int, lockstep: bool) -> int:
    """Where in the video client ``index`` of ``of`` starts: k/N of the way in, or at the
    start for all (``lockstep``)."""
    return 0 if lockstep else frames * index // of


def _client(
    host: str,
    port: int,
    key: str,
    jpegs: list[bytes],
    fps: float,
    until: float,
    run: _ClientRun,
    lockstep: bool = False,
) -> None:
    """One client: paced sender here, receiver on a second thread."""
    sent_at: dict[int, float] = {}
    try:
        client = _connect(Client(host, port, key, stream=f"bench-{run.index}", max_fps=fps))
    except (OSError, StreamError, StreamClosed, TimeoutError) as exc:
        run.error = str(exc)
        return

    def receive() -> None:
        while True:
            try:
                message = client.receive(timeout=1.0)
            except TimeoutError:
                if time.perf_counter() > until + 1.0:
                    return
                continue
            except (StreamClosed, StreamError, OSError):
                return
            if isinstance(message, Result) and message.frame_id in sent_at:
                now = time.perf_counter()
                run.latency[message.frame_id] = (now - sent_at[message.frame_id]) * 1000.0
                ts, t = message.timestamps, message.timings_ms
                work = t.decode + t.detect + t.embed + t.match
                run.server[message.frame_id] = ((ts.processed - ts.received) * 1000.0, work)
                if t.detect == 0.0:  # a frame carried forward (stream.detect_every)
                    run.carried.add(message.frame_id)

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    period = 1.0 / fps
    # Independent cameras are not in phase: client k starts k/N of a frame period late, so
    # N clients do not all send at the same instant (which would measure a burst, not load).
    start = time.perf_counter() + period * run.index / run.of
    first = first_frame(len(jpegs), run.index, run.of, lockstep)
    i = 0
    try:
        while True:
            due = start + i * period
            now = time.perf_counter()
            if due >= until:
                break
            if now - due > period:
                run.skipped += 1
                i += 1
                continue
            if due > now:
                time.sleep(due - now)
            fid = i + 1
            sent_at[fid] = time.perf_counter()
            client.send_frame(jpegs[(first + i) % len(jpegs)], fid)
            run.sent.append((fid, sent_at[fid]))
            i += 1
    except (StreamClosed, OSError) as exc:
        run.error = str(exc)
    receiver.join(timeout=3.0)
    client.close()


def _summary(
    sent: list[tuple[int, float]], latency: dict[int, float], span: float, loop: int
) -> dict[str, Any]:
    """Rates, percentiles, drops, and whether latency grew over the run.

    A looping video is not equally costly everywhere (a crowd shot costs more than a close-up),
    so raw thirds of a run compare different scenes. Growth is judged on latency minus the
    median latency of the same video frame (``frame_id % loop``) over the run: the residual's
    median in the last third against the first; growing if it rose by over 5 ms and 25 %.
    None when the run is shorter than two passes over the video (nothing to compare).
    """
    lat = [latency[f] for f, _ in sent if f in latency]
    thirds = len(sent) // 3
    first = [latency[f] for f, _ in sent[:thirds] if f in latency]
    last = [latency[f] for f, _ in sent[-thirds:] if f in latency] if thirds else []
    by_frame: dict[int, list[float]] = {}
    for f, _ in sent:
        if f in latency:
            by_frame.setdefault((f - 1) % loop, []).append(latency[f])
    typical = {k: percentile(v, 50) for k, v in by_frame.items()}

    def residual(part: list[tuple[int, float]]) -> float:
        return percentile(
            [latency[f] - typical[(f - 1) % loop] for f, _ in part if f in latency], 50
        )

    trend = residual(sent[-thirds:]) - residual(sent[:thirds]) if thirds else 0.0
    p50 = percentile(lat, 50)
    # each video frame must have been sent in both thirds for the comparison to mean anything
    judged = len(sent) >= 2 * loop * max(1, len({f // (loop * 100_000) for f, _ in sent}))
    return {
        "sent_fps": round(len(sent) / span, 2),
        "result_fps": round(len(lat) / span, 2),
        "latency_ms_p50": round(p50, 1),
        "latency_ms_p95": round(percentile(lat, 95), 1),
        "latency_ms_p99": round(percentile(lat, 99), 1),
        "dropped_ratio": round(1 - len(lat) / len(sent), 4) if sent else 0.0,
        "latency_ms_p50_first_third": round(percentile(first, 50), 1),
        "latency_ms_p50_last_third": round(percentile(last, 50), 1),
        "latency_ms_trend": round(trend, 1) if judged else None,  # same frames, last - first
        "latency_growing": bool(trend > 5.0 and trend > 0.25 * p50) if judged else None,
    }


def _start_server(data_dir: Path | None) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ)
    env["FACEGATE_DATA_DIR"] = str(data_dir or tempfile.mkdtemp(prefix="facegate-bench-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "facegate.bench.stream_bench", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("LISTENING"):
        proc.kill()
        raise RuntimeError("the bench server did not start")
    return proc, int(line.split()[1])


def run_stream_bench(
    video: Path,
    *,
    clients: int,
    fps: float,
    seconds: float = 20.0,
    server: tuple[str, int] | None = None,
    key: str = "bench",
    width: int = 640,
    height: int = 480,
    warmup: float = 2.0,
    data_dir: Path | None = None,
    lockstep: bool = False,
) -> dict[str, Any]:
    """Run the benchmark and return the report (see the module docstring)."""
    import psutil

    jpegs = load_jpegs(video, width, height)
    proc = None
    if server is None:
        proc, port = _start_server(data_dir)
        host = "127.0.0.1"
    else:
        host, port = server
    try:
        server_ps = psutil.Process(proc.pid) if proc is not None else None
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        measure_from = start + warmup
        until = measure_from + seconds
        runs = [_ClientRun(i, clients) for i in range(clients)]
        threads = [
            threading.Thread(
                target=_client, args=(host, port, key, jpegs, fps, until, run, lockstep)
            )
            for run in runs
        ]
        for t in threads:
            t.start()
        time.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu0 = sum(server_ps.cpu_times()[:2]) if server_ps else None
        wall0 = time.perf_counter()
        time.sleep(max(0.0, until - time.perf_counter()))
        cpu1 = sum(server_ps.cpu_times()[:2]) if server_ps else None
        wall = time.perf_counter() - wall0
        for t in threads:
            t.join()
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    per_client = []
    all_sent: list[tuple[int, float]] = []
    all_latency: dict[int, float] = {}
    for run in runs:
        sent = [(f, t) for f, t in run.sent if t >= measure_from]
        report = {"client": run.index, **_summary(sent, run.latency, seconds, len(jpegs))}
        report["sender_skipped"] = run.skipped
        report["error"] = run.error
        per_client.append(report)
        # unique keys across clients for the overall figures (a multiple of the loop length,
        # so a key still tells which video frame it was)
        offset = (run.index + 1) * len(jpegs) * 100_000
        all_sent += [(offset + f, t) for f, t in sent]
        all_latency.update({offset + f: ms for f, ms in run.latency.items()})
    all_sent.sort(key=lambda pair: pair[1])
    overall = _summary(all_sent, all_latency, seconds, len(jpegs))
    # where server time goes: waiting for a turn vs. the model work itself
    in_server = [v for run in runs for v in run.server.values()]
    overall["server_ms_p50"] = round(percentile([a for a, _ in in_server], 50), 1)
    overall["server_ms_p95"] = round(percentile([a for a, _ in in_server], 95), 1)
    overall["work_ms_p50"] = round(percentile([w for _, w in in_server], 50), 1)
    overall["work_ms_p95"] = round(percentile([w for _, w in in_server], 95), 1)
    # answered frames whose tracks were carried forward without the detector
    carried = sum(len(run.carried) for run in runs)
    overall["carried_ratio"] = round(carried / len(in_server), 4) if in_server else 0.0
    cores = psutil.cpu_count() or 1
    if cpu0 is not None and cpu1 is not None:
        overall["server_cpu_cores"] = round((cpu1 - cpu0) / wall, 3)
        overall["server_cpu_percent"] = round(100.0 * (cpu1 - cpu0) / wall / cores, 1)
        # contention-proof cost: CPU per answered frame (and so the frames/s 2 idle cores give)
        answered = overall["result_fps"] * seconds
        if answered:
            per = 1000.0 * (cpu1 - cpu0) / answered
            overall["server_cpu_ms_per_result"] = round(per, 1)
            overall["capacity_fps_all_cores"] = round(cores * 1000.0 / per, 1)
    return {
        "video": str(video),
        "width": width,
        "height": height,
        "clients": clients,
        "fps": fps,
        "seconds": seconds,
        "warmup_s": warmup,
        "content": "lockstep" if lockstep else "offset",  # see the module docstring
        "server": "self-started subprocess" if proc is not None else f"{host}:{port}",
        "cores": cores,
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "overall": overall,
        "per_client": per_client,
    }


def enrol_people(services: Any, people_dir: Path, names: list[str], distractors: int) -> int:
    """Enrol ``names`` and the first ``distractors`` other people of ``people_dir``.

    Distractors give wrong names a chance to appear, so correctness can be measured.
    """
    others = sorted(p.name for p in people_dir.iterdir() if p.is_dir() and p.name not in names)
    enrolled = 0
    for name in names + others[:distractors]:
        person = services.gallery.create_person(name)
        photos = [(p.name, p.read_bytes()) for p in sorted((people_dir / name).iterdir())]
        reports = services.recognition.enrol(person.id, photos[:5], enforce_quality=False)
        enrolled += any(r.accepted for r in reports)
    return enrolled


def _track_video(services: Any, video: Path, mode: str, expected: set[str]) -> dict[str, Any]:
    """One pass over ``video`` on one thread: no tracking, or tracking at a cadence."""
    from facegate.stream.pipeline import DropCounts, FrameIn, FrameProcessor
    from facegate.stream.tracker import TrackerParams

    server = mode.startswith("track_cadence")  # the server's cadence and embedding budget
    every = 5 if server else 1
    processor = FrameProcessor(
        services.engine,
        services.gallery,
        stream="measure",
        tracker_params=TrackerParams(reembed_every=every),
        # the server's budget only for the server's modes; the others embed every due face
        max_embeddings=services.settings.stream.max_embeddings_per_frame if server else None,
        # "track_cadence": the detector on every frame; "..._skip": the settings' detect_every
        detect_every=services.settings.stream.detect_every if mode.endswith("_skip") else 1,
        still_detect_every=services.settings.stream.still_detect_every,
    )
    capture = cv2.VideoCapture(str(video))
    frames = faces = embedded = named = wrong = 0
    first_named: int | None = None
    confirmed: set[str] = set()  # every name confirmed on any face of the video
    cpu = 0.0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames += 1
        c0 = time.process_time()
        if mode == "per_frame":  # every face embedded and named from this frame alone
            found = services.recognition.identify_image(image)
            labels = [(f.match.person.name if f.match.person else None, True) for f in found]
        else:
            r = processor.process(FrameIn(frames, 0.0, time.time(), image=image), DropCounts())
            found, labels = r.faces, [(f.person_name, f.confirmed) for f in r.faces]
            embedded += r.embedded
        cpu += time.process_time() - c0
        if mode == "per_frame":
            embedded += len(found)
        faces += len(found)
        names = {name for name, sure in labels if sure and name is not None}
        confirmed |= names
        named += bool(names & expected)
        wrong += len(names - expected)
        if first_named is None and names & expected:
            first_named = frames
    capture.release()
    return {
        "frames": frames,
        "cpu_ms_per_frame": round(1000 * cpu / max(frames, 1), 2),
        "fps_one_core": round(frames / cpu, 1) if cpu else 0.0,
        "embeddings_per_frame": round(embedded / max(frames, 1), 3),
        "faces_per_frame": round(faces / max(frames, 1), 3),
        "frames_with_expected_name": named,
        "first_frame_named": first_named,
        "wrong_name_frame_faces": wrong,
        "confirmed_names": sorted(confirmed),
        **(
            {}
            if mode == "per_frame"
            else {
                "frames_detected": processor.detected,
                "frames_carried": processor.carried,
                "frames_carried_still": processor.carried_still,
                "scene_cuts": processor.tracker.resets,
                "suspect_tracks": processor.tracker.suspects,
                "track_splits": processor.tracker.splits,
            }
        ),
    }


TRACKING_MODES = ("per_frame", "track_every_frame", "track_cadence", "track_cadence_skip")


def measure_tracking(
    videos: dict[Path, set[str]],
    people_dir: Path,
    names: list[str],
    distractors: int = 50,
    modes: tuple[str, ...] = TRACKING_MODES,
) -> dict[str, Any]:
    """Tracking + re-embed cadence against embedding every face of every frame; the server's
    cadence with the detector on every frame (``track_cadence``) and on every
    ``stream.detect_every``-th frame while tracks are settled (``track_cadence_skip``)."""
    from facegate.config import Settings
    from facegate.services import Services

    report: dict[str, Any] = {"distractors": distractors, "videos": {}}
    with Services.start(Settings(data_dir=Path(tempfile.mkdtemp())), background_sync=False) as s:
        report["enrolled"] = enrol_people(s, people_dir, names, distractors)
        for video, expected in videos.items():
            report["videos"][video.name] = {
                "expected": sorted(expected),
                **{mode: _track_video(s, video, mode, expected) for mode in modes},
            }
    return report


def _serve(port: int) -> None:
    """A stream server for the bench: settings from FACEGATE_*, every key accepted."""
    from facegate.config import Settings
    from facegate.services import Services
    from facegate.stream.server import AllowAll, StreamServer

    async def main() -> None:
        with Services.start(Settings()) as services:
            server = StreamServer(services, "127.0.0.1", port, verifier=AllowAll())
            await server.start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            print(f"LISTENING {server.port}", flush=True)
            await stop.wait()
            await server.stop()

    asyncio.run(main())


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
