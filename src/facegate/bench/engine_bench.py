"""``facegate bench engine``: facegate's face engine against ``face_recognition`` on one video.

Why it is built this way:

- Every frame is decoded and resized **once, up front**, into memory, so video decoding costs
  neither contender anything and both see exactly the same pixels.
- Facegate is timed as the product runs it: frames go through ``FaceEngine.analyze`` (detect,
  align, quality, embed every face) on a bounded thread pool, because the product runs
  inference on one shared pool of threads and OpenCV releases the GIL. Throughput is frames
  divided by wall time; latency percentiles come from each frame's own timing. A single-thread
  run is reported beside it so neither number hides the other.
- ``face_recognition`` runs the way its users run it: one thread, ``face_locations`` with the
  HOG detector and its default one upsampling, then ``face_encodings`` on those locations, on
  RGB frames (what dlib expects).
- The contenders take turns over short chunks of the video (rotating who goes first) and
  each one's chunks are summed: on a shared machine the load drifts, and timing one contender
  after the other would hand whoever ran in the quiet minute the better number.
- Every model instance is warmed up before timing starts: the product loads models once at
  start-up, so first-call costs (net allocation, lazy pool growth) are not per-frame costs.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.bench.stage_split import stage_split
from facegate.config import Settings
from facegate.engine import FaceEngine


class VideoError(RuntimeError):
    """The video could not be opened or held no frames."""


@dataclass(frozen=True)
class RunStats:
    """One contender's timings over the same frames."""

    name: str
    threads: int
    frames: int
    wall_s: float
    frame_ms: tuple[float, ...]
    faces: int
    cpu_s: float
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of per-frame latency, linear interpolation."""
        return float(np.percentile(self.frame_ms, q)) if self.frame_ms else 0.0

    @property
    def faces_per_frame(self) -> float:
        return self.faces / self.frames if self.frames else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "fps": round(self.fps, 2),
            "ms_per_frame_p50": round(self.percentile_ms(50), 2),
            "ms_per_frame_p95": round(self.percentile_ms(95), 2),
            "ms_per_frame_mean": round(statistics.fmean(self.frame_ms), 2)
            if self.frame_ms
            else 0.0,
            "faces_per_frame": round(self.faces_per_frame, 3),
            "faces_per_s": round(self.faces / self.wall_s, 2) if self.wall_s > 0 else 0.0,
            "cpu_ms_per_frame": round(self.cpu_s * 1000.0 / self.frames, 2) if self.frames else 0.0,
            "frames": self.frames,
            "wall_s": round(self.wall_s, 3),
            "threads": self.threads,
            **self.notes,
        }


def load_frames(video: Path, width: int, max_frames: int | None = None) -> list[np.ndarray]:
    """Decode the video's frames (BGR), each resized to ``width`` keeping the aspect ratio.

    Decoding happens here, before any clock starts, so it is charged to neither contender.
    """
    if not video.is_file():
        raise VideoError(f"video not found: {video}")
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise VideoError(f"cannot open video: {video}")
    frames: list[np.ndarray] = []
    try:
        while max_frames is None or len(frames) < max_frames:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            height, frame_width = frame.shape[:2]
            if frame_width != width:
                size = (width, max(1, round(height * width / frame_width)))
                shrinking = width < frame_width
                interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
                frame = cv2.resize(frame, size, interpolation=interpolation)
            frames.append(np.ascontiguousarray(frame))
    finally:
        capture.release()
    if not frames:
        raise VideoError(f"no frames could be decoded from {video}")
    return frames


def _timed(work: Callable[[np.ndarray], int], frame: np.ndarray) -> tuple[float, int]:
    """Run ``work`` on one frame: (milliseconds, faces found)."""
    start = time.perf_counter()
    faces = work(frame)
    return (time.perf_counter() - start) * 1000.0, faces


def run_frames(
    name: str,
    work: Callable[[np.ndarray], int],
    frames: Sequence[np.ndarray],
    threads: int,
    notes: dict[str, Any] | None = None,
) -> RunStats:
    """Time ``work`` over every frame with ``threads`` workers and a bounded number in flight.

    At most ``2 * threads`` frames are submitted ahead, like a real feed that cannot hand over
    frames it has not yet received; the bound also keeps the pool from queuing the whole video.
    With one thread the frames run inline (no executor overhead in the baseline number).
    Process CPU time is recorded too: on a shared machine other processes stretch wall time
    but hardly CPU time, so ``cpu_ms_per_frame`` shows whether a slow run was just crowded.
    """
    frame_ms: list[float] = []
    faces = 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    if threads <= 1:
        for frame in frames:
            ms, n = _timed(work, frame)
            frame_ms.append(ms)
            faces += n
    else:
        in_flight: deque[Future[tuple[float, int]]] = deque()
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench") as pool:
            for frame in frames:
                if len(in_flight) >= 2 * threads:
                    ms, n = in_flight.popleft().result()
                    frame_ms.append(ms)
                    faces += n
                in_flight.append(pool.submit(_timed, work, frame))
            while in_flight:
                ms, n = in_flight.popleft().result()
                frame_ms.append(ms)
                faces += n
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return RunStats(
        name=name,
        threads=max(1, threads),
        frames=len(frames),
        wall_s=wall,
        frame_ms=tuple(frame_ms),
        faces=faces,
        cpu_s=cpu,
        notes=dict(notes or {}),
    )


def warm_up(engine: FaceEngine, frames: Sequence[np.ndarray], threads: int) -> None:
    """Make every pooled model instance exist and run once before any clock starts.

    The pools grow lazily, so a first timed call would otherwise include building a net. A
    barrier holds ``threads`` callers inside ``analyze`` together, which forces the pool to
    create one instance per concurrent caller (as the product's pool does at its first load).
    """
    sample = frames[: max(1, min(len(frames), 4))]
    barrier = threading.Barrier(threads)

    def one(index: int) -> None:
        barrier.wait()
        for frame in sample[index % len(sample) :] or sample:
            engine.analyze(frame)

    if threads <= 1:
        one(0)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(threads)))


def facegate_work(engine: FaceEngine) -> Callable[[np.ndarray], int]:
    """Facegate's detect + align + quality + embed for all faces of one frame.

    ``analyze`` is what the product calls per frame, so the quality checks it adds (a few
    hundred microseconds per face) are part of the number, as they are part of the product.
    """

    def work(frame: np.ndarray) -> int:
        return len(engine.analyze(frame))

    return work


BASELINE_NOTES: dict[str, Any] = {
    "detector": "hog",
    "number_of_times_to_upsample": 1,
    "encoding_model": "small",
    "num_jitters": 1,
}


def face_recognition_work() -> Callable[[np.ndarray], int]:
    """The baseline on one RGB frame: dlib HOG detection + ResNet encodings, its defaults."""
    import face_recognition  # imported here: the baseline is optional (``bench`` extra)

    def work(frame: np.ndarray) -> int:
        locations = face_recognition.face_locations(frame, model="hog")
        encodings = face_recognition.face_encodings(frame, known_face_locations=locations)
        return len(encodings)

    return work


def to_rgb(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """RGB copies for dlib, made before timing like decoding (about 0.1 ms a frame)."""
    return [np.ascontiguousarray(cv2.cvtColor(f, cv2.COLOR_BGR2RGB)) for f in frames]


def merge(parts: Sequence[RunStats]) -> RunStats:
    """One contender's chunks joined into one result (wall and CPU times add up)."""
    first = parts[0]
    return RunStats(
        name=first.name,
        threads=first.threads,
        frames=sum(p.frames for p in parts),
        wall_s=sum(p.wall_s for p in parts),
        frame_ms=tuple(ms for p in parts for ms in p.frame_ms),
        faces=sum(p.faces for p in parts),
        cpu_s=sum(p.cpu_s for p in parts),
        notes=dict(first.notes),
    )


def interleave(
    runners: dict[str, Callable[[int, int], RunStats]], total: int, chunk: int
) -> dict[str, RunStats]:
    """Run every contender chunk by chunk, rotating who goes first, and merge the chunks.

    On a shared machine the load drifts over a minute; timing one contender after the other
    would hand whichever ran in the quiet part a better number. Alternating short chunks
    spreads the drift over all of them alike.
    """
    names = list(runners)
    parts: dict[str, list[RunStats]] = {name: [] for name in names}
    for i, start in enumerate(range(0, total, max(1, chunk))):
        stop = min(total, start + max(1, chunk))
        k = i % len(names)
        for name in names[k:] + names[:k]:
            parts[name].append(runners[name](start, stop))
    return {name: merge(runs) for name, runs in parts.items()}


@dataclass(frozen=True)
class EngineBench:
    """The whole comparison, ready to print."""

    video: Path
    width: int
    height: int
    frames: int
    threads: int
    settings: Settings
    facegate: RunStats
    facegate_single: RunStats | None
    baseline: RunStats | None
    load_before: float
    load_after: float
    chunk: int
    stages: dict[str, float] | None = None

    @property
    def ratio_fps(self) -> float | None:
        if self.baseline is None or self.baseline.fps == 0:
            return None
        return self.facegate.fps / self.baseline.fps

    @property
    def ratio_faces_per_s(self) -> float | None:
        """Faces embedded per second, facegate / baseline.

        Shown beside ``ratio_fps`` because the two find very different numbers of faces (HOG
        misses most small and turned faces), and every face found costs one embedding.
        """
        if self.baseline is None or self.baseline.faces == 0:
            return None
        mine = self.facegate.faces / self.facegate.wall_s
        theirs = self.baseline.faces / self.baseline.wall_s
        return mine / theirs

    @property
    def ratio_fps_single(self) -> float | None:
        if self.baseline is None or self.facegate_single is None or self.baseline.fps == 0:
            return None
        return self.facegate_single.fps / self.baseline.fps

    def as_dict(self) -> dict[str, Any]:
        s = self.settings

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 2)

        return {
            "video": self.video.name,
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "threads": self.threads,
            "ratio_fps": rounded(self.ratio_fps),
            "ratio_fps_single_thread": rounded(self.ratio_fps_single),
            "ratio_faces_per_s": rounded(self.ratio_faces_per_s),
            "facegate": self.facegate.as_dict(),
            "facegate_single_thread": (
                self.facegate_single.as_dict() if self.facegate_single else None
            ),
            "face_recognition": self.baseline.as_dict() if self.baseline else None,
            # One thread's CPU ms per frame by stage (bench/stage_split.py says how).
            "facegate_stage_cpu_ms_per_frame": self.stages,
            "settings": {
                "flip_average": s.engine.flip_average,
                "det_max_side": s.engine.det_max_side,
                "det_score_threshold": s.engine.det_score_threshold,
                "min_face_size": s.engine.min_face_size,
                "detector_backend": s.engine.detector_backend,
                "recognizer_backend": s.engine.recognizer_backend,
                "opencv_threads": cv2.getNumThreads(),
            },
            # Other work on the machine stretches wall time: a 1-minute load average well above
            # the core count means the fps figures are low and the CPU figures are the guide.
            "load_average_1m": {
                "before": round(self.load_before, 2),
                "after": round(self.load_after, 2),
                "cores": os.cpu_count(),
            },
            "timing": (
                "frames decoded and resized before timing; contenders take turns over "
                f"{self.chunk}-frame chunks; fps = frames / summed wall time; percentiles "
                "from each frame's own time; models warmed up first"
            ),
        }


