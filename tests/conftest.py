"""Shared fixtures: the dev data set and one engine per test session (models load once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from facegate.config import Settings
from facegate.engine import FaceEngine

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "faces"


def dev_data_dir() -> Path | None:
    """The dev face set: $FACEGATE_TEST_DATA, else ../shared/data/faces; None if absent."""
    path = Path(os.environ.get("FACEGATE_TEST_DATA", DEFAULT_DATA))
    return path if (path / "people").is_dir() else None


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """The dev data set; tests that need it skip (with the reason) where it is absent."""
    path = dev_data_dir()
    if path is None:
        pytest.skip(
            "dev face data not found: set FACEGATE_TEST_DATA or place it at ../shared/data/faces"
        )
    return path


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    """The real engine with the real models, shared by the whole session."""
    return FaceEngine(Settings())
