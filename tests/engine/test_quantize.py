"""``facegate models quantize``: an int8 recogniser built from local dev images only, used
only when configured by path, giving embeddings close to the shipped model's."""

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

pytest.importorskip("nncf", reason="the bench extra (nncf) is not installed")

# Measured with 300 calibration faces: LFW accuracy unchanged, per-face cosine to the bf16
# model about 0.99; with the 12 faces used here (to keep the test short) a little lower.
MIN_COSINE = 0.9


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
