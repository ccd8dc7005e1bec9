"""Two ways to run YuNet, each a callable ``BGR image -> (N, 15) rows``.

Rows are ``x, y, w, h``, five landmarks (x, y), score, in the input image's pixels, after
non-maximum suppression, like ``cv2.FaceDetectorYN`` returns them.

- ``OpenCvYuNet`` wraps ``cv2.FaceDetectorYN`` (``FACEGATE_DETECTOR_BACKEND=opencv``).
- ``OpenVinoYuNet`` (default) runs the same ONNX file through OpenVINO and decodes the three
  output strides itself: measured on a 640x360 video frame, 11 ms of CPU in OpenCV's DNN
  module and about a third of that here. The decoding follows YuNet's published head: per
  grid cell, score = sqrt(cls * obj), box centre = (cell + offset) * stride, size =
  exp(log-size) * stride, landmarks = (cell + offset) * stride; the input is the BGR image
  padded at the bottom and right to a multiple of 32.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from facegate.engine.models import ResolvedModel, unloadable
from facegate.engine.openvino_compile import ShapeCache

STRIDES = (8, 16, 32)
PAD_DIVISOR = 32
TOP_K = 5000
EMPTY = np.zeros((0, 15), dtype=np.float32)


class OpenCvYuNet:
    """One ``cv2.FaceDetectorYN`` instance (not thread-safe: pooled by the caller)."""

    def __init__(self, model: ResolvedModel, score_floor: float, nms_threshold: float) -> None:
        try:
            self._detector = cv2.FaceDetectorYN.create(
                str(model.path), "", (320, 320), score_floor, nms_threshold, TOP_K
            )
        except cv2.error as exc:
            raise unloadable(model, exc) from exc

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self._detector.setInputSize((image.shape[1], image.shape[0]))
        _, raw = self._detector.detect(image)
        return EMPTY if raw is None else np.asarray(raw, dtype=np.float32)


class OpenVinoCompiledYuNet:
    """Compiled YuNet models (one per padded input size), shared by all threads;
    ``runner()`` makes a per-thread runner."""

    def __init__(
        self, model: ResolvedModel, score_floor: float, nms_threshold: float, streams: int
    ) -> None:
        self.score_floor = score_floor
        self.nms_threshold = nms_threshold
        self.shapes = ShapeCache(model, streams)
        self.shapes.get((1, 3, 320, 320))  # a bad file fails at start-up, not mid-request

    def runner(self) -> OpenVinoYuNet:
        return OpenVinoYuNet(self)


class OpenVinoYuNet:
    """One thread's YuNet: an infer request per input size (requests are not thread-safe)."""

    def __init__(self, compiled: OpenVinoCompiledYuNet) -> None:
        self._model = compiled
        self._requests: dict[tuple[int, ...], tuple[Any, dict[str, Any]]] = {}

    def _request_for(self, shape: tuple[int, ...]) -> tuple[Any, dict[str, Any]]:
        found = self._requests.get(shape)
        if found is None:
            compiled = self._model.shapes.get(shape)
            # compile may rename outputs; the original name stays among each output's names
            by_name = {name: out for out in compiled.outputs for name in out.names}
            found = (compiled.create_infer_request(), by_name)
            if len(self._requests) >= self._model.shapes.capacity:
                self._requests.clear()
            self._requests[shape] = found
        return found

    def __call__(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        pad_h = -(-height // PAD_DIVISOR) * PAD_DIVISOR
        pad_w = -(-width // PAD_DIVISOR) * PAD_DIVISOR
        padded = cv2.copyMakeBorder(
            image, 0, pad_h - height, 0, pad_w - width, cv2.BORDER_CONSTANT, value=0
        )
        blob = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32)
        request, outputs = self._request_for(blob.shape)
        result = request.infer({0: blob})
        rows = [self._decode(result, outputs, stride, pad_w // stride) for stride in STRIDES]
        faces = np.concatenate(rows)
        if len(faces) <= 1:
            return faces
        boxes = faces[:, :4].astype(np.int32).tolist()
        keep = cv2.dnn.NMSBoxes(
            boxes,
            faces[:, 14].tolist(),
            self._model.score_floor,
            self._model.nms_threshold,
            top_k=TOP_K,
        )
        return faces[np.asarray(keep, dtype=np.int64).reshape(-1)]

    def _decode(self, result: Any, outputs: dict[str, Any], stride: int, cols: int) -> np.ndarray:
        cls = np.clip(result[outputs[f"cls_{stride}"]].reshape(-1), 0, 1)
        obj = np.clip(result[outputs[f"obj_{stride}"]].reshape(-1), 0, 1)
        scores = np.sqrt(cls * obj)
        cells = np.flatnonzero(scores >= self._model.score_floor)
        if cells.size == 0:
            return EMPTY
        bbox = result[outputs[f"bbox_{stride}"]].reshape(-1, 4)[cells]
        kps = result[outputs[f"kps_{stride}"]].reshape(-1, 10)[cells]
        col = (cells % cols).astype(np.float32)[:, None]
        row = (cells // cols).astype(np.float32)[:, None]
        centre = (np.hstack([col, row]) + bbox[:, :2]) * stride
        size = np.exp(bbox[:, 2:4]) * stride
        grid = np.tile(np.hstack([col, row]), 5)
        landmarks = (kps + grid) * stride
        out = np.empty((cells.size, 15), dtype=np.float32)
        out[:, :2] = centre - size / 2
        out[:, 2:4] = size
        out[:, 4:14] = landmarks
        out[:, 14] = scores[cells]
        return out
