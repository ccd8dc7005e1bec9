"""``facegate detect`` and ``facegate verify``: JSON shape and documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from facegate.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.slow
def test_detect_json_shape(faces_dir: Path):
    code, payload = run("detect", str(faces_dir / "groups/bbt4.jpg"), "--json")
    assert code == 0
    assert payload["image"].endswith("bbt4.jpg")
    assert len(payload["faces"]) == 6
    for face in payload["faces"]:
        assert {"box", "landmarks", "score", "quality"} <= set(face)
        assert "embedding" not in face  # never printed
        assert len(face["box"]) == 4 and len(face["landmarks"]) == 5
        assert all(len(p) == 2 for p in face["landmarks"])
        assert 0 < face["score"] <= 1
        assert {"ok", "reasons", "yaw", "pitch", "roll", "sharpness", "face_px"} <= set(
            face["quality"]
        )


def test_detect_human_output(faces_dir: Path):
    result = runner.invoke(app, ["detect", str(faces_dir / "groups/bbt3.jpg")])
    assert result.exit_code == 0
    assert "5 face(s)" in result.stdout


def test_detect_bad_input_exit_2(tmp_path: Path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("not an image\n")
    code, payload = run("detect", str(notes), "--json")
    assert code == 2
    assert payload["error"]["code"] == "bad_image"
    assert payload["error"]["message"]


def test_verify_same_person_exit_0(faces_dir: Path):
    people = faces_dir / "people/Barack_Obama"
    code, payload = run(
        "verify", str(people / "fr_obama.jpg"), str(people / "fr_obama1.jpg"), "--json"
    )
    assert code == 0
    assert payload["same_person"] is True
    assert payload["similarity"] >= payload["threshold"]
    assert len(payload["faces"]) == 2


def test_verify_different_people_exit_1(faces_dir: Path):
    code, payload = run(
        "verify",
        str(faces_dir / "people/Barack_Obama/fr_obama.jpg"),
        str(faces_dir / "people/Joseph_Biden/fr_biden2.jpg"),
        "--json",
    )
    assert code == 1
    assert payload["same_person"] is False
    assert payload["similarity"] < payload["threshold"]


def test_verify_threshold_option_changes_the_answer(faces_dir: Path):
    people = faces_dir / "people/Barack_Obama"
    a, b = str(people / "fr_obama.jpg"), str(people / "fr_obama1.jpg")
    code, payload = run("verify", a, b, "--threshold", "0.9999", "--json")
    assert code == 1 and payload["threshold"] == 0.9999


@pytest.mark.parametrize("kind", ["not-an-image", "missing", "no-face"])
def test_verify_bad_input_exit_2(faces_dir: Path, tmp_path: Path, kind: str):
    good = str(faces_dir / "people/Barack_Obama/fr_obama.jpg")
    other = tmp_path / "other.png"
    if kind == "not-an-image":
        other.write_bytes(b"%PDF-1.4 definitely not pixels")
    elif kind == "no-face":
        import cv2
        import numpy as np

        cv2.imwrite(str(other), np.full((200, 200, 3), 90, np.uint8))
    code, payload = run("verify", good, str(other), "--json")
    assert code == 2
    # a PDF is a known format that is not an image: refused as such (415 over HTTP)
    expected = {"no-face": "no_face", "not-an-image": "unsupported_image"}
    assert payload["error"]["code"] == expected.get(kind, "bad_image")


def test_verify_model_problem_exit_3(faces_dir: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FACEGATE_RECOGNIZER_MODEL", str(tmp_path / "nope.onnx"))
    image = str(faces_dir / "people/Barack_Obama/fr_obama.jpg")
    code, payload = run("verify", image, image, "--json")
    assert code == 3
    assert payload["error"]["code"] == "model_error"


@pytest.mark.slow
def test_console_script(faces_dir: Path, tmp_path: Path):
    """The installed ``facegate`` entry point, in a fresh process."""
    script = Path(sys.executable).with_name("facegate")
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    done = subprocess.run(
        [str(script), "detect", str(faces_dir / "groups/bbt5.jpg"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["faces"]) == 5
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\x00" * 100)
    people = faces_dir / "people/Barack_Obama"
    done = subprocess.run(
        [str(script), "verify", str(people / "fr_obama.jpg"), str(junk)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "bad_image" in done.stderr
