"""Int8 post-training quantisation of the recogniser with NNCF, from local images only.

Why: this CPU has AMX-INT8; an int8 SFace does the same arithmetic with a quarter of the
weight traffic of fp32 and half of bf16's. Whether it is worth it is a measured question
(accuracy on the LFW and CASIA pairs, CPU per face: docs/performance.md), so the quantised
model is never produced or fetched at run time: ``facegate models quantize`` writes it once,
and a deployment uses it only by pointing ``FACEGATE_RECOGNIZER_MODEL`` at the file (its
hash then becomes part of the model id, so a gallery enrolled with another model refuses its
embeddings instead of mixing spaces).

The graph is converted with OpenVINO's converter first, which folds every BatchNorm into the
convolution before it. Read raw from the ONNX file, SFace keeps 29 separate BatchNorm nodes,
and NNCF then puts a quantise/dequantise step between each convolution and its BatchNorm
(even for layers it was told to ignore): the plugin can no longer fuse them, and that made
session 3's int8 model slower than bf16. Folded first, the same quantisation is about 20 %
faster than bf16 (docs/performance.md, "int8 with depthwise layers kept in bf16").

Which layers become int8 is a choice (``Int8Layers``), because the accuracy bar is tight:
quantising any convolution flipped one or two of the 800 CASIA pairs, the final fully
connected layer alone flipped none.

Calibration: faces found by the product's own detector in the given folders, aligned as the
product aligns them, preprocessed exactly like ``OpenVinoRecognizer`` does. Use development
images only, never the pairs an accuracy claim is measured on.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from facegate.engine.align import align_face
from facegate.engine.decode import IMAGE_SUFFIXES
from facegate.engine.engine import FaceEngine
from facegate.engine.models import SFACE, resolve, unloadable
from facegate.errors import FacegateError, ModelError

# "deep": convolutions reading fewer channels than this stay in bf16. SFace's early 1x1
# convolutions (32 to 256 input channels at 112 to 28 px) gained nothing from int8 here.
DEEP_MIN_CHANNELS = 512

# OpenVINO's generated layer names: an op type and the process-wide node counter.
COUNTER_NAME = re.compile(r"[A-Z][A-Za-z0-9]*_\d+")


class Int8Layers(StrEnum):
    """Which layers of the recogniser run in int8 (the rest stays in the plugin's bf16)."""

    ALL = "all"  # every convolution and the fully connected layer
    POINTWISE = "pointwise"  # depthwise (grouped) convolutions kept in bf16
    DEEP = "deep"  # as pointwise, and convolutions with < DEEP_MIN_CHANNELS inputs too
    FC = "fc"  # only the final fully connected layer (MatMul)


@dataclass(frozen=True)
class QuantizeReport:
    """What ``quantize_recognizer`` did: for the command's JSON."""

    out: str
    source_model: str
    calibration_images: int
    calibration_faces: int
    preset: str
    int8_layers: str = Int8Layers.ALL.value
    kept_in_bf16: int = 0  # layers the ignored scope excluded from quantisation


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


def folded_network(path: Path) -> Any:
    """The ``openvino.Model`` of ``path`` with BatchNorms folded into their convolutions.

    ONNX goes through ``openvino.convert_model`` (which folds them). An OpenVINO IR is read
    as it is: ``convert_model`` does not take IR files; one the converter wrote has its
    BatchNorms folded already, one saved from a raw ``read_model`` graph does not.
    """
    import openvino as ov

    if path.suffix.lower() == ".xml":
        return ov.Core().read_model(str(path))
    return ov.convert_model(str(path))


def kept_layers(network: Any, layers: Int8Layers) -> list[str]:
    """Names of the layers ``layers`` keeps out of int8, for NNCF's ``ignored_scope``.

    Chosen from the graph itself (the converter renames fused layers), so the rule holds for
    any ArcFace-style recogniser, not only SFace.
    """
    kept: list[str] = []
    for op in network.get_ordered_ops():
        kind = op.get_type_name()
        if kind == "GroupConvolution" and layers is not Int8Layers.ALL:
            kept.append(op.get_friendly_name())
        elif kind == "Convolution":
            in_channels = op.input(1).get_partial_shape()[1].get_length()
            if layers is Int8Layers.FC or (
                layers is Int8Layers.DEEP and in_channels < DEEP_MIN_CHANNELS
            ):
                kept.append(op.get_friendly_name())
    return kept


def stable_names(network: Any) -> None:
    """Rename the layers OpenVINO named from its process-wide counter (``Multiply_99378``)
    by their position in the graph instead.

    The counter depends on everything the process built before, so without this the same
    quantisation written by two processes differs in its .xml, and the file's hash is the
    model id a gallery is pinned to (``models.resolve``).
    """
    for index, op in enumerate(network.get_ordered_ops()):
        if COUNTER_NAME.fullmatch(op.get_friendly_name()):
            op.set_friendly_name(f"{op.get_type_name()}_at_{index}")


def quantize_recognizer(
    engine: FaceEngine,
    folders: Iterable[Path],
    out: Path,
    *,
    limit: int = 300,
    source: Path | None = None,
    layers: Int8Layers = Int8Layers.ALL,
) -> QuantizeReport:
    """Write an int8 OpenVINO IR (``out``, ``.xml`` with its ``.bin``) of the recogniser.

    Deterministic: the same images, options and source give byte-identical files.
    """
    import logging

    import nncf
    import openvino as ov

    nncf.set_log_level(logging.WARNING)  # one INFO line per layer kept in bf16 otherwise

    model = resolve(SFACE, source)
    crops, images = calibration_crops(engine, folders, limit)
    if len(crops) < 10:
        raise ModelError(f"only {len(crops)} faces found for calibration; give more images")
    preprocessing = engine.recognizer_preprocessing
    blobs = [preprocessing.blob([crop]) for crop in crops]
    try:
        network = folded_network(model.path)
    except Exception as exc:  # OpenVINO raises plain errors for files it cannot read
        raise unloadable(model, exc) from exc
    size = engine.recognizer.input_size
    network.reshape({network.inputs[0]: ov.PartialShape([1, 3, size, size])})
    stable_names(network)  # before NNCF records the kept layers' names in the model
    kept = kept_layers(network, layers)
    scope = nncf.IgnoredScope(names=kept) if kept else None
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bar: not in the JSON
        quantized = nncf.quantize(
            network,
            nncf.Dataset(blobs),
            preset=nncf.QuantizationPreset.PERFORMANCE,
            subset_size=len(blobs),
            ignored_scope=scope,
        )
    stable_names(quantized)
    out = out.with_suffix(".xml")
    out.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out), compress_to_fp16=False)
    return QuantizeReport(
        str(out), str(model.path), images, len(crops), "performance", layers.value, len(kept)
    )
