"""``facegate bench stream`` against the server it starts itself: the JSON is complete and
every client was answered. Speed is reported by the bench, never asserted here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from facegate.bench.stream_bench import first_frame, load_jpegs
from facegate.cli import app

# Starts a real server process (models compiled at start-up): not in the fast tier.
pytestmark = pytest.mark.slow


def bench(video: Path, *extra: str) -> dict[str, Any]:
    args = ["bench", "stream", "--video", str(video), "--clients", "2", "--fps", "10"]
    args += ["--seconds", "2", "--warmup", "1", "--width", "320", "--height", "240", "--json"]
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def video(obama_video: Path) -> Path:
    return obama_video


@pytest.mark.parametrize("lockstep", [False, True])
def test_every_client_is_answered_and_the_report_is_complete(video: Path, lockstep: bool):
    report = bench(video, *(["--lockstep"] if lockstep else []))
    assert report["content"] == ("lockstep" if lockstep else "offset")
    assert report["clients"] == 2 and report["server"] == "self-started subprocess"
    overall = report["overall"]
    for key in ("sent_fps", "result_fps", "latency_ms_p95", "dropped_ratio", "carried_ratio"):
        assert key in overall, key
    assert overall["result_fps"] > 0 and overall["server_cpu_ms_per_result"] > 0
    assert [c["error"] for c in report["per_client"]] == [None, None]
    assert all(c["result_fps"] > 0 for c in report["per_client"])


def test_frames_are_encoded_once_at_the_asked_size(video: Path):
    jpegs = load_jpegs(video, 320, 240, max_frames=4)
    assert len(jpegs) == 4 and all(j[:2] == b"\xff\xd8" for j in jpegs)


def test_independent_cameras_start_at_different_points_of_the_video():
    assert [first_frame(100, k, 4, lockstep=False) for k in range(4)] == [0, 25, 50, 75]
    assert [first_frame(100, k, 4, lockstep=True) for k in range(4)] == [0, 0, 0, 0]
