"""``facegate bench engine`` on a few real video frames: the JSON is complete and sane.

Speed is reported, never asserted: these tests check that both contenders really ran over
the same frames and found faces, not how fast they were.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from facegate.bench.engine_bench import VideoError, load_frames, run_frames
from facegate.cli import app

# Runs the benchmark over a dev video (and face_recognition): not in the fast tier.
pytestmark = pytest.mark.slow


FRAMES = 5
CONTENDER_KEYS = {"fps", "ms_per_frame_p50", "ms_per_frame_p95", "faces_per_frame", "threads"}


@pytest.fixture(scope="module")
def video(obama_video: Path) -> Path:
    return obama_video


@pytest.fixture(scope="module")
def report(video: Path) -> dict[str, Any]:
    pytest.importorskip("face_recognition", reason="the bench extra is not installed")
    result = CliRunner().invoke(
        app,
        ["bench", "engine", "--video", str(video), "--max-frames", str(FRAMES), "--json"],
    )
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@pytest.mark.slow
def test_report_has_every_documented_key(report: dict[str, Any], video: Path) -> None:
    for key in (
        "ratio_fps",
        "ratio_fps_single_thread",
        "ratio_faces_per_s",
        "frames",
        "width",
        "video",
        "threads",
        "settings",
        "load_average_1m",
    ):
        assert key in report
    assert report["video"] == video.name
    assert report["frames"] == FRAMES
    assert report["width"] == 640
    assert report["threads"] >= 1
    assert {"flip_average", "det_max_side"} <= set(report["settings"])
    for name in ("facegate", "facegate_single_thread", "face_recognition"):
        assert set(report[name]) >= CONTENDER_KEYS, name
        assert report[name]["frames"] == FRAMES
    assert report["face_recognition"]["threads"] == 1
    assert report["facegate_single_thread"]["threads"] == 1
    stages = report["facegate_stage_cpu_ms_per_frame"]
    assert set(stages) == {"decode", "detect", "align", "embed", "search", "total"}
    assert all(stages[k] > 0 for k in ("decode", "detect", "embed", "total"))
    parts = sum(v for k, v in stages.items() if k != "total")
    assert stages["total"] == pytest.approx(parts, abs=0.06)


def test_both_contenders_find_faces_and_report_sane_timings(report: dict[str, Any]) -> None:
    for name in ("facegate", "facegate_single_thread", "face_recognition"):
        stats = report[name]
        # obama.mp4 shows one speaker throughout: each contender finds about one face.
        assert 0.5 <= stats["faces_per_frame"] <= 3, name
        assert stats["fps"] > 0
        assert 0 < stats["ms_per_frame_p50"] <= stats["ms_per_frame_p95"]
    # The ratio is exactly what the two fps values say (up to rounding).
    expected = report["facegate"]["fps"] / report["face_recognition"]["fps"]
    assert report["ratio_fps"] == pytest.approx(expected, rel=0.02)
    # Threading changes throughput, never what is found.
    assert (
        report["facegate"]["faces_per_frame"] == report["facegate_single_thread"]["faces_per_frame"]
    )


def test_frames_are_resized_to_the_width_keeping_aspect(video: Path) -> None:
    frames = load_frames(video, 320, max_frames=3)
    assert len(frames) == 3
    # obama.mp4 is 854x480; 320 wide keeps the 16:9 shape.
    assert frames[0].shape == (180, 320, 3)


def test_missing_video_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VideoError):
        load_frames(tmp_path / "nope.mp4", 640)
    result = CliRunner().invoke(
        app, ["bench", "engine", "--video", str(tmp_path / "nope.mp4"), "--json"]
    )
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "bad_video"


def test_threaded_runner_times_every_frame_once() -> None:
    frames = [np.full((4, 4, 3), i, dtype=np.uint8) for i in range(11)]
    seen: list[int] = []

    def work(frame: np.ndarray) -> int:
        seen.append(int(frame[0, 0, 0]))
        return 2

    stats = run_frames("t", work, frames, threads=3)
    assert sorted(seen) == list(range(11))
    assert stats.frames == 11
    assert len(stats.frame_ms) == 11
    assert stats.faces_per_frame == 2
    assert stats.threads == 3


def test_human_output_without_baseline(video: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "engine",
            "--video",
            str(video),
            "--max-frames",
            "2",
            "--no-baseline",
            "--no-single-thread",
            "--threads",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "facegate (1 thread)" in result.stdout
    assert "face_recognition" not in result.stdout
    assert "ratio_fps" not in result.stdout
