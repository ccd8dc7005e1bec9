"""``facegate cameras add|list|remove|pin|unpin`` against a real SQLite gallery database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from facegate.cli import app
from facegate.cluster.store import ClusterStore
from facegate.gallery.db import open_database

pytestmark = pytest.mark.cluster
runner = CliRunner()


def run(tmp_path: Path, *args: str) -> Any:
    result = runner.invoke(app, ["cameras", *args, "--data-dir", str(tmp_path)])
    return result


def test_cameras_cli_round_trip(tmp_path: Path):
    assert run(tmp_path, "add", "door", "rtsp://u:pw@cam/1", "--always-on", "--direction",
               "in").exit_code == 0  # fmt: skip
    assert run(tmp_path, "add", "usb", "0", "--pin", "host-x").exit_code == 0
    db = open_database(tmp_path, None)
    try:
        store = ClusterStore(db)
        store.register_node("host-y", "http://127.0.0.1:8000")
        assert store.acquire("door", "host-y", 30) == 1
    finally:
        db.close()
    listed = run(tmp_path, "list", "--json")
    assert listed.exit_code == 0
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert "pw" not in listed.stdout  # passwords never shown
    assert rows["door"]["always_on"] and rows["door"]["direction"] == "in"
    assert (rows["door"]["owner"], rows["door"]["epoch"], rows["door"]["placed_on"]) == (
        "host-y", 1, "host-y")  # fmt: skip
    assert rows["usb"]["pinned_node"] == "host-x" and rows["usb"]["placed_on"] is None
    assert run(tmp_path, "unpin", "usb").exit_code == 0
    assert json.loads(run(tmp_path, "list", "--json").stdout)[1]["placed_on"] == "host-y"
    assert run(tmp_path, "remove", "usb").exit_code == 0
    missing = run(tmp_path, "remove", "usb")
    assert missing.exit_code == 2 and "no camera named 'usb'" in missing.output
    assert run(tmp_path, "pin", "usb", "host-x").exit_code == 2
    assert run(tmp_path, "add", "bad name", "0").exit_code == 2
