"""The gallery commands end to end: enrol a folder (and re-run it), identify, people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from facegate.cli import app

runner = CliRunner()

PEOPLE = {
    "Barack_Obama": ["fr_obama.jpg", "fr_obama1.jpg"],
    "Kit_Harington": ["fr_john1.jpeg", "fr_john2.jpeg"],
    "Rose_Leslie": ["fr_img1.jpg"],
}


def make_people_dir(faces_dir: Path, root: Path) -> Path:
    """A folder-per-person tree of links to dev photos (nothing copied)."""
    people = root / "people"
    for person, files in PEOPLE.items():
        (people / person).mkdir(parents=True)
        for name in files:
            (people / person / name).symlink_to(faces_dir / "people" / person / name)
    return people


def run_json(*args: str) -> Any:
    """The command's ``--json`` output, parsed (any JSON value)."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_enrol_dir_is_resumable_and_identify_finds_people(faces_dir, tmp_path):
    people = make_people_dir(faces_dir, tmp_path)
    data = str(tmp_path / "data")
    first = run_json("enrol", "--dir", str(people), "--data-dir", data)
    assert {entry["person"]["name"] for entry in first} == set(PEOPLE)
    assert sum(img["outcome"] == "accepted" for e in first for img in e["images"]) == 5
    # a second run finds every photo already enrolled and adds nothing
    second = run_json("enrol", "--dir", str(people), "--data-dir", data)
    assert {img["outcome"] for e in second for img in e["images"]} == {"duplicate"}
    listing = run_json("people", "list", "--data-dir", data)
    assert listing["total"] == 3
    assert sorted(p["templates"] for p in listing["people"]) == [1, 2, 2]

    probe = faces_dir / "people" / "Kit_Harington" / "fr_johnsnow_test1.jpg"
    found = run_json("identify", str(probe), "--data-dir", data)
    assert [f["person"]["name"] if f["person"] else None for f in found["faces"]] == [
        "Kit_Harington"
    ]
    stats = run_json("people", "stats", "--data-dir", data)
    assert stats["people"] == 3 and stats["templates"] == 5
    assert stats["source"] == "calibrated" and stats["target_fpir"] == 0.01
    face = found["faces"][0]
    assert face["threshold"] == stats["threshold"] <= face["similarity"]
    assert face["margin"] > 0
    text = runner.invoke(app, ["people", "stats", "--data-dir", data])
    assert text.exit_code == 0 and f"identify threshold {stats['threshold']:.4f}" in text.stdout


@pytest.mark.slow
def test_enrol_by_name_show_and_delete(faces_dir, tmp_path):
    data = str(tmp_path / "data")
    folder = faces_dir / "people" / "Barack_Obama"
    enrolled = run_json(
        "enrol", "--name", "Barack Obama", "--external-id", "E-44",
        str(folder / "fr_obama.jpg"), str(folder / "fr_obama2.jpg"), "--data-dir", data,
    )  # fmt: skip
    person = enrolled[0]["person"]
    assert person["external_id"] == "E-44" and person["templates"] == 2
    shown = run_json("people", "show", str(person["id"]), "--data-dir", data)
    assert len(shown["faces"]) == 2 and all(f["quality"]["ok"] for f in shown["faces"])
    deleted = run_json("people", "delete", str(person["id"]), "--data-dir", data)
    assert deleted["templates_erased"] == 2
    missing = runner.invoke(app, ["people", "show", str(person["id"]), "--data-dir", data])
    assert missing.exit_code == 2
    assert "unknown_person" in missing.output


def test_enrol_needs_photos_or_dir(tmp_path):
    result = runner.invoke(app, ["enrol", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
