"""``facegate bench liveness --json`` on a small slice of the dev data (the full run is the
measurement in docs/liveness.md; this checks the command and the report's shape)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facegate.cli import app


@pytest.mark.slow
def test_bench_liveness_reports_rates_per_attack_type(faces_dir: Path):
    args = ["bench", "liveness", "--data", str(faces_dir), "--photos", "1", "--frames", "12"]
    result = CliRunner().invoke(app, [*args, "--real-frames", "30", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    passive = report["passive"]
    assert {"bona_fide", "photo_tilt", "photo_steep", "photo_shake", "photo_approach"} <= set(
        passive
    )
    assert {"replay_tilt", "replay_shake"} <= set(passive)
    bona = passive["bona_fide"]
    assert bona["samples"] > 0 and bona["spoof"] == 0 and bona["bpcer_undecided_allowed"] == 0.0
    for kind, row in passive.items():
        assert row["live"] + row["spoof"] + row["undecided"] == row["samples"]
        if kind != "bona_fide":
            assert 0.0 <= row["apcer_undecided_denied"] <= row["apcer_undecided_allowed"] <= 1.0
    assert report["challenge_vs_attacks"]["photo_tilt"]["live"] == 0
    assert report["frames_with_face"] > 0.9 * report["frames"]


def test_bench_liveness_refuses_a_folder_without_data(tmp_path: Path):
    result = CliRunner().invoke(app, ["bench", "liveness", "--data", str(tmp_path), "--json"])
    assert result.exit_code != 0
    assert json.loads(result.output)["error"]["code"] == "bad_data"
