"""Bring your own anti-spoofing model: an ONNX classifier on the face crop.

No licence-clean anti-spoofing model with weights ships in any package here, so facegate
ships none; a deployment that has one configures it like a recogniser: the file
(``FACEGATE_LIVENESS_MODEL``), input size, colour order, mean/std (the recogniser's
``Preprocessing``), how much context around the face box to crop, which output is "live",
whether to softmax the outputs, and the threshold. The file's SHA-256 is computed when it is
loaded, logged once, and carried in every verdict's ``method`` so a door event says which
model decided.

It runs through onnxruntime (default, any opset) or OpenVINO, one intra-op thread per call:
parallelism comes from the shared inference pool.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from facegate.config.base import default_of
from facegate.config.liveness import SpoofModelSettings
from facegate.engine.embed import Preprocessing
from facegate.engine.models import ResolvedModel, sha256_of, unloadable
from facegate.engine.types import Box
from facegate.errors import ModelError

if TYPE_CHECKING:
    from facegate.config import Settings

log = logging.getLogger(__name__)
_DEFAULT_PREPROCESSING = Preprocessing(
    default_of(SpoofModelSettings, "input_size"),
    default_of(SpoofModelSettings, "color_order"),
    default_of(SpoofModelSettings, "mean"),
    default_of(SpoofModelSettings, "std"),
)


@dataclass(frozen=True, slots=True)
class SpoofModelConfig:
    """How to run the classifier (from ``Settings.liveness_model_*``)."""

    path: Path
    backend: str = default_of(SpoofModelSettings, "backend")
    preprocessing: Preprocessing = _DEFAULT_PREPROCESSING
    crop_scale: float = default_of(SpoofModelSettings, "crop_scale")
    live_index: int = default_of(SpoofModelSettings, "live_index")
    softmax: bool = default_of(SpoofModelSettings, "softmax")
    threshold: float = default_of(SpoofModelSettings, "threshold")

    @classmethod
    def from_settings(cls, s: Settings) -> SpoofModelConfig | None:
        if s.liveness.model.path is None:
            return None
        return cls(
            path=s.liveness.model.path,
            backend=s.liveness.model.backend,
            preprocessing=Preprocessing(
                s.liveness.model.input_size,
                s.liveness.model.color_order,
                s.liveness.model.mean,
                s.liveness.model.std,
            ),
            crop_scale=s.liveness.model.crop_scale,
            live_index=s.liveness.model.live_index,
            softmax=s.liveness.model.softmax,
            threshold=s.liveness.model.threshold,
        )


def face_crop(image: np.ndarray, box: Box, scale: float) -> np.ndarray:
    """A square crop of side ``scale`` x the box's longer side, centred on the box; the part
    outside the image is filled by replicating its border."""
    side = max(2, round(max(box.w, box.h) * scale))
    cx, cy = box.center
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    h, w = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    crop = image[y0 : y0 + side, x0 : x0 + side]
    return crop if crop.ndim == 3 else cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)


class SpoofModel:
    """The loaded classifier; ``live_score`` is thread-safe."""

    def __init__(self, config: SpoofModelConfig) -> None:
        path = Path(config.path)
        if not path.is_file():
            raise ModelError(
                f"liveness model file {path} does not exist; fix FACEGATE_LIVENESS_MODEL or "
                "unset it"
            )
        digest = sha256_of(path)
        self.model = ResolvedModel(f"liveness-{path.stem}-{digest[:12]}", path, digest)
        self.config = config
        self._run = self._openvino() if config.backend == "openvino" else self._onnxruntime()
        log.info("liveness model %s loaded (sha256 %s, %s)", path.name, digest, config.backend)

    @property
    def method(self) -> str:
        """How verdicts name this model: ``model:<file stem>@<sha256 prefix>``."""
        return f"model:{self.model.path.stem}@{self.model.sha256[:12]}"

    def _onnxruntime(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                str(self.model.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's errors share no public base class
            raise unloadable(self.model, exc) from exc
        name = session.get_inputs()[0].name
        return lambda blob: session.run(None, {name: blob})[0]

    def _openvino(self) -> Any:
        import openvino as ov

        size = self.config.preprocessing.input_size
        try:
            core = ov.Core()
            model = core.read_model(str(self.model.path))
            model.reshape([1, 3, size, size])
            compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": 1})
        except Exception as exc:
            raise unloadable(self.model, exc) from exc
        output = compiled.outputs[0]
        lock = threading.Lock()  # one infer request: calls are short and rare (per track)
        request = compiled.create_infer_request()

        def run(blob: np.ndarray) -> np.ndarray:
            with lock:
                return np.array(request.infer({0: blob})[output])

        return run

    def live_score(self, image: np.ndarray, box: Box) -> float:
        """Probability-like score that the face in ``box`` is live (0..1 with softmax)."""
        c = self.config
        blob = c.preprocessing.blob([face_crop(image, box, c.crop_scale)])
        out = np.asarray(self._run(blob), dtype=np.float64).reshape(-1)
        if c.live_index >= out.size:
            raise ModelError(
                f"liveness model has {out.size} outputs; live index {c.live_index} is out of range"
            )
        if c.softmax:
            e = np.exp(out - out.max())
            out = e / e.sum()
        return float(out[c.live_index])


_cache_lock = threading.Lock()
_cache: dict[SpoofModelConfig, SpoofModel] = {}


def spoof_model(settings: Settings) -> SpoofModel | None:
    """The configured model, loaded once per process and configuration (None: none set)."""
    config = SpoofModelConfig.from_settings(settings)
    if config is None:
        return None
    with _cache_lock:
        if config not in _cache:
            _cache[config] = SpoofModel(config)
        return _cache[config]
