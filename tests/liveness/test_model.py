"""Bring-your-own anti-spoofing model: a tiny ONNX classifier built in the test, run through
onnxruntime and OpenVINO, with the recogniser's preprocessing, colour order, live index,
softmax and threshold; its SHA-256 in the verdict."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pytest

from facegate.config import Settings
from facegate.engine.types import Box
from facegate.errors import ModelError
from facegate.liveness.model import SpoofModel, SpoofModelConfig, face_crop, spoof_model
from facegate.liveness.tracks import StreamLiveness
from facegate.stream.pipeline import TrackedFace
from tests.liveness.heads import HEAD, view
from tests.liveness.tiny_onnx import write_tiny_classifier

BOX = Box(100, 100, 120, 120)


def image_of(bgr: tuple[int, int, int]) -> np.ndarray:
    image = np.zeros((400, 400, 3), np.uint8)
    image[:] = bgr
    return image


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_classifier(tmp_path_factory.mktemp("model") / "tiny.onnx")


def settings_for(path: Path, **extra: object) -> Settings:
    return Settings(liveness_model=path, liveness_model_input_size=32, **extra)


def config_for(path: Path, **extra: object) -> SpoofModelConfig:
    """The model configuration ``settings_for`` gives (a model is configured: never None)."""
    config = SpoofModelConfig.from_settings(settings_for(path, **extra))
    assert config is not None
    return config


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_the_model_scores_crops_with_the_configured_preprocessing(model_path, backend, caplog):
    caplog.set_level(logging.INFO, logger="facegate.liveness.model")
    config = SpoofModelConfig.from_settings(
        settings_for(model_path, liveness_model_backend=backend)
    )
    assert config is not None
    model = SpoofModel(config)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert model.model.sha256 == digest and digest[:12] in model.method
    assert digest in caplog.text  # the hash is logged at load
    red, blue = image_of((0, 0, 255)), image_of((255, 0, 0))  # BGR
    assert model.live_score(red, BOX) > 0.99
    assert model.live_score(blue, BOX) < 0.01
    # colour order "bgr" feeds the blue channel first: the verdicts swap
    swapped = SpoofModel(
        config_for(model_path, liveness_model_backend=backend, liveness_model_color_order="bgr")
    )
    assert swapped.live_score(red, BOX) < 0.01 and swapped.live_score(blue, BOX) > 0.99
    # the live index picks the other output
    other = SpoofModel(config_for(model_path, liveness_model_live_index=0))
    assert other.live_score(red, BOX) < 0.01


def test_bad_model_configurations_are_clear_errors(model_path, tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        SpoofModel(SpoofModelConfig(tmp_path / "missing.onnx"))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        SpoofModel(SpoofModelConfig(junk))
    model = SpoofModel(config_for(model_path, liveness_model_live_index=5))
    with pytest.raises(ModelError, match="out of range"):
        model.live_score(image_of((0, 0, 255)), BOX)


def test_crops_near_the_border_are_padded_not_cut():
    image = image_of((10, 20, 30))
    crop = face_crop(image, Box(-50, 350, 100, 100), 1.5)
    assert crop.shape == (150, 150, 3)
    assert spoof_model(Settings()) is None  # no model configured: none loaded


def test_passive_mode_with_a_model_puts_the_models_hash_in_the_verdict(model_path):
    settings = settings_for(model_path)
    liveness = StreamLiveness("passive", settings)
    image = image_of((0, 0, 255))
    blue = image_of((255, 0, 0))
    marks = view(HEAD)  # a still head: the geometry alone is undecided
    for i in range(12):
        face = TrackedFace(BOX, 1, None, None, 0.0, False, tuple(map(tuple, marks)))
        other = TrackedFace(
            Box(200, 100, 120, 120), 2, None, None, 0.0, False, tuple(map(tuple, marks))
        )
        if i == 0:
            liveness.request(1)
            liveness.request(2)
        liveness.observe([face], image)
        liveness.observe([other], blue)
    live, spoof = liveness.verdict(1), liveness.verdict(2)
    assert live.state == "live" and spoof.state == "spoof"
    assert liveness.model is not None
    assert live.method == f"passive+{liveness.model.method}" and "model_score" in live.details
    assert spoof.reason == "model says spoof"
