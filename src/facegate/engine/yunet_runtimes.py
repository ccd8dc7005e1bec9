"""Two ways to run YuNet, each a callable ``BGR image -> (N, 15) rows``.

Rows are ``x, y, w, h``, five landmarks (x, y), score, in the input image's pixels, after
non-maximum suppression, like ``cv2.FaceDetectorYN`` returns them.

- ``OpenCvYuNet`` wraps ``cv2.FaceDetectorYN`` (``FACEGATE_DETECTOR_BACKEND=opencv``).
- ``OpenVinoYuNet`` (default) runs the same ONNX file through OpenVINO and decodes the three
  output strides itself: measured on a 640x360 video frame, 11 ms of CPU in OpenCV's DNN
  module and about a third of that here. The decoding follows YuNet's published head: per
  grid cell, score = sqrt(cls * obj), box centre = (cell + offset) * stride, size =
  exp(log-size) * stride, landmarks = (cell + offset) * stride; the input is the BGR image
  padded at the bottom and right onto a *canvas* (below).

Canvases. OpenVINO models here have static shapes (openvino_compile.py says why), so each
input size is a compiled model of its own, and compiling one costs 150-1,200 ms: padding every
photo to its own multiple of 32 made the first request of every new photo size that slow.
Instead the image (already scaled so its longest side is at most ``det_max_side``) is padded
onto the smallest of a fixed set of canvases that holds it: two levels (half and full
``det_max_side``) times five aspects (square, 4:3 and 16:9, both orientations). All are
compiled when the detector starts (the first at once, the rest on a background thread), so
any later photo size costs what the second request of that size costs. Padding is black at
the bottom and right, as before, so detections are unchanged; a 640x360 video frame uses the
640x384 canvas it always used.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from facegate.engine.models import ResolvedModel, unloadable
from facegate.engine.openvino_compile import RUNTIME_GATE, ShapeCache

STRIDES = (8, 16, 32)
PAD_DIVISOR = 32
TOP_K = 5000
EMPTY = np.zeros((0, 15), dtype=np.float32)
ASPECTS = ((16, 9), (4, 3), (3, 4), (9, 16), (1, 1))  # width : height; video shapes first


def _up(value: float) -> int:
    """``value`` rounded up to a multiple of ``PAD_DIVISOR`` (at least one)."""
    return max(PAD_DIVISOR, -(-int(np.ceil(value)) // PAD_DIVISOR) * PAD_DIVISOR)


def detector_canvases(max_side: int) -> tuple[tuple[int, int], ...]:
    """The fixed input sizes ``(width, height)`` for images scaled to ``max_side``: two
    levels times five aspects, the full level's video shapes first (the compile order)."""
    out: list[tuple[int, int]] = []
    for level in (max_side, max_side / 2):
        for aw, ah in ASPECTS:
            long_is_width = aw >= ah
            short = level * min(aw, ah) / max(aw, ah)
            size = (_up(level), _up(short)) if long_is_width else (_up(short), _up(level))
            if size not in out:
                out.append(size)
    return tuple(out)


def canvas_for(width: int, height: int, canvases: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    """The smallest canvas holding a ``width`` x ``height`` image; an image larger than every
    canvas (a ``max_side`` bigger than the detector was built for) gets its own padded size."""
    fitting = [(w, h) for w, h in canvases if w >= width and h >= height]
    if not fitting:
        return _up(width), _up(height)
    return min(fitting, key=lambda wh: (wh[0] * wh[1], wh))


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
    """Compiled YuNet models (one per canvas), shared by all threads; ``runner()`` makes a
    per-thread runner."""

    def __init__(
        self,
        model: ResolvedModel,
        score_floor: float,
        nms_threshold: float,
        streams: int,
        max_side: int = 640,
    ) -> None:
        self.score_floor = score_floor
        self.nms_threshold = nms_threshold
        self.canvases = detector_canvases(max_side)
        self.shapes = ShapeCache(model, streams, capacity=len(self.canvases) + 8)
        self.shapes.get(_blob_shape(self.canvases[0]))  # a bad file fails at start-up

    def warm_up(self) -> None:
        """Compile every canvas now (a server, before it serves anything)."""
        for canvas in self.canvases:
            self.shapes.get(_blob_shape(canvas))

    def runner(self) -> OpenVinoYuNet:
        return OpenVinoYuNet(self)


def _blob_shape(canvas: tuple[int, int]) -> tuple[int, int, int, int]:
    width, height = canvas
    return (1, 3, height, width)


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
        pad_w, pad_h = canvas_for(width, height, self._model.canvases)
        request, outputs = self._request_for(_blob_shape((pad_w, pad_h)))
        # The image goes straight into the request's own input tensor and the outputs are
        # read in place: padding, transposing and OpenVINO's copy of a blob passed in cost
        # about 1 ms of CPU per video frame (docs/performance.md, session 5). The request
        # belongs to this thread, and _decode copies what it keeps before the next infer.
        # The plain dict, because OVDict's lookup (a singledispatchmethod) costs ~10 us each.
        _fill_canvas(request.get_input_tensor(0).data[0], image)
        with RUNTIME_GATE.inferring():
            result = request.infer(share_outputs=True).to_dict()
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
        floor = self._model.score_floor
        cls = result[outputs[f"cls_{stride}"]].reshape(-1)
        obj = result[outputs[f"obj_{stride}"]].reshape(-1)
        # score = sqrt(clip(cls) * clip(obj)) reaches the floor only where the unclipped
        # product reaches floor**2 (clipping never raises a product that can pass): that
        # cheap cut (a hair lower, so float rounding cannot drop a face) leaves a few
        # cells, and the exact score is computed on those alone.
        cut = floor * floor * (1.0 - 1e-6) if floor > 0 else -np.inf
        cells = np.flatnonzero(cls * obj >= cut)
        if cells.size == 0:
            return EMPTY
        scores = np.sqrt(np.clip(cls[cells], 0, 1) * np.clip(obj[cells], 0, 1))
        passing = scores >= floor
        cells, scores = cells[passing], scores[passing]
        if cells.size == 0:
            return EMPTY
        bbox = result[outputs[f"bbox_{stride}"]].reshape(-1, 4)[cells]
        kps = result[outputs[f"kps_{stride}"]].reshape(-1, 10)[cells]
        cell_xy = np.empty((cells.size, 2), dtype=np.float32)  # grid column, row
        cell_xy[:, 0] = cells % cols
        cell_xy[:, 1] = cells // cols
        centre = (cell_xy + bbox[:, :2]) * stride
        size = np.exp(bbox[:, 2:4]) * stride
        landmarks = (kps + np.tile(cell_xy, 5)) * stride
        out = np.empty((cells.size, 15), dtype=np.float32)
        out[:, :2] = centre - size / 2
        out[:, 2:4] = size
        out[:, 4:14] = landmarks
        out[:, 14] = scores
        return out


def _fill_canvas(canvas: np.ndarray, image: np.ndarray) -> None:
    """Write a BGR ``image`` into the top left of ``canvas`` (3 x H x W float32, the request's
    input tensor) as planes, zeros elsewhere: what padding at the bottom and right and then
    transposing to NCHW gave, without the two intermediate images."""
    height, width = image.shape[:2]
    for plane, channel in zip(canvas, cv2.split(image), strict=True):
        np.copyto(plane[:height, :width], channel, casting="unsafe")
        plane[height:] = 0
        plane[:height, width:] = 0
