"""Int8 post-training quantisation of the recogniser with NNCF, from local images only.

Why: this CPU has AMX-INT8; an int8 SFace does the same arithmetic with a quarter of the
weight traffic of fp32 and half of bf16's. Whether it is worth it is a measured question
(accuracy on the LFW and CASIA pairs, CPU per face: docs/performance.md), so the quantised
model is never produced or fetched at run time: ``facegate models quantize`` writes it once,
and a deployment uses it only by pointing ``FACEGATE_RECOGNIZER_MODEL`` at the file (its
hash then becomes part of the model id, so a gallery enrolled with another model refuses its
embeddings instead of mixing spaces).

Calibration: faces found by the product's own detector in the given folders, aligned as the
product aligns them, preprocessed exactly like ``OpenVinoRecognizer`` does. Use development
images only, never the pairs an accuracy claim is measured on.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facegate.engine.align import align_face
from facegate.engine.decode import IMAGE_SUFFIXES
from facegate.engine.engine import FaceEngine
from facegate.engine.models import SFACE, resolve
from facegate.errors import FacegateError, ModelError


@dataclass(frozen=True)
class QuantizeReport:
    """What ``quantize_recognizer`` did: for the command's JSON."""

    out: str
    source_model: str
    calibration_images: int
    calibration_faces: int
    preset: str


def calibration_crops(
    engine: FaceEngine, folders: Iterable[Path], limit: int
) -> tuple[list[np.ndarray], int]:
    """Up to ``limit`` aligned crops from the images under ``folders`` (recursive, sorted),
    and how many images were read. Unreadable files are skipped."""
    paths = sorted(
        p
        for folder in folders
        for p in Path(folder).rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    crops: list[np.ndarray] = []
    used = 0
    size = engine.recognizer.input_size
    for path in paths:
        if len(crops) >= limit:
            break
        try:
            image = engine.load(path)
        except FacegateError:
            continue
        used += 1
        for found in engine.detect(image):
            crops.append(align_face(image, found.landmarks, size))
    return crops[:limit], used


def quantize_recognizer(
    engine: FaceEngine,
    folders: Iterable[Path],
    out: Path,
    *,
    limit: int = 300,
    source: Path | None = None,
) -> QuantizeReport:
    """Write an int8 OpenVINO IR (``out``, ``.xml`` with its ``.bin``) of the recogniser."""
    import nncf
    import openvino as ov

    model = resolve(SFACE, source)
    crops, images = calibration_crops(engine, folders, limit)
    if len(crops) < 10:
        raise ModelError(f"only {len(crops)} faces found for calibration; give more images")
    preprocessing = engine.recognizer_preprocessing
    blobs = [preprocessing.blob([crop]) for crop in crops]
    network = ov.Core().read_model(str(model.path))
    size = engine.recognizer.input_size
    network.reshape({network.inputs[0]: ov.PartialShape([1, 3, size, size])})
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bar: not in the JSON
        quantized = nncf.quantize(
            network,
            nncf.Dataset(blobs),
            preset=nncf.QuantizationPreset.PERFORMANCE,
            subset_size=len(blobs),
        )
    out = out.with_suffix(".xml")
    out.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out), compress_to_fp16=False)
    return QuantizeReport(str(out), str(model.path), images, len(crops), "performance")