def run_engine_bench(
    video: Path,
    *,
    width: int = 640,
    threads: int | None = None,
    max_frames: int | None = None,
    settings: Settings | None = None,
    pool_size: int | None = None,
    single_thread: bool = True,
    baseline: bool = True,
    chunk: int = 25,
    split_stages: bool = True,
) -> EngineBench:
    """Decode once, then time facegate (``threads`` and, unless told not, 1) and the baseline.

    The contenders take turns over ``chunk``-frame slices of the video (see ``interleave``).

    ``pool_size`` defaults to ``threads`` (one model instance per worker, the engine's default);
    ``pool_size=1`` measures one shared instance instead.
    """
    settings = settings or Settings()
    threads = threads or settings.inference.threads
    frames = load_frames(video, width, max_frames)
    load_before = os.getloadavg()[0]
    pool_size = pool_size or threads
    engine = FaceEngine(settings, pool_size=pool_size)
    fg_work = facegate_work(engine)
    pool_note = {"pool_size": pool_size}
    warm_up(engine, frames, threads)
    runners: dict[str, Callable[[int, int], RunStats]] = {
        "facegate": lambda a, b: run_frames("facegate", fg_work, frames[a:b], threads, pool_note)
    }
    if single_thread and threads > 1:
        runners["single"] = lambda a, b: run_frames(
            "facegate_single_thread", fg_work, frames[a:b], 1, pool_note
        )
    if baseline:
        fr_work = face_recognition_work()
        rgb = to_rgb(frames)
        fr_work(rgb[0])  # warm-up: the first dlib call allocates its buffers
        runners["baseline"] = lambda a, b: run_frames(
            "face_recognition", fr_work, rgb[a:b], 1, BASELINE_NOTES
        )
    results = interleave(runners, len(frames), chunk)
    stages = stage_split(engine, frames) if split_stages else None
    product = results["facegate"]
    single = results.get("single", product if single_thread else None)
    reference = results.get("baseline")
    height = frames[0].shape[0]
    return EngineBench(
        video=video,
        width=width,
        height=height,
        frames=len(frames),
        threads=threads,
        settings=settings,
        facegate=product,
        facegate_single=single,
        baseline=reference,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        chunk=chunk,
        stages=stages,
    )
