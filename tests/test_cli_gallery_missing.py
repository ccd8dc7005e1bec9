"""A mistyped --data-dir is an error, not a new empty gallery; new data files are private."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from tests.serving import FACEGATE


def _facegate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FACEGATE), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "command",
    [["people", "list"], ["keys", "list"], ["attendance", "report", "--json"]],
    ids=["people", "keys", "attendance"],
)
def test_commands_that_read_a_gallery_refuse_a_missing_one(command: list[str], tmp_path: Path):
    missing = tmp_path / "typo"
    done = _facegate(*command, "--data-dir", str(missing), "--json")
    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "no_gallery" and "--data-dir" in error["message"]
    assert not missing.exists()  # nothing was created


def test_a_new_gallery_is_readable_by_its_owner_only(tmp_path: Path):
    data = tmp_path / "data"
    created = _facegate("keys", "create", "--scope", "admin", "--data-dir", str(data))
    assert created.returncode == 0, created.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "facegate.db").stat().st_mode) == 0o600
    listed = _facegate("keys", "list", "--data-dir", str(data), "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1
