"""Face detection with YuNet: boxes, five landmarks and a score for every face.

The model runs through OpenVINO (default) or OpenCV (``yunet_runtimes``).
Large images are detected on a resized copy (the detector's cost grows with pixels, its
accuracy does not) and the results are mapped back to original coordinates, so alignment
still crops from the full-resolution pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import cv2
import numpy as np

from facegate.engine.models import ResolvedModel
from facegate.engine.pool import InstancePool
from facegate.engine.types import Box, Detection
from facegate.engine.yunet_runtimes import OpenCvYuNet, OpenVinoCompiledYuNet

# YuNet runs at this score floor; callers filter above it. One set of instances then serves
# both the normal threshold and the lower "find the main face anyway" retry.
SCORE_FLOOR = 0.3
Runner = Callable[[np.ndarray], np.ndarray]


class YuNetDetector:
    """Thread-safe detection over a pool of YuNet runners (one per inference thread)."""

    def __init__(
        self,
        model: ResolvedModel,
        *,
        nms_threshold: float = 0.3,
        max_side: int = 640,
        min_face_size: int = 16,
        score_floor: float = SCORE_FLOOR,
        pool_size: int = 2,
        backend: Literal["openvino", "opencv"] = "openvino",
    ) -> None:
        self.model = model
        self.max_side = max_side
        self.min_face_size = min_face_size
        self.score_floor = score_floor

        create: Callable[[], Runner]
        self.compiled: OpenVinoCompiledYuNet | None = None  # the OpenVINO models, if used
        if backend == "openvino":
            compiled = OpenVinoCompiledYuNet(
                model, score_floor, nms_threshold, streams=pool_size, max_side=max_side
            )
            self.compiled = compiled
            create = compiled.runner
        else:

            def create() -> Runner:
                return OpenCvYuNet(model, score_floor, nms_threshold)

        self._pool: InstancePool[Runner] = InstancePool(create, pool_size)
        with self._pool.use():  # load one now: a bad file fails at start-up, not mid-request
            pass

    def warm_up(self) -> None:
        """Compile every input shape the detector will use (OpenVINO), before serving."""
        if self.compiled is not None:
            self.compiled.warm_up()

    def detect(self, image: np.ndarray, score_threshold: float) -> list[Detection]:
        """Every face at or above ``score_threshold``, best score first."""
        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        small = image
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        with self._pool.use() as run:
            raw = run(small)
        # The whole array at once (boxes in float64, landmarks in float32, as row by row).
        boxes = (raw[:, :4].astype(np.float64) / scale).tolist()
        landmarks = (raw[:, 4:14] / scale).astype(np.float32).reshape(-1, 5, 2)
        found = [
            Detection(Box(x, y, w, h), points, score)
            for (x, y, w, h), points, score in zip(
                boxes, landmarks, raw[:, 14].tolist(), strict=True
            )
            if score >= score_threshold and min(w, h) >= self.min_face_size
        ]
        found.sort(key=lambda d: d.score, reverse=True)
        return found
