"""``facegate eval verify``, ``eval identify`` and ``calibrate`` on small slices of the dev set."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from facegate.cli import app

runner = CliRunner()


def slice_pairs(source: Path, target: Path, per_class: int) -> Path:
    """The first ``per_class`` same and different pairs of a pair file."""
    with source.open() as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    same = [r for r in rows if r["same"] == "1"][:per_class]
    different = [r for r in rows if r["same"] == "0"][:per_class]
    with target.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["left_path", "right_path", "same"], delimiter="\t")
        writer.writeheader()
        writer.writerows(same + different)
    return target


def run_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@pytest.mark.slow
def test_eval_verify_reports_the_protocol(faces_dir, tmp_path):
    pairs = slice_pairs(faces_dir / "pairs.tsv", tmp_path / "pairs.tsv", 20)
    report = run_json("eval", "verify", "--pairs", str(pairs), "--root", str(faces_dir))
    assert report["pairs"] == 40 and report["folds"] == 10
    for key in ("accuracy", "accuracy_std", "auc", "threshold", "no_face", "ms_per_image"):
        assert key in report
    assert set(report["tar_at_far"]) == {"0.01", "0.001"}
    assert report["accuracy"] >= 0.9
    assert report["auc"] >= 0.95


@pytest.mark.slow
def test_calibrate_takes_the_strictest_population(faces_dir, tmp_path):
    lfw = slice_pairs(faces_dir / "pairs.tsv", tmp_path / "lfw.tsv", 15)
    casia = slice_pairs(faces_dir / "pairs_casia5.tsv", tmp_path / "casia.tsv", 15)
    report = run_json(
        "calibrate", "--pairs", str(lfw), "--pairs", str(casia), "--far", "0.01",
        "--root", str(faces_dir),
    )  # fmt: skip
    own = [f["own_threshold"] for f in report["files"]]
    assert report["threshold"] == max(own)
    # at the chosen threshold no file exceeds the target false-accept rate
    assert all(f["far"] <= 0.01 for f in report["files"])


@pytest.mark.slow
def test_eval_identify_open_set(faces_dir, tmp_path):
    people = tmp_path / "people"
    known = ["Joseph_Biden", "Barack_Obama", "Kit_Harington"]
    unknown = ["Rose_Leslie", "Lin_Manuel_Miranda"]
    people.mkdir()
    for name in known + unknown:
        (people / name).symlink_to(faces_dir / "people" / name, target_is_directory=True)
    report = run_json("eval", "identify", "--people", str(people), "--enrol", "2")
    assert report["identities"] == 3
    assert report["known_probes"] == (7 - 2) + (4 - 2) + (3 - 2)
    assert report["unknown_probes"] == 2 + 1
    assert report["rank1"] >= 0.85
    assert set(report["tpir_at_fpir"]) == {"0.01", "0.1"}
    assert set(report["thresholds"]) == {"0.01", "0.1"}
    at = report["at_configured_threshold"]
    assert {"threshold", "tpir", "fpir", "target_fpir", "gallery_people"} <= set(at)
    assert at["gallery_people"] == 3 and at["source"] == "calibrated"
    assert report["distractors"] == 0


@pytest.mark.slow
def test_eval_identify_distractors_grow_the_gallery_and_the_threshold(faces_dir, tmp_path):
    people = tmp_path / "people"
    people.mkdir()
    for name in ["Joseph_Biden", "Barack_Obama", "Rose_Leslie"]:
        (people / name).symlink_to(faces_dir / "people" / name, target_is_directory=True)
    extra = tmp_path / "extra"
    extra.mkdir()
    others = ["Kit_Harington", "Lin_Manuel_Miranda", "Alex_Lacamoire", "Rose_Leslie"]
    others += [f"CASIA5_{i:03d}" for i in range(8)]
    for name in others:
        (extra / name).symlink_to(faces_dir / "people" / name, target_is_directory=True)
    plain = run_json("eval", "identify", "--people", str(people))
    grown = run_json("eval", "identify", "--people", str(people), "--distractors", str(extra))
    # Rose_Leslie is a stranger of the protocol, so she is never enrolled as a distractor
    assert grown["distractors"] == len(others) - 1
    assert grown["gallery_people"] == plain["gallery_people"] + len(others) - 1
    assert (
        grown["at_configured_threshold"]["threshold"]
        > plain["at_configured_threshold"]["threshold"]
    )
    assert grown["unknown_probes"] == plain["unknown_probes"] == 2


@pytest.mark.slow
def test_eval_identify_halves_of_one_population(faces_dir):
    report = run_json(
        "eval", "identify", "--people", str(faces_dir / "people"), "--only", "CASIA5_00*",
        "--unknown-every", "2",
    )  # fmt: skip
    # CASIA5_000 .. 009, five photos each: 000, 002, ... enrolled; 001, 003, ... strangers
    assert report["identities"] == 5 and report["known_probes"] == 5 * 3
    assert report["unknown_probes"] == 5 * 5


def test_calibrate_open_set_thresholds_by_gallery_size(faces_dir, tmp_path):
    people = tmp_path / "people"
    people.mkdir()
    for i in range(20):
        name = f"CASIA5_{i:03d}"
        (people / name).symlink_to(faces_dir / "people" / name, target_is_directory=True)
    table = tmp_path / "table.json"
    report = run_json(
        "calibrate", "--people", str(people), "--group", "first=CASIA5_00*", "--fpir", "0.01",
        "--write", str(table),
    )  # fmt: skip
    # the matching identities form their own population, the others the folder's
    assert [p["population"] for p in report["populations"]] == ["first", "people"]
    assert [p["gallery_people"] for p in report["populations"]] == [10, 10]
    rows = report["thresholds"]
    assert [r["people"] for r in rows] == sorted(r["people"] for r in rows)
    values = [r["threshold"] for r in rows]
    assert values == sorted(values) and values[0] < values[-1]
    for r in rows:  # strictest population wins
        assert r["threshold"] == max(r["own_threshold"].values())
    from facegate.gallery.operating_point import read_table

    assert report["model_sha256"] in read_table(table)
