"""``facegate models quantize``: an int8 recogniser built from local dev images only, used
only when configured by path, giving embeddings close to the shipped model's; with
``--int8-layers`` only the chosen layers run in int8, and a build is byte-reproducible."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facegate.cli import app
from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.engine.align import align_face
from facegate.engine.models import SFACE, resolve
from facegate.engine.quantize import (
    DEEP_MIN_CHANNELS,
    Int8Layers,
    folded_network,
    kept_layers,
    quantize_recognizer,
)
from tests.engine.conftest import SAMPLE_PHOTOS

pytest.importorskip("nncf", reason="the bench extra (nncf) is not installed")

# Measured with 300 calibration faces: LFW accuracy unchanged, per-face cosine to the bf16
# model about 0.99; with the 12 faces used here (to keep the test short) a little lower.
MIN_COSINE = 0.9
# --int8-layers fc: measured with 300 calibration faces on 640 LFW and CASIA crops, cosine to
# the bf16 model 0.99996 on average, 0.9999 at worst (bf16 against f32: 0.9992 at worst).
MIN_COSINE_FC = 0.999


@pytest.mark.slow
def test_quantized_recogniser_is_opt_in_and_close(
    engine: FaceEngine, faces_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sface_int8.xml"
    result = CliRunner().invoke(
        app,
        [
            "models", "quantize", "--calibration", str(faces_dir / "groups"),
            "--out", str(out), "--faces", "12",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["calibration_faces"] == 12 and Path(report["out"]) == out
    assert out.is_file() and out.with_suffix(".bin").is_file()

    quantized = FaceEngine(Settings(recognizer_model=out), pool_size=1)
    assert quantized.model_id.startswith("custom-sface_int8-")  # galleries refuse mixing
    assert engine.model_id == "sface-2021dec"  # the default is untouched
    image = engine.load(faces_dir / "groups/bbt4.jpg")
    crops = [align_face(image, d.landmarks) for d in engine.detect(image)]
    reference = engine.recognizer.embed(crops)
    approx = quantized.recognizer.embed(crops)
    cosines = np.sum(reference * approx, axis=1)
    assert cosines.min() >= MIN_COSINE


def test_quantize_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["models", "quantize", "--calibration", str(tmp_path / "nope"), "--out", "x.xml"],
    )
    assert result.exit_code == 2
    assert "--calibration" in result.output and "folder" in result.output


def _runtime_precisions(path: Path) -> dict[str, set[str]]:
    """Layer type -> the precisions the CPU plugin runs it in, after compilation."""
    import openvino as ov

    core = ov.Core()
    network = core.read_model(str(path))
    network.reshape({network.inputs[0]: ov.PartialShape([1, 3, 112, 112])})
    compiled = core.compile_model(network, "CPU", {"INFERENCE_NUM_THREADS": 1})
    found: dict[str, set[str]] = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        kind = info["layerType"].astype(str)
        found.setdefault(kind, set()).add(info["runtimePrecision"].astype(str))
    return found


def test_kept_layers_follow_the_graph() -> None:
    network = folded_network(resolve(SFACE).path)
    ops = {op.get_friendly_name(): op for op in network.get_ordered_ops()}
    convs = [n for n, op in ops.items() if op.get_type_name() == "Convolution"]
    grouped = [n for n, op in ops.items() if op.get_type_name() == "GroupConvolution"]
    assert (len(convs), len(grouped)) == (14, 13)  # SFace, BatchNorms folded into them
    assert not any(op.get_type_name() == "BatchNormInference" for op in ops.values())

    def narrow(name: str) -> bool:
        return bool(ops[name].input(1).get_partial_shape()[1].get_length() < DEEP_MIN_CHANNELS)

    assert kept_layers(network, Int8Layers.ALL) == []
    assert kept_layers(network, Int8Layers.POINTWISE) == grouped
    deep = kept_layers(network, Int8Layers.DEEP)
    assert set(deep) == set(grouped) | {n for n in convs if narrow(n)}
    assert len(deep) == 13 + 7  # conv_1 to conv_7 read 3 to 256 channels
    assert set(kept_layers(network, Int8Layers.FC)) == set(convs) | set(grouped)


@pytest.mark.slow
def test_fc_only_is_int8_where_asked_close_and_reproducible(
    engine: FaceEngine, faces_dir: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "a" / "fc.xml", tmp_path / "b" / "fc.xml"
    calibration = [faces_dir / "groups"]
    report = quantize_recognizer(engine, calibration, first, limit=12, layers=Int8Layers.FC)
    assert (report.int8_layers, report.kept_in_bf16, report.calibration_faces) == ("fc", 27, 12)
    # The same build again in this process (OpenVINO's layer counter has moved on): the
    # files, whose hash is the model id galleries are pinned to, are byte-identical.
    quantize_recognizer(engine, calibration, second, limit=12, layers=Int8Layers.FC)
    for suffix in (".xml", ".bin"):
        assert first.with_suffix(suffix).read_bytes() == second.with_suffix(suffix).read_bytes()

    precisions = _runtime_precisions(first)
    assert "i8" in precisions["FullyConnected"]
    assert "i8" not in precisions["Convolution"]  # convolutions stay in the plugin's default

    quantized = FaceEngine(Settings(recognizer_model=first), pool_size=1)
    crops = []
    for photo in SAMPLE_PHOTOS:  # none of them is in the calibration folder
        image = engine.load(faces_dir / photo)
        found = max(engine.detect(image), key=lambda d: d.box.area)
        crops.append(align_face(image, found.landmarks))
    cosines = np.sum(engine.recognizer.embed(crops) * quantized.recognizer.embed(crops), axis=1)
    assert cosines.min() >= MIN_COSINE_FC
