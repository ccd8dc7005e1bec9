"""``facegate bench sizes``: does the first photo of a new size cost more than the second?

The detector runs on a fixed set of canvases that a server compiles before it serves
(engine/yunet_runtimes.py).
This benchmark checks the promise behind it: for photos of many sizes never seen before, the
first detection costs what the second of the same size costs. It times ``FaceEngine.detect``
on one dev photo resized to ``sizes`` random sizes (seeded), twice each, and reports both
distributions and how many detector shapes were compiled before and after.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.config import Settings
from facegate.engine import FaceEngine


def _stats(values: list[float]) -> dict[str, float]:
    ordered = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(ordered, 50)), 2),
        "p95": round(float(np.percentile(ordered, 95)), 2),
        "max": round(float(ordered.max()), 2),
    }


def _compiled_shapes(engine: FaceEngine) -> int | None:
    compiled = getattr(engine.detector, "compiled", None)
    shapes = getattr(compiled, "shapes", None)
    return None if shapes is None else len(shapes)


def run_sizes_bench(
    image_path: Path, *, sizes: int = 30, seed: int = 7, settings: Settings | None = None
) -> dict[str, Any]:
    """Time detection of ``image_path`` at ``sizes`` random sizes, first and second time."""
    started = time.perf_counter()
    engine = FaceEngine(settings or Settings())
    startup_s = time.perf_counter() - started
    engine.detector.warm_up()  # as a server does before it serves
    ready_s = time.perf_counter() - started
    image = engine.load(image_path)
    rng = random.Random(seed)
    before = _compiled_shapes(engine)
    first: list[float] = []
    second: list[float] = []
    for _ in range(sizes):
        width, height = rng.randint(160, 4000), rng.randint(160, 4000)
        resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        for times in (first, second):
            t = time.perf_counter()
            engine.detect(resized)
            times.append((time.perf_counter() - t) * 1000.0)
    return {
        "image": str(image_path),
        "sizes": sizes,
        "seed": seed,
        "detector_backend": engine.settings.engine.detector_backend,
        "engine_start_s": round(startup_s, 3),
        "all_canvases_compiled_s": round(ready_s, 3),
        "compiled_shapes_before": before,
        "compiled_shapes_after": _compiled_shapes(engine),
        "first_detect_ms": _stats(first),
        "second_detect_ms": _stats(second),
    }
