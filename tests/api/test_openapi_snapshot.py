"""The HTTP API's contract: ``app.openapi()`` must equal the committed snapshot.

Any change to a route, a parameter, a schema or a description shows up as a diff of
``tests/api/openapi.snapshot.json`` in review. After an intended change, regenerate it with

    FACEGATE_UPDATE_SNAPSHOTS=1 pytest tests/api/test_openapi_snapshot.py   (or: make snapshots)

and commit the new file. The snapshot is written with sorted keys and without the app's
version, so only a real change of the contract changes it.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from facegate.api import create_app
from facegate.config import Settings

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")
UPDATE = os.environ.get("FACEGATE_UPDATE_SNAPSHOTS") == "1"


def render(schema: dict[str, Any]) -> str:
    """The schema as stable text: sorted keys, fixed indentation, no version noise."""
    schema = json.loads(json.dumps(schema))  # a deep copy with plain JSON types
    schema.get("info", {}).pop("version", None)
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def current(data_dir: Path) -> str:
    # Building the app does not start it: no models are loaded, no database is opened.
    return render(create_app(Settings(data_dir=data_dir)).openapi())


def test_openapi_matches_the_committed_snapshot(tmp_path: Path) -> None:
    text = current(tmp_path)
    if UPDATE:
        SNAPSHOT.write_text(text, encoding="utf-8")
        pytest.skip(f"wrote {SNAPSHOT.name}; review and commit it")
    assert SNAPSHOT.exists(), (
        f"{SNAPSHOT.name} is missing: run FACEGATE_UPDATE_SNAPSHOTS=1 pytest {__file__}"
    )
    committed = SNAPSHOT.read_text(encoding="utf-8")
    if text != committed:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{SNAPSHOT.name} (committed)",
                tofile="app.openapi() (now)",
                n=2,
            )
        )
        pytest.fail(
            "the HTTP API changed; if intended, regenerate with "
            "`FACEGATE_UPDATE_SNAPSHOTS=1 pytest tests/api/test_openapi_snapshot.py` "
            f"(or `make snapshots`) and commit it:\n{diff}",
            pytrace=False,
        )


def test_the_snapshot_is_independent_of_the_settings_and_the_run(tmp_path: Path) -> None:
    """Two apps with different data directories render the same text (no paths, no time)."""
    a = current(tmp_path / "a")
    b = current(tmp_path / "b")
    assert a == b
    assert str(tmp_path) not in a
    assert "version" not in json.loads(a)["info"]  # the app's version is not the contract
